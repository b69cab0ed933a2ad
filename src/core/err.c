#include "core/err.h"

#include <stdarg.h>
#include <stdio.h>

static const char *const names[OR_ERR_COUNT] = {
    [OR_OK] = "ok",
    [OR_ENOMEM] = "out of memory",
    [OR_EINVAL] = "invalid argument",
    [OR_ENOTFOUND] = "not found",
    [OR_ETOOBIG] = "too big",
    [OR_EEXIST] = "already exists",
    [OR_EIO] = "i/o error",
    [OR_EDB] = "database error",
    [OR_ECRYPTO] = "crypto error",
    [OR_EAUTH] = "authentication failed",
    [OR_EUPSTREAM] = "upstream error",
    [OR_ETIMEOUT] = "timed out",
    [OR_EUNAVAIL] = "unavailable",
    [OR_EINTERNAL] = "internal error",
};

const char *or_err_name(or_err e)
{
    return (e >= 0 && e < OR_ERR_COUNT && names[e]) ? names[e] : "unknown error";
}

or_err or_fail(or_errbuf *eb, or_err e, const char *fmt, ...)
{
    if (eb) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
        va_end(ap);
    }
    return e;
}
