#include "resilience/retry_after.h"

#include "core/clock.h"

#include <jansson.h>
#include <pthread.h>
#include <string.h>

#define BODY_JSON_MAX (64u * 1024u) /* a RetryInfo error is a few hundred bytes */
#define TEXT_SCAN_MAX (64u * 1024u)

/* ---- small cursor helpers ---- */

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

static bool ci_prefix(const char *s, size_t len, const char *p)
{
    size_t n = strlen(p);
    if (n > len)
        return false;
    for (size_t i = 0; i < n; i++)
        if (lower(s[i]) != lower(p[i]))
            return false;
    return true;
}

static void trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t' || **s == '"')) {
        (*s)++;
        (*len)--;
    }
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '"' ||
                    (*s)[*len - 1] == '\r' || (*s)[*len - 1] == '\n'))
        (*len)--;
}

/* A non-negative decimal number ("12", "2.5", ".5"); at most 18 integer digits so the value
 * stays exact enough. Returns the bytes used, 0 if none. */
static size_t parse_number(const char *s, size_t len, double *out)
{
    size_t i = 0, digits = 0;
    double v = 0;
    while (i < len && is_digit(s[i])) {
        if (++digits > 18)
            return 0;
        v = v * 10 + (s[i++] - '0');
    }
    if (i < len && s[i] == '.') {
        size_t j = i + 1;
        double scale = 0.1;
        while (j < len && is_digit(s[j])) {
            if (scale > 1e-9)
                v += (s[j] - '0') * scale;
            scale /= 10;
            j++;
        }
        if (j > i + 1 || digits) { /* "5." is five; "." alone is nothing */
            digits += j - i - 1;
            i = j;
        }
    }
    if (!digits)
        return 0;
    *out = v;
    return i;
}

static uint64_t clamp_ms(double ms)
{
    if (!(ms > 0))
        return 0;
    if (ms >= (double)OR_RETRY_AFTER_CAP_MS)
        return OR_RETRY_AFTER_CAP_MS;
    uint64_t v = (uint64_t)ms;
    if ((double)v < ms) /* round up: a sub-millisecond wait is still a wait */
        v++;
    return v ? v : 1;
}

static uint64_t until_ms(int64_t epoch_ms)
{
    return clamp_ms((double)(epoch_ms - or_clock_wall_ms()));
}

/* ---- durations ---- */

/* Longest spellings first so "ms" is not read as "m" and "minutes" not as "min". */
static const struct {
    const char *name;
    double ms;
} units[] = {
    {"milliseconds", 1}, {"millisecond", 1}, {"msecs", 1},         {"msec", 1},
    {"ms", 1},           {"seconds", 1000},  {"second", 1000},     {"secs", 1000},
    {"sec", 1000},       {"minutes", 60000}, {"minute", 60000},    {"mins", 60000},
    {"min", 60000},      {"hours", 3600000}, {"hour", 3600000},    {"hrs", 3600000},
    {"hr", 3600000},     {"us", 0.001},      {"\xc2\xb5s", 0.001}, {"ns", 0.000001},
    {"s", 1000},         {"m", 60000},       {"h", 3600000},
};

static size_t parse_unit(const char *s, size_t len, double *ms)
{
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
        size_t n = strlen(units[i].name);
        if (!ci_prefix(s, len, units[i].name))
            continue;
        if (n < len && is_alpha(s[n])) /* "5 more": not a unit */
            continue;
        *ms = units[i].ms;
        return n;
    }
    return 0;
}

/* Reads "<number><unit>" components ("1h2m3.5s"; with `spaced`, also "1 minute 30 seconds").
 * A lone number with no unit counts as seconds when `bare_seconds`. Returns bytes used. */
