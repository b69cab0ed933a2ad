/*
 * plan.c — a client's model name → the ordered targets of plan.h.
 *
 * Combos expand depth-first: each combo orders its own steps with its own strategy, and a
 * step that names a combo is replaced in place by that combo's ordered targets. Strings are
 * borrowed from the settings while resolving (a leaf is a pointer), copied into the plan at
 * the end. The route state is a small table of per-combo memory behind one mutex, taken at the
 * first combo and held to the end of the resolution so a nested expansion never sees a slot
 * reused under it; a name that involves no combo never takes it.
 */
#include "route/plan.h"
#include "core/glob.h"

#include "core/clock.h"
#include "route/strategy.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEP_LEN sizeof(((or_plan_step *)0)->model)
#define NAME_LEN sizeof(((or_plan *)0)->combo)
#define STATE_COMBOS 256 /* combos remembered; the least recently touched one is forgotten */
#define STATE_MODELS 64  /* usage rows per combo; the oldest row is forgotten */
#define EXPAND_BUDGET                                                                              \
    128 /* combo expansions per resolution: a wide nested tree stays cheap,                        \
          and staying under STATE_COMBOS keeps LRU off the current path */

typedef struct {
    char model[STEP_LEN];
    uint64_t uses;
    int64_t last_ms;
} use_row;

typedef struct {
    char name[NAME_LEN];
    _Atomic uint64_t rr;
    uint64_t touched;
    size_t nrows;
    use_row rows[STATE_MODELS];
} combo_state;

struct or_route_state {
    pthread_mutex_t mu;
    combo_state *c[STATE_COMBOS];
    size_t n;
    uint64_t tick;
};

or_route_state *or_route_state_new(void)
{
    or_route_state *st = calloc(1, sizeof *st);
    if (st && pthread_mutex_init(&st->mu, NULL) != 0) {
        free(st);
        st = NULL;
    }
    return st;
}

void or_route_state_free(or_route_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        free(st->c[i]);
    pthread_mutex_destroy(&st->mu);
    free(st);
}

/* Under st->mu. Slots are reused, never freed, while the state lives: pointers stay valid. */
static combo_state *state_of(or_route_state *st, const char *name)
{
    if (strlen(name) >= NAME_LEN)
        return NULL;
    combo_state *cs = NULL;
    for (size_t i = 0; i < st->n && !cs; i++)
        if (strcmp(st->c[i]->name, name) == 0)
            cs = st->c[i];
    if (!cs && st->n < STATE_COMBOS) {
        cs = calloc(1, sizeof *cs);
        if (!cs)
            return NULL;
        st->c[st->n++] = cs;
        strcpy(cs->name, name);
    } else if (!cs) {
        cs = st->c[0];
        for (size_t i = 1; i < st->n; i++)
            if (st->c[i]->touched < cs->touched)
                cs = st->c[i];
        memset(cs->name, 0, sizeof cs->name);
        strcpy(cs->name, name);
        atomic_store(&cs->rr, 0);
        cs->nrows = 0;
    }
    cs->touched = ++st->tick;
    return cs;
}

void or_plan_used(or_route_state *st, const char *combo, const char *model)
{
    if (!st || !combo || !*combo || !model || strlen(model) >= STEP_LEN)
        return;
    pthread_mutex_lock(&st->mu);
    combo_state *cs = state_of(st, combo);
    if (!cs)
        goto out;
    use_row *row = NULL;
    for (size_t i = 0; i < cs->nrows && !row; i++)
        if (strcmp(cs->rows[i].model, model) == 0)
            row = &cs->rows[i];
    if (!row && cs->nrows < STATE_MODELS) {
        row = &cs->rows[cs->nrows++];
    } else if (!row) {
        row = &cs->rows[0];
        for (size_t i = 1; i < cs->nrows; i++)
            if (cs->rows[i].last_ms < row->last_ms)
                row = &cs->rows[i];
    }
    if (strcmp(row->model, model) != 0) {
        memset(row, 0, sizeof *row);
        strcpy(row->model, model);
    }
    row->uses++;
    row->last_ms = or_clock_wall_ms();
out:
    pthread_mutex_unlock(&st->mu);
}

