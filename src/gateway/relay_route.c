/* relay_route.c — a plan step's provider and candidate accounts, the breaker check, the
 * account strategy's pick, and the connection's request limits. */
#include "gateway/relay_internal.h"

#include "core/clock.h"

#include <stdio.h>
#include <string.h>

/* The step's provider and its active connections; false (and the reason kept) to skip it. */
bool or_relay__prepare_step(relay *c)
{
    or_errbuf eb = {{0}};
    const char *model = c->plan.steps[c->step].model;
    if (or_target_provider(c->snap, model, &c->t, &eb) != OR_OK) {
        c->last_status = c->last_status ? c->last_status : 404;
        snprintf(c->last_msg, sizeof c->last_msg, "%s", eb.msg);
        return false;
    }
    c->ncands = 0;
    for (size_t i = 0; i < c->snap->nconns && c->ncands < MAX_CANDIDATES; i++) {
        const or_conn *k = &c->snap->conns[i];
        if (k->active && strcmp(k->provider, c->t.provider->id) == 0) {
            c->excluded[c->ncands] = false;
            c->cands[c->ncands++] = i;
        }
    }
    if (c->ncands == 0) {
        snprintf(c->last_msg, sizeof c->last_msg,
                 "No active connection for provider `%.100s` (model `%.255s`): add one in the "
                 "dashboard or with POST /api/providers",
                 c->t.provider->id, model);
        if (!c->last_pf)
            c->last_status = 503;
        return false;
    }
    uint64_t tok = 0;
    or_breaker_verdict v = or_breaker_allow(c->rt->res.breakers, c->t.provider->id, &tok);
    if (v == OR_BREAKER_DENY) {
        snprintf(c->last_msg, sizeof c->last_msg,
                 "provider `%s` is failing (circuit open); try again later", c->t.provider->id);
        if (!c->last_pf)
            c->last_status = 503;
        return false;
    }
    c->probe_tok = tok;
    return true;
}

/* An account of the step's provider, by the configured account strategy, at wall time now (ms):
 * the caller's one clock read serves the cooldowns, the strategy and the last-use mark, which
 * all happen within the same synchronous step. */
bool or_relay__pick_account(relay *c, int64_t now)
{
    or_account_info info[MAX_CANDIDATES];
    const char *ids[MAX_CANDIDATES];
    int64_t used[MAX_CANDIDATES];
    unsigned streaks[MAX_CANDIDATES];
    char model[256];
    or_relay__copy_str(model, sizeof model, c->t.model, c->t.model_len);
    for (size_t i = 0; i < c->ncands; i++)
        ids[i] = c->snap->conns[c->cands[i]].id;
    or_account_rr *rr =
        or_routing_accounts(c->rt, c->t.provider->id, ids, c->ncands, used, streaks);
    for (size_t i = 0; i < c->ncands; i++) {
        const or_conn *k = &c->snap->conns[c->cands[i]];
        or_cooldown_info ci = {0};
        or_cooldown_peek_at(c->rt->res.cooldowns, c->t.provider->id, k->id, model, now, &ci);
        info[i] = (or_account_info){
            .priority = k->priority,
            .last_used_ms = used[i],
            .cooldown_until = ci.until,
            .backoff_level = ci.level,
            .last_error_status = ci.status,
            .consecutive_uses = streaks[i],
            .quota_headroom = -1,
            .excluded = c->excluded[i],
        };
    }
    json_t *st = json_object_get(c->snap->settings, "fallbackStrategy");
    json_t *sticky = json_object_get(c->snap->settings, "stickyRoundRobinLimit");
    const or_account_strategy *s = or_account_find(json_string_value(st));
    if (!s)
        s = or_account_find(NULL);
    or_account_ctx ctx = {
        .accounts = info,
        .n = c->ncands,
        .now_ms = now,
        .sticky_limit = json_is_integer(sticky) ? (unsigned)json_integer_value(sticky) : 0,
        .rr = rr,
    };
    size_t pick = s->pick(&ctx);
    if (pick == OR_ACCOUNT_NONE) {
        int64_t free_at = or_account_next_free_at(&ctx);
        if (free_at > now && !c->last_pf) {
            snprintf(c->last_retry, sizeof c->last_retry, "%lld",
                     (long long)((free_at - now + 999) / 1000));
            snprintf(c->last_msg, sizeof c->last_msg,
                     "every account of `%s` is cooling down (rate limited or failing)",
                     c->t.provider->id);
            c->last_status = 429;
        }
        return false;
    }
    c->cand = pick;
    c->t.conn = &c->snap->conns[c->cands[pick]];
    or_routing_picked(c->rt, c->t.provider->id, c->t.conn->id);
    return true;
}

/* A connection's request limits, from providerSpecificData.limits {rpm, minGapMs,
 * maxConcurrent, maxQueue, maxWaitMs}; applied when they differ from what the limiter has. */
void or_relay__configure_limits(relay *c)
{
    const json_t *l = json_object_get(c->t.conn->psd, "limits");
    if (!json_is_object(l))
        return;
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {
        {"rpm", offsetof(or_limiter_conf, rpm)},
        {"minGapMs", offsetof(or_limiter_conf, min_gap_ms)},
        {"maxConcurrent", offsetof(or_limiter_conf, max_concurrent)},
        {"maxQueue", offsetof(or_limiter_conf, max_queue)},
        {"maxWaitMs", offsetof(or_limiter_conf, max_wait_ms)},
    };
    or_limiter_conf want = {.max_queue = 20, .max_wait_ms = 30000}, have;
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(l, fields[i].key);
        if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) <= 0x7fffffff)
            *(uint32_t *)((char *)&want + fields[i].off) = (uint32_t)json_integer_value(v);
    }
    if (want.max_queue > OR_LIMITER_QUEUE_MAX)
        want.max_queue = OR_LIMITER_QUEUE_MAX;
    if (!or_limiter_get_conf(c->rt->res.limiters, c->t.conn->id, &have) ||
        memcmp(&have, &want, sizeof want) != 0)
        or_limiter_configure(c->rt->res.limiters, c->t.conn->id, &want);
}
