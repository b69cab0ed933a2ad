/*
 * relay_internal.h — the relay's private state, shared by its files: relay.c (the attempt loop
 * and the reply side), relay_build.c (building an attempt's body and headers) and
 * relay_route.c (choosing the step's provider and account). Worker thread only.
 */
#ifndef OR_GATEWAY_RELAY_INTERNAL_H
#define OR_GATEWAY_RELAY_INTERNAL_H

#include "gateway/relay.h"
#include "gateway/routing.h"
#include "gateway/sse_events.h"
#include "gateway/sse_lines.h"
#include "gateway/target.h"
#include "ops/ops.h"

#define MAX_REPLY_BYTES (64u * 1024 * 1024) /* a non-stream reply is kept whole to read it */
#define MAX_HELD_BYTES (1024u * 1024)       /* stream bytes held before the first token */
#define SPARE_BUF_MAX (16u * 1024)
#define RELAY_KEPT_BUFS(c)                                                                         \
    {                                                                                              \
        &(c)->url, &(c)->reply, &(c)->out                                                          \
    } /* kept by a recycled relay */ /* a recycled relay keeps buffers up to this size */
#define MAX_SSE_EVENT (8u * 1024 * 1024)
#define MAX_UP_HEADERS 16
#define MAX_CANDIDATES 64

/* Timeouts and bounds, read from the environment once (relay.c). */
typedef struct {
    unsigned connect_ms, first_byte_ms, idle_ms, first_token_ms, budget_ms, max_attempts;
} or_relay_limits;
extern or_relay_limits or_relay__limits;

typedef struct relay relay;

typedef struct {
    uv_timer_t t;
    relay *owner; /* NULL once the relay is gone; the timer frees itself when closed */
} token_timer;

struct relay {
    /* ---- the request ---- */
    or_http_req *req;
    or_worker_ctx *wc; /* the worker it runs on (req may be gone before the relay ends) */
    or_ops_req ops;    /* what ops/ needs from req, copied at start: record() may outlive req */
    or_app *app;
    or_routing *rt;
    const or_fmt *cf;
    or_fmt_opts copts;
    char client_model[256];
    json_t *root;
    bool stream, model_in_body, body_not_raw;
    const char *path;
    or_snapshot *snap;
    size_t step;
    bool step_ready;
    size_t cands[MAX_CANDIDATES]; /* indices into snap->conns of the step's provider */
    bool excluded[MAX_CANDIDATES];
    size_t ncands;
    uint64_t probe_tok;
    uint64_t t0, deadline;
    unsigned attempts;
    or_usage_row row;
    /* why nothing answered, if nothing does: the last failed attempt's reply */
    int last_status;
    char last_msg[600];
    char last_ctype[128];
    char last_retry[64];
    or_buf last_body;
    const or_fmt *last_pf;
    /* ---- the current attempt ---- */
    or_target t;
    size_t cand;
    const or_fmt *pf;
    bool translate;
    or_up_req *up;
    char *body;
    size_t body_len;
    char *auth; /* wiped on free */
    char *extra;
    or_up_header hdrs[MAX_UP_HEADERS];
    size_t nhdrs;
    int up_status;
    char up_ctype[128];
    char retry_after[64];
    or_retry_after ra;
    bool stream_ok; /* a 2xx stream head arrived */
    bool committed; /* bytes reached the client: no more fallback */
    bool content;   /* the attempt produced its first content event */
    bool ir_failed; /* the upstream reported an error in-stream before any content */
    int ir_status;
    char ir_msg[200];
    or_buf held;
    or_sse_lines lines;
    or_sse_events events;
    or_fmt_dec *dec;
    or_fmt_enc *enc;
    json_t *evs;
    bool enc_done;
    struct {
        long index;
        char id[64];
    } calls[16]; /* a Gemini stream's tool calls by IR index, for their signatures (sigcache.h) */
    size_t ncalls;
    token_timer *timer;
    or_limiter_ticket ticket; /* the connection's request-limit slot (resilience/limiter.h) */
    int busy;
    bool dead;

    /* Left out of the zeroing at start (or_relay_start), so keep them last. The buffers a
     * recycled relay keeps (RELAY_KEPT_BUFS: set up when it is first allocated, emptied when
     * it is parked), then the 8 KB plan, which or_plan_resolve fills. */
    or_buf url;
    or_buf reply;
    or_buf out;
    or_plan plan;
};

/* relay_build.c */
json_t *or_relay__root(relay *c);
or_err or_relay__splice_model(relay *c, const or_buf *raw);
or_err or_relay__serialize_body(relay *c);
or_err or_relay__translate_body(relay *c, or_errbuf *eb);
or_err or_relay__build_headers(relay *c);
void or_relay__copy_str(char *dst, size_t cap, const char *src, size_t n);

/* relay_route.c */
bool or_relay__prepare_step(relay *c);
bool or_relay__pick_account(relay *c, int64_t now_wall);
void or_relay__configure_limits(relay *c);

#endif
