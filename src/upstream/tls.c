#include "upstream/tls.h"

#include "core/buf.h"
#include "core/log.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/buffer.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

struct or_tls {
    SSL *ssl;
    BIO *in;  /* ciphertext from the socket, read by OpenSSL; owned by ssl */
    BIO *out; /* ciphertext OpenSSL wrote for the socket; owned by ssl */
    /* Plaintext accepted by or_tls_write while OpenSSL could not encrypt it: a post-handshake
     * message (a TLS 1.3 ticket split over records) was half read, and until the rest arrives
     * OpenSSL refuses to write. Sent by the next read once the message is complete. */
    or_buf wq;
    bool verify;
    bool done;      /* the handshake completed once */
    bool shut_wait; /* close_notify asked for while writes were held back */
    bool failed;    /* a fatal error happened; OpenSSL's state is no longer usable */
};

/* The only global mutable state: the shared client context. */
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static SSL_CTX *ctx;
static bool ctx_freed;
static or_err ctx_err;
static or_errbuf ctx_eb;

/* Wire form of the ALPN list: length-prefixed protocol names. */
static const unsigned char alpn[] = "\x08http/1.1";

/* Hostnames are at most 253 octets; the brackets of an IPv6 literal fit in the slack. */
#define HOST_MAX 256

/* Below this a drained ciphertext buffer is not worth a fresh BIO (or_tls_trim). */
#define TRIM_MIN 4096
/* Above this one is given back as soon as it is drained: a big upload must not leave its
 * megabytes with the pooled connection when the caller never trims. */
#define SHRINK_MIN ((size_t)256 << 10)

/* One line for the oldest entry of this thread's OpenSSL error queue (the root cause), which
 * is then cleared so nothing stale is reported by the next operation on this thread. */
static void ssl_detail(or_errbuf *eb, const char *what)
{
    unsigned long e = ERR_peek_error();
    char text[200];
    if (e)
        ERR_error_string_n(e, text, sizeof text);
    else
        snprintf(text, sizeof text, "unexpected end of TLS stream");
    ERR_clear_error();
    (void)or_fail(eb, OR_EUPSTREAM, "%s: %s", what, text);
}

/* Environments often point NODE_EXTRA_CA_CERTS at the system bundle itself; parsing it twice
 * costs a megabyte of heap for nothing (the store would drop the duplicates anyway). */
static bool is_default_file(const char *path)
{
    const char *def = getenv(X509_get_default_cert_file_env());
    if (!def || !*def)
        def = X509_get_default_cert_file();
    char *a = realpath(path, NULL), *b = realpath(def, NULL);
    bool same = a && b && strcmp(a, b) == 0;
    free(a);
    free(b);
    return same;
}

static void load_extra_ca(SSL_CTX *c)
{
    const char *path = getenv("NODE_EXTRA_CA_CERTS");
    if (!path || !*path)
        return;
    if (is_default_file(path)) {
        or_log_debug("tls: NODE_EXTRA_CA_CERTS=%s is the default trust file already", path);
        return;
    }
    X509_STORE *store = SSL_CTX_get_cert_store(c);
    if (X509_STORE_load_file(store, path) == 1) {
        or_log_info("tls: extra CA certificates loaded from NODE_EXTRA_CA_CERTS=%s", path);
    } else {
        unsigned long e = ERR_peek_error();
        char text[200] = "no certificate in file";
        if (e)
            ERR_error_string_n(e, text, sizeof text);
        or_log_warn("tls: NODE_EXTRA_CA_CERTS=%s ignored: %s", path, text);
    }
    ERR_clear_error();
}

