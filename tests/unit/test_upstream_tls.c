/*
 * test_upstream_tls.c — the sans-IO TLS client engine against an in-process OpenSSL server.
 *
 * The server is plain OpenSSL on memory BIOs; the test moves bytes between it and the engine.
 * Certificates are made here (EC P-256): a self-signed "localhost" leaf that the trust file
 * (SSL_CERT_FILE, set before the first or_tls_global_init) holds, a second self-signed leaf it
 * does not, and a CA with a leaf it signed, trusted only through NODE_EXTRA_CA_CERTS. The
 * context reads the environment once per process, so the NODE_EXTRA_CA_CERTS cases run in
 * forked children before the parent's first init.
 */
#include "check.h"

#include "upstream/tls.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB ((size_t)1 << 20)

/* ---- certificates --------------------------------------------------------------------------- */

static void add_ext(X509 *x, X509V3_CTX *v3, int nid, const char *value)
{
    X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, v3, nid, value);
    CHECK(e != NULL);
    if (e) {
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
    }
}

/* Self-signed when issuer is NULL. */
static X509 *make_cert(EVP_PKEY *key, const char *cn, const char *san, bool ca, X509 *issuer,
                       EVP_PKEY *issuer_key)
{
    static long serial = 1;
    X509 *x = X509_new();
    X509_set_version(x, X509_VERSION_3);
    ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
    X509_gmtime_adj(X509_getm_notBefore(x), -3600);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_set_pubkey(x, key);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0);
    X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name);
    X509V3_CTX v3;
    X509V3_set_ctx_nodb(&v3);
    X509V3_set_ctx(&v3, issuer ? issuer : x, x, NULL, NULL, 0);
    add_ext(x, &v3, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
    if (ca)
        add_ext(x, &v3, NID_key_usage, "critical,keyCertSign,cRLSign");
    if (san)
        add_ext(x, &v3, NID_subject_alt_name, san);
    CHECK(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()) > 0);
    return x;
}

static void write_pem(char *path, X509 *a, X509 *b)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "w");
    CHECK(f != NULL);
    CHECK(PEM_write_X509(f, a) == 1);
    if (b)
        CHECK(PEM_write_X509(f, b) == 1);
    fclose(f);
}

static void write_text(char *path, const char *text)
{
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
}

static const char SAN[] = "DNS:localhost,IP:127.0.0.1,IP:::1";

static EVP_PKEY *key_good, *key_other, *key_ca, *key_leaf;
static X509 *cert_good, *cert_other, *cert_ca, *cert_leaf;
static char trust_path[] = "/tmp/or_tls_trust_XXXXXX";
static char ca_path[] = "/tmp/or_tls_ca_XXXXXX";
static char junk_path[] = "/tmp/or_tls_junk_XXXXXX";

static void make_certs(void)
{
    key_good = EVP_EC_gen("P-256");
    key_other = EVP_EC_gen("P-256");
    key_ca = EVP_EC_gen("P-256");
    key_leaf = EVP_EC_gen("P-256");
    CHECK(key_good && key_other && key_ca && key_leaf);
    cert_good = make_cert(key_good, "localhost", SAN, false, NULL, NULL);
    cert_other = make_cert(key_other, "localhost", SAN, false, NULL, NULL);
    cert_ca = make_cert(key_ca, "Test Corporate CA", NULL, true, NULL, NULL);
    cert_leaf = make_cert(key_leaf, "localhost", SAN, false, cert_ca, key_ca);
    write_pem(trust_path, cert_good, NULL);
    write_pem(ca_path, cert_ca, NULL);
    write_text(junk_path, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n"
                          "-----END CERTIFICATE-----\n");
}

static void free_certs(void)
{
    X509 *c[] = {cert_good, cert_other, cert_ca, cert_leaf};
    EVP_PKEY *k[] = {key_good, key_other, key_ca, key_leaf};
    for (size_t i = 0; i < 4; i++) {
        X509_free(c[i]);
        EVP_PKEY_free(k[i]);
    }
}

static void remove_files(void)
{
    unlink(trust_path);
    unlink(ca_path);
    unlink(junk_path);
}

