/*
 * test_fmt_golden.c — the conformance matrix of the wire formats (docs/internals/FORMATS.md).
 *
 * Every directory tests/golden/<behaviour>/ holds the same conversation expressed in each
 * format; for every ordered pair (client X, provider Y) this runs
 *   request:  X.req_to_ir(request.X) → ir.model = case model of Y → Y.req_from_ir
 *             == request.X-to-Y.json | request.Y.json
 *   response: Y.resp_to_ir(response.Y) → X.resp_from_ir(fixed opts)
 *             == response.Y-to-X.json | response.X.json
 *   stream:   stream.Y.sse → Y.dec_event… dec_end → X.enc_event
 *             == stream.Y-to-X.sse | client.X.sse | stream.X.sse (event by event, data as JSON);
 *             for X = gemini also the JSON-array form (gemini_sse off) against the .json files
 *   error:    Y.error_to_ir(status, error.Y) → X.error_from_ir
 *             == error.Y-to-X.json | error.X.json
 * JSON is compared with json_equal; a mismatch prints both documents compactly.
 *
 * Usage: test_fmt_golden              run, diffs on stderr, exit status = any failure
 *        test_fmt_golden --table      also print the markdown result table on stdout
 *        test_fmt_golden --dump DIR   also write every produced document under DIR/<behaviour>/
 * Single-threaded; everything allocated here is freed before exit (runs under LSan).
 */
#include "check.h"

#include "core/buf.h"
#include "fmt/fmt.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifndef OR_GOLDEN_DIR
#error "OR_GOLDEN_DIR must name tests/golden (see tests/CMakeLists.txt)"
#endif

#define NFMT 4
#define MAX_CASES 64
#define OUT_MAX (16u << 20)
#define CREATED 1700000000LL

enum { A_REQ, A_RESP, A_STREAM, A_ERR, A_COUNT };
enum { R_NA, R_PASS, R_FAIL, R_SKIP };

static const char *const aspect_name[A_COUNT] = {"req", "resp", "stream", "err"};
static const char *const short_name[NFMT] = {"OA", "CL", "GE", "RS"};

static const or_fmt *fmts[NFMT];

typedef struct {
    char name[128];
    char dir[1024];
    json_t *spec;                 /* case.json */
    int res[NFMT][NFMT][A_COUNT]; /* [client][provider][aspect] */
    const char *skip_why[NFMT][NFMT];
} gcase;

static gcase cases[MAX_CASES];
static int ncases;
static const char *dump_dir;

/* ---- files ---------------------------------------------------------------------------------- */

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    or_buf b;
    or_buf_init(&b, OUT_MAX);
    char tmp[4096];
    size_t n;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (or_buf_append(&b, tmp, n) != OR_OK)
            break;
    fclose(f);
    if (!b.data)
        or_buf_append(&b, "", 0);
    return or_buf_take(&b, len);
}

static bool file_exists(const gcase *c, const char *name)
{
    char path[1280];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    return stat(path, &st) == 0;
}

/* Loads <dir>/<name>; NULL when absent. A file that does not parse is a failed check. */
static json_t *load_json(const gcase *c, const char *name)
{
    char path[1280];
    snprintf(path, sizeof path, "%s/%s", c->dir, name);
    if (!file_exists(c, name))
        return NULL;
    json_error_t je;
    json_t *j = json_load_file(path, JSON_DECODE_ANY, &je);
    if (!j) {
        fprintf(stderr, "golden: %s:%d: %s\n", path, je.line, je.text);
        CHECK(!"golden file parses");
    }
    return j;
}

static void dump_bytes(const gcase *c, const char *name, const char *data, size_t len)
{
    if (!dump_dir)
        return;
    char path[1280];
    snprintf(path, sizeof path, "%s/%s", dump_dir, c->name);
    mkdir(dump_dir, 0755);
    mkdir(path, 0755);
    snprintf(path, sizeof path, "%s/%s/%s", dump_dir, c->name, name);
    FILE *f = fopen(path, "wb");
    if (!f)
        return;
    fwrite(data, 1, len, f);
    fclose(f);
}

static void dump_json(const gcase *c, const char *name, const json_t *j)
{
    if (!dump_dir || !j)
        return;
    char *s = json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY);
    if (s) {
        dump_bytes(c, name, s, strlen(s));
        free(s);
    }
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* ---- case.json ------------------------------------------------------------------------------ */