static size_t parse_dur(const char *s, size_t len, bool spaced, bool bare_seconds, double *out)
{
    size_t i = 0, used = 0;
    double total = 0;
    int parts = 0;
    while (i < len) {
        size_t j = i;
        while (spaced && parts && j < len && s[j] == ' ')
            j++;
        double v, unit;
        size_t n = parse_number(s + j, len - j, &v);
        if (!n)
            break;
        j += n;
        size_t k = j;
        while (spaced && k < len && s[k] == ' ')
            k++;
        size_t u = parse_unit(s + k, len - k, &unit);
        if (!u) {
            /* "2024-05-01…" or "12:30" is a time, not a number of seconds */
            bool timeish = j < len && (s[j] == '-' || s[j] == ':' || s[j] == '/');
            if (parts == 0 && bare_seconds && !timeish) {
                total = v * 1000;
                used = j;
                parts = 1;
            }
            break;
        }
        total += v * unit;
        i = used = k + u;
        parts++;
    }
    if (!parts)
        return 0;
    *out = total;
    return used;
}

uint64_t or_retry_after_parse_duration(const char *s, size_t len)
{
    double ms;
    trim(&s, &len);
    if (!len || parse_dur(s, len, false, true, &ms) != len)
        return 0;
    return clamp_ms(ms);
}

/* ---- dates ---- */

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};

/* Days since 1970-01-01 of a proleptic Gregorian date (era arithmetic, exact for any year). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

typedef struct {
    const char *s;
    size_t len, i;
} cur;

static bool eat(cur *c, char ch)
{
    if (c->i < c->len && c->s[c->i] == ch) {
        c->i++;
        return true;
    }
    return false;
}

static void skip_spaces(cur *c)
{
    while (c->i < c->len && c->s[c->i] == ' ')
        c->i++;
}

static bool digits(cur *c, size_t min, size_t max, int *out)
{
    size_t n = 0;
    int v = 0;
    while (n < max && c->i < c->len && is_digit(c->s[c->i])) {
        v = v * 10 + (c->s[c->i++] - '0');
        n++;
    }
    *out = v;
    return n >= min;
}

static bool month_name(cur *c, int *m)
{
    for (int k = 0; k < 12; k++)
        if (ci_prefix(c->s + c->i, c->len - c->i, months[k])) {
            c->i += 3;
            *m = k + 1;
            return true;
        }
    return false;
}

static bool skip_word(cur *c) /* a weekday name */
{
    size_t start = c->i;
    while (c->i < c->len && is_alpha(c->s[c->i]))
        c->i++;
    return c->i > start;
}

static bool hms(cur *c, int *h, int *mi, int *sec)
{
    return digits(c, 2, 2, h) && eat(c, ':') && digits(c, 2, 2, mi) && eat(c, ':') &&
           digits(c, 2, 2, sec);
}

typedef struct {
    int y, mo, d, h, mi, s;
    double frac;
    int offset_min; /* east of UTC */
} civil;

static bool valid(const civil *t)
{
    return t->mo >= 1 && t->mo <= 12 && t->d >= 1 && t->d <= 31 && t->h <= 23 && t->mi <= 59 &&
           t->s <= 60 && t->y >= 1970 && t->y <= 9999;
}

/* "Sun, 06 Nov 1994 08:49:37 GMT" and "Sunday, 06-Nov-94 08:49:37 GMT" */
static bool http_date(cur *c, civil *t)
{
    if (!skip_word(c) || !eat(c, ','))
        return false;
    skip_spaces(c);
    if (!digits(c, 1, 2, &t->d))
        return false;
    bool dashed = eat(c, '-');
    if (!dashed)
        skip_spaces(c);
    if (!month_name(c, &t->mo))
        return false;
    if (dashed && !eat(c, '-'))
        return false;
    skip_spaces(c);
    size_t y0 = c->i;
    if (!digits(c, 2, 4, &t->y))
        return false;
    if (c->i - y0 == 2) /* RFC 850's two-digit year */
        t->y += t->y < 70 ? 2000 : 1900;
    skip_spaces(c);
    if (!hms(c, &t->h, &t->mi, &t->s))
        return false;
    skip_spaces(c);
    if (c->i < c->len && !ci_prefix(c->s + c->i, c->len - c->i, "GMT") &&
        !ci_prefix(c->s + c->i, c->len - c->i, "UTC"))
        return false;
    c->i = c->len;
    return true;
}

