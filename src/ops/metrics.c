/*
 * metrics.c — see metrics.h. Label sets live in open-addressing tables: slots are atomic
 * pointers, filled once and never moved or removed, so readers (observers, render) never lock;
 * only an insert takes the table's mutex. A table has at least twice as many slots as it may
 * ever hold series, so a probe always reaches an empty slot. A request makes one lookup (its
 * endpoint, provider, model series holds every per-request value); errors, rarer, have a table
 * of their own.
 */
#include "ops/metrics.h"

#include "ops/expo.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LABEL_MAX 128
#define MAX_LABELS 3
#define KEY_MAX (MAX_LABELS * (LABEL_MAX + 1))
#define SEP '\x1f' /* between label values in a key; never inside one */

#define DEFAULT_MAX_SERIES 2000
#define DEFAULT_FOLD_RESERVE 256

/* Histogram upper bounds in milliseconds (rendered in seconds). */
static const uint32_t lat_bounds[] = {5,    10,   25,    50,    100,   250,    500,   1000,
                                      2500, 5000, 10000, 30000, 60000, 120000, 300000};
static const uint32_t ttft_bounds[] = {10,   25,   50,   100,   250,   500,
                                       1000, 2000, 5000, 10000, 30000, 60000};
#define NLAT (sizeof lat_bounds / sizeof lat_bounds[0])
#define NTTFT (sizeof ttft_bounds / sizeof ttft_bounds[0])

/* Status classes of omniroute_requests_total: 1xx … 5xx, then anything else. */
static const char *const status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define NCLASSES (sizeof status_classes / sizeof status_classes[0])

static const char *const token_types[] = {"input", "output", "cached", "reasoning"};
#define NTOKENS (sizeof token_types / sizeof token_types[0])

/* Values of a request series (endpoint, provider, model). Tokens and the histograms are kept
 * here too, so a request costs one lookup; render sums them by (provider, model) and by
 * provider. */
enum {
    V_CLASS = 0,
    V_TOKENS = V_CLASS + NCLASSES,
    V_LAT = V_TOKENS + NTOKENS, /* buckets, +Inf last */
    V_LAT_SUM = V_LAT + NLAT + 1,
    V_TTFT,
    V_TTFT_SUM = V_TTFT + NTTFT + 1,
    V_REQ_N
};

/* Counters are sharded by thread: a worker adds to its own cache lines (no contention between
 * workers); render sums the shards. Threads beyond NSHARDS share shards (still atomic). */
#define NSHARDS 16
#define LINE 64

typedef struct {
    uint32_t hash;
    uint16_t len;
    char key[KEY_MAX];
    _Atomic uint64_t *v; /* NSHARDS rows of `stride` values, cache-line aligned */
} series;

typedef struct {
    size_t nlabels, nvals, stride;
    size_t fold;        /* index of the label replaced by "other" when folding */
    size_t limit, hard; /* series allowed before folding; with the fold reserve */
    size_t nslots;      /* a power of two, > 2 * hard */
    _Atomic(series *) *slots;
    pthread_mutex_t mu; /* inserts only */
    atomic_size_t n;
    series *overflow; /* every label "other"; used when even the reserve is full */
} table;

struct or_metrics {
    table req; /* endpoint, provider, model → classes, tokens, latency, TTFT */
    table err; /* provider, code → count */
    atomic_uint_fast64_t folded;
};

static atomic_uint next_shard;
static _Thread_local unsigned my_shard = NSHARDS; /* NSHARDS: not assigned yet */

static unsigned shard(void)
{
    if (my_shard == NSHARDS)
        my_shard = atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) % NSHARDS;
    return my_shard;
}

/* ---- label sets ---- */

/* A multiplicative hash over 8-byte words (keys are ~50 bytes; a byte-at-a-time hash was a
 * third of an observation's cost). */
static uint32_t key_hash(const char *p, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = ((h << 5 | h >> 59) ^ w) * 0x517CC1B727220A95ull;
    }
    if (n) {
        uint64_t w = 0;
        memcpy(&w, p, n);
        h = ((h << 5 | h >> 59) ^ w) * 0x517CC1B727220A95ull;
    }
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

/* True when p[0..n) holds a control byte (< 0x20 or DEL); 8 bytes at a time, since labels
 * almost never do. */
static bool has_control(const char *p, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, high = 0x8080808080808080ull;
    for (; n >= 8; p += 8, n -= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        uint64_t del = w ^ (0x7f * ones);
        if (((w - 0x20 * ones) & ~w & high) || ((del - ones) & ~del & high))
            return true;
    }
    for (; n; p++, n--)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return true;
    return false;
}