static void ctx_make(void)
{
    ERR_clear_error();
    SSL_CTX *c = SSL_CTX_new(TLS_client_method());
    if (!c) {
        ssl_detail(&ctx_eb, "TLS context");
        ctx_err = OR_ECRYPTO;
        return;
    }
    if (SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn - 1) != 0) { /* 0 is success here */
        ssl_detail(&ctx_eb, "TLS context setup");
        SSL_CTX_free(c);
        ctx_err = OR_ECRYPTO;
        return;
    }
    /* Idle sessions hand their 16 KB record buffers back. Held-back writes are retried from
     * a buffer that may have moved. Renegotiation (TLS 1.2 only) could make a write wait for
     * a read, which a sans-IO write that takes everything cannot do. */
    SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
    /* A missing default file or directory is not an error: there is just nothing in it. */
    if (SSL_CTX_set_default_verify_paths(c) != 1)
        or_log_warn("tls: OpenSSL's default certificate locations could not be used");
    ERR_clear_error();
    load_extra_ca(c);
    ctx = c;
}

or_err or_tls_global_init(or_errbuf *eb)
{
    pthread_once(&ctx_once, ctx_make);
    if (ctx)
        return OR_OK;
    if (ctx_freed)
        return or_fail(eb, OR_EUNAVAIL, "TLS context already freed");
    return or_fail(eb, ctx_err, "%s", ctx_eb.msg);
}

void or_tls_global_free(void)
{
    SSL_CTX_free(ctx);
    ctx = NULL;
    ctx_freed = true;
}

/* An IP literal (brackets stripped into ip) is verified against IP SANs and gets no SNI. */
static bool ip_literal(const char *host, char ip[HOST_MAX])
{
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        memcpy(ip, host + 1, n - 2);
        ip[n - 2] = '\0';
    } else {
        memcpy(ip, host, n + 1);
    }
    unsigned char a[16];
    return inet_pton(AF_INET, ip, a) == 1 || inet_pton(AF_INET6, ip, a) == 1;
}

static or_err set_peer(SSL *ssl, const char *host, bool verify, or_errbuf *eb)
{
    char name[HOST_MAX];
    if (ip_literal(host, name)) {
        if (verify && X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), name) != 1)
            return or_fail(eb, OR_EINVAL, "TLS: bad IP address %s", name);
        return OR_OK;
    }
    /* "example.com." names the same host; certificates and SNI carry it without the dot. */
    size_t n = strlen(name);
    if (n > 1 && name[n - 1] == '.')
        name[n - 1] = '\0';
    if (SSL_set_tlsext_host_name(ssl, name) != 1)
        return or_fail(eb, OR_EINVAL, "TLS: bad host name");
    if (verify) {
        SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set1_host(ssl, name) != 1)
            return or_fail(eb, OR_EINVAL, "TLS: bad host name");
    }
    return OR_OK;
}

or_err or_tls_new(const char *host, bool verify, or_tls **out, or_errbuf *eb)
{
    or_err rc = OR_OK;
    or_tls *t = NULL;
    *out = NULL;
    if (!host || !*host || strlen(host) >= HOST_MAX) {
        rc = or_fail(eb, OR_EINVAL, "TLS: host name missing or too long");
        goto out;
    }
    if ((rc = or_tls_global_init(eb)) != OR_OK)
        goto out;
    ERR_clear_error();
    t = calloc(1, sizeof *t);
    if (!t) {
        rc = or_fail(eb, OR_ENOMEM, "TLS session");
        goto out;
    }
    or_buf_init(&t->wq, 0); /* bounded by what the caller writes, not by the network */
    t->verify = verify;
    t->ssl = SSL_new(ctx);
    t->in = BIO_new(BIO_s_mem());
    t->out = BIO_new(BIO_s_mem());
    if (!t->ssl || !t->in || !t->out) {
        BIO_free(t->in);
        BIO_free(t->out);
        t->in = t->out = NULL;
        rc = or_fail(eb, OR_ENOMEM, "TLS session");
        goto out;
    }
    SSL_set_bio(t->ssl, t->in, t->out);
    SSL_set_connect_state(t->ssl);
    if (!verify)
        SSL_set_verify(t->ssl, SSL_VERIFY_NONE, NULL);
    rc = set_peer(t->ssl, host, verify, eb);
out:
    ERR_clear_error();
    if (rc != OR_OK) {
        or_tls_free(t);
        t = NULL;
    }
    *out = t;
    return rc;
}

