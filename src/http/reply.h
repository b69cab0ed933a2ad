/*
 * reply.h — JSON replies and the management/OpenAI error shape {error:{message,type,code}}.
 *
 * Called on the request's worker thread; each call ends the request.
 */
#ifndef OR_HTTP_REPLY_H
#define OR_HTTP_REPLY_H

#include "http/http.h"

#include <jansson.h>

/* Serializes body (the reference is stolen) and replies. */
void or_reply_json(or_http_req *r, int status, json_t *body, const char *extra_headers);
/* {error:{message, type, code}}; code may be NULL (→ null). */
void or_reply_error(or_http_req *r, int status, const char *type, const char *code, const char *fmt,
                    ...) __attribute__((format(printf, 5, 6)));
/* The OpenAI error type that matches a status: 400 invalid_request_error, 401
 * authentication_error, 403 permission_error, 404 not_found_error, 429 rate_limit_error,
 * 5xx api_error … */
const char *or_reply_error_type(int status);

#endif
