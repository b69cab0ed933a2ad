/*
 * server.c — listeners, worker threads and graceful shutdown.
 *
 * Each worker owns a uv loop and its own SO_REUSEPORT listening socket (created here, on the
 * main thread, so bind errors are reported before anything starts), so the kernel spreads
 * connections across workers and no lock sits on the accept path.
 */
#include "http/internal.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static unsigned env_uint(const char *name, unsigned dflt)
{
    const char *v = getenv(name);
    if (!v || !*v)
        return dflt;
    char *end;
    unsigned long n = strtoul(v, &end, 10);
    return (*end || n > 0xffffffffUL) ? dflt : (unsigned)n;
}

void or_http_limits_default(or_http_limits *l)
{
    l->max_header_bytes = 64 * 1024;
    l->max_url_bytes = 16 * 1024;
    l->max_body_bytes = (size_t)env_uint("OMNIROUTE_MAX_BODY_MB", 32) * 1024 * 1024;
    l->header_timeout_ms = env_uint("OMNIROUTE_HEADER_TIMEOUT_MS", 10000);
    l->idle_timeout_ms = env_uint("OMNIROUTE_IDLE_TIMEOUT_MS", 60000);
    l->body_min_rate_bps = env_uint("OMNIROUTE_BODY_MIN_RATE", 256);
    l->body_rate_window_ms = env_uint("OMNIROUTE_BODY_RATE_WINDOW_MS", 10000);
    l->shutdown_grace_ms = env_uint("OMNIROUTE_SHUTDOWN_GRACE_MS", 10000);
}

static int open_listener(const char *host, int port, or_errbuf *eb)
{
    struct sockaddr_storage ss;
    socklen_t sslen;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons((uint16_t)port);
        sslen = sizeof *a4;
    } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons((uint16_t)port);
        sslen = sizeof *a6;
    } else {
        or_fail(eb, OR_EINVAL, "HOSTNAME %s is not an IP address", host);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0)
        goto fail;
    if (bind(fd, (struct sockaddr *)&ss, sslen) < 0)
        goto fail;
    if (listen(fd, 1024) < 0)
        goto fail;
    return fd;
fail:
    or_fail(eb, OR_EIO, "listen on %s:%d: %s", host, port, strerror(errno));
    if (fd >= 0)
        close(fd);
    return -1;
}