/* ---- server --------------------------------------------------------------------------------- */

typedef struct {
    SSL_CTX *ctx;
    SSL *ssl;
    BIO *in, *out; /* owned by ssl */
    int hs;        /* last SSL_do_handshake result */
} server;

static unsigned char offered_alpn[64];
static size_t offered_alpn_len;

static int alpn_cb(SSL *ssl, const unsigned char **sel, unsigned char *sel_len,
                   const unsigned char *in, unsigned int in_len, void *arg)
{
    (void)ssl;
    (void)arg;
    offered_alpn_len = in_len < sizeof offered_alpn ? in_len : sizeof offered_alpn;
    memcpy(offered_alpn, in, offered_alpn_len);
    static const unsigned char mine[] = "\x08http/1.1";
    unsigned char *out = NULL;
    if (SSL_select_next_proto(&out, sel_len, mine, sizeof mine - 1, in, in_len) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK;
    *sel = out;
    return SSL_TLSEXT_ERR_OK;
}

static void server_start(server *s, X509 *cert, EVP_PKEY *key, int max_version)
{
    memset(s, 0, sizeof *s);
    s->ctx = SSL_CTX_new(TLS_server_method());
    CHECK(SSL_CTX_use_certificate(s->ctx, cert) == 1);
    CHECK(SSL_CTX_use_PrivateKey(s->ctx, key) == 1);
    if (max_version) {
        SSL_CTX_set_max_proto_version(s->ctx, max_version);
        if (max_version < TLS1_2_VERSION) {
            SSL_CTX_set_min_proto_version(s->ctx, max_version);
            SSL_CTX_set_security_level(s->ctx, 0);
            SSL_CTX_set_cipher_list(s->ctx, "DEFAULT:@SECLEVEL=0");
        }
    }
    SSL_CTX_set_alpn_select_cb(s->ctx, alpn_cb, NULL);
    s->ssl = SSL_new(s->ctx);
    s->in = BIO_new(BIO_s_mem());
    s->out = BIO_new(BIO_s_mem());
    SSL_set_bio(s->ssl, s->in, s->out);
    SSL_set_accept_state(s->ssl);
}

static void server_free(server *s)
{
    SSL_free(s->ssl);
    SSL_CTX_free(s->ctx);
    ERR_clear_error();
}

/* Moves all waiting ciphertext both ways, in pieces of at most chunk bytes. */
static void pump(or_tls *c, server *s, size_t chunk)
{
    char buf[16384];
    if (chunk > sizeof buf)
        chunk = sizeof buf;
    size_t n;
    while ((n = or_tls_take(c, buf, chunk)) > 0)
        CHECK(BIO_write(s->in, buf, (int)n) == (int)n);
    int r;
    while ((r = BIO_read(s->out, buf, (int)chunk)) > 0)
        CHECK(or_tls_feed(c, buf, (size_t)r) == OR_OK);
}

static or_tls_step shake(or_tls *c, server *s, or_errbuf *eb)
{
    or_tls_step st = OR_TLS_WANT;
    for (int i = 0; i < 20; i++) {
        if (st == OR_TLS_WANT)
            st = or_tls_handshake(c, eb);
        if (s->hs != 1)
            s->hs = SSL_do_handshake(s->ssl);
        pump(c, s, 1500);
        if (st == OR_TLS_FAIL || (st == OR_TLS_DONE && s->hs == 1))
            break;
    }
    ERR_clear_error();
    return st;
}

/* A client to a server with cert/key, run to the end of the handshake. */
static or_tls_step connect_to(const char *host, bool verify, X509 *cert, EVP_PKEY *key,
                              int max_version, or_tls **c, server *s, or_errbuf *eb)
{
    server_start(s, cert, key, max_version);
    memset(eb, 0, sizeof *eb);
    CHECK(or_tls_new(host, verify, c, eb) == OR_OK);
    return *c ? shake(*c, s, eb) : OR_TLS_FAIL;
}

/* Everything the client has for the server, read by it as plaintext (up to cap). */
static size_t server_read(or_tls *c, server *s, char *buf, size_t cap)
{
    pump(c, s, 16384);
    size_t got = 0, n = 0;
    while (got < cap && SSL_read_ex(s->ssl, buf + got, cap - got, &n) == 1)
        got += n;
    ERR_clear_error();
    return got;
}

/* Everything the server sent, read by the client (up to cap); *end gets a negative result. */
static size_t client_read(or_tls *c, server *s, char *buf, size_t cap, size_t chunk, ptrdiff_t *end)
{
    char wire[16384];
    size_t got = 0;
    *end = 0;
    or_errbuf eb = {{0}};
    for (;;) {
        int r = BIO_read(s->out, wire, (int)(chunk < sizeof wire ? chunk : sizeof wire));
        if (r > 0)
            CHECK(or_tls_feed(c, wire, (size_t)r) == OR_OK);
        ptrdiff_t k;
        while ((k = or_tls_read(c, buf + got, cap - got, &eb)) > 0)
            got += (size_t)k;
        if (k < 0) {
            *end = k;
            break;
        }
        if (r <= 0)
            break;
    }
    return got;
}

static void fill(char *p, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        p[i] = (char)(seed >> 16);
    }
}

