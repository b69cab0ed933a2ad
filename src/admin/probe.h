/*
 * probe.h — what a connection test sends: the cheapest authenticated request a provider
 * answers (GET <root><models_path>, or a one-token chat when the provider lists no models
 * path), with the provider's auth style and default headers; and how its failure is told to
 * the user.
 *
 * Pure (no I/O): any thread. The plan owns its strings; the auth header value holds the API key
 * and is wiped by or_probe_plan_clear.
 */
#ifndef OR_ADMIN_PROBE_H
#define OR_ADMIN_PROBE_H

#include "core/err.h"
#include "provider/provider.h"
#include "store/store.h"
#include "upstream/upstream.h"

#include <stddef.h>

#define OR_PROBE_MAX_HEADERS 12

typedef struct {
    const char *method; /* "GET" or "POST" (static) */
    char *url;
    char *body; /* NULL for GET */
    char *auth_value;
    char *hdr_text; /* provider default headers, split in place; hdrs point into it */
    or_up_header hdrs[OR_PROBE_MAX_HEADERS];
    size_t nhdrs;
} or_probe_plan;

/* Fills pl (zeroed by the caller) for connection c of provider p. OR_EINVAL when nothing can be
 * tested (no model to send a chat to). */
or_err or_probe_plan_build(or_probe_plan *pl, const or_provider *p, const or_conn *c,
                           or_errbuf *eb);
void or_probe_plan_clear(or_probe_plan *pl);

/* A short message for a non-2xx reply: the provider's error.message when the body has one,
 * else "HTTP <status>". Always NUL-terminates out (cap > 0). */
void or_probe_error_text(int status, const char *body, size_t len, char *out, size_t cap);

#endif
