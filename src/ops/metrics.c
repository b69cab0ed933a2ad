/*
 * metrics.c — see metrics.h. Each family is an open-addressing table of label sets: slots are
 * atomic pointers, filled once and never moved or removed, so readers (observers, render)
 * never lock; only an insert takes the family's mutex. The table has at least twice as many
 * slots as it may ever hold series, so a probe always reaches an empty slot.
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

/* Value layout of a latency series: buckets (+Inf last), sum; then the same for TTFT. */
enum {
    LAT_BUCKETS = 0,
    LAT_SUM = LAT_BUCKETS + NLAT + 1,
    TTFT_BUCKETS,
    TTFT_SUM = TTFT_BUCKETS + NTTFT + 1,
    LAT_NVALS
};

/* Status classes of omniroute_requests_total: 1xx … 5xx, then anything else. */
static const char *const status_classes[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "other"};
#define NCLASSES (sizeof status_classes / sizeof status_classes[0])

static const char *const token_types[] = {"input", "output", "cached", "reasoning"};
#define NTOKENS (sizeof token_types / sizeof token_types[0])

typedef struct {
    uint32_t hash;
    uint16_t len;
    char key[KEY_MAX];
    _Atomic uint64_t v[];
} series;

typedef struct {
    size_t nlabels, nvals;
    size_t fold;        /* index of the label replaced by "other" when folding */
    size_t limit, hard; /* series allowed before folding; with the fold reserve */
    size_t nslots;      /* a power of two, > 2 * hard */
    _Atomic(series *) *slots;
    pthread_mutex_t mu; /* inserts only */
    atomic_size_t n;
    series *overflow; /* every label "other"; used when even the reserve is full */
} table;

struct or_metrics {
    table req; /* endpoint, provider, model → count per status class */
    table err; /* provider, code → count */
    table tok; /* provider, model → tokens per type */
    table lat; /* provider → latency and TTFT histograms */
    atomic_uint_fast64_t folded;
};

/* ---- label sets ---- */

static uint32_t fnv1a(const char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)p[i];
        h *= 16777619u;
    }
    return h;
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
        for (size_t k = 0; k < vl; k++)
            out[len++] = (unsigned char)v[k] < 0x20 || v[k] == 0x7f ? '?' : v[k];
    }
    return len;
}

static series *series_new(const table *t, const char *key, size_t len, uint32_t h)
{
    series *s = calloc(1, sizeof *s + t->nvals * sizeof s->v[0]);
    if (!s)
        return NULL;
    s->hash = h;
    s->len = (uint16_t)len;
    memcpy(s->key, key, len);
    for (size_t i = 0; i < t->nvals; i++)
        atomic_init(&s->v[i], 0);
    return s;
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
    uint32_t h = fnv1a(key, len);
    series *s = lookup(t, key, len, h);
    if (s || (s = insert(t, key, len, h, t->limit)))
        return s;
    atomic_fetch_add_explicit(&m->folded, 1, memory_order_relaxed);
    vals[t->fold] = "other";
    len = build_key(key, vals, t->nlabels);
    h = fnv1a(key, len);
    if ((s = lookup(t, key, len, h)) || (s = insert(t, key, len, h, t->hard)))
        return s;
    return t->overflow;
}

static void add(series *s, size_t i, uint64_t n)
{
    if (n)
        atomic_fetch_add_explicit(&s->v[i], n, memory_order_relaxed);
}

/* ---- lifetime ---- */

static int table_init(table *t, size_t nlabels, size_t nvals, size_t fold,
                      const or_metrics_limits *lim)
{
    t->nlabels = nlabels;
    t->nvals = nvals;
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
    t->overflow = series_new(t, key, len, fnv1a(key, len));
    return t->overflow ? 0 : -1;
}