/* Label values joined by SEP, each cut to LABEL_MAX bytes at a UTF-8 boundary; control bytes
 * (SEP among them) become '?'. Returns the key length. */
static size_t build_key(char *out, const char *const *vals, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *v = vals[i] ? vals[i] : "";
        size_t vl = strnlen(v, LABEL_MAX + 1);
        if (vl > LABEL_MAX) {
            vl = LABEL_MAX;
            while (vl > 0 && ((unsigned char)v[vl] & 0xC0) == 0x80)
                vl--; /* do not split a character */
        }
        if (i)
            out[len++] = SEP;
        memcpy(out + len, v, vl);
        if (has_control(v, vl))
            for (size_t k = len; k < len + vl; k++)
                if ((unsigned char)out[k] < 0x20 || out[k] == 0x7f)
                    out[k] = '?';
        len += vl;
    }
    return len;
}

static series *series_new(const table *t, const char *key, size_t len, uint32_t h)
{
    size_t bytes = NSHARDS * t->stride * sizeof(_Atomic uint64_t);
    series *s = calloc(1, sizeof *s);
    void *v = aligned_alloc(LINE, bytes);
    if (!s || !v) {
        free(s);
        free(v);
        return NULL;
    }
    s->v = v;
    for (size_t i = 0; i < NSHARDS * t->stride; i++)
        atomic_init(&s->v[i], 0);
    s->hash = h;
    s->len = (uint16_t)len;
    memcpy(s->key, key, len);
    return s;
}

static void series_free(series *s)
{
    if (s)
        free((void *)s->v);
    free(s);
}

