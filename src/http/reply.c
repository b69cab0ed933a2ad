#include "http/reply.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void or_reply_json(or_http_req *r, int status, json_t *body, const char *extra_headers)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        static const char oom[] =
            "{\"error\":{\"message\":\"out of memory\",\"type\":\"api_error\","
            "\"code\":null}}";
        or_http_respond(r, 500, "application/json", NULL, oom, sizeof oom - 1);
        return;
    }
    or_http_respond(r, status, "application/json", extra_headers, text, strlen(text));
    free(text);
}

const char *or_reply_error_type(int status)
{
    switch (status) {
    case 400:
    case 405:
    case 413:
    case 414:
    case 422:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 408:
    case 504:
        return "timeout_error";
    case 429:
        return "rate_limit_error";
    default:
        return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

void or_reply_error(or_http_req *r, int status, const char *type, const char *code, const char *fmt,
                    ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    json_t *err = json_pack("{s:{s:s, s:s, s:s?}}", "error", "message", msg, "type",
                            type ? type : or_reply_error_type(status), "code", code);
    or_reply_json(r, status, err, NULL);
}