/* ---- cases ---------------------------------------------------------------------------------- */

static void test_megabyte_each_way(void)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    CHECK(or_tls_established(c));
    CHECK_STR(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name), "localhost");
    CHECK(SSL_version(s.ssl) == TLS1_3_VERSION);
    CHECK(offered_alpn_len == 9 && memcmp(offered_alpn, "\x08http/1.1", 9) == 0);

    char *want = malloc(MIB), *got = malloc(MIB + 1);
    fill(want, MIB, 1);
    CHECK(or_tls_write(c, want, MIB, &eb) == OR_OK);
    CHECK(or_tls_pending(c) > MIB);
    CHECK(server_read(c, &s, got, MIB + 1) == MIB);
    CHECK(memcmp(got, want, MIB) == 0);
    CHECK(or_tls_pending(c) == 0);

    fill(want, MIB, 2);
    size_t put = 0;
    CHECK(SSL_write_ex(s.ssl, want, MIB, &put) == 1 && put == MIB);
    ptrdiff_t end;
    memset(got, 0, MIB);
    CHECK(client_read(c, &s, got, MIB + 1, 1000, &end) == MIB); /* records split anywhere */
    CHECK(end == 0);
    CHECK(memcmp(got, want, MIB) == 0);

    /* Idle: the buffers go back, and the session still works. */
    or_tls_trim(c);
    CHECK(or_tls_write(c, "after trim", 10, &eb) == OR_OK);
    CHECK(server_read(c, &s, got, MIB) == 10 && memcmp(got, "after trim", 10) == 0);
    CHECK(SSL_write_ex(s.ssl, "back", 4, &put) == 1);
    CHECK(client_read(c, &s, got, MIB, 16384, &end) == 4 && memcmp(got, "back", 4) == 0);
    free(want);
    free(got);
    or_tls_free(c);
    server_free(&s);
}

static void test_sni_and_ip_literals(void)
{
    const char *ips[] = {"127.0.0.1", "::1", "[::1]"};
    for (size_t i = 0; i < 3; i++) {
        or_tls *c;
        server s;
        or_errbuf eb;
        CHECK(connect_to(ips[i], true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
        CHECK(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name) == NULL);
        or_tls_free(c);
        server_free(&s);
    }
    /* A trailing dot names the same host. */
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost.", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    CHECK_STR(SSL_get_servername(s.ssl, TLSEXT_NAMETYPE_host_name), "localhost");
    or_tls_free(c);
    server_free(&s);
}

static void expect_fail(const char *host, bool verify, X509 *cert, EVP_PKEY *key, int max_version,
                        const char *detail)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to(host, verify, cert, key, max_version, &c, &s, &eb) == OR_TLS_FAIL);
    if (!strstr(eb.msg, detail))
        fprintf(stderr, "  detail for %s: \"%s\", wanted \"%s\"\n", host, eb.msg, detail);
    CHECK(strstr(eb.msg, detail) != NULL);
    CHECK(!or_tls_established(c));
    CHECK(or_tls_handshake(c, &eb) == OR_TLS_FAIL); /* stays failed */
    CHECK(or_tls_write(c, "x", 1, &eb) != OR_OK);
    char buf[16];
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == OR_TLS_READ_ERR);
    or_tls_shutdown(c);
    or_tls_free(c);
    server_free(&s);
}

