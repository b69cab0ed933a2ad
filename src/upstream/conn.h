/*
 * conn.h — one outbound connection of the upstream client, as a plaintext byte pipe.
 *
 * Opening walks the legs a connection may need, in order: DNS (skipped for IP literals), TCP,
 * TLS to an https proxy, the proxy's tunnel (HTTP CONNECT or SOCKS5, names resolved by the
 * proxy), TLS to the origin. Then on_ready fires and the owner writes requests and reads the
 * origin's plaintext. An http:// origin behind an http(s) proxy gets no tunnel: the owner sends
 * absolute-form requests (or_upconn_forwarding) and the proxy forwards them.
 *
 * Ownership: upstream.c owns every connection and rebinds it as it moves between a request and
 * the idle pool. Events go to whoever is bound. Deadlines are the owner's: a connection never
 * times anything out itself.
 *
 * Re-entrancy: events are never raised from inside or_upconn_write / pause / close. resume may
 * deliver held data (on_data) before it returns. An owner may close the connection from inside
 * any event; nothing is raised after close and the memory is released once libuv lets go.
 *
 * Thread: the loop's thread only. Credentials from the proxy URL are wiped at close.
 */
#ifndef OR_UPSTREAM_CONN_H
#define OR_UPSTREAM_CONN_H

#include "core/err.h"
#include "upstream/upstream.h"
#include "upstream/url.h"

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct or_upconn or_upconn;

typedef struct {
    /* Every leg is up; writes may begin. */
    void (*on_ready)(void *ud);
    /* Plaintext from the origin. Returns the bytes taken; taking fewer than n pauses the
     * connection, and the rest is offered again after or_upconn_resume. */
    size_t (*on_data)(void *ud, const char *p, size_t n);
    /* The connection is over: OR_UP_OK for an orderly end of stream, else why it failed.
     * Nothing is raised after this; the owner still closes it. */
    void (*on_end)(void *ud, or_up_result res, const char *detail);
} or_upconn_events;

/* Starts opening. origin and proxy (NULL = direct) are copied. Failures after this call
 * arrive as on_end. */
or_err or_upconn_open(uv_loop_t *loop, const or_url *origin, const or_url *proxy,
                      const or_upconn_events *ev, void *ud, or_upconn **out, or_errbuf *eb);
void or_upconn_bind(or_upconn *c, const or_upconn_events *ev, void *ud);

/* Sends plaintext; the buffers may be reused as soon as this returns. A failure is reported
 * later through on_end. */
void or_upconn_write(or_upconn *c, const uv_buf_t *bufs, unsigned nbufs);

void or_upconn_pause(or_upconn *c);
void or_upconn_resume(or_upconn *c);
void or_upconn_close(or_upconn *c);
/* Gives back buffer memory a connection does not need while it waits in the pool. */
void or_upconn_trim(or_upconn *c);

/* True when requests must be written in absolute form to an http(s) proxy (with its
 * Proxy-Authorization) rather than through a tunnel. */
bool or_upconn_forwarding(const or_upconn *c);

#endif