/* "Sun Nov  6 08:49:37 1994" */
static bool asctime_date(cur *c, civil *t)
{
    if (!skip_word(c))
        return false;
    skip_spaces(c);
    if (!month_name(c, &t->mo))
        return false;
    skip_spaces(c);
    if (!digits(c, 1, 2, &t->d))
        return false;
    skip_spaces(c);
    if (!hms(c, &t->h, &t->mi, &t->s))
        return false;
    skip_spaces(c);
    return digits(c, 4, 4, &t->y) && c->i == c->len;
}

/* "2024-01-02T03:04:05Z", "2024-01-02 03:04:05.123+02:00" */
static bool rfc3339(cur *c, civil *t)
{
    if (!digits(c, 4, 4, &t->y) || !eat(c, '-') || !digits(c, 2, 2, &t->mo) || !eat(c, '-') ||
        !digits(c, 2, 2, &t->d))
        return false;
    if (!eat(c, 'T') && !eat(c, 't') && !eat(c, ' '))
        return false;
    if (!hms(c, &t->h, &t->mi, &t->s))
        return false;
    if (eat(c, '.')) {
        double scale = 0.1;
        size_t start = c->i;
        while (c->i < c->len && is_digit(c->s[c->i])) {
            t->frac += (c->s[c->i++] - '0') * scale;
            scale /= 10;
        }
        if (c->i == start)
            return false;
    }
    if (eat(c, 'Z') || eat(c, 'z'))
        return c->i == c->len;
    int sign = eat(c, '+') ? 1 : eat(c, '-') ? -1 : 0;
    int oh, om;
    if (!sign || !digits(c, 2, 2, &oh) || !eat(c, ':') || !digits(c, 2, 2, &om) || oh > 23 ||
        om > 59)
        return false;
    t->offset_min = sign * (oh * 60 + om);
    return c->i == c->len;
}

bool or_retry_after_parse_date(const char *s, size_t len, int64_t *epoch_ms)
{
    static bool (*const forms[])(cur *, civil *) = {http_date, asctime_date, rfc3339};
    trim(&s, &len);
    for (size_t k = 0; k < sizeof forms / sizeof forms[0]; k++) {
        cur c = {s, len, 0};
        civil t = {0};
        if (!forms[k](&c, &t) || !valid(&t))
            continue;
        int64_t days = days_from_civil(t.y, (unsigned)t.mo, (unsigned)t.d);
        int64_t secs = days * 86400 + t.h * 3600 + t.mi * 60 + t.s - (int64_t)t.offset_min * 60;
        *epoch_ms = secs * 1000 + (int64_t)(t.frac * 1000);
        return true;
    }
    return false;
}

/* ---- header values ---- */

uint64_t or_retry_after_parse_header(const char *value, size_t len)
{
    double v;
    int64_t when;
    trim(&value, &len);
    if (!len)
        return 0;
    if (parse_number(value, len, &v) == len)
        return clamp_ms(v * 1000);
    if (or_retry_after_parse_date(value, len, &when))
        return until_ms(when);
    return 0;
}

uint64_t or_retry_after_parse_reset(const char *s, size_t len)
{
    double v;
    int64_t when;
    trim(&s, &len);
    if (!len)
        return 0;
    if (parse_number(s, len, &v) == len) {
        if (v >= 1e12) /* epoch milliseconds (OpenRouter) */
            return until_ms((int64_t)v);
        if (v >= 1e9) /* epoch seconds */
            return until_ms((int64_t)(v * 1000));
        return clamp_ms(v * 1000); /* seconds from now */
    }
    if (or_retry_after_parse_date(s, len, &when))
        return until_ms(when);
    return or_retry_after_parse_duration(s, len);
}

/* ---- bodies ---- */

static uint64_t delay_in(json_t *v, int depth);

static uint64_t delay_in_details(json_t *details)
{
    size_t i;
    json_t *d;
    json_array_foreach(details, i, d)
    {
        json_t *rd = json_object_get(d, "retryDelay");
        if (json_is_string(rd)) {
            uint64_t ms =
                or_retry_after_parse_duration(json_string_value(rd), json_string_length(rd));
            if (ms)
                return ms;
        }
    }
    return 0;
}