static void test_verify_failures(void)
{
    expect_fail("example.com", true, cert_good, key_good, 0,
                "certificate verify failed: hostname mismatch");
    expect_fail("127.0.0.2", true, cert_good, key_good, 0,
                "certificate verify failed: IP address mismatch");
    expect_fail("localhost", true, cert_other, key_other, 0,
                "certificate verify failed: self-signed certificate");
    /* The corporate CA is not trusted in this process (its NODE_EXTRA_CA_CERTS is missing). */
    expect_fail("localhost", true, cert_leaf, key_leaf, 0,
                "certificate verify failed: unable to get local issuer certificate");
    /* TLS 1.1 is below the floor. */
    expect_fail("localhost", true, cert_good, key_good, TLS1_1_VERSION, "TLS handshake failed");

    /* Without verification the untrusted and mismatched certificates are accepted. */
    X509 *certs[] = {cert_other, cert_good};
    EVP_PKEY *keys[] = {key_other, key_good};
    for (size_t i = 0; i < 2; i++) {
        or_tls *c;
        server s;
        or_errbuf eb;
        CHECK(connect_to("example.com", false, certs[i], keys[i], 0, &c, &s, &eb) == OR_TLS_DONE);
        CHECK(or_tls_write(c, "ok", 2, &eb) == OR_OK);
        char buf[8];
        CHECK(server_read(c, &s, buf, sizeof buf) == 2);
        or_tls_free(c);
        server_free(&s);
    }
}

static void test_tls12(void)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, TLS1_2_VERSION, &c, &s, &eb) ==
          OR_TLS_DONE);
    CHECK(SSL_version(s.ssl) == TLS1_2_VERSION);
    char buf[64];
    CHECK(or_tls_write(c, "hello 1.2", 9, &eb) == OR_OK);
    CHECK(server_read(c, &s, buf, sizeof buf) == 9 && memcmp(buf, "hello 1.2", 9) == 0);

    /* A server asking to renegotiate is refused with a warning; the session goes on. */
    CHECK(SSL_renegotiate(s.ssl) == 1);
    SSL_do_handshake(s.ssl);
    ptrdiff_t end;
    CHECK(client_read(c, &s, buf, sizeof buf, 16384, &end) == 0 && end == 0);
    CHECK(or_tls_write(c, "still", 5, &eb) == OR_OK);
    CHECK(or_tls_pending(c) > 0);
    ERR_clear_error();
    or_tls_free(c);
    server_free(&s);
}

static void test_post_handshake_messages(void)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    /* TLS 1.3 tickets were sent after the handshake: they are no data. */
    char buf[256];
    CHECK(SSL_get_num_tickets(s.ssl) > 0);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == 0);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == 0);

    /* A KeyUpdate that asks for ours: the data after it reads fine; ours (OpenSSL sends it
     * with the next write) does not disturb the server. */
    CHECK(SSL_key_update(s.ssl, SSL_KEY_UPDATE_REQUESTED) == 1);
    size_t put;
    CHECK(SSL_write_ex(s.ssl, "after key update", 16, &put) == 1);
    ptrdiff_t end;
    CHECK(client_read(c, &s, buf, sizeof buf, 7, &end) == 16);
    CHECK(end == 0 && memcmp(buf, "after key update", 16) == 0);
    CHECK(or_tls_write(c, "reply", 5, &eb) == OR_OK);
    CHECK(server_read(c, &s, buf, sizeof buf) == 5 && memcmp(buf, "reply", 5) == 0);
    or_tls_free(c);
    server_free(&s);
}

static int big_ticket(SSL *ssl, void *arg)
{
    (void)arg;
    static const unsigned char pad[3000];
    return SSL_SESSION_set1_ticket_appdata(SSL_get_session(ssl), pad, sizeof pad);
}