static series *lookup(table *t, const char *key, size_t len, uint32_t h)
{
    size_t mask = t->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        series *s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (!s)
            return NULL;
        if (s->hash == h && s->len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

/* NULL when the table holds `limit` series already (or memory ran out). */
static series *insert(table *t, const char *key, size_t len, uint32_t h, size_t limit)
{
    series *s = NULL;
    pthread_mutex_lock(&t->mu);
    if ((s = lookup(t, key, len, h)))
        goto out; /* another thread inserted it meanwhile */
    if (atomic_load_explicit(&t->n, memory_order_relaxed) >= limit ||
        !(s = series_new(t, key, len, h)))
        goto out;
    size_t mask = t->nslots - 1, i = h & mask;
    while (atomic_load_explicit(&t->slots[i], memory_order_relaxed))
        i = (i + 1) & mask;
    atomic_store_explicit(&t->slots[i], s, memory_order_release);
    atomic_fetch_add_explicit(&t->n, 1, memory_order_relaxed);
out:
    pthread_mutex_unlock(&t->mu);
    return s;
}

/* The series of a label set: existing, new, folded, or the overflow one. vals is modified
 * when folding. */
static series *series_for(or_metrics *m, table *t, const char **vals)
{
    char key[KEY_MAX];
    size_t len = build_key(key, vals, t->nlabels);
    uint32_t h = key_hash(key, len);
    series *s = lookup(t, key, len, h);
    if (s || (s = insert(t, key, len, h, t->limit)))
        return s;
    atomic_fetch_add_explicit(&m->folded, 1, memory_order_relaxed);
    vals[t->fold] = "other";
    len = build_key(key, vals, t->nlabels);
    h = key_hash(key, len);
    if ((s = lookup(t, key, len, h)) || (s = insert(t, key, len, h, t->hard)))
        return s;
    return t->overflow;
}

static void add(const table *t, series *s, unsigned sh, size_t i, uint64_t n)
{
    if (n)
        atomic_fetch_add_explicit(&s->v[sh * t->stride + i], n, memory_order_relaxed);
}

/* ---- lifetime ---- */

static int table_init(table *t, size_t nlabels, size_t nvals, size_t fold,
                      const or_metrics_limits *lim)
{
    size_t per_line = LINE / sizeof(uint64_t);
    t->nlabels = nlabels;
    t->nvals = nvals;
    t->stride = (nvals + per_line - 1) / per_line * per_line;
    t->fold = fold;
    t->limit = lim->max_series;
    t->hard = lim->max_series + lim->fold_reserve;
    t->nslots = 16;
    while (t->nslots <= 2 * t->hard)
        t->nslots *= 2;
    pthread_mutex_init(&t->mu, NULL);
    atomic_init(&t->n, 0);
    t->slots = calloc(t->nslots, sizeof t->slots[0]);
    if (!t->slots)
        return -1;
    for (size_t i = 0; i < t->nslots; i++)
        atomic_init(&t->slots[i], NULL);
    const char *vals[MAX_LABELS] = {"other", "other", "other"};
    char key[KEY_MAX];
    size_t len = build_key(key, vals, nlabels);
    t->overflow = series_new(t, key, len, key_hash(key, len));
    return t->overflow ? 0 : -1;
}

static void table_free(table *t)
{
    for (size_t i = 0; t->slots && i < t->nslots; i++)
        series_free(atomic_load_explicit(&t->slots[i], memory_order_relaxed));
    free(t->slots);
    series_free(t->overflow);
    pthread_mutex_destroy(&t->mu);
}

or_metrics *or_metrics_new(const or_metrics_limits *lim)
{
    or_metrics_limits l = {DEFAULT_MAX_SERIES, DEFAULT_FOLD_RESERVE};
    if (lim && lim->max_series)
        l.max_series = lim->max_series;
    if (lim)
        l.fold_reserve = lim->fold_reserve;
    or_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    atomic_init(&m->folded, 0);
    if (table_init(&m->req, 3, V_REQ_N, 2, &l) || table_init(&m->err, 2, 1, 0, &l)) {
        or_metrics_free(m);
        return NULL;
    }
    return m;
}

void or_metrics_free(or_metrics *m)
{
    if (!m)
        return;
    table_free(&m->req);
    table_free(&m->err);
    free(m);
}

static _Atomic(or_metrics *) global;
static pthread_once_t global_once = PTHREAD_ONCE_INIT;

static void global_create(void)
{
    atomic_store(&global, or_metrics_new(NULL));
}

or_metrics *or_metrics_global(void)
{
    pthread_once(&global_once, global_create);
    return atomic_load_explicit(&global, memory_order_acquire);
}

void or_metrics_global_free(void)
{
    pthread_once(&global_once, global_create);
    or_metrics_free(atomic_exchange(&global, NULL));
}

/* ---- observing ---- */

static size_t bucket_of(const uint32_t *bounds, size_t n, uint32_t ms)
{
    size_t i = 0;
    while (i < n && ms > bounds[i])
        i++;
    return i; /* n: the +Inf bucket */
}

static uint64_t nonneg(int64_t v)
{
    return v > 0 ? (uint64_t)v : 0;
}

void or_metrics_observe(or_metrics *m, const or_metrics_sample *s)
{
    if (!m || !s)
        return;
    unsigned sh = shard();
    const char *provider = s->provider ? s->provider : "";
    size_t cls = s->status >= 100 && s->status <= 599 ? (size_t)(s->status / 100 - 1) : 5;

    const char *rv[3] = {s->endpoint ? s->endpoint : "", provider, s->model ? s->model : ""};
    table *t = &m->req;
    series *r = series_for(m, t, rv);
    add(t, r, sh, V_CLASS + cls, 1);
    add(t, r, sh, V_TOKENS + 0, nonneg(s->tokens_in));
    add(t, r, sh, V_TOKENS + 1, nonneg(s->tokens_out));
    add(t, r, sh, V_TOKENS + 2, nonneg(s->tokens_cached));
    add(t, r, sh, V_TOKENS + 3, nonneg(s->tokens_reasoning));
    if (*provider) { /* no provider, no upstream: nothing to time per provider */
        add(t, r, sh, V_LAT + bucket_of(lat_bounds, NLAT, s->latency_ms), 1);
        add(t, r, sh, V_LAT_SUM, s->latency_ms);
        if (s->ttft_ms) {
            add(t, r, sh, V_TTFT + bucket_of(ttft_bounds, NTTFT, s->ttft_ms), 1);
            add(t, r, sh, V_TTFT_SUM, s->ttft_ms);
        }
    }
    if (s->status >= 400) {
        char code[16];
        snprintf(code, sizeof code, "%d", s->status);
        const char *ev[2] = {provider, code};
        add(&m->err, series_for(m, &m->err, ev), sh, 0, 1);
    }
}

/* ---- rendering ---- */

/* A series' values summed over the shards into out[0..nvals). */
static void sum_shards(const table *t, const series *s, uint64_t *out)
{
    for (size_t i = 0; i < t->nvals; i++) {
        uint64_t v = 0;
        for (size_t k = 0; k < NSHARDS; k++)
            v += atomic_load_explicit(&s->v[k * t->stride + i], memory_order_relaxed);
        out[i] = v;
    }
}

/* What a family groups by: a span of the key (whole, after the first label, or the second
 * label alone). */
typedef struct {
    const series *s;
    const char *g; /* group key (a span of s->key) */
    size_t glen;
} view;

static int by_group(const void *a, const void *b)
{
    const view *x = a, *y = b;
    size_t n = x->glen < y->glen ? x->glen : y->glen;
    int c = memcmp(x->g, y->g, n);
    return c ? c : (x->glen > y->glen) - (x->glen < y->glen);
}

typedef enum { GROUP_ALL, GROUP_TAIL, GROUP_SECOND } group_by;

static void group_span(const series *s, group_by g, const char **p, size_t *len)
{
    const char *k = s->key, *end = s->key + s->len;
    const char *sep1 = memchr(k, SEP, s->len);
    if (g == GROUP_ALL || !sep1) {
        *p = k;
        *len = s->len;
        return;
    }
    const char *tail = sep1 + 1;
    const char *sep2 = memchr(tail, SEP, (size_t)(end - tail));
    *p = tail;
    *len = g == GROUP_TAIL || !sep2 ? (size_t)(end - tail) : (size_t)(sep2 - tail);
}

/* The table's series (the overflow one too when it holds anything) as views sorted by group,
 * or NULL when out of memory. */
static view *collect(const table *t, group_by g, size_t *count)
{
    view *all = calloc(t->nslots + 1, sizeof *all);
    uint64_t *vals = malloc(t->nvals * sizeof *vals);
    size_t n = 0;
    if (!all || !vals) {
        free(all);
        free(vals);
        return NULL;
    }
    for (size_t i = 0; i < t->nslots; i++) {
        series *s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (s)
            all[n++].s = s;
    }
    sum_shards(t, t->overflow, vals);
    for (size_t i = 0; i < t->nvals; i++) {
        if (vals[i]) {
            all[n++].s = t->overflow;
            break;
        }
    }
    free(vals);
    for (size_t i = 0; i < n; i++)
        group_span(all[i].s, g, &all[i].g, &all[i].glen);
    qsort(all, n, sizeof *all, by_group);
    *count = n;
    return all;
}

/* Splits a group key into label name/value pairs: {names[0], vals[0], …, NULL}. */
static void labels_of(const char *g, size_t glen, const char *const *names, size_t n, char *scratch,
                      const char **out)
{
    memcpy(scratch, g, glen);
    scratch[glen] = '\0';
    char *p = scratch;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = names[i];
        out[2 * i + 1] = p;
        char *sep = strchr(p, SEP);
        if (sep) {
            *sep = '\0';
            p = sep + 1;
        } else {
            p += strlen(p);
        }
    }
    out[2 * n] = NULL;
}

static or_err histogram(or_buf *b, const char *name, const char *const *labels, const uint64_t *v,
                        size_t first, const uint32_t *bounds, size_t nb)
{
    char bucket[96], sum[96], count[96], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sum, sizeof sum, "%s_sum", name);
    snprintf(count, sizeof count, "%s_count", name);
    uint64_t cum = 0;
    or_err rc = OR_OK;
    for (size_t i = 0; rc == OR_OK && i <= nb; i++) {
        cum += v[first + i];
        if (i < nb)
            snprintf(le, sizeof le, "%g", bounds[i] / 1000.0);
        rc = or_expo_u64_x(b, bucket, labels, "le", i < nb ? le : "+Inf", cum);
    }
    if (rc == OR_OK)
        rc = or_expo_f64(b, sum, labels, (double)v[first + nb + 1] / 1000.0);
    if (rc == OR_OK)
        rc = or_expo_u64(b, count, labels, cum); /* the +Inf bucket, by definition */
    return rc;
}