/* {"error":{"details":[{"@type":"…RetryInfo","retryDelay":"2.5s"}]}}, possibly wrapped in a
 * top-level array (the streaming endpoints answer a list). */
static uint64_t delay_in(json_t *v, int depth)
{
    if (depth > 2)
        return 0;
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            uint64_t ms = delay_in(e, depth + 1);
            if (ms)
                return ms;
        }
        return 0;
    }
    json_t *err = json_object_get(v, "error");
    return delay_in_details(json_object_get(err ? err : v, "details"));
}

uint64_t or_retry_after_parse_body(const char *body, size_t len)
{
    if (!body || !len || len > BODY_JSON_MAX)
        return 0;
    json_t *doc = json_loadb(body, len, JSON_DISABLE_EOF_CHECK, NULL);
    if (!doc)
        return 0;
    uint64_t ms = delay_in(doc, 0);
    json_decref(doc);
    return ms;
}

/* Hints in error prose. "at" phrases are followed by a time, the others by a duration. */
static const struct {
    const char *phrase;
    bool at;
} hints[] = {
    {"try again in", false}, {"retry in", false},    {"retry after", false},
    {"retry-after", false},  {"resets in", false},   {"reset in", false},
    {"resets after", false}, {"reset after", false}, {"try again after", false},
    {"try again at", true},  {"resets at", true},    {"retry at", true},
};

static uint64_t hint_at(const char *s, size_t len, bool at)
{
    size_t i = 0;
    while (i < len && (s[i] == ' ' || s[i] == ':'))
        i++;
    if (at) {
        /* The time runs to the next space-free end: RFC 3339 has no spaces. */
        size_t j = i;
        while (j < len && s[j] != ' ' && s[j] != '"' && s[j] != ',' && s[j] != ')')
            j++;
        while (j > i && s[j - 1] == '.')
            j--;
        int64_t when;
        return or_retry_after_parse_date(s + i, j - i, &when) ? until_ms(when) : 0;
    }
    double ms;
    return parse_dur(s + i, len - i, true, true, &ms) ? clamp_ms(ms) : 0;
}

uint64_t or_retry_after_parse_text(const char *text, size_t len)
{
    if (!text)
        return 0;
    if (len > TEXT_SCAN_MAX)
        len = TEXT_SCAN_MAX;
    for (size_t i = 0; i < len; i++) {
        for (size_t k = 0; k < sizeof hints / sizeof hints[0]; k++) {
            size_t n = strlen(hints[k].phrase);
            if (!ci_prefix(text + i, len - i, hints[k].phrase))
                continue;
            uint64_t ms = hint_at(text + i + n, len - i - n, hints[k].at);
            if (ms)
                return ms;
        }
    }
    return 0;
}

/* ---- the collector ---- */

typedef enum {
    H_MS,
    H_RETRY_AFTER,
    H_RESET_AFTER,
    H_RESET,
    H_RESET_REQ,
    H_RESET_TOK,
    H_REM_REQ,
    H_REM_TOK
} hkind;

/* Lengths kept with the names: every upstream response header is looked up here. */
// clang-format off
#define H(name, kind) {name, sizeof name - 1, kind}
// clang-format on
static const struct {
    const char *name;
    size_t len;
    hkind kind;
} headers[] = {
    H("retry-after-ms", H_MS),
    H("retry-after", H_RETRY_AFTER),
    H("x-ratelimit-reset-after", H_RESET_AFTER),
    H("x-ratelimit-reset", H_RESET),
    H("x-ratelimit-reset-requests", H_RESET_REQ),
    H("x-ratelimit-reset-tokens", H_RESET_TOK),
    H("x-ratelimit-remaining-requests", H_REM_REQ),
    H("x-ratelimit-remaining-tokens", H_REM_TOK),
    H("anthropic-ratelimit-requests-reset", H_RESET_REQ),
    H("anthropic-ratelimit-tokens-reset", H_RESET_TOK),
    H("anthropic-ratelimit-input-tokens-reset", H_RESET_TOK),
    H("anthropic-ratelimit-output-tokens-reset", H_RESET_TOK),
    H("anthropic-ratelimit-requests-remaining", H_REM_REQ),
    H("anthropic-ratelimit-tokens-remaining", H_REM_TOK),
    H("anthropic-ratelimit-input-tokens-remaining", H_REM_TOK),
    H("anthropic-ratelimit-output-tokens-remaining", H_REM_TOK),
};
#undef H

