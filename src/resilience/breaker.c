#include "resilience/breaker.h"

#include "core/clock.h"
#include "resilience/keymap.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* Defaults after the original's PROVIDER_PROFILES; the cap is its 16x escalation limit. */
static const or_breaker_profile defaults[OR_BREAKER_KIND_COUNT] = {
    [OR_BREAKER_APIKEY] = {12, 30000, 30000, 16 * 30000, 120000},
    [OR_BREAKER_OAUTH] = {8, 60000, 60000, 16 * 60000, 120000},
    [OR_BREAKER_LOCAL] = {2, 15000, 15000, 16 * 15000, 60000},
};

static const char *const kind_names[OR_BREAKER_KIND_COUNT] = {"apikey", "oauth", "local"};
static const char *const state_names[] = {"CLOSED", "OPEN", "HALF_OPEN"};

typedef struct {
    or_breaker_kind kind;
    or_breaker_state state;
    int64_t fail_at[OR_BREAKER_MAX_THRESHOLD]; /* ring of recent failure times, oldest first */
    unsigned first, nfail;
    int64_t opened_at, next_probe_at, last_failure_at;
    uint32_t cooldown_ms; /* of the current/last open */
    unsigned trips;       /* opens since the last close */
    uint64_t probe_token; /* 0: no probe out */
    int64_t probe_started;
    bool dirty; /* counted in reg->ndirty (settle()) */
} brk;

struct or_breaker_reg {
    pthread_mutex_t mu;
    or_keymap map;
    or_breaker_profile prof[OR_BREAKER_KIND_COUNT];
    uint64_t next_token;
    /* Entries that are not CLOSED with no failure counted, kept by settle() with mu held. At 0
     * (the usual case) allow() answers ALLOW and a success or neutral report changes nothing,
     * so both return without the mutex or a lookup. */
    _Atomic size_t ndirty;
};

or_breaker_reg *or_breaker_new(void)
{
    or_breaker_reg *reg = calloc(1, sizeof *reg);
    if (!reg)
        return NULL;
    pthread_mutex_init(&reg->mu, NULL);
    or_keymap_init(&reg->map, sizeof(brk));
    memcpy(reg->prof, defaults, sizeof defaults);
    return reg;
}

void or_breaker_free(or_breaker_reg *reg)
{
    if (!reg)
        return;
    or_keymap_free(&reg->map);
    pthread_mutex_destroy(&reg->mu);
    free(reg);
}

const char *or_breaker_kind_name(or_breaker_kind k)
{
    return (unsigned)k < OR_BREAKER_KIND_COUNT ? kind_names[k] : "apikey";
}

int or_breaker_kind_from_name(const char *name)
{
    for (int k = 0; name && k < OR_BREAKER_KIND_COUNT; k++)
        if (strcmp(name, kind_names[k]) == 0)
            return k;
    return -1;
}

const char *or_breaker_state_name(or_breaker_state s)
{
    return (unsigned)s <= OR_BREAKER_HALF_OPEN ? state_names[s] : "CLOSED";
}

const or_breaker_profile *or_breaker_profile_default(or_breaker_kind k)
{
    return &defaults[(unsigned)k < OR_BREAKER_KIND_COUNT ? k : OR_BREAKER_APIKEY];
}

or_err or_breaker_set_profile(or_breaker_reg *reg, or_breaker_kind k, const or_breaker_profile *p)
{
    if ((unsigned)k >= OR_BREAKER_KIND_COUNT || !p || p->threshold < 1 ||
        p->threshold > OR_BREAKER_MAX_THRESHOLD || !p->window_ms || !p->cooldown_ms ||
        p->max_cooldown_ms < p->cooldown_ms || !p->probe_timeout_ms)
        return OR_EINVAL;
    pthread_mutex_lock(&reg->mu);
    reg->prof[k] = *p;
    pthread_mutex_unlock(&reg->mu);
    return OR_OK;
}

void or_breaker_get_profile(or_breaker_reg *reg, or_breaker_kind k, or_breaker_profile *out)
{
    pthread_mutex_lock(&reg->mu);
    *out = reg->prof[(unsigned)k < OR_BREAKER_KIND_COUNT ? k : OR_BREAKER_APIKEY];
    pthread_mutex_unlock(&reg->mu);
}

