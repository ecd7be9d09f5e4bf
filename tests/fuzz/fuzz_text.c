/*
 * Fuzz target: a text file's way through the indexer: encoding detection
 * and decoding, passage layout (plain and paged), the source-text map,
 * numeric extraction.
 */
#include "decode.h"
#include "normalize.h"
#include "numbers.h"
#include "passage.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static num_units *units;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[PS_ERRLEN];
    if (!units && !(units = num_units_load(err)))
        abort();
    char *text;
    size_t n;
    const char *enc;
    if (dec_to_utf8((const char *)data, size, &text, &n, &enc, err) < 0)
        return 0;
    psg_input in = {PSG_IN_LINES, text, n, size && (data[0] & 1)};
    psg_doc *d = psg_parse_input(&in, 1, "fallback", err);
    for (size_t i = 0; d && i < d->npassages; i++) {
        num_mention *ms;
        size_t k = num_extract(units, d->passages[i].text,
                               strlen(d->passages[i].text), &ms);
        (void)k;
        free(ms);
    }
    psg_doc_free(d);
    free(text);
    return 0;
}
