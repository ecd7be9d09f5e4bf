/*
 * xap.cc: the Xapian wrapper.  Each C handle wraps one Xapian object;
 * each entry point catches everything Xapian or the C++ library can throw
 * and turns it into an xap_status plus a message.
 */
#include "xap.h"
#include "schema.h"
extern "C" {
#include "util.h"
}

#include <xapian.h>
#include <sstream>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace {
const size_t ERRLEN = 256;   /* PS_ERRLEN in util.h */

void set_err(char *err, const std::string &msg)
{
    if (err)
        std::snprintf(err, ERRLEN, "%s", msg.c_str());
}

xap_status from_xapian(const Xapian::Error &e, char *err)
{
    std::string msg = e.get_type() + std::string(": ") + e.get_msg();
    const char *why = e.get_error_string();
    /* A block that failed blockcheck.c's structure check reads as
     * EUCLEAN: said as what it is. */
    if (why && *why)
        msg += std::string(" (") +
               (std::strcmp(why, std::strerror(EUCLEAN)) == 0
                    ? "damaged: the block's structure is broken" : why) + ")";
    set_err(err, msg);
    std::string type = e.get_type();
    if (type == "DatabaseLockError")
        return XAP_ERR_LOCKED;
    if (type == "DatabaseOpeningError" || type == "DatabaseNotFoundError" ||
        type == "DatabaseVersionError")
        return XAP_ERR_OPENING;
    return XAP_ERR_XAPIAN;
}

char *dup_string(const std::string &s)
{
    char *p = static_cast<char *>(std::malloc(s.size() + 1));
    if (!p)
        throw std::bad_alloc();
    std::memcpy(p, s.data(), s.size());
    p[s.size()] = '\0';
    return p;
}
}  // namespace

#define XAP_TRY try {
#define XAP_CATCH                                           \
    }                                                       \
    catch (const Xapian::Error &e) {                        \
        return from_xapian(e, err);                         \
    }                                                       \
    catch (const std::exception &e) {                       \
        set_err(err, e.what());                             \
        return XAP_ERR_MEMORY;                              \
    }

/* The allocator of a snapshot's large arrays (util.h, ps_big_alloc):
 * kept and reused from one build to the next. */
template <class T> struct big_alloc {
    typedef T value_type;
    big_alloc() = default;
    template <class U> big_alloc(const big_alloc<U> &) {}
    T *allocate(size_t n)
    {
        if (n > (size_t)-1 / sizeof(T))
            throw std::bad_alloc();
        return static_cast<T *>(ps_big_alloc(n * sizeof(T)));
    }
    void deallocate(T *p, size_t) { ps_big_free(p); }
};
template <class T, class U>
bool operator==(const big_alloc<T> &, const big_alloc<U> &) { return true; }
template <class T, class U>
bool operator!=(const big_alloc<T> &, const big_alloc<U> &) { return false; }
template <class T> using big_vector = std::vector<T, big_alloc<T>>;

/* A writer always works inside a transaction, so what was not committed
 * explicitly is dropped on close instead of committed half-done. */
struct xap_wdb {
    Xapian::WritableDatabase rep;
};
struct xap_db {
    Xapian::Database rep;
    std::string path;
    std::vector<Xapian::Database> shards;   /* each shard alone */
    std::vector<std::string> uuids;          /* their UUIDs */
    std::vector<std::string> paths;          /* their directories */
    bool name_modified;                      /* see xap_db_name_every_error */
};
struct xap_doc {
    Xapian::Document rep;
};

/* "shard N: " before the message in err, once: damage is named where
 * it is. */
void xap_name_shard(char *err, size_t s)
{
    if (!err)
        return;
    char tmp[ERRLEN];
    int n = std::snprintf(tmp, sizeof tmp, "shard %zu: ", s);
    if (std::strncmp(err, tmp, (size_t)n) == 0)
        return;
    std::snprintf(tmp + n, sizeof tmp - (size_t)n, "%s", err);
    std::memcpy(err, tmp, ERRLEN);
}

/* A read of the combined database that failed does not say which shard
 * is damaged: the first shard that fails the same read alone is named
 * (only on that path, so only failing reads pay for it). */
/* Every posting list, metadata value and value stream of a shard (not
 * its term lists: Xapian crashes on some damaged ones). */
static void read_everything(Xapian::Database &d)
{
    for (auto t = d.allterms_begin(); t != d.allterms_end(); ++t)
        for (auto p = d.postlist_begin(*t); p != d.postlist_end(*t); ++p)
            (void)*p;
    for (auto k = d.metadata_keys_begin(); k != d.metadata_keys_end(); ++k)
        (void)d.get_metadata(*k);
    for (unsigned slot = 0; slot < 64; slot++)
        for (auto v = d.valuestream_begin(slot); v != d.valuestream_end(slot); ++v)
            (void)*v;
}

/* The structure of a shard's posting table (which holds its posting
 * lists, value streams and metadata): every block and every pointer, the
 * ones a read in order never follows too. */
static void check_structure(const std::string &dir)
{
    Xapian::Database::check(dir + "/postlist.glass", 0, nullptr);
}