/* ---- the state machine; called with the mutex held ---- */

/* After any change to b: keeps reg->ndirty in step with the entries that need the slow path. */
static void settle(or_breaker_reg *reg, brk *b)
{
    bool dirty = b->state != OR_BREAKER_CLOSED || b->nfail;
    if (dirty == b->dirty)
        return;
    b->dirty = dirty;
    if (dirty)
        atomic_fetch_add_explicit(&reg->ndirty, 1, memory_order_release);
    else
        atomic_fetch_sub_explicit(&reg->ndirty, 1, memory_order_release);
}

static bool all_clean(or_breaker_reg *reg)
{
    return atomic_load_explicit(&reg->ndirty, memory_order_acquire) == 0;
}

static void close_brk(brk *b)
{
    or_breaker_kind kind = b->kind;
    bool dirty = b->dirty; /* settle() accounts for the change */
    memset(b, 0, sizeof *b);
    b->kind = kind;
    b->dirty = dirty;
}

static void prune(brk *b, const or_breaker_profile *p, int64_t now)
{
    while (b->nfail && b->fail_at[b->first] < now - (int64_t)p->window_ms) {
        b->first = (b->first + 1) % OR_BREAKER_MAX_THRESHOLD;
        b->nfail--;
    }
}

static void open_brk(brk *b, int64_t now, uint32_t cooldown)
{
    b->state = OR_BREAKER_OPEN;
    b->opened_at = now;
    b->cooldown_ms = cooldown;
    b->next_probe_at = now + cooldown;
    b->trips++;
    b->probe_token = 0;
}

static void count_failure(brk *b, const or_breaker_profile *p, int64_t now)
{
    prune(b, p, now);
    if (b->nfail == OR_BREAKER_MAX_THRESHOLD) {
        b->first = (b->first + 1) % OR_BREAKER_MAX_THRESHOLD;
        b->nfail--;
    }
    b->fail_at[(b->first + b->nfail) % OR_BREAKER_MAX_THRESHOLD] = now;
    b->nfail++;
    if (b->nfail >= p->threshold)
        open_brk(b, now, p->cooldown_ms);
}

static uint32_t doubled(uint32_t ms, uint32_t cap)
{
    return ms >= cap / 2 ? cap : ms * 2;
}

or_err or_breaker_set_kind(or_breaker_reg *reg, const char *id, or_breaker_kind k)
{
    if (!id || (unsigned)k >= OR_BREAKER_KIND_COUNT)
        return OR_EINVAL;
    pthread_mutex_lock(&reg->mu);
    brk *b = or_keymap_put(&reg->map, id, NULL);
    if (b)
        b->kind = k;
    pthread_mutex_unlock(&reg->mu);
    return b ? OR_OK : OR_ENOMEM;
}

or_breaker_verdict or_breaker_allow(or_breaker_reg *reg, const char *id, uint64_t *probe_token)
{
    or_breaker_verdict v = OR_BREAKER_ALLOW;
    uint64_t token = 0;
    if (all_clean(reg)) { /* every breaker is closed: ALLOW, as the lookup below would say */
        if (probe_token)
            *probe_token = 0;
        return v;
    }
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    brk *b = or_keymap_get(&reg->map, id); /* no entry: never failed, nothing to record yet */
    if (!b || b->state == OR_BREAKER_CLOSED)
        goto out;
    const or_breaker_profile *p = &reg->prof[b->kind];
    bool probe_lost =
        b->state == OR_BREAKER_HALF_OPEN && now - b->probe_started >= (int64_t)p->probe_timeout_ms;
    bool due = b->state == OR_BREAKER_OPEN && now >= b->next_probe_at;
    if (!due && !probe_lost && b->state == OR_BREAKER_OPEN) {
        v = OR_BREAKER_DENY;
    } else if (b->state == OR_BREAKER_HALF_OPEN && b->probe_token && !probe_lost) {
        v = OR_BREAKER_DENY;
    } else {
        b->state = OR_BREAKER_HALF_OPEN;
        b->probe_token = token = ++reg->next_token;
        b->probe_started = now;
        v = OR_BREAKER_PROBE;
        settle(reg, b);
    }
out:
    pthread_mutex_unlock(&reg->mu);
    if (probe_token)
        *probe_token = token;
    return v;
}