/* "model" is one name for every format, or an object keyed by format name. */
static const char *case_model(const gcase *c, const or_fmt *f)
{
    json_t *m = json_object_get(c->spec, "model");
    if (json_is_object(m))
        m = json_object_get(m, f->name);
    return json_is_string(m) ? json_string_value(m) : "golden-model";
}

static const char *case_skip(const gcase *c, const char *key)
{
    json_t *s = json_object_get(json_object_get(c->spec, "skip"), key);
    return json_is_string(s) ? json_string_value(s) : NULL;
}

static const char *const known_prefix[] = {"request.", "response.", "stream.", "client.", "error."};

/* Every file is one the runner reads, and every override carries its reason in case.json. */
static void check_case_files(const gcase *c)
{
    DIR *d = opendir(c->dir);
    if (!d)
        return;
    json_t *ov = json_object_get(c->spec, "overrides");
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        const char *n = de->d_name;
        if (n[0] == '.' || strcmp(n, "case.json") == 0)
            continue;
        bool known = false;
        for (size_t i = 0; i < sizeof known_prefix / sizeof known_prefix[0]; i++)
            if (strncmp(n, known_prefix[i], strlen(known_prefix[i])) == 0)
                known = true;
        if (!known) {
            fprintf(stderr, "golden: %s: unknown file %s\n", c->name, n);
            CHECK(!"golden file name is known");
        }
        if (strstr(n, "-to-") && !json_is_string(json_object_get(ov, n))) {
            fprintf(stderr, "golden: %s: override %s has no reason in case.json \"overrides\"\n",
                    c->name, n);
            CHECK(!"override is justified");
        }
    }
    closedir(d);
    const char *k;
    json_t *v;
    json_object_foreach(ov, k, v)
    {
        if (!file_exists(c, k)) {
            fprintf(stderr, "golden: %s: case.json names override %s, which does not exist\n",
                    c->name, k);
            CHECK(!"listed override exists");
        }
    }
}

/* ---- reporting ------------------------------------------------------------------------------ */

static void print_json(const char *label, const json_t *j)
{
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "  %s: %s\n", label, s ? s : "(null)");
    free(s);
}

static int json_result(const gcase *c, const char *what, const char *expected_file,
                       const json_t *got, const json_t *exp)
{
    if (got && exp && json_equal(got, exp))
        return R_PASS;
    fprintf(stderr, "FAIL %s %s (expected %s)\n", c->name, what, expected_file);
    print_json("expected", exp);
    print_json("     got", got);
    CHECK(!"golden document matches");
    return R_FAIL;
}

/* ---- SSE ------------------------------------------------------------------------------------ */

typedef struct {
    char *event; /* NULL when the event had no "event:" line */
    char *data;
} sse_ev;

typedef struct {
    sse_ev *v;
    size_t n, cap;
    bool unterminated; /* bytes after the last blank line held an unfinished event */
} sse_list;

static void sse_push(sse_list *l, or_buf *ev, or_buf *data, bool have_ev)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc(l->v, l->cap * sizeof *l->v);
    }
    size_t n;
    l->v[l->n].event = have_ev ? or_buf_take(ev, &n) : NULL;
    l->v[l->n].data = or_buf_take(data, &n);
    if (!l->v[l->n].data)
        l->v[l->n].data = strdup("");
    l->n++;
}

/* The WHATWG event-stream rules, minus id/retry: fields by line, data lines joined by \n, an
 * event is dispatched by a blank line; comments are skipped. */