template <class Read>
static void find_shard(xap_db *db, char *err, Read read)
{
    /* The same read on each shard alone, then everything of each in
     * order, then each one's structure. */
    for (int pass = 0; pass < 3; pass++)
        for (size_t s = 0; s < db->shards.size(); s++) {
            try {
                if (pass == 0)
                    read(db->shards[s]);
                else if (pass == 1)
                    read_everything(db->shards[s]);
                else if (s < db->paths.size())
                    check_structure(db->paths[s]);
            } catch (...) {     /* damage throws more than Xapian's errors */
                xap_name_shard(err, s);
                return;
            }
        }
}

#define XAP_CATCH_SHARD(s)                                  \
    }                                                       \
    catch (const Xapian::Error &e) {                        \
        xap_status st_ = from_xapian(e, err);               \
        xap_name_shard(err, (s));                           \
        return st_;                                         \
    }                                                       \
    catch (const std::exception &e) {                       \
        set_err(err, e.what());                             \
        xap_name_shard(err, (s));                           \
        return XAP_ERR_MEMORY;                              \
    }

#define XAP_CATCH_FIND(...)                                 \
    }                                                       \
    catch (const Xapian::Error &e) {                        \
        xap_status st_ = from_xapian(e, err);               \
        if (st_ == XAP_ERR_XAPIAN && (db->name_modified ||   \
            e.get_type() != std::string("DatabaseModifiedError"))) \
            find_shard(db, err, __VA_ARGS__);               \
        return st_;                                         \
    }                                                       \
    catch (const std::exception &e) {                       \
        set_err(err, e.what());                             \
        if (!dynamic_cast<const std::bad_alloc *>(&e))      \
            find_shard(db, err, __VA_ARGS__);               \
        return XAP_ERR_MEMORY;                              \
    }

/* Reads every posting of the given terms' lists (for find_shard). */
static void read_postlists(Xapian::Database &d, const std::string &from,
                           bool all_with_prefix)
{
    if (!all_with_prefix) {
        for (auto p = d.postlist_begin(from); p != d.postlist_end(from); ++p)
            (void)*p;
        return;
    }
    for (auto t = d.allterms_begin(from); t != d.allterms_end(from); ++t)
        for (auto p = d.postlist_begin(*t); p != d.postlist_end(*t); ++p)
            (void)*p;
}

static void read_values(Xapian::Database &d, unsigned slot)
{
    for (auto v = d.valuestream_begin(slot); v != d.valuestream_end(slot); ++v)
        (void)*v;
}


/* ---- writing ---- */

xap_status xap_wdb_open(const char *path, xap_wdb **out, char *err)
{
    *out = nullptr;
    /* Everything happens inside a transaction: Xapian commits only when
     * asked (policy-index also sets XAPIAN_FLUSH_THRESHOLD). */
    XAP_TRY
    std::unique_ptr<xap_wdb> w(new xap_wdb{Xapian::WritableDatabase(
        path, Xapian::DB_CREATE_OR_OPEN | Xapian::DB_BACKEND_GLASS)});
    w->rep.begin_transaction(true);
    *out = w.release();
    return XAP_OK;
    XAP_CATCH
}

void xap_wdb_close(xap_wdb *w)
{
    if (!w)
        return;
    try {
        w->rep.cancel_transaction();
    } catch (...) {
    }
    try {
        w->rep.close();
    } catch (...) {
    }
    delete w;
}

