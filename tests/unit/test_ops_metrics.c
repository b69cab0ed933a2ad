/* The metrics registry and its exposition: counters and histograms move as observed, the text
 * parses with a strict parser of the Prometheus text format (0.0.4), label values are escaped,
 * histograms are cumulative and end at +Inf with _sum and _count, cardinality stays bounded,
 * and concurrent observers lose nothing. */
#include "check.h"

#include "ops/expo.h"
#include "ops/metrics.h"

#include <ctype.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- a strict parser of the text format ---- */

#define MAX_SAMPLES 4000
#define MAX_LBL 8

typedef struct {
    char name[128];
    int nl;
    char lname[MAX_LBL][64];
    char lval[MAX_LBL][160];
    double value;
} sample;

typedef struct {
    sample *s;
    int n;
    char types[256][2][128]; /* family name, type */
    int ntypes;
    char err[256];
} scrape;

static bool name_ok(const char *p, size_t n)
{
    if (n == 0 || !(isalpha((unsigned char)p[0]) || p[0] == '_' || p[0] == ':'))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!(isalnum((unsigned char)p[i]) || p[i] == '_' || p[i] == ':'))
            return false;
    return true;
}

static const char *type_of(const scrape *sc, const char *family)
{
    for (int i = 0; i < sc->ntypes; i++)
        if (strcmp(sc->types[i][0], family) == 0)
            return sc->types[i][1];
    return NULL;
}

/* The family a sample belongs to: its name, or without _bucket/_sum/_count for a histogram. */
static const char *family_of(const scrape *sc, const char *name, char *buf, size_t cap)
{
    if (type_of(sc, name))
        return name;
    static const char *const suffixes[] = {"_bucket", "_sum", "_count"};
    for (size_t i = 0; i < 3; i++) {
        size_t n = strlen(name), k = strlen(suffixes[i]);
        if (n > k && strcmp(name + n - k, suffixes[i]) == 0 && n - k < cap) {
            memcpy(buf, name, n - k);
            buf[n - k] = '\0';
            const char *t = type_of(sc, buf);
            if (t && strcmp(t, "histogram") == 0)
                return buf;
        }
    }
    return NULL;
}

static bool fail(scrape *sc, int line, const char *why)
{
    snprintf(sc->err, sizeof sc->err, "line %d: %s", line, why);
    return false;
}

static bool parse_value(const char *p, double *out)
{
    if (strcmp(p, "+Inf") == 0 || strcmp(p, "-Inf") == 0 || strcmp(p, "NaN") == 0) {
        *out = strcmp(p, "NaN") == 0 ? 0 : strcmp(p, "+Inf") == 0 ? 1e308 : -1e308;
        return true;
    }
    char *end;
    *out = strtod(p, &end);
    return end != p && *end == '\0';
}