static void sse_parse(const char *s, size_t len, sse_list *out)
{
    or_buf ev, data;
    or_buf_init(&ev, OUT_MAX);
    or_buf_init(&data, OUT_MAX);
    bool have_ev = false, have_data = false;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && s[j] != '\n' && s[j] != '\r')
            j++;
        const char *line = s + i;
        size_t ll = j - i;
        if (j < len && s[j] == '\r' && j + 1 < len && s[j + 1] == '\n')
            j++;
        bool eol = j < len;
        i = j + 1;
        if (!eol && ll > 0) { /* the last line has no end: not dispatched by real parsers */
            out->unterminated = true;
            break;
        }
        if (ll == 0) {
            if (have_data || have_ev)
                sse_push(out, &ev, &data, have_ev);
            or_buf_reset(&ev);
            or_buf_reset(&data);
            have_ev = have_data = false;
            continue;
        }
        if (line[0] == ':')
            continue;
        const char *colon = memchr(line, ':', ll);
        size_t fl = colon ? (size_t)(colon - line) : ll;
        const char *val = colon ? colon + 1 : line + ll;
        size_t vl = (size_t)(line + ll - val);
        if (vl && val[0] == ' ') {
            val++;
            vl--;
        }
        if (fl == 5 && memcmp(line, "event", 5) == 0) {
            or_buf_reset(&ev);
            or_buf_append(&ev, val, vl);
            have_ev = true;
        } else if (fl == 4 && memcmp(line, "data", 4) == 0) {
            if (have_data)
                or_buf_append(&data, "\n", 1);
            or_buf_append(&data, val, vl);
            have_data = true;
        }
    }
    if (have_data || have_ev)
        out->unterminated = true;
    or_buf_free(&ev);
    or_buf_free(&data);
}

static void sse_free(sse_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].event);
        free(l->v[i].data);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static bool sse_ev_equal(const sse_ev *a, const sse_ev *b)
{
    if ((a->event == NULL) != (b->event == NULL))
        return false;
    if (a->event && strcmp(a->event, b->event) != 0)
        return false;
    json_t *ja = json_loads(a->data, JSON_DECODE_ANY, NULL);
    json_t *jb = json_loads(b->data, JSON_DECODE_ANY, NULL);
    bool eq = (ja && jb) ? json_equal(ja, jb) : strcmp(a->data, b->data) == 0;
    json_decref(ja);
    json_decref(jb);
    return eq;
}

static void print_sse_ev(const char *label, size_t i, const sse_ev *e)
{
    json_t *j = json_loads(e->data, JSON_DECODE_ANY, NULL);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY) : NULL;
    fprintf(stderr, "  %s[%zu]: event=%s data=%s\n", label, i, e->event ? e->event : "(none)",
            s ? s : e->data);
    free(s);
    json_decref(j);
}

static int sse_result(const gcase *c, const char *what, const char *expected_file,
                      const sse_list *got, const sse_list *exp)
{
    size_t n = got->n < exp->n ? got->n : exp->n, i = 0;
    while (i < n && sse_ev_equal(&got->v[i], &exp->v[i]))
        i++;
    if (i == n && got->n == exp->n && !got->unterminated && !exp->unterminated)
        return R_PASS;
    fprintf(stderr, "FAIL %s %s (expected %s): %zu events expected, %zu produced%s\n", c->name,
            what, expected_file, exp->n, got->n,
            got->unterminated ? ", output ends inside an event" : "");
    size_t from = i, to = i + 3;
    for (size_t k = from; k < to; k++) {
        if (k < exp->n)
            print_sse_ev("expected", k, &exp->v[k]);
        if (k < got->n)
            print_sse_ev("     got", k, &got->v[k]);
    }
    CHECK(!"golden stream matches");
    return R_FAIL;
}

/* ---- the four aspects ----------------------------------------------------------------------- */

static void set_opts(or_fmt_opts *o, const gcase *c, const or_fmt *client, bool stream)
{
    memset(o, 0, sizeof *o);
    o->stream = stream;
    o->gemini_sse = true;
    o->include_usage = true;
    o->model = case_model(c, client);
    o->id = "golden";
    o->created = CREATED;
}

/* Name of the expected file: the pair's override when present, else the canonical one. */
static void pick(const gcase *c, char *out, size_t n, const char *kind, const char *from,
                 const char *to, const char *canon, const char *ext)
{
    snprintf(out, n, "%s.%s-to-%s.%s", kind, from, to, ext);
    if (!file_exists(c, out))
        snprintf(out, n, "%s.%s.%s", kind, canon, ext);
}