xap_status xap_wdb_commit(xap_wdb *w, char *err)
{
    XAP_TRY
    w->rep.commit_transaction();
    w->rep.begin_transaction(true);
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_add(xap_wdb *w, xap_doc *doc, unsigned *docid, char *err)
{
    XAP_TRY
    Xapian::docid d = w->rep.add_document(doc->rep);
    if (docid)
        *docid = d;
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_delete_term(xap_wdb *w, const char *term, unsigned **ids,
                               size_t *nids, char *err)
{
    if (ids) {
        *ids = nullptr;
        *nids = 0;
    }
    XAP_TRY
    if (ids) {
        std::vector<unsigned> v;
        for (auto it = w->rep.postlist_begin(term);
             it != w->rep.postlist_end(term); ++it)
            v.push_back(*it);
        if (!v.empty()) {
            *ids = static_cast<unsigned *>(std::malloc(v.size() * sizeof(unsigned)));
            if (!*ids)
                throw std::bad_alloc();
            std::memcpy(*ids, v.data(), v.size() * sizeof(unsigned));
            *nids = v.size();
        }
    }
    w->rep.delete_document(term);
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_get_metadata(xap_wdb *w, const char *key, char **value,
                                char *err)
{
    *value = nullptr;
    XAP_TRY
    *value = dup_string(w->rep.get_metadata(key));
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_set_metadata(xap_wdb *w, const char *key,
                                const char *value, char *err)
{
    XAP_TRY
    w->rep.set_metadata(key, value);
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_get_metadata_n(xap_wdb *w, const char *key, char **value,
                                  size_t *len, char *err)
{
    *value = nullptr;
    *len = 0;
    XAP_TRY
    std::string v = w->rep.get_metadata(key);
    *value = dup_string(v);
    *len = v.size();
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_get_metadata_k(xap_wdb *w, const char *key, size_t klen,
                                  char **value, size_t *len, char *err)
{
    *value = nullptr;
    *len = 0;
    XAP_TRY
    std::string v = w->rep.get_metadata(std::string(key, klen));
    *value = dup_string(v);
    *len = v.size();
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_set_metadata_n(xap_wdb *w, const char *key, size_t klen,
                                  const char *value, size_t vlen, char *err)
{
    XAP_TRY
    w->rep.set_metadata(std::string(key, klen), std::string(value, vlen));
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_metadata_scan(xap_wdb *w, const char *prefix, size_t plen,
                                 int (*cb)(void *ctx, const char *key,
                                           size_t klen, const char *val,
                                           size_t vlen),
                                 void *ctx, char *err)
{
    XAP_TRY
    std::string p(prefix, plen);
    std::vector<std::string> keys;
    for (auto it = w->rep.metadata_keys_begin(p);
         it != w->rep.metadata_keys_end(p); ++it)
        keys.push_back(*it);
    for (const std::string &k : keys) {
        std::string v = w->rep.get_metadata(k);
        if (cb(ctx, k.data(), k.size(), v.data(), v.size())) {
            set_err(err, "stopped while rewriting metadata");
            return XAP_ERR_XAPIAN;
        }
    }
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_values(xap_wdb *w, unsigned slot,
                          void (*cb)(void *ctx, unsigned docid, const char *v,
                                     size_t n),
                          void *ctx, char *err)
{
    XAP_TRY
    for (auto v = w->rep.valuestream_begin(slot);
         v != w->rep.valuestream_end(slot); ++v) {
        const std::string val = *v;
        cb(ctx, v.get_docid(), val.data(), val.size());
    }
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_metadata_keys(xap_wdb *w, const char *prefix,
                                 void (*cb)(void *ctx, const char *key),
                                 void *ctx, char *err)
{
    XAP_TRY
    for (auto it = w->rep.metadata_keys_begin(prefix);
         it != w->rep.metadata_keys_end(prefix); ++it)
        cb(ctx, (*it).c_str());
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_wdb_doccount(xap_wdb *w, unsigned *n, char *err)
{
    *n = 0;
    XAP_TRY
    *n = w->rep.get_doccount();
    return XAP_OK;
    XAP_CATCH
}

unsigned xap_wdb_lastdocid(xap_wdb *w)
{
    try {
        return w->rep.get_lastdocid();
    } catch (...) {
        return 0;
    }
}

xap_doc *xap_doc_create(void)
{
    try {
        return new xap_doc{Xapian::Document()};
    } catch (...) {
        std::abort();
    }
}

void xap_doc_destroy(xap_doc *d)
{
    delete d;
}

void xap_doc_clear(xap_doc *d)
{
    d->rep = Xapian::Document();
}

void xap_doc_add_boolean(xap_doc *d, const char *t, size_t n)
{
    d->rep.add_boolean_term(std::string(t, n));
}

void xap_doc_set_value(xap_doc *d, unsigned slot, const char *v, size_t n)
{
    d->rep.add_value(slot, std::string(v, n));
}

void xap_doc_set_data(xap_doc *d, const char *v, size_t n)
{
    d->rep.set_data(std::string(v, n));
}

char *xap_doc_value(const xap_doc *d, unsigned slot, size_t *n)
{
    std::string v = d->rep.get_value(slot);
    *n = v.size();
    return dup_string(v);
}

xap_status xap_compact(const char *src, const char *dst, char *err)
{
    XAP_TRY
    Xapian::Database db(src);
    db.compact(dst, Xapian::DBCOMPACT_NO_RENUMBER | Xapian::DB_BACKEND_GLASS);
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_check(const char *path, size_t *problems, char *err)
{
    XAP_TRY
    std::ostringstream out;
    *problems = Xapian::Database::check(path, Xapian::DBCHECK_FULL_TREE, &out);
    return XAP_OK;
    XAP_CATCH
}

/* ---- reading ---- */

/* Opens db->path: every shard the stub lists, in order, each also kept
 * on its own (the character index is per shard), or the database itself.
 * The combined database shares the shards' internals, so both always see
 * the same revision. */
/* Opens the shards the stub lists; *at is the shard being opened when
 * one fails (SIZE_MAX before the first). */
static void open_shards(xap_db *db, size_t *at)
{
    *at = SIZE_MAX;
    std::vector<Xapian::Database> shards;
    std::vector<std::string> paths;
    std::string stub = db->path + "/XAPIANDB", dir = db->path;
    FILE *fp = std::fopen(stub.c_str(), "r");
    if (!fp) {
        struct stat st;
        if (stat(db->path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
            fp = std::fopen(db->path.c_str(), "r");
            size_t slash = db->path.rfind('/');
            dir = slash == std::string::npos ? "." : db->path.substr(0, slash);
        }
    }
    if (fp) {
        char line[4096];
        while (std::fgets(line, sizeof line, fp)) {
            std::string l(line);
            while (!l.empty() && (l.back() == '\n' || l.back() == '\r' ||
                                  l.back() == ' '))
                l.pop_back();
            size_t sp = l.find(' ');
            if (l.empty() || l[0] == '#' || sp == std::string::npos)
                continue;
            std::string type = l.substr(0, sp), where = l.substr(sp + 1);
            if (type != "auto" && type != "glass") {
                std::fclose(fp);
                throw Xapian::DatabaseOpeningError(
                    "shard '" + l + "': only local shards are supported "
                    "(the character index is read from each shard)");
            }
            if (where.empty() || where[0] != '/')
                where = dir + "/" + where;
            *at = shards.size();
            paths.push_back(where);
            shards.emplace_back(where);
        }
        std::fclose(fp);
        if (shards.empty())
            throw Xapian::DatabaseOpeningError(stub + " lists no shards");
    } else {
        *at = 0;
        paths.push_back(db->path);
        shards.emplace_back(db->path);
    }
    Xapian::Database all;
    std::vector<std::string> uuids;
    for (size_t i = 0; i < shards.size(); i++) {
        *at = i;
        std::string u = shards[i].get_uuid();
        /* A shard listed twice would count every passage twice. */
        for (size_t k = 0; k < uuids.size(); k++)
            if (!u.empty() && uuids[k] == u)
                throw Xapian::DatabaseCorruptError(
                    stub + " lists one shard twice (entries " +
                    std::to_string(k + 1) + " and " + std::to_string(i + 1) +
                    "): the index is damaged");
        all.add_database(shards[i]);
        uuids.push_back(u);
    }
    *at = SIZE_MAX;
    db->rep = all;
    db->shards.swap(shards);
    db->uuids.swap(uuids);
    db->paths.swap(paths);
}

/* The catch of a call that opens shards: a failing one is named. */
#define XAP_CATCH_OPEN(at)                                  \
    }                                                       \
    catch (const Xapian::Error &e) {                        \
        xap_status st_ = from_xapian(e, err);               \
        if ((at) != SIZE_MAX)                               \
            xap_name_shard(err, (at));                      \
        return st_;                                         \
    }                                                       \
    catch (const std::exception &e) {                       \
        set_err(err, e.what());                             \
        return XAP_ERR_MEMORY;                              \
    }

xap_status xap_db_open(const char *path, xap_db **out, char *err)
{
    *out = nullptr;
    size_t at = SIZE_MAX;
    XAP_TRY
    std::unique_ptr<xap_db> db(new xap_db{Xapian::Database(), path, {}, {}, {}, false});
    open_shards(db.get(), &at);
    *out = db.release();
    return XAP_OK;
    XAP_CATCH_OPEN(at)
}

void xap_db_close(xap_db *db)
{
    delete db;
}

xap_status xap_db_reopen(xap_db *db, int *changed, char *err)
{
    *changed = 0;
    size_t at = SIZE_MAX;
    XAP_TRY
    try {
        *changed = db->rep.reopen() ? 1 : 0;
    } catch (const Xapian::DatabaseError &) {
        open_shards(db, &at);
        *changed = 1;
    }
    return XAP_OK;
    XAP_CATCH_OPEN(at)
}

xap_status xap_db_open_again(xap_db *db, char *err)
{
    size_t at = SIZE_MAX;
    XAP_TRY
    open_shards(db, &at);
    return XAP_OK;
    XAP_CATCH_OPEN(at)
}

void xap_db_name_every_error(xap_db *db)
{
    db->name_modified = true;
}

xap_status xap_db_doccount(xap_db *db, unsigned *n, char *err)
{
    *n = 0;
    XAP_TRY
    *n = db->rep.get_doccount();
    return XAP_OK;
    XAP_CATCH_FIND([](Xapian::Database &d) { (void)d.get_doccount(); })
}

xap_status xap_db_shard_doccount(xap_db *db, size_t s, unsigned *n,
                                 unsigned *last, char *err)
{
    *n = 0;
    *last = 0;
    XAP_TRY
    *n = db->shards.at(s).get_doccount();
    *last = db->shards.at(s).get_lastdocid();
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}

xap_status xap_db_revisions(xap_db *db, unsigned long long *revs, size_t n,
                            char *err)
{
    XAP_TRY
    for (size_t i = 0; i < n && i < db->shards.size(); i++)
        revs[i] = db->shards[i].get_revision();
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_db_get_metadata(xap_db *db, const char *key, char **value,
                               char *err)
{
    *value = nullptr;
    XAP_TRY
    *value = dup_string(db->rep.get_metadata(key));
    return XAP_OK;
    XAP_CATCH
}

size_t xap_db_nshards(const xap_db *db)
{
    return db->shards.size();
}

xap_status xap_db_shard_scan(xap_db *db, size_t s, const char *prefix,
                             size_t plen,
                             void (*cb)(void *ctx, const char *v, size_t n),
                             void *ctx, char *err)
{
    XAP_TRY
    Xapian::Database &d = db->shards.at(s);
    std::string p(prefix, plen);
    for (auto it = d.metadata_keys_begin(p); it != d.metadata_keys_end(p);
         ++it) {
        std::string v = d.get_metadata(*it);
        cb(ctx, v.data(), v.size());
    }
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}

xap_status xap_db_shard_metadata(xap_db *db, size_t s, const char *key,
                                 size_t klen, char **value, size_t *len,
                                 char *err)
{
    *value = nullptr;
    *len = 0;
    XAP_TRY
    std::string v = db->shards.at(s).get_metadata(std::string(key, klen));
    *value = dup_string(v);
    *len = v.size();
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}

xap_status xap_db_shard_metadata_cb(xap_db *db, size_t s, const char *key,
                                    size_t klen,
                                    void (*cb)(void *ctx, const char *v,
                                               size_t n),
                                    void *ctx, char *err)
{
    XAP_TRY
    std::string v = db->shards.at(s).get_metadata(std::string(key, klen));
    cb(ctx, v.data(), v.size());
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}

/* ---- reading what the evaluator needs ---- */

xap_status xap_db_terms(xap_db *db, const char *prefix,
                        void (*cb)(void *ctx, const char *term, size_t n),
                        void *ctx, char *err)
{
    XAP_TRY
    for (auto t = db->rep.allterms_begin(prefix);
         t != db->rep.allterms_end(prefix); ++t) {
        std::string v = *t;
        cb(ctx, v.data(), v.size());
    }
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        for (auto t = d.allterms_begin(prefix); t != d.allterms_end(prefix); ++t)
            (void)*t;
    })
}

xap_status xap_db_doc_terms(xap_db *db, unsigned did, const char *firsts,
                            void (*cb)(void *ctx, const char *term, size_t n),
                            void *ctx, char *err)
{
    XAP_TRY
    for (auto t = db->rep.termlist_begin(did); t != db->rep.termlist_end(did);
         ++t) {
        std::string v = *t;
        if (!v.empty() && std::strchr(firsts, v[0]))
            cb(ctx, v.data(), v.size());
    }
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        size_t s;
        unsigned local;
        ps_local_docid(did, db->shards.size(), &s, &local);
        if (&d == &db->shards[s])
            for (auto t = d.termlist_begin(local); t != d.termlist_end(local); ++t)
                (void)*t;
    })
}

xap_status xap_db_postlist(xap_db *db, const char *term, size_t n,
                           unsigned **ids, size_t *nids, char *err)
{
    *ids = nullptr;
    *nids = 0;
    XAP_TRY
    std::vector<unsigned> v;
    std::string t(term, n);
    for (auto d = db->rep.postlist_begin(t); d != db->rep.postlist_end(t); ++d)
        v.push_back(*d);
    unsigned *out = static_cast<unsigned *>(
        std::malloc((v.empty() ? 1 : v.size()) * sizeof(unsigned)));
    if (!out)
        throw std::bad_alloc();
    if (!v.empty())
        std::memcpy(out, v.data(), v.size() * sizeof(unsigned));
    *ids = out;
    *nids = v.size();
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        read_postlists(d, std::string(term, n), false);
    })
}

/* xap_db_value_order when every value is a name, a NUL and four bytes
 * (the passages' order key: document id, NUL, BE32 ordinal): the names
 * are sorted once each, not once per passage (a full sort of 2 million
 * strings took 0.7 s of a server's start at 1 GB).  The order is the
 * same: a value that starts with a shorter name sorts first, as NUL is
 * below every other byte.  false when a value is of another shape. */
static bool value_order_keyed(Xapian::Database &d, unsigned slot, size_t last,
                              uint32_t *o, uint32_t *g)
{
    struct Ent {
        uint32_t name, rest;
        Xapian::docid d;
    };
    big_vector<Ent> es;
    es.reserve(d.get_value_freq(slot));
    std::unordered_map<std::string, uint32_t> ids;
    std::vector<const std::string *> names;
    /* The names met last: a document's passages come in runs, one run per
     * shard interleaved. */
    enum { RECENT = 8 };
    uint32_t recent[RECENT];
    size_t nrecent = 0, at = 0;
    for (auto it = d.valuestream_begin(slot); it != d.valuestream_end(slot);
         ++it) {
        Xapian::docid did = it.get_docid();
        if (did > last)
            continue;
        std::string v = *it;
        size_t z = v.find('\0');
        if (z == std::string::npos || v.size() != z + 5)
            return false;
        uint32_t id = UINT32_MAX;
        for (size_t k = 0; k < nrecent; k++) {
            const std::string &nm = *names[recent[k]];
            if (nm.size() == z && std::memcmp(nm.data(), v.data(), z) == 0) {
                id = recent[k];
                break;
            }
        }
        if (id == UINT32_MAX) {
            auto r = ids.emplace(v.substr(0, z), (uint32_t)names.size());
            if (r.second)
                names.push_back(&r.first->first);
            id = r.first->second;
            recent[at++ % RECENT] = id;
            if (nrecent < RECENT)
                nrecent++;
        }
        const unsigned char *b = (const unsigned char *)v.data() + z + 1;
        es.push_back(Ent{id, (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
                                 (uint32_t)b[2] << 8 | b[3], did});
    }
    std::vector<uint32_t> byname(names.size()), rank(names.size());
    for (size_t i = 0; i < byname.size(); i++)
        byname[i] = (uint32_t)i;
    std::sort(byname.begin(), byname.end(),
              [&](uint32_t a, uint32_t b) { return *names[a] < *names[b]; });
    for (size_t i = 0; i < byname.size(); i++)
        rank[byname[i]] = (uint32_t)i;
    /* By name rank (a counting sort, stable: docids stay ascending), then
     * each name's run by the four bytes (already in order as a rule). */
    std::vector<size_t> start(names.size() + 1, 0);
    for (const Ent &e : es)
        start[rank[e.name] + 1]++;
    for (size_t i = 0; i < names.size(); i++)
        start[i + 1] += start[i];
    std::vector<Ent> sorted(es.size());
    {
        std::vector<size_t> fill(start.begin(), start.end() - 1);
        for (const Ent &e : es)
            sorted[fill[rank[e.name]]++] = e;
    }
    auto before = [](const Ent &a, const Ent &b) {
        return a.rest != b.rest ? a.rest < b.rest : a.d < b.d;
    };
    for (size_t i = 0; i < names.size(); i++) {
        auto lo = sorted.begin() + (std::ptrdiff_t)start[i],
             hi = sorted.begin() + (std::ptrdiff_t)start[i + 1];
        if (!std::is_sorted(lo, hi, before))
            std::sort(lo, hi, before);
    }
    for (size_t i = 0; i < sorted.size(); i++) {
        o[sorted[i].d] = (uint32_t)i;
        if (g)
            g[sorted[i].d] = rank[sorted[i].name];
    }
    return true;
}

xap_status xap_db_value_order(xap_db *db, unsigned slot, uint32_t **order,
                              uint32_t **group, size_t *n, char *err)
{
    *order = nullptr;
    if (group)
        *group = nullptr;
    *n = 0;
    XAP_TRY
    size_t last = db->rep.get_lastdocid();
    std::unique_ptr<uint32_t, void (*)(void *)> o(
        static_cast<uint32_t *>(ps_big_alloc((last + 1) * sizeof(uint32_t))),
        ps_big_free);
    std::unique_ptr<uint32_t, void (*)(void *)> g(
        group ? static_cast<uint32_t *>(ps_big_alloc((last + 1) * sizeof(uint32_t)))
              : nullptr,
        ps_big_free);
    for (size_t i = 0; i <= last; i++) {
        o.get()[i] = UINT32_MAX;
        if (g)
            g.get()[i] = UINT32_MAX;
    }
    /* (value_order_keyed writes nothing before it knows it can.) */
    if (!value_order_keyed(db->rep, slot, last, o.get(), g.get())) {
        std::vector<std::pair<std::string, Xapian::docid>> v;
        for (auto it = db->rep.valuestream_begin(slot);
             it != db->rep.valuestream_end(slot); ++it)
            if (it.get_docid() <= last)
                v.emplace_back(*it, it.get_docid());
        std::sort(v.begin(), v.end());
        for (size_t i = 0; i < v.size(); i++)
            o.get()[v[i].second] = (uint32_t)i;
        /* Values alike up to their first NUL share a group, numbered in
         * order. */
        uint32_t k = 0;
        for (size_t i = 0; g && i < v.size(); i++) {
            if (i) {
                const std::string &a = v[i - 1].first, &b = v[i].first;
                size_t ea = a.find('\0'), eb = b.find('\0');
                if (a.compare(0, ea, b, 0, eb) != 0)
                    k++;
            }
            g.get()[v[i].second] = k;
        }
    }
    if (group)
        *group = g.release();
    *order = o.release();
    *n = last + 1;
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) { read_values(d, slot); })
}

/* cb(ctx, i, value) for each ids[i] (ascending) with a value in slot of
 * d: one pass over the slot's value stream. */
static void each_value(Xapian::Database &d, unsigned slot, const unsigned *ids,
                       size_t n,
                       void (*cb)(void *ctx, size_t i, const char *v,
                                  size_t len),
                       void *ctx)
{
    if (n == 0)
        return;
    auto it = d.valuestream_begin(slot);
    auto end = d.valuestream_end(slot);
    for (size_t i = 0; i < n && it != end; i++) {
        if (it.get_docid() < ids[i])
            it.skip_to(ids[i]);
        if (it == end)
            break;
        if (it.get_docid() == ids[i]) {
            const std::string v = *it;
            cb(ctx, i, v.data(), v.size());
        }
    }
}

xap_status xap_db_values(xap_db *db, unsigned slot, const unsigned *ids,
                         size_t n,
                         void (*cb)(void *ctx, size_t i, const char *v,
                                    size_t len),
                         void *ctx, char *err)
{
    XAP_TRY
    each_value(db->rep, slot, ids, n, cb, ctx);
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        /* the same steps on the shard alone: the combined stream moves
         * every shard's stream to its first docid at or after ids[i] */
        size_t s = (size_t)(&d - db->shards.data()), ns = db->shards.size();
        auto v = d.valuestream_begin(slot);
        for (size_t i = 0; i < n && v != d.valuestream_end(slot); i++) {
            unsigned local = ids[i] > s + 1
                                 ? (unsigned)((ids[i] - s - 2) / ns + 2) : 1;
            if (v.get_docid() < local)
                v.skip_to(local);
            if (v != d.valuestream_end(slot) && v.get_docid() == local)
                (void)*v;
        }
        read_values(d, slot);   /* the combined stream reads ahead */
    })
}

xap_status xap_db_shard_values(xap_db *db, size_t s, unsigned slot,
                               const unsigned *ids, size_t n,
                               void (*cb)(void *ctx, size_t i, const char *v,
                                          size_t len),
                               void *ctx, char *err)
{
    XAP_TRY
    each_value(db->shards.at(s), slot, ids, n, cb, ctx);
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}

struct xap_facets {
    Xapian::docid last;              /* the highest docid indexed */
    std::vector<std::string> terms;
    big_vector<uint32_t> off;        /* docid -> start in vals; size last+2 */
    big_vector<unsigned char> vals;  /* term indices, width bytes each */
    unsigned width;                  /* 1, 2 or 4: as few as the terms need */
    std::vector<uint32_t> poff;      /* term -> start in pdocs; size terms+1 */
    big_vector<uint32_t> pdocs;      /* each term's docids, ascending */
    big_vector<uint32_t> docs;       /* every docid */
    big_vector<uint32_t> voff;       /* docid -> start in pool; size last+2 */
    big_vector<char> pool;           /* length byte + value, per value */
};

xap_status xap_facets_create(xap_db *db, xap_facets **out, char *err)
{
    *out = nullptr;
    XAP_TRY
    std::unique_ptr<xap_facets> f(new xap_facets);
    f->last = db->rep.get_lastdocid();
    f->width = 1;
    f->off.assign(f->last + 2, 0);
    f->poff.push_back(0);
    f->voff.assign(f->last + 2, 0);
    *out = f.release();
    return XAP_OK;
    XAP_CATCH
}

xap_status xap_facets_add_terms(xap_db *db, xap_facets *f,
                                const char *const *prefixes, size_t n,
                                char *err)
{
    XAP_TRY
    Xapian::docid last = f->last;
    /* Each term's postings straight into pdocs (room for all of them at
     * once: grown by doubling, the list was copied and its new pages
     * faulted in again and again), then each document's row filled from
     * pdocs: no list of (document, term) pairs in between, which was
     * eight bytes a posting, 140 MB at 1 GB. */
    size_t postings = 0;
    for (size_t p = 0; p < n; p++)
        for (auto t = db->rep.allterms_begin(prefixes[p]);
             t != db->rep.allterms_end(prefixes[p]); ++t)
            postings += t.get_termfreq();
    f->terms.clear();
    f->poff.clear();
    f->pdocs.clear();
    f->pdocs.reserve(postings);
    f->docs.clear();
    f->docs.reserve(db->rep.get_doccount());
    for (size_t p = 0; p < n; p++) {
        for (auto t = db->rep.allterms_begin(prefixes[p]);
             t != db->rep.allterms_end(prefixes[p]); ++t) {
            f->terms.push_back(*t);
            f->poff.push_back((uint32_t)f->pdocs.size());
            for (auto d = db->rep.postlist_begin(*t);
                 d != db->rep.postlist_end(*t); ++d) {
                if (*d > last)
                    continue;
                f->pdocs.push_back(*d);
            }
        }
    }
    f->poff.push_back((uint32_t)f->pdocs.size());
    /* A count reads the rows of every matching document: in bytes for
     * fewer than 257 terms, a quarter of the memory to read. */
    size_t nt = f->terms.size();
    f->width = nt <= 0x100 ? 1 : nt <= 0x10000 ? 2 : 4;
    f->vals.resize(f->pdocs.size() * f->width);
    /* (off: last + 2 zeros since xap_facets_create; every row's start is
     * set below.) */
    /* The rows a block of documents at a time, each term's postings in
     * the block counted, then placed: the block's counts stay in the
     * cache.  Counting and placing each term's postings over all the
     * documents at once took a pass over the whole index's rows per term
     * (most of a 1 GB snapshot's own time). */
    const Xapian::docid BLOCK = 1u << 16;
    std::vector<uint32_t> cur(f->poff.begin(), f->poff.end() - 1);
    std::vector<uint32_t> place(BLOCK);
    uint32_t total = 0;
    for (Xapian::docid lo = 1; lo <= last; lo += BLOCK) {
        Xapian::docid hi = last + 1 - lo > BLOCK ? lo + BLOCK : last + 1;
        std::fill(place.begin(), place.begin() + (hi - lo), 0);
        for (size_t t = 0; t < nt; t++)
            for (uint32_t i = cur[t]; i < f->poff[t + 1] && f->pdocs[i] < hi;
                 i++)
                place[f->pdocs[i] - lo]++;
        /* place becomes each row's next free place. */
        for (Xapian::docid d = lo; d < hi; d++) {
            uint32_t c = place[d - lo];
            f->off[d] = place[d - lo] = total;
            total += c;
        }
        for (size_t t = 0; t < nt; t++) {
            uint32_t i = cur[t];
            for (; i < f->poff[t + 1] && f->pdocs[i] < hi; i++) {
                size_t at = (size_t)place[f->pdocs[i] - lo]++ * f->width;
                if (f->width == 1) {
                    f->vals[at] = (unsigned char)t;
                } else if (f->width == 2) {
                    uint16_t v = (uint16_t)t;
                    memcpy(&f->vals[at], &v, 2);
                } else {
                    uint32_t v = (uint32_t)t;
                    memcpy(&f->vals[at], &v, 4);
                }
            }
            cur[t] = i;
        }
    }
    f->off[last + 1] = total;
    for (auto d = db->rep.postlist_begin(""); d != db->rep.postlist_end("");
         ++d)
        if (*d <= last)
            f->docs.push_back(*d);
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        for (size_t p = 0; p < n; p++)
            read_postlists(d, prefixes[p], true);
        read_postlists(d, "", false);
    })
}

xap_status xap_facets_add_values(xap_db *db, xap_facets *f,
                                 unsigned first_slot, unsigned nslots,
                                 char *err)
{
    XAP_TRY
    Xapian::docid last = f->last;
    /* Values: per document, in slot order.  Read slot by slot into one
     * buffer (a record of document, place and length each), then placed:
     * no string per value. */
    struct Val {
        Xapian::docid d;
        uint32_t at;
        uint32_t len;
    };
    big_vector<Val> vs;
    /* The values' bytes in chunks of VCHUNK (a value of at most 255
     * bytes never straddles two): one string grown by doubling was copied
     * again and again, and its new pages faulted in each time (a tenth of
     * a 1 GB snapshot).  Val::at is chunk << VCHUNK_BITS | offset. */
    const unsigned VCHUNK_BITS = 24;
    const size_t VCHUNK = (size_t)1 << VCHUNK_BITS;
    std::vector<big_vector<char>> bytes;
    size_t nvals = 0;
    for (unsigned k = 0; k < nslots; k++)
        nvals += db->rep.get_value_freq(first_slot + k);
    vs.reserve(nvals);
    big_vector<uint32_t> vbytes(last + 2, 0);
    for (unsigned k = 0; k < nslots; k++)
        for (auto v = db->rep.valuestream_begin(first_slot + k);
             v != db->rep.valuestream_end(first_slot + k); ++v) {
            Xapian::docid d = v.get_docid();
            std::string val = *v;
            if (d > last || val.size() > 255)
                continue;
            vbytes[d] += 1 + (uint32_t)val.size();
            if (bytes.empty() || bytes.back().size() + val.size() > VCHUNK) {
                if (bytes.size() >= ((size_t)1 << (32 - VCHUNK_BITS)))
                    throw std::length_error("facet values beyond 4 GB");
                bytes.emplace_back();
                bytes.back().reserve(VCHUNK);
            }
            big_vector<char> &c = bytes.back();
            vs.push_back(Val{d, (uint32_t)((bytes.size() - 1) << VCHUNK_BITS |
                                           c.size()),
                             (uint32_t)val.size()});
            c.insert(c.end(), val.begin(), val.end());
        }
    /* (voff: last + 2 zeros since xap_facets_create.) */
    for (Xapian::docid d = 1; d <= last; d++)
        f->voff[d + 1] = f->voff[d] + vbytes[d];
    f->pool.assign(f->voff[last + 1], '\0');
    /* vbytes becomes each document's next free place. */
    for (Xapian::docid d = 0; d <= last; d++)
        vbytes[d] = f->voff[d];
    for (const Val &x : vs) {
        f->pool[vbytes[x.d]++] = (char)x.len;
        memcpy(&f->pool[vbytes[x.d]],
               bytes[x.at >> VCHUNK_BITS].data() + (x.at & (VCHUNK - 1)),
               x.len);
        vbytes[x.d] += x.len;
    }
    return XAP_OK;
    XAP_CATCH_FIND([&](Xapian::Database &d) {
        for (unsigned k = 0; k < nslots; k++)
            read_values(d, first_slot + k);
    })
}

xap_status xap_facets_build(xap_db *db, const char *const *prefixes,
                            size_t n, unsigned first_slot, unsigned nslots,
                            xap_facets **out, char *err)
{
    xap_facets *f;
    xap_status st = xap_facets_create(db, &f, err);
    if (st != XAP_OK)
        return st;
    if ((st = xap_facets_add_terms(db, f, prefixes, n, err)) != XAP_OK ||
        (st = xap_facets_add_values(db, f, first_slot, nslots, err)) != XAP_OK) {
        xap_facets_free(f);
        return st;
    }
    *out = f;
    return XAP_OK;
}

void xap_facets_free(xap_facets *f)
{
    delete f;
}

unsigned xap_facets_last(const xap_facets *f)
{
    return f->last;
}

size_t xap_facets_nterms(const xap_facets *f)
{
    return f->terms.size();
}

const char *xap_facets_term(const xap_facets *f, size_t i)
{
    return f->terms[i].c_str();
}

size_t xap_facets_docs(const xap_facets *f, const unsigned **ids)
{
    *ids = f->docs.data();
    return f->docs.size();
}

size_t xap_facets_postings(const xap_facets *f, size_t t,
                           const unsigned **ids)
{
    if (t + 1 >= f->poff.size()) {
        *ids = nullptr;
        return 0;
    }
    *ids = f->pdocs.data() + f->poff[t];
    return f->poff[t + 1] - f->poff[t];
}

size_t xap_facets_values(const xap_facets *f, unsigned did,
                         const unsigned char **buf)
{
    if ((size_t)did + 1 >= f->voff.size()) {
        *buf = nullptr;
        return 0;
    }
    *buf = reinterpret_cast<const unsigned char *>(f->pool.data()) + f->voff[did];
    return f->voff[did + 1] - f->voff[did];
}

size_t xap_facets_rows(const xap_facets *f, const uint32_t **off,
                       const void **vals, unsigned *width)
{
    *off = f->off.data();
    *vals = f->vals.data();
    *width = f->width;
    return f->off.size();
}

static std::string data_of(xap_db *db, Xapian::docid did, const char *key)
{
    size_t s;
    unsigned local;
    ps_local_docid(did, db->shards.size(), &s, &local);
    std::string k(key);
    k += (char)(local >> 24);
    k += (char)(local >> 16);
    k += (char)(local >> 8);
    k += (char)local;
    return db->shards[s].get_metadata(k);
}

xap_status xap_db_data(xap_db *db, unsigned did, const char *prefix,
                       char **data, size_t *len, char *err)
{
    *data = nullptr;
    *len = 0;
    size_t s = 0;           /* the passage's shard: named on any error */
    unsigned local;
    if (did && !db->shards.empty())
        ps_local_docid(did, db->shards.size(), &s, &local);
    XAP_TRY
    if (did == 0 || db->shards.empty())
        throw Xapian::InvalidArgumentError("document id 0");
    std::string v = data_of(db, did, prefix);
    *data = dup_string(v);
    *len = v.size();
    return XAP_OK;
    XAP_CATCH_SHARD(s)
}