static bool parse_line(scrape *sc, char *line, int ln)
{
    if (line[0] == '#') {
        char kind[8], name[128];
        int used = 0;
        if (sscanf(line, "# %7s %127s %n", kind, name, &used) < 2)
            return strncmp(line, "# ", 2) == 0 ? true : fail(sc, ln, "bad comment");
        if (strcmp(kind, "HELP") == 0) {
            for (const char *h = line + used; *h; h++)
                if (*h == '\\' && h[1] != '\\' && h[1] != 'n')
                    return fail(sc, ln, "bad escape in HELP");
                else if (*h == '\\')
                    h++;
            return name_ok(name, strlen(name)) ? true : fail(sc, ln, "bad HELP name");
        }
        if (strcmp(kind, "TYPE") == 0) {
            const char *t = line + used;
            if (strcmp(t, "counter") && strcmp(t, "gauge") && strcmp(t, "histogram") &&
                strcmp(t, "summary") && strcmp(t, "untyped"))
                return fail(sc, ln, "bad TYPE");
            if (type_of(sc, name))
                return fail(sc, ln, "TYPE given twice");
            if (sc->ntypes == 256)
                return fail(sc, ln, "too many families");
            snprintf(sc->types[sc->ntypes][0], 128, "%s", name);
            snprintf(sc->types[sc->ntypes][1], 128, "%s", t);
            sc->ntypes++;
            return true;
        }
        return true; /* other comments are allowed */
    }
    if (sc->n == MAX_SAMPLES)
        return fail(sc, ln, "too many samples");
    sample *s = &sc->s[sc->n];
    memset(s, 0, sizeof *s);
    char *p = line;
    size_t n = strcspn(p, "{ ");
    if (!name_ok(p, n) || n >= sizeof s->name)
        return fail(sc, ln, "bad metric name");
    memcpy(s->name, p, n);
    p += n;
    if (*p == '{') {
        p++;
        while (*p != '}') {
            if (s->nl == MAX_LBL)
                return fail(sc, ln, "too many labels");
            size_t k = strcspn(p, "=");
            if (!name_ok(p, k) || k >= 64 || p[k] != '=' || p[k + 1] != '"')
                return fail(sc, ln, "bad label name");
            memcpy(s->lname[s->nl], p, k);
            p += k + 2;
            size_t o = 0;
            while (*p != '"') {
                if (!*p || *p == '\n')
                    return fail(sc, ln, "unterminated label value");
                char ch = *p++;
                if (ch == '\\') {
                    ch = *p++;
                    if (ch == 'n')
                        ch = '\n';
                    else if (ch != '\\' && ch != '"')
                        return fail(sc, ln, "bad escape in label value");
                }
                if (o + 1 >= sizeof s->lval[0])
                    return fail(sc, ln, "label value too long");
                s->lval[s->nl][o++] = ch;
            }
            p++;
            s->nl++;
            if (*p == ',')
                p++;
            else if (*p != '}')
                return fail(sc, ln, "expected , or }");
        }
        p++;
    }
    if (*p != ' ')
        return fail(sc, ln, "expected a space before the value");
    p++;
    char *sp = strchr(p, ' '); /* an optional timestamp */
    if (sp)
        *sp = '\0';
    if (!parse_value(p, &s->value))
        return fail(sc, ln, "bad value");
    char fam[128];
    if (!family_of(sc, s->name, fam, sizeof fam))
        return fail(sc, ln, "sample without a TYPE");
    sc->n++;
    return true;
}

static const char *label(const sample *s, const char *name)
{
    for (int i = 0; i < s->nl; i++)
        if (strcmp(s->lname[i], name) == 0)
            return s->lval[i];
    return NULL;
}

/* The labels of s other than `le`, as one comparable string. */
static void series_id(const sample *s, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = '\0';
    for (int i = 0; i < s->nl; i++)
        if (strcmp(s->lname[i], "le") != 0)
            o +=
                (size_t)snprintf(out + o, o < cap ? cap - o : 0, "%s=%s;", s->lname[i], s->lval[i]);
}

/* Histogram rules: per series, buckets cumulative with increasing le, the last le=+Inf, then
 * _sum and _count, _count equal to the +Inf bucket. */