/* Held-back plaintext is request data (headers with API keys): wiped, not just dropped. */
static void wq_clear(or_tls *t)
{
    if (t->wq.data)
        sodium_memzero(t->wq.data, t->wq.len);
    or_buf_reset(&t->wq);
}

void or_tls_free(or_tls *t)
{
    if (!t)
        return;
    SSL_free(t->ssl); /* frees both BIOs */
    wq_clear(t);
    or_buf_free(&t->wq);
    free(t);
}

or_err or_tls_feed(or_tls *t, const char *p, size_t n)
{
    if (n == 0)
        return OR_OK;
    if (BIO_ctrl_pending(t->in) + n > OR_TLS_FEED_MAX)
        return OR_ETOOBIG;
    size_t put = 0;
    if (BIO_write_ex(t->in, p, n, &put) != 1 || put != n) {
        ERR_clear_error();
        return OR_ENOMEM;
    }
    return OR_OK;
}

/* Why the handshake failed: a verification result names the certificate problem, which is far
 * more useful than OpenSSL's generic "certificate verify failed" queue entry. */
static void handshake_detail(or_tls *t, or_errbuf *eb)
{
    long v = SSL_get_verify_result(t->ssl);
    if (t->verify && v != X509_V_OK) {
        ERR_clear_error();
        (void)or_fail(eb, OR_EUPSTREAM, "certificate verify failed: %s",
                      X509_verify_cert_error_string(v));
        return;
    }
    ssl_detail(eb, "TLS handshake failed");
}

static bool retry_later(or_tls *t, int r)
{
    int e = SSL_get_error(t->ssl, r);
    if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE)
        return false;
    ERR_clear_error();
    return true;
}

/* Sends what or_tls_write held back, then a close_notify asked for meanwhile, once OpenSSL is
 * out of the post-handshake message that blocked them. */
static or_err resume(or_tls *t, or_errbuf *eb)
{
    if (t->wq.len) {
        if (SSL_in_init(t->ssl))
            return OR_OK;
        size_t put = 0;
        int r = SSL_write_ex(t->ssl, t->wq.data, t->wq.len, &put);
        if (r != 1) {
            if (retry_later(t, r))
                return OR_OK;
            t->failed = true;
            ssl_detail(eb, "TLS write");
            return OR_EUPSTREAM;
        }
        wq_clear(t);
    }
    if (t->shut_wait && !SSL_in_init(t->ssl)) {
        t->shut_wait = false;
        (void)SSL_shutdown(t->ssl);
        ERR_clear_error();
    }
    return OR_OK;
}

or_tls_step or_tls_handshake(or_tls *t, or_errbuf *eb)
{
    if (t->failed) {
        (void)or_fail(eb, OR_EUPSTREAM, "TLS handshake already failed");
        return OR_TLS_FAIL;
    }
    if (t->done)
        return OR_TLS_DONE;
    ERR_clear_error();
    int r = SSL_do_handshake(t->ssl);
    if (r == 1) {
        t->done = true;
        return OR_TLS_DONE;
    }
    if (retry_later(t, r))
        return OR_TLS_WANT;
    t->failed = true;
    handshake_detail(t, eb);
    return OR_TLS_FAIL;
}

bool or_tls_established(const or_tls *t)
{
    return t->done && !t->failed;
}

/* A memory BIO's buffer only grows; swapping a drained one for a fresh BIO frees it. */
static BIO *fresh_if_big(BIO *b, size_t min)
{
    BUF_MEM *bm = NULL;
    if (BIO_ctrl_pending(b) != 0 || BIO_get_mem_ptr(b, &bm) != 1 || !bm || bm->max < min)
        return NULL;
    return BIO_new(BIO_s_mem());
}