static SSL_TICKET_RETURN ignore_ticket(SSL *ssl, SSL_SESSION *ss, const unsigned char *name,
                                       size_t len, SSL_TICKET_STATUS st, void *arg)
{
    (void)ssl, (void)ss, (void)name, (void)len, (void)st, (void)arg;
    return SSL_TICKET_RETURN_IGNORE;
}

/* A ticket split over records and half received leaves OpenSSL unable to write: the engine
 * holds the plaintext (and a close_notify) and sends them, in order, once the rest is read. */
static void test_split_ticket(void)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    SSL_CTX_set_session_ticket_cb(s.ctx, big_ticket, ignore_ticket, NULL);
    SSL_set_max_send_fragment(s.ssl, 512);
    CHECK(SSL_new_session_ticket(s.ssl) == 1);
    CHECK(SSL_do_handshake(s.ssl) == 1);
    CHECK(BIO_ctrl_pending(s.out) > 2000);

    char wire[700], buf[64];
    int r = BIO_read(s.out, wire, sizeof wire); /* one record and a bit */
    CHECK(or_tls_feed(c, wire, (size_t)r) == OR_OK);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == 0);
    CHECK(or_tls_write(c, "one,", 4, &eb) == OR_OK);
    CHECK(or_tls_write(c, "two", 3, &eb) == OR_OK);
    or_tls_shutdown(c);
    CHECK(or_tls_pending(c) == 0); /* held back */

    ptrdiff_t end;
    CHECK(client_read(c, &s, buf, sizeof buf, 16384, &end) == 0 && end == 0);
    CHECK(or_tls_pending(c) > 0);
    CHECK(server_read(c, &s, buf, sizeof buf) == 7 && memcmp(buf, "one,two", 7) == 0);
    size_t n;
    CHECK(SSL_read_ex(s.ssl, buf, sizeof buf, &n) == 0);
    CHECK(SSL_get_error(s.ssl, 0) == SSL_ERROR_ZERO_RETURN); /* the close_notify came last */
    or_tls_free(c);
    server_free(&s);

    /* Freed while holding data: nothing leaks. */
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    SSL_CTX_set_session_ticket_cb(s.ctx, big_ticket, ignore_ticket, NULL);
    SSL_set_max_send_fragment(s.ssl, 512);
    CHECK(SSL_new_session_ticket(s.ssl) == 1);
    CHECK(SSL_do_handshake(s.ssl) == 1);
    r = BIO_read(s.out, wire, sizeof wire);
    CHECK(or_tls_feed(c, wire, (size_t)r) == OR_OK);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == 0);
    CHECK(or_tls_write(c, "secret", 6, &eb) == OR_OK);
    or_tls_free(c);
    server_free(&s);
}

static void test_close_notify(void)
{
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    size_t put;
    CHECK(SSL_write_ex(s.ssl, "last words", 10, &put) == 1);
    CHECK(SSL_shutdown(s.ssl) == 0);
    char buf[64];
    ptrdiff_t end;
    CHECK(client_read(c, &s, buf, sizeof buf, 16384, &end) == 10);
    CHECK(end == OR_TLS_READ_EOF);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == OR_TLS_READ_EOF); /* and again */
    or_tls_shutdown(c);
    CHECK(or_tls_pending(c) > 0);
    pump(c, &s, 16384);
    CHECK(SSL_shutdown(s.ssl) == 1); /* the server saw ours */
    or_tls_free(c);
    server_free(&s);

    /* The client closing first: the server reads end of stream. */
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    or_tls_shutdown(c);
    pump(c, &s, 16384);
    size_t n;
    CHECK(SSL_read_ex(s.ssl, buf, sizeof buf, &n) == 0);
    CHECK(SSL_get_error(s.ssl, 0) == SSL_ERROR_ZERO_RETURN);
    or_tls_free(c);
    server_free(&s);
}