static bool check_histograms(scrape *sc)
{
    for (int i = 0; i < sc->n; i++) {
        sample *s = &sc->s[i];
        size_t n = strlen(s->name);
        if (n < 7 || strcmp(s->name + n - 7, "_bucket") != 0)
            continue;
        if (i > 0 && strcmp(sc->s[i - 1].name, s->name) == 0) {
            char a[1024], b[1024];
            series_id(&sc->s[i - 1], a, sizeof a);
            series_id(s, b, sizeof b);
            if (strcmp(a, b) == 0)
                continue; /* checked with the series' first bucket */
        }
        char id[1024], base[128];
        series_id(s, id, sizeof id);
        snprintf(base, sizeof base, "%.*s", (int)(n - 7), s->name);
        double prev_le = -1, prev = 0;
        int j = i;
        for (; j < sc->n && strcmp(sc->s[j].name, s->name) == 0; j++) {
            char other[1024];
            series_id(&sc->s[j], other, sizeof other);
            if (strcmp(other, id) != 0)
                break;
            const char *le = label(&sc->s[j], "le");
            double lev;
            if (!le || !parse_value(le, &lev))
                return fail(sc, j, "bucket without a numeric le");
            if (lev <= prev_le || sc->s[j].value < prev)
                return fail(sc, j, "buckets not increasing and cumulative");
            prev_le = lev;
            prev = sc->s[j].value;
        }
        if (strcmp(label(&sc->s[j - 1], "le"), "+Inf") != 0)
            return fail(sc, j, "last bucket is not +Inf");
        char want_sum[160], want_count[160], sid[1024];
        snprintf(want_sum, sizeof want_sum, "%s_sum", base);
        snprintf(want_count, sizeof want_count, "%s_count", base);
        if (j + 1 >= sc->n || strcmp(sc->s[j].name, want_sum) != 0 ||
            strcmp(sc->s[j + 1].name, want_count) != 0)
            return fail(sc, j, "histogram without _sum and _count after its buckets");
        series_id(&sc->s[j + 1], sid, sizeof sid);
        if (strcmp(sid, id) != 0 || sc->s[j + 1].value != prev)
            return fail(sc, j, "_count differs from the +Inf bucket");
    }
    return true;
}

static bool parse(scrape *sc, const char *text)
{
    memset(sc, 0, sizeof *sc);
    sc->s = calloc(MAX_SAMPLES, sizeof *sc->s);
    char *copy = strdup(text);
    bool ok = true;
    int ln = 1;
    size_t len = strlen(copy);
    if (len == 0 || copy[len - 1] != '\n')
        ok = fail(sc, 0, "text does not end with a newline");
    for (char *line = copy; ok && *line; ln++) {
        char *nl = strchr(line, '\n');
        *nl = '\0';
        if (!*line)
            ok = fail(sc, ln, "empty line");
        else
            ok = parse_line(sc, line, ln);
        line = nl + 1;
    }
    free(copy);
    return ok && check_histograms(sc);
}

/* Value of the sample with this name and these labels (name, value pairs, NULL-ended); -1
 * when absent. */
static double value(const scrape *sc, const char *name, ...)
{
    for (int i = 0; i < sc->n; i++) {
        const sample *s = &sc->s[i];
        if (strcmp(s->name, name) != 0)
            continue;
        va_list ap;
        va_start(ap, name);
        bool all = true;
        int want = 0;
        for (const char *k; (k = va_arg(ap, const char *));) {
            const char *v = va_arg(ap, const char *);
            const char *got = label(s, k);
            all = all && got && strcmp(got, v) == 0;
            want++;
        }
        va_end(ap);
        if (all && want == s->nl)
            return s->value;
    }
    return -1;
}

static char *render(or_metrics *m)
{
    or_buf b;
    or_buf_init(&b, 0);
    CHECK(or_metrics_render(m, &b) == OR_OK);
    return or_buf_take(&b, NULL);
}

/* ---- tests ---- */