static void shrink_bios(or_tls *t, size_t min)
{
    BIO *in = fresh_if_big(t->in, min);
    if (in) {
        SSL_set0_rbio(t->ssl, in); /* frees the old one */
        t->in = in;
    }
    BIO *out = fresh_if_big(t->out, min);
    if (out) {
        SSL_set0_wbio(t->ssl, out);
        t->out = out;
    }
}

ptrdiff_t or_tls_read(or_tls *t, char *buf, size_t cap, or_errbuf *eb)
{
    if (t->failed) {
        (void)or_fail(eb, OR_EUPSTREAM, "TLS session already failed");
        return OR_TLS_READ_ERR;
    }
    if (cap == 0)
        return 0;
    ERR_clear_error();
    size_t got = 0;
    int r = SSL_read_ex(t->ssl, buf, cap, &got);
    ptrdiff_t ret;
    bool shrink = false;
    if (r == 1) {
        t->done = true; /* reading can finish the handshake too */
        ret = (ptrdiff_t)got;
    } else if (retry_later(t, r)) {
        ret = 0;
        shrink = true; /* the end of a batch of input: a cheap moment to look */
    } else if (SSL_get_error(t->ssl, r) == SSL_ERROR_ZERO_RETURN) {
        ret = OR_TLS_READ_EOF;
    } else {
        t->failed = true;
        if (t->done)
            ssl_detail(eb, "TLS read");
        else
            handshake_detail(t, eb);
        return OR_TLS_READ_ERR;
    }
    if ((t->wq.len || t->shut_wait) && resume(t, eb) != OR_OK)
        return OR_TLS_READ_ERR;
    if (shrink)
        shrink_bios(t, SHRINK_MIN);
    return ret;
}

or_err or_tls_write(or_tls *t, const char *p, size_t n, or_errbuf *eb)
{
    if (t->failed)
        return or_fail(eb, OR_EUPSTREAM, "TLS session already failed");
    if (!t->done)
        return or_fail(eb, OR_EINVAL, "TLS write before the handshake is done");
    if (n == 0)
        return OR_OK;
    ERR_clear_error();
    if (t->wq.len || t->shut_wait) { /* keep the order: behind what is already held back */
        if (resume(t, eb) != OR_OK)
            return OR_EUPSTREAM;
        if (t->wq.len || t->shut_wait)
            goto hold;
    }
    size_t put = 0;
    /* A memory BIO never pushes back, so without partial writes this takes everything. */
    int r = SSL_write_ex(t->ssl, p, n, &put);
    if (r == 1)
        return OR_OK;
    if (!retry_later(t, r)) {
        t->failed = true;
        ssl_detail(eb, "TLS write");
        return OR_EUPSTREAM;
    }
hold:
    if (or_buf_append(&t->wq, p, n) != OR_OK)
        return or_fail(eb, OR_ENOMEM, "TLS write");
    return OR_OK;
}

size_t or_tls_pending(const or_tls *t)
{
    return BIO_ctrl_pending(t->out);
}

size_t or_tls_take(or_tls *t, char *buf, size_t cap)
{
    size_t got = 0;
    if (BIO_read_ex(t->out, buf, cap, &got) != 1)
        return 0;
    return got;
}

void or_tls_shutdown(or_tls *t)
{
    if (t->failed || !t->done)
        return;
    if (t->wq.len || SSL_in_init(t->ssl)) { /* after the held-back data, by the next read */
        t->shut_wait = true;
        return;
    }
    ERR_clear_error();
    (void)SSL_shutdown(t->ssl); /* 0: ours sent, the peer's not seen yet — all we want */
    ERR_clear_error();
}

void or_tls_trim(or_tls *t)
{
    if (t->failed)
        return;
    if (!t->wq.len)
        or_buf_free(&t->wq);
    shrink_bios(t, TRIM_MIN);
    /* OpenSSL's own 16 KB record buffers: SSL_MODE_RELEASE_BUFFERS drops them after data,
     * but not after a session ticket, which is all an idle new connection has read. */
    (void)SSL_free_buffers(t->ssl);
    ERR_clear_error();
}