static int run_request(const gcase *c, const or_fmt *x, const or_fmt *y)
{
    char f[256], what[300], key[256];
    snprintf(f, sizeof f, "request.%s.json", x->name);
    json_t *in = load_json(c, f);
    if (!in)
        return R_NA;
    snprintf(key, sizeof key, "request.%s-to-%s", x->name, y->name);
    snprintf(what, sizeof what, "%s", key);
    json_t *ir = NULL, *body = NULL, *exp = NULL;
    or_errbuf eb = {{0}};
    int r = R_FAIL;
    pick(c, f, sizeof f, "request", x->name, y->name, y->name, "json");
    exp = load_json(c, f);
    or_err e = x->req_to_ir(in, &ir, &eb);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s.req_to_ir: %s: %s\n", c->name, what, x->name,
                or_err_name(e), eb.msg);
        CHECK(!"req_to_ir succeeds");
        goto out;
    }
    json_object_set_new(ir, "model", json_string(case_model(c, y)));
    /* A Gemini client says "stream" in the URL (:streamGenerateContent), not in the body. */
    if (x->id == OR_FMT_GEMINI && json_is_true(json_object_get(c->spec, "stream")))
        json_object_set_new(ir, "stream", json_true());
    e = y->req_from_ir(ir, &body, &eb);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s.req_from_ir: %s: %s\n", c->name, what, y->name,
                or_err_name(e), eb.msg);
        CHECK(!"req_from_ir succeeds");
        goto out;
    }
    snprintf(what, sizeof what, "%s.json", key);
    dump_json(c, what, body);
    r = json_result(c, key, f, body, exp);
out:
    json_decref(in);
    json_decref(ir);
    json_decref(body);
    json_decref(exp);
    return r;
}

static int run_response(const gcase *c, const or_fmt *x, const or_fmt *y)
{
    char f[256], key[256];
    snprintf(f, sizeof f, "response.%s.json", y->name);
    json_t *in = load_json(c, f);
    if (!in)
        return R_NA;
    snprintf(key, sizeof key, "response.%s-to-%s", y->name, x->name);
    json_t *ir = NULL, *body = NULL, *exp = NULL;
    or_errbuf eb = {{0}};
    or_fmt_opts o;
    set_opts(&o, c, x, false);
    int r = R_FAIL;
    pick(c, f, sizeof f, "response", y->name, x->name, x->name, "json");
    exp = load_json(c, f);
    or_err e = y->resp_to_ir(in, &ir, &eb);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s.resp_to_ir: %s: %s\n", c->name, key, y->name,
                or_err_name(e), eb.msg);
        CHECK(!"resp_to_ir succeeds");
        goto out;
    }
    e = x->resp_from_ir(ir, &o, &body, &eb);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s.resp_from_ir: %s: %s\n", c->name, key, x->name,
                or_err_name(e), eb.msg);
        CHECK(!"resp_from_ir succeeds");
        goto out;
    }
    char dn[300];
    snprintf(dn, sizeof dn, "%s.json", key);
    dump_json(c, dn, body);
    r = json_result(c, key, f, body, exp);
out:
    json_decref(in);
    json_decref(ir);
    json_decref(body);
    json_decref(exp);
    return r;
}

/* Upstream events of provider y: its .sse transcript, or (Gemini) the elements of its
 * JSON-array stream. */
static bool load_upstream(const gcase *c, const or_fmt *y, bool array, sse_list *out)
{
    char f[256], path[1280];
    snprintf(f, sizeof f, "stream.%s.%s", y->name, array ? "json" : "sse");
    snprintf(path, sizeof path, "%s/%s", c->dir, f);
    if (!array) {
        size_t len;
        char *s = slurp(path, &len);
        if (!s)
            return false;
        sse_parse(s, len, out);
        out->unterminated = false; /* a cut upstream: the gateway never sees the torn tail */
        free(s);
        return true;
    }
    json_t *a = load_json(c, f);
    if (!json_is_array(a)) {
        json_decref(a);
        return false;
    }
    size_t i;
    json_t *el;
    json_array_foreach(a, i, el)
    {
        or_buf ev, data;
        or_buf_init(&ev, OUT_MAX);
        or_buf_init(&data, OUT_MAX);
        char *s = json_dumps(el, JSON_COMPACT);
        or_buf_puts(&data, s ? s : "");
        free(s);
        sse_push(out, &ev, &data, false);
        or_buf_free(&ev);
    }
    json_decref(a);
    return true;
}