static void test_counts_and_histograms(void)
{
    or_metrics *m = or_metrics_new(NULL);
    or_metrics_sample s = {.endpoint = "/v1/chat/completions",
                           .provider = "openai",
                           .model = "gpt-4o",
                           .status = 200,
                           .latency_ms = 3,
                           .ttft_ms = 2,
                           .tokens_in = 10,
                           .tokens_out = 5};
    or_metrics_observe(m, &s);
    s.latency_ms = 7000;
    s.ttft_ms = 0;
    or_metrics_observe(m, &s);
    s.status = 429;
    s.latency_ms = 500000;
    s.tokens_in = s.tokens_out = 0;
    or_metrics_observe(m, &s);
    or_metrics_observe(
        m, &(or_metrics_sample){
               .endpoint = "/v1/messages", .provider = "", .model = "nope/x", .status = 400});
    char *text = render(m);
    scrape sc;
    bool ok = parse(&sc, text);
    if (!ok)
        fprintf(stderr, "%s\n%s\n", sc.err, text);
    CHECK(ok);
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "/v1/chat/completions", "provider",
                "openai", "model", "gpt-4o", "status", "2xx", NULL) == 2);
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "/v1/chat/completions", "provider",
                "openai", "model", "gpt-4o", "status", "4xx", NULL) == 1);
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "/v1/messages", "provider", "",
                "model", "nope/x", "status", "4xx", NULL) == 1);
    CHECK(value(&sc, "omniroute_request_errors_total", "provider", "openai", "code", "429", NULL) ==
          1);
    CHECK(value(&sc, "omniroute_request_errors_total", "provider", "", "code", "400", NULL) == 1);
    CHECK(value(&sc, "omniroute_tokens_total", "provider", "openai", "model", "gpt-4o", "type",
                "input", NULL) == 20);
    CHECK(value(&sc, "omniroute_tokens_total", "provider", "openai", "model", "gpt-4o", "type",
                "output", NULL) == 10);
    const char *h = "omniroute_request_duration_seconds_bucket";
    CHECK(value(&sc, h, "provider", "openai", "le", "0.005", NULL) == 1);
    CHECK(value(&sc, h, "provider", "openai", "le", "5", NULL) == 1);
    CHECK(value(&sc, h, "provider", "openai", "le", "10", NULL) == 2);
    CHECK(value(&sc, h, "provider", "openai", "le", "300", NULL) == 2);
    CHECK(value(&sc, h, "provider", "openai", "le", "+Inf", NULL) == 3);
    CHECK(value(&sc, "omniroute_request_duration_seconds_count", "provider", "openai", NULL) == 3);
    CHECK(value(&sc, "omniroute_request_duration_seconds_sum", "provider", "openai", NULL) ==
          507.003);
    CHECK(value(&sc, "omniroute_time_to_first_token_seconds_count", "provider", "openai", NULL) ==
          1);
    /* no provider: no latency series for it */
    CHECK(value(&sc, "omniroute_request_duration_seconds_count", "provider", "", NULL) == -1);
    free(sc.s);
    free(text);
    or_metrics_free(m);
}

static void test_escaping(void)
{
    or_metrics *m = or_metrics_new(NULL);
    or_metrics_observe(m, &(or_metrics_sample){.endpoint = "/v1/chat/completions",
                                               .provider = "openai",
                                               .model = "we\"ird\\mo\ndel",
                                               .status = 200});
    char big[400];
    for (size_t i = 0; i < 199; i++)
        memcpy(big + 2 * i, "\xc3\xa9", 2); /* é */
    big[398] = '\0';
    or_metrics_observe(m, &(or_metrics_sample){.endpoint = "/v1/chat/completions",
                                               .provider = "openai",
                                               .model = big,
                                               .status = 200});
    char *text = render(m);
    CHECK(strstr(text, "model=\"we\\\"ird\\\\mo?del\"") != NULL);
    scrape sc;
    CHECK(parse(&sc, text));
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "/v1/chat/completions", "provider",
                "openai", "model", "we\"ird\\mo?del", "status", "2xx", NULL) == 1);
    /* the long value is cut to 128 bytes without splitting a character */
    bool found = false;
    for (int i = 0; i < sc.n; i++) {
        const char *v = label(&sc.s[i], "model");
        if (v && (unsigned char)v[0] == 0xc3) {
            found = true;
            CHECK(strlen(v) == 128);
        }
    }
    CHECK(found);
    free(sc.s);
    free(text);

    or_buf b;
    or_buf_init(&b, 0);
    CHECK(or_expo_family(&b, "x_total", "counter", "a \\ b\nc") == OR_OK);
    CHECK_STR(b.data, "# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\n");
    or_buf_free(&b);
    or_metrics_free(m);
}