static void test_garbage(void)
{
#define JUNK(s)                                                                                    \
    {                                                                                              \
        s, sizeof s - 1                                                                            \
    }
    static const struct {
        const char *p;
        size_t n;
    } junk[] = {
        JUNK("HTTP/1.1 400 Bad Request\r\n\r\n"),
        JUNK("\x16\x03\x03\x00\x04\x02\xff\xff\xff"), /* a 16 MB ServerHello */
        JUNK("\x15\x03\x03\x00\x02\x02\x28"),         /* a handshake_failure alert */
        JUNK("\x16\x03\x03\xff\xff"),                 /* a record longer than allowed */
        JUNK("\x17\x03\x03\x00\x04"
             "abcd"), /* data before the handshake */
    };
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        or_tls *c;
        or_errbuf eb = {{0}};
        CHECK(or_tls_new("localhost", true, &c, &eb) == OR_OK);
        CHECK(or_tls_handshake(c, &eb) == OR_TLS_WANT);
        char hello[4096];
        CHECK(or_tls_take(c, hello, sizeof hello) > 0); /* the ClientHello */
        CHECK(or_tls_feed(c, junk[i].p, junk[i].n) == OR_OK);
        CHECK(or_tls_handshake(c, &eb) == OR_TLS_FAIL);
        if (!eb.msg[0])
            fprintf(stderr, "  no detail for junk %zu\n", i);
        CHECK(eb.msg[0] != '\0');
        or_tls_free(c);
    }

    /* After the handshake: a forged application-data record. */
    or_tls *c;
    server s;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &c, &s, &eb) == OR_TLS_DONE);
    char rec[5 + 64] = "\x17\x03\x03\x00\x40";
    fill(rec + 5, 64, 9);
    CHECK(or_tls_feed(c, rec, sizeof rec) == OR_OK);
    char buf[128];
    memset(&eb, 0, sizeof eb);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == OR_TLS_READ_ERR);
    CHECK(strstr(eb.msg, "TLS read") != NULL);
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == OR_TLS_READ_ERR);
    CHECK(or_tls_write(c, "x", 1, &eb) == OR_EUPSTREAM);
    or_tls_free(c);
    server_free(&s);
}

static void test_api_edges(void)
{
    or_tls *c;
    or_errbuf eb;
    char big[300];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK(or_tls_new("", true, &c, &eb) == OR_EINVAL && c == NULL);
    CHECK(or_tls_new(big, true, &c, &eb) == OR_EINVAL && c == NULL);

    CHECK(or_tls_new("localhost", true, &c, &eb) == OR_OK);
    CHECK(or_tls_write(c, "early", 5, &eb) == OR_EINVAL);
    char buf[16];
    CHECK(or_tls_read(c, buf, sizeof buf, &eb) == 0); /* reading drives the handshake */
    CHECK(or_tls_pending(c) > 0);
    or_tls_shutdown(c); /* before the handshake: nothing */
    /* The cap on unread ciphertext. */
    char *junk = calloc(1, OR_TLS_FEED_MAX);
    CHECK(or_tls_feed(c, junk, OR_TLS_FEED_MAX) == OR_OK);
    CHECK(or_tls_feed(c, junk, 1) == OR_ETOOBIG);
    free(junk);
    or_tls_free(c);
    or_tls_free(NULL);
}

