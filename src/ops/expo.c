#include "ops/expo.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

or_err or_expo_label_value(or_buf *b, const char *v)
{
    or_err rc = or_buf_append(b, "\"", 1);
    for (const char *p = v ? v : ""; rc == OR_OK && *p;) {
        size_t run = strcspn(p, "\\\"\n");
        if (run)
            rc = or_buf_append(b, p, run);
        p += run;
        if (rc != OR_OK || !*p)
            break;
        rc = or_buf_append(b, *p == '\n' ? "\\n" : *p == '"' ? "\\\"" : "\\\\", 2);
        p++;
    }
    return rc == OR_OK ? or_buf_append(b, "\"", 1) : rc;
}

/* HELP text escapes backslash and newline only (the format's rule). */
static or_err help_text(or_buf *b, const char *h)
{
    or_err rc = OR_OK;
    for (const char *p = h; rc == OR_OK && *p;) {
        size_t run = strcspn(p, "\\\n");
        if (run)
            rc = or_buf_append(b, p, run);
        p += run;
        if (rc != OR_OK || !*p)
            break;
        rc = or_buf_append(b, *p == '\n' ? "\\n" : "\\\\", 2);
        p++;
    }
    return rc;
}

or_err or_expo_family(or_buf *b, const char *name, const char *type, const char *help)
{
    or_err rc = or_buf_printf(b, "# HELP %s ", name);
    if (rc == OR_OK)
        rc = help_text(b, help);
    if (rc == OR_OK)
        rc = or_buf_printf(b, "\n# TYPE %s %s\n", name, type);
    return rc;
}

static or_err labels_open(or_buf *b, const char *name, const char *const *labels, const char *xname,
                          const char *xvalue)
{
    or_err rc = or_buf_puts(b, name);
    bool any = (labels && labels[0]) || xname;
    if (rc != OR_OK || !any)
        return rc;
    rc = or_buf_append(b, "{", 1);
    const char *sep = "";
    for (size_t i = 0; rc == OR_OK && labels && labels[i] && labels[i + 1]; i += 2) {
        rc = or_buf_printf(b, "%s%s=", sep, labels[i]);
        if (rc == OR_OK)
            rc = or_expo_label_value(b, labels[i + 1]);
        sep = ",";
    }
    if (rc == OR_OK && xname) {
        rc = or_buf_printf(b, "%s%s=", sep, xname);
        if (rc == OR_OK)
            rc = or_expo_label_value(b, xvalue);
    }
    return rc == OR_OK ? or_buf_append(b, "}", 1) : rc;
}

or_err or_expo_u64_x(or_buf *b, const char *name, const char *const *labels, const char *extra_name,
                     const char *extra_value, uint64_t v)
{
    or_err rc = labels_open(b, name, labels, extra_name, extra_value);
    return rc == OR_OK ? or_buf_printf(b, " %llu\n", (unsigned long long)v) : rc;
}

or_err or_expo_u64(or_buf *b, const char *name, const char *const *labels, uint64_t v)
{
    return or_expo_u64_x(b, name, labels, NULL, NULL, v);
}

or_err or_expo_f64(or_buf *b, const char *name, const char *const *labels, double v)
{
    or_err rc = labels_open(b, name, labels, NULL, NULL);
    if (rc != OR_OK)
        return rc;
    if (isnan(v))
        return or_buf_puts(b, " NaN\n");
    if (isinf(v))
        return or_buf_puts(b, v > 0 ? " +Inf\n" : " -Inf\n");
    return or_buf_printf(b, " %.15g\n", v);
}
