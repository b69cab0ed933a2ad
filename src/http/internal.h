/*
 * internal.h — private structures of the HTTP layer, shared by server.c (listeners, workers,
 * shutdown), conn.c (reading, parsing, limits, timers) and respond.c (writing replies).
 * Everything here lives on one worker thread; nothing is locked.
 */
#ifndef OR_HTTP_INTERNAL_H
#define OR_HTTP_INTERNAL_H

#include "http/http.h"

#include <llhttp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

typedef struct conn conn;

struct or_http_worker {
    or_http_server *srv;
    int index;
    pthread_t thread;
    uv_loop_t loop;
    uv_tcp_t listener;
    int listen_fd;
    uv_async_t wake;        /* server → worker: start draining */
    uv_timer_t grace_timer; /* drain deadline */
    bool draining;
    void *wdata;
    conn *conns; /* intrusive list of live connections */
    size_t nconns;
    int64_t date_sec; /* cached Date header for this second */
    char date[40];
};

struct or_http_server {
    or_http_config cfg;
    or_http_app app;
    int port;
    int nworkers;
    or_http_worker *workers;
    atomic_bool stop_requested;
    pthread_mutex_t lock;
    pthread_cond_t cond;
};

/* One header of a request, as offsets into or_http_req.hdr (NUL-terminated there). */
typedef struct {
    uint32_t name_off;
    uint32_t value_off;
} hdr_ref;

struct or_http_req {
    conn *c; /* NULL once the connection is gone while the handler still holds the request */
    or_http_worker *w;
    or_buf url; /* raw target, then split into path (NUL at '?') and query */
    size_t query_off;
    bool has_query;
    char method[16];
    or_buf hdr; /* header names and values, NUL-terminated each */
    hdr_ref *hdrs;
    size_t nhdrs, hdrs_cap;
    or_buf body;
    uint64_t start_ms;
    bool accepted;   /* on_head said yes */
    bool dispatched; /* on_request called */
    bool responded;  /* status line written */
    bool streaming;
    bool finished; /* response complete */
    bool aborted;  /* client gone before the handler finished */
    bool want_drain;
    or_http_stream_cb cb;
    void *cb_ud;
    void *ud;
};

enum conn_state {
    CONN_IDLE,    /* between requests */
    CONN_HEAD,    /* request head in progress */
    CONN_BODY,    /* body in progress */
    CONN_HANDLER, /* request dispatched, response not finished */
    CONN_CLOSING,
};

struct conn {
    uv_tcp_t tcp;
    uv_timer_t timer; /* armed lazily for `due` (conn.c or_http__timer_arm) */
    uint64_t due;     /* loop time the current state's deadline falls at; 0: none */
    uint64_t armed_for;
    bool armed;
    uv_shutdown_t shutdown;
    or_http_worker *w;
    conn *prev, *next;
    llhttp_t parser;
    enum conn_state state;
    or_http_req *req;
    or_http_req *spare; /* the last finished request, kept for the next one (conn.c) */
    or_buf pending;     /* bytes read while a request is being handled (pipelining) */
    size_t head_bytes;
    size_t body_window_bytes;
    uint64_t head_deadline;
    size_t queued; /* bytes handed to uv_write and not yet written */
    int handles_open;
    bool keep_alive;
    bool reading;
    bool close_after;
    bool closed; /* uv_close issued */
    bool peer_gone;
    bool in_parse;
    /* chunk framing check (conn.c on_chunk_complete) */
    const char *exec_base; /* buffer of the current llhttp_execute */
    const char *exec_end;
    uint64_t exec_seq;    /* counts llhttp_execute calls */
    const char *body_end; /* just past the last body byte, valid while body_end_seq matches */
    uint64_t body_end_seq;
    bool chunk_has_data;
    char carry[2]; /* bytes after chunk data seen in an earlier buffer */
    int ncarry;
    /* obs-fold detection (conn.c on_header_value) */
    bool value_open;
    bool value_at_buf_end;
    const char *value_end;
    uint64_t value_seq; /* inside llhttp_execute: callbacks must not re-enter the parser */
    char peer[48];
};

/* conn.c */
void or_http__conn_accept(or_http_worker *w);
void or_http__conn_close(conn *c);
void or_http__conn_finish_request(conn *c);
void or_http__conn_drain(or_http_worker *w, bool force);
void or_http__req_free(or_http_req *r);
/* The connection's one deadline: what happens when it passes depends on the state then
 * (idle or closing: close; head: 408; body: the rate check). Stop only forgets it. */
void or_http__timer_arm(conn *c, unsigned ms);
void or_http__timer_stop(conn *c);

/* server.c */
void or_http__worker_conn_gone(or_http_worker *w);

/* respond.c */
void or_http__write(conn *c, const void *p, size_t n);
void or_http__simple_reply(conn *c, int status, const char *body);
const char *or_http__date(or_http_worker *w);

#endif