/* ---- names ---- */

static const char *name_of(const json_t *combo)
{
    return json_string_value(json_object_get(combo, "name"));
}

static const json_t *combo_named(const json_t *combos, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach(combos, i, c)
    {
        const char *n = name_of(c);
        if (n && strcmp(n, name) == 0)
            return c;
    }
    return NULL;
}

const json_t *or_plan_find_combo(const json_t *combos, const char *name)
{
    if (!name || !json_is_array(combos))
        return NULL;
    const json_t *c = combo_named(combos, name);
    if (!c && strncmp(name, "combo/", 6) == 0)
        c = combo_named(combos, name + 6);
    return c;
}

/* "prefix/model": something before and after the first '/'. */
static bool is_target(const char *m)
{
    const char *slash = strchr(m, '/');
    return slash && slash != m && slash[1];
}

static const char *step_model(const json_t *step)
{
    if (json_is_string(step))
        return json_string_value(step);
    return json_string_value(json_object_get(step, "model"));
}

/* The most specific matching pattern's target: more literal characters win; on a tie fewer
 * '*' (a '?' pins the length); then the earlier entry. */
static const char *best_alias(const json_t *aliases, const char *model)
{
    const char *best = NULL;
    size_t best_lit = 0, best_stars = 0, i;
    const json_t *a;
    json_array_foreach(aliases, i, a)
    {
        const char *pat = json_string_value(json_object_get(a, "pattern"));
        const char *target = json_string_value(json_object_get(a, "target"));
        if (!pat || !target || !*target || !or_glob_match(pat, model))
            continue;
        size_t lit = 0, stars = 0;
        for (const char *q = pat; *q; q++) {
            stars += *q == '*';
            lit += *q != '*' && *q != '?';
        }
        if (!best || lit > best_lit || (lit == best_lit && stars < best_stars)) {
            best = target;
            best_lit = lit;
            best_stars = stars;
        }
    }
    return best;
}

/* ---- expansion ---- */

typedef struct {
    const char *v[OR_PLAN_MAX];
    size_t n;
} leaves;

/* Keeps the first occurrence; silently full at OR_PLAN_MAX; drops what cannot fit a step. */
static void push(leaves *l, const char *m)
{
    if (!m || !*m || strlen(m) >= STEP_LEN || l->n == OR_PLAN_MAX)
        return;
    for (size_t i = 0; i < l->n; i++)
        if (strcmp(l->v[i], m) == 0)
            return;
    l->v[l->n++] = m;
}

typedef struct {
    or_route_state *st;
    const json_t *settings;
    const json_t *combos;
    const combo_state *usage; /* the outermost combo's rows (least-used), or NULL */
    const char *path[OR_PLAN_MAX_DEPTH];
    size_t depth;
    unsigned budget;
    bool locked; /* st->mu is held: taken at the first combo, so plain names never wait */
} rctx;

static unsigned sticky_of(const rctx *r, const json_t *combo)
{
    json_t *v = json_object_get(json_object_get(combo, "config"), "stickyRoundRobinLimit");
    if (!json_is_integer(v))
        v = json_object_get(r->settings, "stickyRoundRobinLimit");
    if (!json_is_integer(v))
        return 0; /* the strategy's default */
    json_int_t n = json_integer_value(v);
    return n <= 1 ? 1u : n > 1000000 ? 1000000u : (unsigned)n; /* ≤ 1: rotate every request */
}

/* settings.pricing[prefix][model].input (per 1M tokens), the original's pricing shape; -1 when
 * unknown. */