static uint64_t span_total(const uint64_t *v, size_t first, size_t n)
{
    uint64_t t = 0;
    for (size_t i = 0; i < n; i++)
        t += v[first + i];
    return t;
}

typedef or_err (*emit_fn)(or_buf *b, const uint64_t *v, const char *const *labels);

static or_err emit_requests(or_buf *b, const uint64_t *v, const char *const *labels)
{
    or_err rc = OR_OK;
    for (size_t c = 0; rc == OR_OK && c < NCLASSES; c++)
        if (v[V_CLASS + c])
            rc = or_expo_u64_x(b, "omniroute_requests_total", labels, "status", status_classes[c],
                               v[V_CLASS + c]);
    return rc;
}

static or_err emit_errors(or_buf *b, const uint64_t *v, const char *const *labels)
{
    return or_expo_u64(b, "omniroute_request_errors_total", labels, v[0]);
}

static or_err emit_tokens(or_buf *b, const uint64_t *v, const char *const *labels)
{
    or_err rc = OR_OK;
    if (!span_total(v, V_TOKENS, NTOKENS))
        return OR_OK;
    for (size_t i = 0; rc == OR_OK && i < NTOKENS; i++)
        rc = or_expo_u64_x(b, "omniroute_tokens_total", labels, "type", token_types[i],
                           v[V_TOKENS + i]);
    return rc;
}