void or_breaker_report(or_breaker_reg *reg, const char *id, or_breaker_outcome outcome,
                       uint64_t probe_token)
{
    /* Clean breakers: a success has no failure to forgive and no probe to close. */
    if (outcome != OR_BREAKER_FAILURE && all_clean(reg))
        return;
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    brk *b = outcome == OR_BREAKER_FAILURE ? or_keymap_put(&reg->map, id, NULL)
                                           : or_keymap_get(&reg->map, id);
    if (!b)
        goto out;
    const or_breaker_profile *p = &reg->prof[b->kind];
    switch (b->state) {
    case OR_BREAKER_CLOSED:
        if (outcome == OR_BREAKER_FAILURE) {
            b->last_failure_at = now;
            count_failure(b, p, now);
        } else if (outcome == OR_BREAKER_SUCCESS && b->nfail) {
            b->nfail--; /* the newest failure is forgiven */
        }
        break;
    case OR_BREAKER_OPEN:
        /* Requests let through before it opened: their news is older than the decision. */
        break;
    case OR_BREAKER_HALF_OPEN:
        if (!probe_token || probe_token != b->probe_token)
            break; /* only the probe speaks for the provider now */
        if (outcome == OR_BREAKER_SUCCESS) {
            close_brk(b);
        } else if (outcome == OR_BREAKER_FAILURE) {
            b->last_failure_at = now;
            open_brk(b, now,
                     doubled(b->cooldown_ms ? b->cooldown_ms : p->cooldown_ms, p->max_cooldown_ms));
        } else {
            b->probe_token = 0; /* free the slot: the next request probes */
        }
        break;
    }
    settle(reg, b);
out:
    pthread_mutex_unlock(&reg->mu);
}