static void test_cardinality(void)
{
    or_metrics *m = or_metrics_new(&(or_metrics_limits){.max_series = 5, .fold_reserve = 2});
    char model[32];
    for (int i = 0; i < 100; i++) {
        snprintf(model, sizeof model, "model-%d", i);
        or_metrics_observe(m, &(or_metrics_sample){.endpoint = "/v1/chat/completions",
                                                   .provider = i % 2 ? "openai" : "groq",
                                                   .model = model,
                                                   .status = 200,
                                                   .tokens_in = 1});
    }
    /* three providers past the cap of two: the fold reserve takes two, the rest overflow */
    for (int i = 0; i < 10; i++) {
        char prov[16];
        snprintf(prov, sizeof prov, "p%d", i);
        or_metrics_observe(m,
                           &(or_metrics_sample){
                               .endpoint = "/v1/x", .provider = prov, .model = "m", .status = 200});
    }
    CHECK(or_metrics_series(m) <= 4 * 7);
    CHECK(or_metrics_folded(m) > 0);
    char *text = render(m);
    scrape sc;
    CHECK(parse(&sc, text));
    double total = 0;
    for (int i = 0; i < sc.n; i++)
        if (strcmp(sc.s[i].name, "omniroute_requests_total") == 0)
            total += sc.s[i].value;
    CHECK(total == 110); /* nothing lost to folding */
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "/v1/chat/completions", "provider",
                "openai", "model", "other", "status", "2xx", NULL) > 0);
    CHECK(value(&sc, "omniroute_requests_total", "endpoint", "other", "provider", "other", "model",
                "other", "status", "2xx", NULL) > 0);
    free(sc.s);
    free(text);
    or_metrics_free(m);
}

#define THREADS 4
#define PER_THREAD 20000

static void *hammer(void *arg)
{
    or_metrics *m = arg;
    char model[32];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(model, sizeof model, "m%d", i % 50);
        or_metrics_observe(m, &(or_metrics_sample){.endpoint = "/v1/chat/completions",
                                                   .provider = "openai",
                                                   .model = model,
                                                   .status = 200,
                                                   .latency_ms = (uint32_t)(i % 700),
                                                   .tokens_out = 2});
    }
    return NULL;
}

static void test_concurrent(void)
{
    or_metrics *m = or_metrics_new(NULL);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, hammer, m);
    /* scrapes while observers run must parse too */
    for (int k = 0; k < 20; k++) {
        char *text = render(m);
        scrape sc;
        bool ok = parse(&sc, text);
        if (!ok)
            fprintf(stderr, "%s\n", sc.err);
        CHECK(ok);
        free(sc.s);
        free(text);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    char *text = render(m);
    scrape sc;
    CHECK(parse(&sc, text));
    CHECK(value(&sc, "omniroute_request_duration_seconds_count", "provider", "openai", NULL) ==
          THREADS * PER_THREAD);
    double tokens = 0;
    for (int i = 0; i < sc.n; i++)
        if (strcmp(sc.s[i].name, "omniroute_tokens_total") == 0 &&
            strcmp(label(&sc.s[i], "type"), "output") == 0)
            tokens += sc.s[i].value;
    CHECK(tokens == 2.0 * THREADS * PER_THREAD);
    CHECK(or_metrics_series(m) == 50); /* one per model; no errors */
    free(sc.s);
    free(text);
    or_metrics_free(m);
}

static void test_global(void)
{
    or_metrics *g = or_metrics_global();
    CHECK(g != NULL);
    CHECK(or_metrics_global() == g);
    or_metrics_observe(g, &(or_metrics_sample){.endpoint = "/v1/x", .status = 200});
    or_metrics_global_free();
    CHECK(or_metrics_global() == NULL);
    or_metrics_observe(NULL, &(or_metrics_sample){.status = 200}); /* dropped, no crash */
}

int main(void)
{
    test_counts_and_histograms();
    test_escaping();
    test_cardinality();
    test_concurrent();
    test_global();
    return check_done();
}