static double price_of(const rctx *r, const char *target)
{
    const char *slash = strchr(target, '/');
    char prefix[64];
    if (!slash || (size_t)(slash - target) >= sizeof prefix)
        return -1;
    memcpy(prefix, target, (size_t)(slash - target));
    prefix[slash - target] = '\0';
    json_t *p = json_object_get(json_object_get(r->settings, "pricing"), prefix);
    json_t *in = json_object_get(json_object_get(p, slash + 1), "input");
    double v = json_is_number(in) ? json_number_value(in) : -1;
    return v >= 0 ? v : -1;
}

static or_target_stats stats_of(const rctx *r, const json_t *step, const leaves *l)
{
    or_target_stats t = {.cost = -1};
    json_t *w = json_object_get(step, "weight");
    t.weight = json_is_number(w) ? json_number_value(w) : 0;
    for (size_t i = 0; r->usage && i < l->n; i++)
        for (size_t k = 0; k < r->usage->nrows; k++)
            if (strcmp(r->usage->rows[k].model, l->v[i]) == 0) {
                t.uses += r->usage->rows[k].uses;
                if (r->usage->rows[k].last_ms > t.last_used_ms)
                    t.last_used_ms = r->usage->rows[k].last_ms;
            }
    if (l->n)
        t.cost = price_of(r, l->v[0]);
    return t;
}

static or_err expand_name(rctx *r, const char *m, leaves *out);

static or_err expand_combo(rctx *r, const json_t *combo, leaves *out)
{
    const char *name = name_of(combo);
    const json_t *steps = json_object_get(combo, "models");
    size_t k = json_array_size(steps);
    if (!name || !k || r->depth >= OR_PLAN_MAX_DEPTH || !r->budget)
        return OR_OK; /* too deep or too wide: the step is dropped */
    for (size_t i = 0; i < r->depth; i++)
        if (strcmp(r->path[i], name) == 0)
            return OR_OK; /* a combo never expands into itself */
    r->budget--;
    if (k > OR_PLAN_MAX_STEPS)
        k = OR_PLAN_MAX_STEPS;
    or_err e = OR_OK;
    leaves *sub = calloc(k, sizeof *sub);
    or_target_stats *ts = calloc(k, sizeof *ts);
    size_t *ord = calloc(k, sizeof *ord);
    const combo_state *saved = r->usage;
    if (r->st && !r->locked) {
        pthread_mutex_lock(&r->st->mu);
        r->locked = true;
    }
    combo_state *cs = r->st ? state_of(r->st, name) : NULL;
    r->path[r->depth++] = name;
    if (r->depth == 1)
        r->usage = cs;
    if (!sub || !ts || !ord) {
        e = OR_ENOMEM;
        goto out;
    }
    for (size_t i = 0; i < k; i++) {
        const json_t *step = json_array_get(steps, i);
        const char *m = step_model(step);
        if (m && (e = expand_name(r, m, &sub[i])) != OR_OK)
            goto out;
        ts[i] = stats_of(r, step, &sub[i]);
    }
    const or_strategy *s = or_strategy_find(json_string_value(json_object_get(combo, "strategy")));
    or_strategy_ctx ctx = {
        .targets = ts,
        .rr_counter = cs ? &cs->rr : NULL,
        .sticky_limit = sticky_of(r, combo),
    };
    (s ? s : &or_strategy_priority)->order(&ctx, k, ord);
    for (size_t j = 0; j < k; j++)
        for (size_t i = 0; ord[j] < k && i < sub[ord[j]].n; i++)
            push(out, sub[ord[j]].v[i]);
out:
    r->depth--;
    r->usage = saved;
    free(sub);
    free(ts);
    free(ord);
    return e;
}

/* A step or chain entry: a combo expands; "prefix/model" is a target; anything else is
 * dropped (a combo deleted after it was referenced). */
static or_err expand_name(rctx *r, const char *m, leaves *out)
{
    const json_t *c = or_plan_find_combo(r->combos, m);
    if (c)
        return expand_combo(r, c, out);
    if (is_target(m))
        push(out, m);
    return OR_OK;
}

