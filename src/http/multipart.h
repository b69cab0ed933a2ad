/*
 * multipart.h — a reader for multipart/form-data bodies (RFC 7578 over RFC 2046 §5.1) that are
 * held whole in memory: it walks the parts and reports each one's Content-Disposition name and
 * filename, its Content-Type, and where its data lies — without copying the data.
 *
 * Ownership: a part's data points into the caller's body, which must outlive it; names are
 * copied into the part's fixed arrays. No allocation, no globals: any thread.
 * The body comes from the network: every scan is bounded by its length, one part's header block
 * is capped at OR_MULTIPART_MAX_HEADER bytes, and a name or filename longer than its array, a
 * control character in one, a duplicate parameter, a missing CRLF after a delimiter or a part
 * without a closing delimiter are refused (OR_EINVAL) rather than guessed at.
 */
#ifndef OR_HTTP_MULTIPART_H
#define OR_HTTP_MULTIPART_H

#include "core/err.h"

#include <stdbool.h>
#include <stddef.h>

#define OR_MULTIPART_MAX_BOUNDARY 70 /* RFC 2046 */
#define OR_MULTIPART_MAX_HEADER 8192 /* bytes of one part's header block */

typedef struct {
    char name[128];         /* Content-Disposition name= (the form field) */
    char filename[256];     /* filename= or "" */
    char content_type[128]; /* the part's Content-Type or "" */
    bool has_filename;
    const char *data; /* into the body; never NULL after a successful next */
    size_t len;
} or_multipart_part;

typedef struct {
    const char *body;
    size_t len;
    size_t pos;                                /* start of the next part */
    char delim[OR_MULTIPART_MAX_BOUNDARY + 4]; /* "\r\n--" boundary */
    size_t delim_len;
    bool done;   /* the closing delimiter was read */
    bool failed; /* malformed: every later next says so */
} or_multipart;

/* True when a Content-Type value names multipart/form-data (parameters ignored). */
bool or_multipart_is(const char *content_type);

/* Takes the boundary from content_type ("multipart/form-data; boundary=…") and finds the first
 * delimiter in body (a preamble before it is skipped). OR_EINVAL with the reason. */
or_err or_multipart_init(or_multipart *m, const char *content_type, const char *body, size_t len,
                         or_errbuf *eb);

/* The next part: OR_OK; OR_ENOTFOUND once the closing delimiter has been read; OR_EINVAL when
 * the body is malformed (after which the reader stays failed). */
or_err or_multipart_next(or_multipart *m, or_multipart_part *part, or_errbuf *eb);

/* The first part named name: OR_OK, OR_ENOTFOUND (eb says so) or OR_EINVAL. */
or_err or_multipart_find(const char *content_type, const char *body, size_t len, const char *name,
                         or_multipart_part *part, or_errbuf *eb);

#endif
