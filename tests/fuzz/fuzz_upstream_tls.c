/* Fuzz target: the TLS client engine reading a hostile server. Each input is what a server
 * answers to a fresh session's ClientHello; it goes in whole to a verifying session and in
 * small pieces to a non-verifying one (which gets further: past the certificate to the
 * key-exchange signature). Handshake, reads, writes and shutdown are driven until the input
 * runs out. Nothing may crash or leak, and a failure must always say why. */
#include "upstream/tls.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char sink[16384];

static void drain(or_tls *t)
{
    while (or_tls_take(t, sink, sizeof sink) > 0)
        ;
}

/* Returns false once the session is dead. */
static bool step(or_tls *t)
{
    or_errbuf eb = {{0}};
    or_tls_step st = or_tls_handshake(t, &eb);
    drain(t);
    if (st == OR_TLS_FAIL) {
        if (!eb.msg[0])
            abort();
        return false;
    }
    if (st == OR_TLS_WANT)
        return true;
    ptrdiff_t k;
    while ((k = or_tls_read(t, sink, sizeof sink, &eb)) > 0)
        ;
    drain(t);
    if (k == OR_TLS_READ_ERR && !eb.msg[0])
        abort();
    if (k == 0 && or_tls_write(t, "GET / HTTP/1.1\r\n\r\n", 18, &eb) == OR_OK)
        drain(t);
    return k == 0;
}

static void run(const uint8_t *data, size_t size, bool verify, size_t piece)
{
    or_tls *t;
    or_errbuf eb;
    if (or_tls_new("localhost", verify, &t, &eb) != OR_OK)
        abort();
    if (or_tls_handshake(t, &eb) != OR_TLS_WANT || or_tls_pending(t) == 0)
        abort(); /* a ClientHello, waiting for the answer */
    drain(t);
    bool alive = true;
    for (size_t off = 0; off < size && alive; off += piece) {
        size_t n = size - off < piece ? size - off : piece;
        if (or_tls_feed(t, (const char *)data + off, n) != OR_OK)
            abort();
        alive = step(t);
    }
    or_tls_shutdown(t);
    drain(t);
    or_tls_trim(t);
    or_tls_free(t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool ready;
    if (!ready) {
        or_errbuf eb;
        if (or_tls_global_init(&eb) != OR_OK)
            abort();
        ready = true;
    }
    run(data, size, true, size ? size : 1);
    run(data, size, false, 1 + size % 61);
    return 0;
}