or_breaker_state or_breaker_state_of(or_breaker_reg *reg, const char *id, int64_t *next_probe_at)
{
    int64_t now = or_clock_wall_ms(), at = 0;
    or_breaker_state s = OR_BREAKER_CLOSED;
    pthread_mutex_lock(&reg->mu);
    brk *b = or_keymap_get(&reg->map, id);
    if (b) {
        s = b->state;
        if (s == OR_BREAKER_OPEN) {
            at = b->next_probe_at;
            if (now >= at)
                s = OR_BREAKER_HALF_OPEN;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    if (next_probe_at)
        *next_probe_at = at;
    return s;
}

void or_breaker_reset(or_breaker_reg *reg, const char *id)
{
    pthread_mutex_lock(&reg->mu);
    if (id) {
        brk *b = or_keymap_get(&reg->map, id);
        if (b) {
            close_brk(b);
            settle(reg, b);
        }
    } else {
        or_keymap_iter it = {0};
        brk *b;
        while ((b = or_keymap_next(&reg->map, &it, NULL))) {
            close_brk(b);
            settle(reg, b);
        }
    }
    pthread_mutex_unlock(&reg->mu);
}

/* ---- persistence ---- */

static json_t *time_or_null(int64_t t)
{
    return t ? json_integer(t) : json_null();
}

json_t *or_breaker_export(or_breaker_reg *reg)
{
    json_t *root = json_object();
    if (!root)
        return NULL;
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    or_keymap_iter it = {0};
    const char *id;
    brk *b;
    while ((b = or_keymap_next(&reg->map, &it, &id))) {
        prune(b, &reg->prof[b->kind], now);
        settle(reg, b);
        or_breaker_state s = b->state;
        if (s == OR_BREAKER_OPEN && now >= b->next_probe_at)
            s = OR_BREAKER_HALF_OPEN;
        json_t *e =
            json_pack("{s:s, s:s, s:I, s:o, s:o, s:I, s:I, s:o}", "state", or_breaker_state_name(s),
                      "kind", or_breaker_kind_name(b->kind), "failures", (json_int_t)b->nfail,
                      "opened_at", time_or_null(b->opened_at), "next_probe_at",
                      time_or_null(b->state == OR_BREAKER_CLOSED ? 0 : b->next_probe_at),
                      "cooldown_ms", (json_int_t)b->cooldown_ms, "trips", (json_int_t)b->trips,
                      "last_failure_at", time_or_null(b->last_failure_at));
        if (!e || json_object_set_new(root, id, e) != 0) {
            json_decref(root);
            root = NULL;
            break;
        }
    }
    pthread_mutex_unlock(&reg->mu);
    return root;
}

static int64_t int_or_zero(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_integer(v) && json_integer_value(v) > 0 ? (int64_t)json_integer_value(v) : 0;
}

static bool parse_entry(const json_t *e, const or_breaker_profile *prof, int64_t now, brk *out)
{
    const char *st = json_string_value(json_object_get(e, "state"));
    int kind = or_breaker_kind_from_name(json_string_value(json_object_get(e, "kind")));
    int state = -1;
    for (int s = 0; st && s <= OR_BREAKER_HALF_OPEN; s++)
        if (strcmp(st, state_names[s]) == 0)
            state = s;
    if (state < 0)
        return false;
    memset(out, 0, sizeof *out);
    out->kind = kind < 0 ? OR_BREAKER_APIKEY : (or_breaker_kind)kind;
    const or_breaker_profile *p = &prof[out->kind];
    out->last_failure_at = int_or_zero(e, "last_failure_at");
    out->trips = (unsigned)(int_or_zero(e, "trips") & 0xffff);
    int64_t cd = int_or_zero(e, "cooldown_ms");
    out->cooldown_ms = cd ? (uint32_t)(cd > p->max_cooldown_ms ? p->max_cooldown_ms : cd) : 0;
    if (state == OR_BREAKER_CLOSED) {
        int64_t n = int_or_zero(e, "failures");
        int64_t at = out->last_failure_at ? out->last_failure_at : now;
        n = n >= p->threshold ? p->threshold - 1 : n; /* closed means below the threshold */
        for (int64_t i = 0; i < n; i++)
            out->fail_at[i] = at;
        out->nfail = (unsigned)n;
        out->cooldown_ms = 0;
        out->trips = 0;
        return true;
    }
    out->state = OR_BREAKER_OPEN;
    out->opened_at = int_or_zero(e, "opened_at");
    out->next_probe_at = int_or_zero(e, "next_probe_at");
    if (!out->cooldown_ms)
        out->cooldown_ms = p->cooldown_ms;
    if (!out->trips)
        out->trips = 1;
    /* A HALF_OPEN's probe died with the old process; a far-future time is not trusted. */
    if (state == OR_BREAKER_HALF_OPEN || !out->next_probe_at ||
        out->next_probe_at > now + (int64_t)p->max_cooldown_ms)
        out->next_probe_at = state == OR_BREAKER_HALF_OPEN || !out->next_probe_at
                                 ? now
                                 : now + (int64_t)p->max_cooldown_ms;
    return true;
}

or_err or_breaker_import(or_breaker_reg *reg, const json_t *state, or_errbuf *eb)
{
    or_err rc = OR_OK;
    if (!json_is_object(state))
        return or_fail(eb, OR_EINVAL, "breaker state: not an object");
    int64_t now = or_clock_wall_ms();
    pthread_mutex_lock(&reg->mu);
    const char *id;
    json_t *e;
    json_object_foreach((json_t *)state, id, e)
    {
        brk parsed;
        if (!json_is_object(e) || !parse_entry(e, reg->prof, now, &parsed))
            continue;
        if (strlen(id) > OR_KEYMAP_KEY_MAX)
            continue;
        bool created;
        brk *b = or_keymap_put(&reg->map, id, &created);
        if (!b) {
            rc = or_fail(eb, OR_ENOMEM, "breaker state: out of memory");
            goto out;
        }
        if (!created) /* the kind configured in this process wins over the saved one */
            parsed.kind = b->kind;
        parsed.dirty = b->dirty;
        *b = parsed;
        settle(reg, b);
    }
out:
    pthread_mutex_unlock(&reg->mu);
    return rc;
}