static or_err emit_latency(or_buf *b, const uint64_t *v, const char *const *labels)
{
    if (!span_total(v, V_LAT, NLAT + 1))
        return OR_OK;
    return histogram(b, "omniroute_request_duration_seconds", labels, v, V_LAT, lat_bounds, NLAT);
}

static or_err emit_ttft(or_buf *b, const uint64_t *v, const char *const *labels)
{
    if (!span_total(v, V_TTFT, NTTFT + 1))
        return OR_OK;
    return histogram(b, "omniroute_time_to_first_token_seconds", labels, v, V_TTFT, ttft_bounds,
                     NTTFT);
}

static const char *const req_labels[] = {"endpoint", "provider", "model"};
static const char *const err_labels[] = {"provider", "code"};
static const char *const tok_labels[] = {"provider", "model"};
static const char *const lat_labels[] = {"provider"};

static const struct {
    size_t table_off;
    group_by group;
    const char *name, *type, *help;
    const char *const *labels;
    size_t nlabels;
    emit_fn emit;
} families[] = {
    {offsetof(or_metrics, req), GROUP_ALL, "omniroute_requests_total", "counter",
     "Requests relayed, by endpoint, provider, model and status class", req_labels, 3,
     emit_requests},
    {offsetof(or_metrics, err), GROUP_ALL, "omniroute_request_errors_total", "counter",
     "Requests answered with an error status (>= 400), by provider and status code", err_labels, 2,
     emit_errors},
    {offsetof(or_metrics, req), GROUP_TAIL, "omniroute_tokens_total", "counter",
     "Tokens reported by providers, by provider, model and type", tok_labels, 2, emit_tokens},
    {offsetof(or_metrics, req), GROUP_SECOND, "omniroute_request_duration_seconds", "histogram",
     "Time from the request head to the last byte of the reply, per provider", lat_labels, 1,
     emit_latency},
    {offsetof(or_metrics, req), GROUP_SECOND, "omniroute_time_to_first_token_seconds", "histogram",
     "Time from the request head to the first byte sent to the client, per provider", lat_labels, 1,
     emit_ttft},
};

/* One family: each run of series with the same group key is summed and emitted once. */
static or_err render_family(or_metrics *m, size_t f, or_buf *out)
{
    const table *t = (const table *)((const char *)m + families[f].table_off);
    size_t n = 0;
    view *all = collect(t, families[f].group, &n);
    uint64_t *sum = calloc(t->nvals, sizeof *sum), *one = calloc(t->nvals, sizeof *one);
    char scratch[KEY_MAX + 1];
    const char *labels[2 * MAX_LABELS + 1];
    or_err rc = all && sum && one ? OR_OK : OR_ENOMEM;
    if (rc == OR_OK)
        rc = or_expo_family(out, families[f].name, families[f].type, families[f].help);
    for (size_t i = 0; rc == OR_OK && i < n;) {
        memset(sum, 0, t->nvals * sizeof *sum);
        size_t j = i;
        for (; j < n && by_group(&all[i], &all[j]) == 0; j++) {
            sum_shards(t, all[j].s, one);
            for (size_t k = 0; k < t->nvals; k++)
                sum[k] += one[k];
        }
        labels_of(all[i].g, all[i].glen, families[f].labels, families[f].nlabels, scratch, labels);
        rc = families[f].emit(out, sum, labels);
        i = j;
    }
    free(all);
    free(sum);
    free(one);
    return rc;
}

or_err or_metrics_render(or_metrics *m, or_buf *out)
{
    or_err rc = OR_OK;
    for (size_t f = 0; m && rc == OR_OK && f < sizeof families / sizeof families[0]; f++)
        rc = render_family(m, f, out);
    return rc;
}

size_t or_metrics_series(or_metrics *m)
{
    return m ? atomic_load(&m->req.n) + atomic_load(&m->err.n) : 0;
}

uint64_t or_metrics_folded(or_metrics *m)
{
    return m ? atomic_load(&m->folded) : 0;
}