static void table_free(table *t)
{
    for (size_t i = 0; t->slots && i < t->nslots; i++)
        free(atomic_load_explicit(&t->slots[i], memory_order_relaxed));
    free(t->slots);
    free(t->overflow);
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
    if (table_init(&m->req, 3, NCLASSES, 2, &l) || table_init(&m->err, 2, 1, 0, &l) ||
        table_init(&m->tok, 2, NTOKENS, 1, &l) || table_init(&m->lat, 1, LAT_NVALS, 0, &l)) {
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
    table_free(&m->tok);
    table_free(&m->lat);
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
    const char *provider = s->provider ? s->provider : "";
    const char *model = s->model ? s->model : "";
    size_t cls = s->status >= 100 && s->status <= 599 ? (size_t)(s->status / 100 - 1) : 5;

    const char *rv[3] = {s->endpoint ? s->endpoint : "", provider, model};
    add(series_for(m, &m->req, rv), cls, 1);

    if (s->status >= 400) {
        char code[16];
        snprintf(code, sizeof code, "%d", s->status);
        const char *ev[2] = {provider, code};
        add(series_for(m, &m->err, ev), 0, 1);
    }
    if (s->tokens_in > 0 || s->tokens_out > 0 || s->tokens_cached > 0 || s->tokens_reasoning > 0) {
        const char *tv[2] = {provider, model};
        series *t = series_for(m, &m->tok, tv);
        add(t, 0, nonneg(s->tokens_in));
        add(t, 1, nonneg(s->tokens_out));
        add(t, 2, nonneg(s->tokens_cached));
        add(t, 3, nonneg(s->tokens_reasoning));
    }
    if (!*provider)
        return; /* no upstream was involved: nothing to time per provider */
    const char *lv[1] = {provider};
    series *l = series_for(m, &m->lat, lv);
    add(l, LAT_BUCKETS + bucket_of(lat_bounds, NLAT, s->latency_ms), 1);
    add(l, LAT_SUM, s->latency_ms);
    if (s->ttft_ms) {
        add(l, TTFT_BUCKETS + bucket_of(ttft_bounds, NTTFT, s->ttft_ms), 1);
        add(l, TTFT_SUM, s->ttft_ms);
    }
}

/* ---- rendering ---- */

static uint64_t load(series *s, size_t i)
{
    return atomic_load_explicit(&s->v[i], memory_order_relaxed);
}

static int by_key(const void *a, const void *b)
{
    const series *x = *(series *const *)a, *y = *(series *const *)b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

/* The table's series sorted by labels (the overflow one last, when it holds anything), or
 * NULL when out of memory. */
static series **collect(table *t, size_t *count)
{
    series **all = calloc(t->nslots + 1, sizeof *all);
    size_t n = 0;
    if (!all)
        return NULL;
    for (size_t i = 0; i < t->nslots; i++) {
        series *s = atomic_load_explicit(&t->slots[i], memory_order_acquire);
        if (s)
            all[n++] = s;
    }
    qsort(all, n, sizeof *all, by_key);
    for (size_t i = 0; i < t->nvals; i++) {
        if (load(t->overflow, i)) {
            all[n++] = t->overflow;
            break;
        }
    }
    *count = n;
    return all;
}

/* Splits a key into label name/value pairs: {names[0], vals[0], …, NULL}. */
static void labels_of(const series *s, const char *const *names, size_t n, char *scratch,
                      const char **out)
{
    memcpy(scratch, s->key, s->len);
    scratch[s->len] = '\0';
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

static or_err histogram(or_buf *b, const char *name, const char *const *labels, series *s,
                        size_t first, const uint32_t *bounds, size_t nb)
{
    char bucket[96], sum[96], count[96], le[32];
    snprintf(bucket, sizeof bucket, "%s_bucket", name);
    snprintf(sum, sizeof sum, "%s_sum", name);
    snprintf(count, sizeof count, "%s_count", name);
    uint64_t cum = 0;
    or_err rc = OR_OK;
    for (size_t i = 0; rc == OR_OK && i <= nb; i++) {
        cum += load(s, first + i);
        if (i < nb)
            snprintf(le, sizeof le, "%g", bounds[i] / 1000.0);
        rc = or_expo_u64_x(b, bucket, labels, "le", i < nb ? le : "+Inf", cum);
    }
    if (rc == OR_OK)
        rc = or_expo_f64(b, sum, labels, (double)load(s, first + nb + 1) / 1000.0);
    if (rc == OR_OK)
        rc = or_expo_u64(b, count, labels, cum); /* the +Inf bucket, by definition */
    return rc;
}

typedef or_err (*emit_fn)(or_buf *b, series *s, const char *const *labels);

static or_err emit_requests(or_buf *b, series *s, const char *const *labels)
{
    or_err rc = OR_OK;
    for (size_t c = 0; rc == OR_OK && c < NCLASSES; c++) {
        uint64_t v = load(s, c);
        if (v)
            rc = or_expo_u64_x(b, "omniroute_requests_total", labels, "status", status_classes[c],
                               v);
    }
    return rc;
}

static or_err emit_errors(or_buf *b, series *s, const char *const *labels)
{
    return or_expo_u64(b, "omniroute_request_errors_total", labels, load(s, 0));
}

static or_err emit_tokens(or_buf *b, series *s, const char *const *labels)
{
    or_err rc = OR_OK;
    for (size_t i = 0; rc == OR_OK && i < NTOKENS; i++)
        rc = or_expo_u64_x(b, "omniroute_tokens_total", labels, "type", token_types[i], load(s, i));
    return rc;
}

static or_err emit_latency(or_buf *b, series *s, const char *const *labels)
{
    return histogram(b, "omniroute_request_duration_seconds", labels, s, LAT_BUCKETS, lat_bounds,
                     NLAT);
}

static or_err emit_ttft(or_buf *b, series *s, const char *const *labels)
{
    uint64_t any = 0;
    for (size_t i = 0; i <= NTTFT; i++)
        any += load(s, TTFT_BUCKETS + i);
    if (!any)
        return OR_OK;
    return histogram(b, "omniroute_time_to_first_token_seconds", labels, s, TTFT_BUCKETS,
                     ttft_bounds, NTTFT);
}

static const char *const req_labels[] = {"endpoint", "provider", "model"};
static const char *const err_labels[] = {"provider", "code"};
static const char *const tok_labels[] = {"provider", "model"};
static const char *const lat_labels[] = {"provider"};

static const struct {
    size_t table_off;
    const char *name, *type, *help;
    const char *const *labels;
    emit_fn emit;
} families[] = {
    {offsetof(or_metrics, req), "omniroute_requests_total", "counter",
     "Requests relayed, by endpoint, provider, model and status class", req_labels, emit_requests},
    {offsetof(or_metrics, err), "omniroute_request_errors_total", "counter",
     "Requests answered with an error status (>= 400), by provider and status code", err_labels,
     emit_errors},
    {offsetof(or_metrics, tok), "omniroute_tokens_total", "counter",
     "Tokens reported by providers, by provider, model and type", tok_labels, emit_tokens},
    {offsetof(or_metrics, lat), "omniroute_request_duration_seconds", "histogram",
     "Time from the request head to the last byte of the reply, per provider", lat_labels,
     emit_latency},
    {offsetof(or_metrics, lat), "omniroute_time_to_first_token_seconds", "histogram",
     "Time from the request head to the first byte sent to the client, per provider", lat_labels,
     emit_ttft},
};

or_err or_metrics_render(or_metrics *m, or_buf *out)
{
    if (!m)
        return OR_OK;
    or_err rc = OR_OK;
    char scratch[KEY_MAX + 1];
    const char *labels[2 * MAX_LABELS + 1];
    for (size_t f = 0; rc == OR_OK && f < sizeof families / sizeof families[0]; f++) {
        table *t = (table *)((char *)m + families[f].table_off);
        size_t n = 0;
        series **all = collect(t, &n);
        if (!all)
            return OR_ENOMEM;
        rc = or_expo_family(out, families[f].name, families[f].type, families[f].help);
        for (size_t i = 0; rc == OR_OK && i < n; i++) {
            labels_of(all[i], families[f].labels, t->nlabels, scratch, labels);
            rc = families[f].emit(out, all[i], labels);
        }
        free(all);
    }
    return rc;
}

size_t or_metrics_series(or_metrics *m)
{
    if (!m)
        return 0;
    return atomic_load(&m->req.n) + atomic_load(&m->err.n) + atomic_load(&m->tok.n) +
           atomic_load(&m->lat.n);
}

uint64_t or_metrics_folded(or_metrics *m)
{
    return m ? atomic_load(&m->folded) : 0;
}