/* An https proxy tunnel: the inner session's ciphertext rides in the outer one's plaintext. */
static void test_stacked(void)
{
    or_tls *outer, *inner;
    server proxy, origin;
    or_errbuf eb;
    CHECK(connect_to("localhost", true, cert_good, key_good, 0, &outer, &proxy, &eb) ==
          OR_TLS_DONE);
    server_start(&origin, cert_good, key_good, 0);
    CHECK(or_tls_new("127.0.0.1", true, &inner, &eb) == OR_OK);

    char buf[16384];
    size_t n;
    or_tls_step st = OR_TLS_WANT;
    char *want = malloc(256 << 10), *got = malloc(256 << 10);
    fill(want, 256 << 10, 3);
    size_t gotn = 0;
    bool sent = false;
    for (int round = 0; round < 200 && gotn < (256u << 10); round++) {
        if (st == OR_TLS_WANT)
            st = or_tls_handshake(inner, &eb);
        if (origin.hs != 1)
            origin.hs = SSL_do_handshake(origin.ssl);
        if (st == OR_TLS_DONE && origin.hs == 1 && !sent) {
            CHECK(SSL_write_ex(origin.ssl, want, 256 << 10, &n) == 1);
            sent = true;
        }
        while ((n = or_tls_take(inner, buf, sizeof buf)) > 0)
            CHECK(or_tls_write(outer, buf, n, &eb) == OR_OK);
        /* The proxy relays plaintext between its TLS session and the origin's socket. */
        pump(outer, &proxy, 4000);
        while (SSL_read_ex(proxy.ssl, buf, sizeof buf, &n) == 1)
            BIO_write(origin.in, buf, (int)n);
        int r;
        while ((r = BIO_read(origin.out, buf, sizeof buf)) > 0)
            SSL_write_ex(proxy.ssl, buf, (size_t)r, &n);
        pump(outer, &proxy, 4000);
        ptrdiff_t k;
        while ((k = or_tls_read(outer, buf, sizeof buf, &eb)) > 0)
            CHECK(or_tls_feed(inner, buf, (size_t)k) == OR_OK);
        while (st == OR_TLS_DONE &&
               (k = or_tls_read(inner, got + gotn, (256 << 10) - gotn, &eb)) > 0)
            gotn += (size_t)k;
        ERR_clear_error();
    }
    CHECK(st == OR_TLS_DONE);
    CHECK(gotn == (256u << 10) && memcmp(got, want, gotn) == 0);
    free(want);
    free(got);
    or_tls_free(inner);
    or_tls_free(outer);
    server_free(&origin);
    server_free(&proxy);
}

/* ---- NODE_EXTRA_CA_CERTS, in children (the context reads the environment once) ---------- */

static void extra_ca_child(const char *file, const char *extra, X509 *cert, EVP_PKEY *key,
                           bool trusted)
{
    setenv("SSL_CERT_FILE", file, 1);
    setenv("NODE_EXTRA_CA_CERTS", extra, 1);
    or_errbuf eb;
    CHECK(or_tls_global_init(&eb) == OR_OK);
    or_tls *c;
    server s;
    or_tls_step st = connect_to("localhost", true, cert, key, 0, &c, &s, &eb);
    CHECK(st == (trusted ? OR_TLS_DONE : OR_TLS_FAIL));
    if (!trusted)
        CHECK(strstr(eb.msg, "unable to get local issuer certificate") != NULL);
    or_tls_free(c);
    server_free(&s);
    or_tls_global_free();
    free_certs();
    exit(check_done());
}

static void run_child(const char *file, const char *extra, X509 *cert, EVP_PKEY *key, bool trusted)
{
    fflush(NULL);
    pid_t pid = fork();
    CHECK(pid >= 0);
    if (pid == 0)
        extra_ca_child(file, extra, cert, key, trusted);
    int status = 0;
    CHECK(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

int main(void)
{
    make_certs();
    static const char none[] = "/nonexistent/or_tls_none.pem";
    run_child(none, ca_path, cert_leaf, key_leaf, true);    /* the CA trusts what it signed */
    run_child(none, junk_path, cert_leaf, key_leaf, false); /* a bad file is ignored */
    /* The default file named again (skipped as a duplicate) still trusts. */
    run_child(trust_path, trust_path, cert_good, key_good, true);

    setenv("SSL_CERT_FILE", trust_path, 1);
    setenv("NODE_EXTRA_CA_CERTS", "/nonexistent/or_tls_extra.pem", 1); /* missing: ignored */
    or_errbuf eb;
    CHECK(or_tls_global_init(&eb) == OR_OK);
    CHECK(or_tls_global_init(&eb) == OR_OK);

    test_megabyte_each_way();
    test_sni_and_ip_literals();
    test_verify_failures();
    test_tls12();
    test_post_handshake_messages();
    test_split_ticket();
    test_close_notify();
    test_garbage();
    test_api_edges();
    test_stacked();

    or_tls_global_free();
    CHECK(or_tls_global_init(&eb) == OR_EUNAVAIL);
    free_certs();
    remove_files();
    return check_done();
}