/* Upstream events → IR events (a new array), or NULL after reporting why. */
static json_t *decode(const gcase *c, const char *what, const or_fmt *y, const sse_list *in)
{
    json_t *out = json_array();
    or_errbuf eb = {{0}};
    or_fmt_dec *d = y->dec_new();
    or_err e = OR_OK;
    for (size_t i = 0; i < in->n && e == OR_OK; i++)
        e = y->dec_event(d, in->v[i].event, in->v[i].data, strlen(in->v[i].data), out, &eb);
    if (e == OR_OK)
        e = y->dec_end(d, out, &eb);
    y->dec_free(d);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s decoder: %s: %s\n", c->name, what, y->name, or_err_name(e),
                eb.msg);
        CHECK(!"decoder succeeds");
        json_decref(out);
        return NULL;
    }
    size_t n = json_array_size(out);
    const char *first = json_string_value(json_object_get(json_array_get(out, 0), "type"));
    const char *last = json_string_value(json_object_get(json_array_get(out, n - 1), "type"));
    if (!first || !last || strcmp(last, "done") != 0) {
        fprintf(stderr,
                "FAIL %s %s: %s decoder: IR events must end with done (first %s, last %s)\n",
                c->name, what, y->name, first ? first : "-", last ? last : "-");
        CHECK(!"IR stream ends with done");
    }
    return out;
}

static bool encode(const gcase *c, const char *what, const or_fmt *x, const or_fmt_opts *o,
                   const json_t *ir, or_buf *out)
{
    or_fmt_enc *en = x->enc_new(o);
    or_err e = OR_OK;
    size_t i;
    json_t *ev;
    json_array_foreach(ir, i, ev)
    {
        e = x->enc_event(en, ev, out);
        if (e != OR_OK)
            break;
    }
    x->enc_free(en);
    if (e != OR_OK) {
        fprintf(stderr, "FAIL %s %s: %s encoder: %s on IR event %zu\n", c->name, what, x->name,
                or_err_name(e), i);
        CHECK(!"encoder succeeds");
        return false;
    }
    return true;
}

/* One run of the stream aspect: upstream form of y (sse or array), client form of x. */
static int stream_once(const gcase *c, const or_fmt *x, const or_fmt *y, bool up_array,
                       bool client_array)
{
    sse_list up = {0}, got = {0}, exp = {0};
    char key[256], what[300], f[256], path[1280];
    json_t *ir = NULL, *exp_arr = NULL, *got_arr = NULL;
    int r = R_FAIL;
    snprintf(key, sizeof key, "stream.%s-to-%s", y->name, x->name);
    snprintf(what, sizeof what, "%s%s%s", key, up_array ? " (upstream JSON array)" : "",
             client_array ? " (client JSON array)" : "");
    if (!load_upstream(c, y, up_array, &up))
        return R_NA;
    const char *ext = client_array ? "json" : "sse";
    snprintf(f, sizeof f, "stream.%s-to-%s.%s", y->name, x->name, ext);
    if (!file_exists(c, f))
        snprintf(f, sizeof f, "client.%s.%s", x->name, ext);
    if (!file_exists(c, f))
        snprintf(f, sizeof f, "stream.%s.%s", x->name, ext);
    ir = decode(c, what, y, &up);
    if (!ir)
        goto out;
    or_fmt_opts o;
    set_opts(&o, c, x, true);
    o.gemini_sse = !client_array;
    or_buf b;
    or_buf_init(&b, OUT_MAX);
    if (!encode(c, what, x, &o, ir, &b)) {
        or_buf_free(&b);
        goto out;
    }
    char dn[300];
    snprintf(dn, sizeof dn, "%s%s.%s", key, up_array ? "-from-array" : "", ext);
    dump_bytes(c, dn, b.data ? b.data : "", b.len);
    if (client_array) {
        got_arr = json_loadb(b.data ? b.data : "", b.len, 0, NULL);
        exp_arr = load_json(c, f);
        r = json_result(c, what, f, got_arr, exp_arr);
    } else {
        snprintf(path, sizeof path, "%s/%s", c->dir, f);
        size_t len;
        char *s = slurp(path, &len);
        if (s)
            sse_parse(s, len, &exp);
        else
            fprintf(stderr, "golden: %s: no expected transcript %s\n", c->name, f);
        free(s);
        sse_parse(b.data ? b.data : "", b.len, &got);
        r = sse_result(c, what, f, &got, &exp);
    }
    or_buf_free(&b);
out:
    json_decref(ir);
    json_decref(exp_arr);
    json_decref(got_arr);
    sse_free(&up);
    sse_free(&got);
    sse_free(&exp);
    return r;
}