static int bound_port(int fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
        return -1;
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void on_connection(uv_stream_t *listener, int status)
{
    or_http_worker *w = listener->data;
    if (status < 0) {
        or_log_warn("accept: %s", uv_strerror(status));
        return;
    }
    or_http__conn_accept(w);
}

static void close_noop(uv_handle_t *h)
{
    (void)h;
}

/* Nothing is in flight any more: close the worker's own handles so its loop can end. */
static void worker_wind_down(or_http_worker *w)
{
    uv_timer_stop(&w->grace_timer);
    uv_close((uv_handle_t *)&w->grace_timer, close_noop);
    uv_close((uv_handle_t *)&w->wake, close_noop);
    if (w->srv->app.worker_fini)
        w->srv->app.worker_fini(w, w->wdata, w->srv->app.app);
    w->wdata = NULL;
}

void or_http__worker_conn_gone(or_http_worker *w)
{
    if (w->draining && w->nconns == 0)
        worker_wind_down(w);
}

static void on_grace_expired(uv_timer_t *t)
{
    or_http_worker *w = t->data;
    or_log_warn("worker %d: shutdown grace expired with %zu connection(s); closing them", w->index,
                w->nconns);
    or_http__conn_drain(w, true);
}

static void on_wake(uv_async_t *a)
{
    or_http_worker *w = a->data;
    if (w->draining)
        return;
    w->draining = true;
    uv_close((uv_handle_t *)&w->listener, close_noop);
    if (w->nconns == 0) {
        worker_wind_down(w);
        return;
    }
    uv_timer_start(&w->grace_timer, on_grace_expired, w->srv->cfg.limits.shutdown_grace_ms, 0);
    or_http__conn_drain(w, false);
}

static void *worker_main(void *arg)
{
    or_http_worker *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

static or_err worker_setup(or_http_server *s, or_http_worker *w, int index, or_errbuf *eb)
{
    w->srv = s;
    w->index = index;
    if (uv_loop_init(&w->loop) != 0)
        return or_fail(eb, OR_EINTERNAL, "uv_loop_init failed");
    w->loop.data = w;
    uv_tcp_init(&w->loop, &w->listener);
    w->listener.data = w;
    int rc = uv_tcp_open(&w->listener, w->listen_fd);
    if (rc == 0)
        rc = uv_listen((uv_stream_t *)&w->listener, 1024, on_connection);
    if (rc != 0)
        return or_fail(eb, OR_EIO, "uv_listen: %s", uv_strerror(rc));
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->grace_timer);
    w->grace_timer.data = w;
    if (s->app.worker_init)
        w->wdata = s->app.worker_init(w, s->app.app);
    return OR_OK;
}

or_err or_http_server_start(const or_http_config *cfg, const or_http_app *app, or_http_server **out,
                            or_errbuf *eb)
{
    or_err err = OR_OK;
    or_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return OR_ENOMEM;
    s->cfg = *cfg;
    s->app = *app;
    s->nworkers = cfg->workers > 0 ? cfg->workers : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->nworkers < 1)
        s->nworkers = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->cond, NULL);
    s->workers = calloc((size_t)s->nworkers, sizeof *s->workers);
    if (!s->workers) {
        err = OR_ENOMEM;
        goto out;
    }
    for (int i = 0; i < s->nworkers; i++)
        s->workers[i].listen_fd = -1;
    int port = cfg->port;
    for (int i = 0; i < s->nworkers; i++) {
        s->workers[i].listen_fd = open_listener(cfg->host, port, eb);
        if (s->workers[i].listen_fd < 0) {
            err = OR_EIO;
            goto out;
        }
        if (port == 0)
            port = bound_port(s->workers[i].listen_fd);
    }
    s->port = port;
    for (int i = 0; i < s->nworkers; i++) {
        err = worker_setup(s, &s->workers[i], i, eb);
        if (err != OR_OK)
            goto out;
    }
    for (int i = 0; i < s->nworkers; i++) {
        if (pthread_create(&s->workers[i].thread, NULL, worker_main, &s->workers[i]) != 0) {
            err = or_fail(eb, OR_EINTERNAL, "pthread_create failed");
            goto out; /* fatal at startup; the process exits */
        }
    }
    *out = s;
    return OR_OK;
out:
    for (int i = 0; s->workers && i < s->nworkers; i++)
        if (s->workers[i].listen_fd >= 0 && !s->workers[i].loop.data)
            close(s->workers[i].listen_fd);
    return err;
}

int or_http_server_port(const or_http_server *s)
{
    return s->port;
}

void or_http_server_stop(or_http_server *s)
{
    atomic_store(&s->stop_requested, true);
    pthread_mutex_lock(&s->lock);
    pthread_cond_broadcast(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

static void *signal_thread(void *arg)
{
    or_http_server *s = arg;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    int sig = 0;
    if (sigwait(&set, &sig) == 0) {
        or_log_info("received %s, draining", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        or_http_server_stop(s);
    }
    return NULL;
}

void or_http_server_wait(or_http_server *s)
{
    /* SIGTERM/SIGINT are blocked in every thread (main() blocks them before starting the
     * server) and collected here by sigwait. */
    pthread_t sig_thread;
    bool have_sig_thread = pthread_create(&sig_thread, NULL, signal_thread, s) == 0;
    pthread_mutex_lock(&s->lock);
    while (!atomic_load(&s->stop_requested))
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    if (have_sig_thread) {
        pthread_cancel(sig_thread); /* sigwait is a cancellation point */
        pthread_join(sig_thread, NULL);
    }
    for (int i = 0; i < s->nworkers; i++)
        uv_async_send(&s->workers[i].wake);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i].thread, NULL);
}

void or_http_server_free(or_http_server *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->nworkers; i++) {
        or_http_worker *w = &s->workers[i];
        uv_run(&w->loop, UV_RUN_NOWAIT);
        if (uv_loop_close(&w->loop) != 0)
            or_log_warn("worker %d: loop still has handles at exit", i);
    }
    pthread_mutex_destroy(&s->lock);
    pthread_cond_destroy(&s->cond);
    free(s->workers);
    free(s);
}

uv_loop_t *or_http_worker_loop(or_http_worker *w)
{
    return &w->loop;
}

void *or_http_worker_data(or_http_worker *w)
{
    return w->wdata;
}

int or_http_worker_index(or_http_worker *w)
{
    return w->index;
}
