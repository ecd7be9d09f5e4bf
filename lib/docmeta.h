/*
 * docmeta.h: what a policy document says of itself, read from its own
 * layout (GB/T 9704-2012 for official documents, the usual layouts of
 * government web pages, reports and news) and from the metadata its file
 * carries (an HTML page's 发文机关/发文字号/成文日期/发布日期 table, a
 * DOCX's properties).
 *
 * Fields (each left out when the document does not say it; nothing is
 * guessed):
 *   title      the document's title (a two-line title joined), not the red
 *              header, the document number or the addressees
 *   agency     the issuing bodies, canonical (XX市政府 -> XX市人民政府);
 *              several for a joint document
 *   number     the 发文字号, normalized: 〔〕 whatever brackets the source
 *              used, no 第, no leading zeros (内政发〔2023〕12号), or a
 *              公告 number (2026年第25号)
 *   date       成文日期: YYYY-MM-DD (Chinese numerals too), or YYYY from a
 *              report's or news item's title or byline when that is all
 *   published  发布日期 of a web page, YYYY-MM-DD
 *   type       公文种类 from the title's last word (通知, 意见, 方案, ...),
 *              新闻 for news, 其他 otherwise
 */
#ifndef PS_DOCMETA_H
#define PS_DOCMETA_H

#include <jansson.h>
#include <stddef.h>

#include "extract.h"

/* Reads lines[0..n) (the document's text lines in order, UTF-8), the
 * file's metadata pairs and the title the layout parser chose (may be
 * NULL).  Returns a JSON object with the fields found, or NULL with err. */
json_t *dm_extract(const char *const *lines, size_t n, const ext_meta *meta,
                   size_t nmeta, const char *title_hint, char *err);

/* dm_extract() over what a reader made of a file: its pieces split into
 * lines, its metadata pairs, its title. */
json_t *dm_from_doc(const ext_doc *xd, char *err);

/* Normalizes a document number as dm_extract() does (any brackets, 第,
 * leading zeros, full-width digits; also 内政发2023年12号): into out,
 * 1 when s is one, 0 otherwise. */
int dm_number(const char *s, char *out, size_t cap);

/* An agency's name as dm_extract() gives it (XX市政府 -> XX市人民政府,
 * spaces removed), into out. */
void dm_agency(const char *s, char *out, size_t cap);

/* 1 when t is one of the type values dm_extract() gives. */
int dm_type_known(const char *t);

#endif