static int worst(int a, int b)
{
    if (a == R_FAIL || b == R_FAIL)
        return R_FAIL;
    if (a == R_PASS || b == R_PASS)
        return R_PASS;
    return R_NA;
}

static int run_stream(const gcase *c, const or_fmt *x, const or_fmt *y)
{
    int r = stream_once(c, x, y, false, false);
    if (x->id == OR_FMT_GEMINI)
        r = worst(r, stream_once(c, x, y, false, true));
    if (y->id == OR_FMT_GEMINI) {
        r = worst(r, stream_once(c, x, y, true, false));
        if (x->id == OR_FMT_GEMINI)
            r = worst(r, stream_once(c, x, y, true, true));
    }
    return r;
}

static int run_error(const gcase *c, const or_fmt *x, const or_fmt *y)
{
    char f[256], key[256];
    snprintf(f, sizeof f, "error.%s.json", y->name);
    json_t *in = load_json(c, f);
    if (!in)
        return R_NA;
    snprintf(key, sizeof key, "error.%s-to-%s", y->name, x->name);
    int status = (int)json_integer_value(json_object_get(c->spec, "status"));
    pick(c, f, sizeof f, "error", y->name, x->name, x->name, "json");
    json_t *exp = load_json(c, f);
    json_t *ir = y->error_to_ir(status, in);
    json_t *body = ir ? x->error_from_ir(ir) : NULL;
    int r = R_FAIL;
    if (!ir || json_integer_value(json_object_get(ir, "status")) != status) {
        fprintf(stderr, "FAIL %s %s: %s.error_to_ir lost the status %d\n", c->name, key, y->name,
                status);
        print_json("IR", ir);
        CHECK(!"error_to_ir keeps the status");
    } else {
        char dn[300];
        snprintf(dn, sizeof dn, "%s.json", key);
        dump_json(c, dn, body);
        r = json_result(c, key, f, body, exp);
    }
    json_decref(in);
    json_decref(exp);
    json_decref(ir);
    json_decref(body);
    return r;
}

/* ---- driver --------------------------------------------------------------------------------- */

static void run_case(gcase *c)
{
    check_case_files(c);
    for (int xi = 0; xi < NFMT; xi++)
        for (int yi = 0; yi < NFMT; yi++) {
            const or_fmt *x = fmts[xi], *y = fmts[yi];
            char key[A_COUNT][256];
            snprintf(key[A_REQ], sizeof key[A_REQ], "request.%s-to-%s", x->name, y->name);
            snprintf(key[A_RESP], sizeof key[A_RESP], "response.%s-to-%s", y->name, x->name);
            snprintf(key[A_STREAM], sizeof key[A_STREAM], "stream.%s-to-%s", y->name, x->name);
            snprintf(key[A_ERR], sizeof key[A_ERR], "error.%s-to-%s", y->name, x->name);
            for (int a = 0; a < A_COUNT; a++) {
                const char *why = case_skip(c, key[a]);
                if (why) {
                    c->res[xi][yi][a] = R_SKIP;
                    c->skip_why[xi][yi] = why;
                    continue;
                }
                int (*run[A_COUNT])(const gcase *, const or_fmt *, const or_fmt *) = {
                    run_request, run_response, run_stream, run_error};
                c->res[xi][yi][a] = run[a](c, x, y);
            }
        }
}

