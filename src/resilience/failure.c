#include "resilience/failure.h"

#include <stdio.h>
#include <string.h>

#define SCAN_MAX (64u * 1024u) /* error bodies are small; a huge one is not read to the end */

/* The decision table, in precedence order: for a mask with several classes the first matching
 * row decides. A client abort beats everything (it is never the provider's fault); a request
 * the upstream calls malformed stops even if other bits are set; account-wide signals beat the
 * per-model ones, which beat the provider-wide ones. */
typedef struct {
    uint32_t bit;
    const char *name;
    or_fail_next next;
    or_fail_scope scope;
    bool breaker;
} fail_row;

static const fail_row rows[] = {
    {OR_FAIL_CLIENT_ABORT, "client_abort", OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {OR_FAIL_MALFORMED_400, "malformed_400", OR_NEXT_STOP, OR_SCOPE_NONE, false},
    {OR_FAIL_OTHER_4XX, "other_4xx", OR_NEXT_STOP, OR_SCOPE_NONE, false},
    /* The same model on another account has the same window: go to the next model. */
    {OR_FAIL_CONTEXT_LENGTH, "context_length", OR_NEXT_TARGET, OR_SCOPE_NONE, false},
    {OR_FAIL_QUOTA, "quota", OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {OR_FAIL_STATUS_401, "status_401", OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {OR_FAIL_STATUS_402, "status_402", OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {OR_FAIL_STATUS_403, "status_403", OR_NEXT_ACCOUNT, OR_SCOPE_KEY, false},
    {OR_FAIL_MODEL_SCOPED_400, "model_scoped_400", OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    {OR_FAIL_STATUS_404, "status_404", OR_NEXT_ACCOUNT, OR_SCOPE_MODEL, false},
    /* Rate limits are per account (and often per model); they must not trip the provider's
     * breaker, or one busy key would take every account of the provider out. */
    {OR_FAIL_STATUS_429, "status_429", OR_NEXT_ACCOUNT, OR_SCOPE_ACCOUNT, false},
    {OR_FAIL_STATUS_408, "status_408", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {OR_FAIL_5XX, "5xx", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {OR_FAIL_CONNECT, "connect", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {OR_FAIL_TIMEOUT, "timeout", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {OR_FAIL_RESET, "reset", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
    {OR_FAIL_STREAM_CUT, "stream_cut", OR_NEXT_ACCOUNT, OR_SCOPE_PROVIDER, true},
};

static const fail_row *decide(uint32_t mask)
{
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (mask & rows[i].bit)
            return &rows[i];
    return NULL;
}

or_fail_next or_failure_next(uint32_t mask)
{
    const fail_row *r = decide(mask);
    return r ? r->next : OR_NEXT_STOP;
}

bool or_failure_should_fallback(uint32_t mask)
{
    return or_failure_next(mask) != OR_NEXT_STOP;
}

or_fail_scope or_failure_scope(uint32_t mask)
{
    const fail_row *r = decide(mask);
    return r ? r->scope : OR_SCOPE_NONE;
}

bool or_failure_counts_for_breaker(uint32_t mask)
{
    const fail_row *r = decide(mask);
    return r && r->breaker;
}

const char *or_failure_scope_name(or_fail_scope s)
{
    static const char *const names[OR_SCOPE_COUNT] = {"none", "key", "account", "model",
                                                      "provider"};
    return (unsigned)s < OR_SCOPE_COUNT ? names[s] : "none";
}

const char *or_failure_describe(uint32_t mask, char *out, size_t cap)
{
    size_t n = 0;
    if (cap)
        out[0] = '\0';
    for (size_t i = 0; i < sizeof rows / sizeof rows[0] && cap; i++) {
        if (!(mask & rows[i].bit))
            continue;
        int w = snprintf(out + n, cap - n, "%s%s", n ? "," : "", rows[i].name);
        if (w < 0 || (size_t)w >= cap - n)
            break;
        n += (size_t)w;
    }
    return out;
}

/* ---- classification ---- */

static const struct {
    or_transport_error t;
    uint32_t bit;
} transport_bits[] = {
    {OR_TRANSPORT_CONNECT, OR_FAIL_CONNECT},
    {OR_TRANSPORT_TIMEOUT, OR_FAIL_TIMEOUT},
    {OR_TRANSPORT_RESET, OR_FAIL_RESET},
    {OR_TRANSPORT_STREAM_CUT, OR_FAIL_STREAM_CUT},
    {OR_TRANSPORT_CLIENT_ABORT, OR_FAIL_CLIENT_ABORT},
};

static const struct {
    int status;
    uint32_t bit;
} status_bits[] = {
    {401, OR_FAIL_STATUS_401}, {402, OR_FAIL_STATUS_402}, {403, OR_FAIL_STATUS_403},
    {404, OR_FAIL_STATUS_404}, {410, OR_FAIL_STATUS_404}, /* a retired model */
    {408, OR_FAIL_STATUS_408}, {429, OR_FAIL_STATUS_429},
};

/* Which statuses have their body read, and for what. */
enum { BODY_CONTEXT = 1, BODY_QUOTA = 2, BODY_RATE = 4, BODY_MODEL = 8 };

static const struct {
    int lo, hi;
    unsigned what;
} body_rules[] = {
    {400, 400, BODY_CONTEXT | BODY_QUOTA | BODY_RATE | BODY_MODEL},
    {422, 422, BODY_CONTEXT | BODY_QUOTA | BODY_RATE | BODY_MODEL},
    {413, 413, BODY_CONTEXT},
    {401, 403, BODY_QUOTA},
    {429, 429, BODY_QUOTA},
    {500, 599, BODY_QUOTA},
};

/* Phrases from OpenAI, Anthropic, Gemini and the OpenAI-compatible crowd. `also`, when set,
 * must appear too (Gemini's INVALID_ARGUMENT is model-scoped only when it talks about the
 * model). Matching is ASCII case-insensitive. */
typedef struct {
    unsigned what;
    const char *phrase;
    const char *also;
} phrase_row;

static const phrase_row phrases[] = {
    {BODY_CONTEXT, "context_length_exceeded", NULL},
    {BODY_CONTEXT, "maximum context length", NULL},
    {BODY_CONTEXT, "context length", NULL},
    {BODY_CONTEXT, "context window", NULL},
    {BODY_CONTEXT, "exceed context limit", NULL},
    {BODY_CONTEXT, "prompt is too long", NULL},
    {BODY_CONTEXT, "input is too long", NULL},
    {BODY_CONTEXT, "too many tokens", NULL},
    {BODY_CONTEXT, "exceeds the maximum number of tokens", NULL},
    {BODY_CONTEXT, "reduce the length of the messages", NULL},
    {BODY_QUOTA, "insufficient_quota", NULL},
    {BODY_QUOTA, "credit balance", NULL},
    {BODY_QUOTA, "insufficient balance", NULL},
    {BODY_QUOTA, "insufficient credits", NULL},
    {BODY_QUOTA, "credits_exhausted", NULL},
    {BODY_QUOTA, "out of credits", NULL},
    {BODY_QUOTA, "billing hard limit", NULL},
    {BODY_QUOTA, "account's rate limit", NULL},
    {BODY_RATE, "rate limit", NULL},
    {BODY_RATE, "rate_limit", NULL},
    {BODY_RATE, "too many requests", NULL},
    {BODY_RATE, "high frequency", NULL},
    {BODY_RATE, "\xe9\xa2\x91\xe7\xb9\x81", NULL}, /* 频繁, "too frequent" */
    {BODY_MODEL, "model_not_found", NULL},
    {BODY_MODEL, "model not found", NULL},
    {BODY_MODEL, "model_not_supported", NULL},
    {BODY_MODEL, "unknown model", NULL},
    {BODY_MODEL, "invalid model", NULL},
    {BODY_MODEL, "unsupported model", NULL},
    {BODY_MODEL, "no such model", NULL},
    {BODY_MODEL, "not a valid model", NULL},
    {BODY_MODEL, "does not exist", NULL},
    {BODY_MODEL, "not supported", NULL},
    {BODY_MODEL, "not available", NULL},
    {BODY_MODEL, "not have access", NULL},
    {BODY_MODEL, "maximum allowed number of output tokens", NULL},
    {BODY_MODEL, "invalid_argument", "model"},
};

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool ci_contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    if (n == 0 || n > len)
        return n == 0;
    unsigned char first = lower((unsigned char)needle[0]);
    for (size_t i = 0; i + n <= len; i++) {
        if (lower((unsigned char)hay[i]) != first)
            continue;
        size_t j = 1;
        while (j < n && lower((unsigned char)hay[i + j]) == lower((unsigned char)needle[j]))
            j++;
        if (j == n)
            return true;
    }
    return false;
}

static unsigned body_says(const char *body, size_t len, unsigned what)
{
    unsigned found = 0;
    if (!body)
        return 0;
    if (len > SCAN_MAX)
        len = SCAN_MAX;
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++) {
        const phrase_row *p = &phrases[i];
        if (!(p->what & what) || (found & p->what))
            continue;
        if (ci_contains(body, len, p->phrase) && (!p->also || ci_contains(body, len, p->also)))
            found |= p->what;
    }
    return found;
}

static uint32_t classify_status(int status, const char *body, size_t len)
{
    uint32_t mask = 0;
    unsigned what = 0;
    for (size_t i = 0; i < sizeof body_rules / sizeof body_rules[0]; i++)
        if (status >= body_rules[i].lo && status <= body_rules[i].hi)
            what |= body_rules[i].what;
    unsigned said = what ? body_says(body, len, what) : 0;

    for (size_t i = 0; i < sizeof status_bits / sizeof status_bits[0]; i++)
        if (status_bits[i].status == status)
            mask |= status_bits[i].bit;
    if (status >= 500)
        mask |= OR_FAIL_5XX;
    if (said & BODY_QUOTA)
        mask |= OR_FAIL_QUOTA;
    if (mask)
        return mask;

    /* A 4xx with no status row of its own: the body decides. The input being too long beats
     * everything (no account of this model will take it); then rate/quota text; then a
     * complaint about the model; anything else is the request's own fault. */
    if (said & BODY_CONTEXT)
        return OR_FAIL_CONTEXT_LENGTH;
    if (said & BODY_RATE)
        return OR_FAIL_STATUS_429;
    if (said & BODY_MODEL)
        return OR_FAIL_MODEL_SCOPED_400;
    if (status == 400 || status == 422)
        return OR_FAIL_MALFORMED_400;
    return OR_FAIL_OTHER_4XX;
}

uint32_t or_failure_classify(int status, const char *body, size_t len, int transport)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < sizeof transport_bits / sizeof transport_bits[0]; i++)
        if ((int)transport_bits[i].t == transport)
            mask |= transport_bits[i].bit;
    if (mask & OR_FAIL_CLIENT_ABORT)
        return OR_FAIL_CLIENT_ABORT;
    if (status >= 400)
        mask |= classify_status(status, body, len);
    else if (status <= 0 && !mask)
        mask = OR_FAIL_RESET; /* no reply and no reason: treat as a broken connection */
    return mask;
}