static or_err append_chain(rctx *r, const char *key, leaves *out)
{
    const json_t *chain = json_object_get(json_object_get(r->settings, "fallbackChains"), key);
    size_t i;
    const json_t *v;
    json_array_foreach(chain, i, v)
    {
        or_err e = json_is_string(v) ? expand_name(r, json_string_value(v), out) : OR_OK;
        if (e != OR_OK)
            return e;
    }
    return OR_OK;
}

or_err or_plan_resolve(or_route_state *st, const json_t *settings, const char *model, or_plan *out,
                       or_errbuf *eb)
{
    out->n = 0; /* readers look at steps[0..n) only: no need to clear 8 KB per request */
    out->combo[0] = '\0';
    if (!model || !*model)
        return or_fail(eb, OR_EINVAL, "model: required");
    rctx r = {
        .st = st,
        .settings = settings,
        .combos = json_object_get(settings, "combos"),
        .budget = EXPAND_BUDGET,
    };
    leaves l = {0};
    or_err e = OR_OK;
    const json_t *combo = or_plan_find_combo(r.combos, model);
    const char *via =
        combo ? NULL : best_alias(json_object_get(settings, "wildcardAliases"), model);
    if (via)
        combo = or_plan_find_combo(r.combos, via);
    const char *resolved = combo ? name_of(combo) : via; /* a second fallback-chain key */
    if (combo) {
        if (strlen(name_of(combo)) < NAME_LEN)
            strcpy(out->combo, name_of(combo));
        e = expand_combo(&r, combo, &l);
    } else if (via && !is_target(via)) {
        e = or_fail(eb, OR_EINVAL,
                    "The model `%.100s` maps to `%.100s`, which is neither provider/model nor a "
                    "combo",
                    model, via);
    } else if (via) {
        push(&l, via);
    } else if (strncmp(model, "combo/", 6) == 0) {
        e = or_fail(eb, OR_EINVAL, "The model `%.100s` does not exist: no combo named `%.100s`",
                    model, model + 6);
    } else if (!is_target(model) || strlen(model) >= STEP_LEN) {
        e = or_fail(eb, OR_EINVAL,
                    "The model `%.100s` does not exist: use provider/model (for example "
                    "openai/gpt-4o-mini), a combo name or an alias",
                    model);
    } else {
        push(&l, model);
    }
    if (e == OR_OK)
        e = append_chain(&r, model, &l);
    if (e == OR_OK && resolved && strcmp(resolved, model) != 0)
        e = append_chain(&r, resolved, &l);
    if (r.locked)
        pthread_mutex_unlock(&st->mu);
    if (e == OR_ENOMEM)
        return or_fail(eb, e, "out of memory resolving `%.100s`", model);
    if (e != OR_OK)
        return e;
    if (!l.n)
        return or_fail(eb, OR_EINVAL, "The model `%.100s` (combo `%.100s`) has no usable targets",
                       model, out->combo);
    for (size_t i = 0; i < l.n; i++)
        strcpy(out->steps[i].model, l.v[i]); /* push() checked the length */
    out->n = l.n;
    return OR_OK;
}

/* ---- write-time check of the combo graph ---- */

enum { WHITE, GRAY, BLACK };

typedef struct {
    const json_t *combos;
    size_t n;
    unsigned char *color;
    size_t *height; /* combos on the longest path down from here, this one included */
    size_t path[OR_PLAN_MAX_DEPTH + 1];
    size_t plen;
    or_errbuf *eb;
} checker;

static size_t index_of(const checker *k, const json_t *c)
{
    for (size_t i = 0; i < k->n; i++)
        if (json_array_get(k->combos, i) == c)
            return i;
    return SIZE_MAX;
}