static void print_table(void)
{
    printf("Rows: behaviours (tests/golden/<dir>). Columns: client format → provider format,\n"
           "OA = openai (chat completions), CL = claude (Anthropic Messages), GE = gemini,\n"
           "RS = openai-responses. ✓ = every aspect present (request, response, stream, error)\n"
           "matches the golden files; ✗ lists the aspects that do not; skip = not expressible "
           "(see notes).\n\n");
    printf("| behaviour |");
    for (int xi = 0; xi < NFMT; xi++)
        for (int yi = 0; yi < NFMT; yi++)
            printf(" %s→%s |", short_name[xi], short_name[yi]);
    printf("\n|---|");
    for (int i = 0; i < NFMT * NFMT; i++)
        printf(":-:|");
    printf("\n");
    int note = 0;
    for (int ci = 0; ci < ncases; ci++) {
        gcase *c = &cases[ci];
        printf("| %s |", c->name);
        for (int xi = 0; xi < NFMT; xi++)
            for (int yi = 0; yi < NFMT; yi++) {
                int *r = c->res[xi][yi];
                char cell[128] = "";
                bool fail = false, pass = false, skip = false;
                for (int a = 0; a < A_COUNT; a++) {
                    fail |= r[a] == R_FAIL;
                    pass |= r[a] == R_PASS;
                    skip |= r[a] == R_SKIP;
                }
                if (fail) {
                    strcat(cell, "✗");
                    for (int a = 0; a < A_COUNT; a++)
                        if (r[a] == R_FAIL) {
                            strcat(cell, " ");
                            strcat(cell, aspect_name[a]);
                        }
                } else if (pass) {
                    strcat(cell, "✓");
                } else {
                    strcat(cell, "—");
                }
                if (skip)
                    snprintf(cell + strlen(cell), sizeof cell - strlen(cell), " skip[%d]", ++note);
                printf(" %s |", cell);
            }
        printf("\n");
    }
    note = 0;
    for (int ci = 0; ci < ncases; ci++)
        for (int xi = 0; xi < NFMT; xi++)
            for (int yi = 0; yi < NFMT; yi++)
                if (cases[ci].skip_why[xi][yi]) {
                    if (note++ == 0)
                        printf("\n");
                    printf("[%d] %s, %s→%s: %s\n", note, cases[ci].name, short_name[xi],
                           short_name[yi], cases[ci].skip_why[xi][yi]);
                }
}

static void load_cases(void)
{
    DIR *d = opendir(OR_GOLDEN_DIR);
    if (!d) {
        fprintf(stderr, "golden: cannot open %s: %s\n", OR_GOLDEN_DIR, strerror(errno));
        CHECK(!"golden directory exists");
        return;
    }
    char *names[MAX_CASES];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL && n < MAX_CASES) {
        if (de->d_name[0] == '.')
            continue;
        char path[1280];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", OR_GOLDEN_DIR, de->d_name);
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
            names[n++] = strdup(de->d_name);
    }
    closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        gcase *c = &cases[ncases];
        memset(c, 0, sizeof *c);
        snprintf(c->name, sizeof c->name, "%s", names[i]);
        snprintf(c->dir, sizeof c->dir, "%s/%s", OR_GOLDEN_DIR, names[i]);
        free(names[i]);
        c->spec = load_json(c, "case.json");
        if (!json_is_object(c->spec)) {
            fprintf(stderr, "golden: %s: missing or bad case.json\n", c->name);
            CHECK(!"case.json is an object");
            json_decref(c->spec);
            continue;
        }
        ncases++;
    }
}

int main(int argc, char **argv)
{
    bool table = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--table") == 0)
            table = true;
        else if (strcmp(argv[i], "--dump") == 0 && i + 1 < argc)
            dump_dir = argv[++i];
    }
    static const or_format order[NFMT] = {OR_FMT_OPENAI, OR_FMT_ANTHROPIC, OR_FMT_GEMINI,
                                          OR_FMT_RESPONSES};
    for (int i = 0; i < NFMT; i++) {
        fmts[i] = or_fmt_get(order[i]);
        CHECK(fmts[i] != NULL);
        if (!fmts[i])
            return check_done();
    }
    load_cases();
    CHECK(ncases > 0);
    for (int i = 0; i < ncases; i++)
        run_case(&cases[i]);
    if (table)
        print_table();
    int pass = 0, fail = 0;
    for (int ci = 0; ci < ncases; ci++)
        for (int xi = 0; xi < NFMT; xi++)
            for (int yi = 0; yi < NFMT; yi++)
                for (int a = 0; a < A_COUNT; a++) {
                    pass += cases[ci].res[xi][yi][a] == R_PASS;
                    fail += cases[ci].res[xi][yi][a] == R_FAIL;
                }
    fprintf(stderr, "golden: %d cases, %d aspect runs passed, %d failed\n", ncases, pass, fail);
    for (int i = 0; i < ncases; i++)
        json_decref(cases[i].spec);
    return check_done();
}