/* The first letters (lower case) the names in the table begin with. */
static bool first_letters[256];
static pthread_once_t first_letters_once = PTHREAD_ONCE_INIT;

static void note_first_letters(void)
{
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++)
        first_letters[(unsigned char)lower(headers[i].name[0])] = true;
}

void or_retry_after_init(or_retry_after *ra)
{
    memset(ra, 0, sizeof *ra);
    ra->remaining_requests = ra->remaining_tokens = -1;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

static void remaining(int *slot, const char *v, size_t len)
{
    double d;
    trim(&v, &len);
    if (len && parse_number(v, len, &d) == len) {
        int n = d > 1e9 ? 1000000000 : (int)d;
        /* Several token headers (input, output, total): the lowest says whether one ran out. */
        *slot = *slot < 0 || n < *slot ? n : *slot;
    }
}

void or_retry_after_header(or_retry_after *ra, const char *name, const char *value, size_t vlen)
{
    if (!name || !value)
        return;
    /* The usual headers (server, date, content-*) stop at their first letter, without a walk
     * over the table. */
    pthread_once(&first_letters_once, note_first_letters);
    if (!first_letters[(unsigned char)lower(name[0])])
        return;
    size_t nlen = strlen(name);
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        if (headers[i].len != nlen || !ci_prefix(name, nlen, headers[i].name))
            continue;
        switch (headers[i].kind) {
        case H_MS: {
            double v;
            const char *s = value;
            size_t len = vlen;
            trim(&s, &len);
            if (len && parse_number(s, len, &v) == len)
                ra->ms[OR_RA_MS] = clamp_ms(v);
            break;
        }
        case H_RETRY_AFTER:
            ra->ms[OR_RA_RETRY_AFTER] = or_retry_after_parse_header(value, vlen);
            break;
        case H_RESET_AFTER:
            ra->ms[OR_RA_RESET_AFTER] = or_retry_after_parse_reset(value, vlen);
            break;
        case H_RESET:
            ra->ms[OR_RA_RESET] = or_retry_after_parse_reset(value, vlen);
            break;
        case H_RESET_REQ:
            ra->reset_requests =
                max_u64(ra->reset_requests, or_retry_after_parse_reset(value, vlen));
            break;
        case H_RESET_TOK:
            ra->reset_tokens = max_u64(ra->reset_tokens, or_retry_after_parse_reset(value, vlen));
            break;
        case H_REM_REQ:
            remaining(&ra->remaining_requests, value, vlen);
            break;
        case H_REM_TOK:
            remaining(&ra->remaining_tokens, value, vlen);
            break;
        }
        return;
    }
}

void or_retry_after_body(or_retry_after *ra, const char *body, size_t len)
{
    ra->ms[OR_RA_BODY_DELAY] = or_retry_after_parse_body(body, len);
    ra->ms[OR_RA_BODY_TEXT] = or_retry_after_parse_text(body, len);
}

/* Of the requests/tokens pair, the one that ran out is the one to wait for; when the
 * remaining counts are unknown take the shorter wait (backoff grows if it was not enough). */
static uint64_t limit_reset(const or_retry_after *ra)
{
    uint64_t rq = ra->reset_requests, tk = ra->reset_tokens;
    bool rq_out = ra->remaining_requests == 0, tk_out = ra->remaining_tokens == 0;
    if (rq_out || tk_out)
        return max_u64(rq_out ? rq : 0, tk_out ? tk : 0);
    if (rq && tk)
        return rq < tk ? rq : tk;
    return rq ? rq : tk;
}

uint64_t or_retry_after_ms(const or_retry_after *ra)
{
    for (int i = 0; i < OR_RA_COUNT; i++) {
        uint64_t ms = i == OR_RA_RESET_LIMIT ? limit_reset(ra) : ra->ms[i];
        if (ms)
            return ms;
    }
    return 0;
}