static void add_name(char *msg, size_t cap, size_t *len, const checker *k, size_t i)
{
    const char *n = name_of(json_array_get(k->combos, i));
    int w = snprintf(msg + *len, cap - *len, "%s%s", *len ? " → " : "", n ? n : "?");
    if (w > 0)
        *len = *len + (size_t)w < cap ? *len + (size_t)w : cap - 1;
}

/* The child of i on its longest path down (height[i] - 1), or SIZE_MAX. */
static size_t tallest_child(const checker *k, size_t i)
{
    size_t idx;
    const json_t *step;
    json_array_foreach(json_object_get(json_array_get(k->combos, i), "models"), idx, step)
    {
        size_t j = index_of(k, or_plan_find_combo(k->combos, step_model(step)));
        if (j != SIZE_MAX && k->color[j] == BLACK && k->height[j] + 1 == k->height[i])
            return j;
    }
    return SIZE_MAX;
}

/* The path so far, then (down != SIZE_MAX) the longest path down from `down`. */
static or_err too_deep(checker *k, size_t down)
{
    char msg[200];
    size_t len = 0, names = 0;
    msg[0] = '\0';
    for (size_t i = 0; i < k->plen; i++, names++)
        add_name(msg, sizeof msg, &len, k, k->path[i]);
    for (size_t j = down; j != SIZE_MAX && names <= OR_PLAN_MAX_DEPTH; names++) {
        add_name(msg, sizeof msg, &len, k, j);
        j = tallest_child(k, j);
    }
    return or_fail(k->eb, OR_EINVAL, "models: combos nest deeper than %d levels: %s",
                   OR_PLAN_MAX_DEPTH, msg);
}

static or_err visit(checker *k, size_t i)
{
    or_err e = OR_OK;
    k->path[k->plen++] = i;
    if (k->plen > OR_PLAN_MAX_DEPTH) {
        e = too_deep(k, SIZE_MAX);
        goto out;
    }
    k->color[i] = GRAY;
    size_t h = 0, idx;
    const json_t *step;
    json_array_foreach(json_object_get(json_array_get(k->combos, i), "models"), idx, step)
    {
        size_t j = index_of(k, or_plan_find_combo(k->combos, step_model(step)));
        if (j == SIZE_MAX)
            continue;
        if (k->color[j] == GRAY) {
            char msg[200];
            size_t len = 0, from = 0;
            msg[0] = '\0';
            while (k->path[from] != j)
                from++;
            for (; from < k->plen; from++)
                add_name(msg, sizeof msg, &len, k, k->path[from]);
            add_name(msg, sizeof msg, &len, k, j);
            e = or_fail(k->eb, OR_EINVAL, "models: combo cycle %s", msg);
            goto out;
        }
        if (k->color[j] == WHITE && (e = visit(k, j)) != OR_OK)
            goto out;
        if (k->plen + k->height[j] > OR_PLAN_MAX_DEPTH) {
            e = too_deep(k, j);
            goto out;
        }
        if (k->height[j] > h)
            h = k->height[j];
    }
    k->height[i] = h + 1;
    k->color[i] = BLACK;
out:
    k->plen--;
    return e;
}

or_err or_plan_check_combos(const json_t *combos, const char *first, or_errbuf *eb)
{
    checker k = {.combos = combos, .n = json_array_size(combos), .eb = eb};
    if (!k.n)
        return OR_OK;
    or_err e = OR_OK;
    k.color = calloc(k.n, sizeof *k.color);
    k.height = calloc(k.n, sizeof *k.height);
    if (!k.color || !k.height) {
        e = or_fail(eb, OR_ENOMEM, "out of memory checking combos");
        goto out;
    }
    size_t start = first ? index_of(&k, combo_named(combos, first)) : SIZE_MAX;
    if (start != SIZE_MAX && (e = visit(&k, start)) != OR_OK)
        goto out;
    for (size_t i = 0; i < k.n; i++)
        if (k.color[i] == WHITE && (e = visit(&k, i)) != OR_OK)
            goto out;
out:
    free(k.color);
    free(k.height);
    return e;
}
