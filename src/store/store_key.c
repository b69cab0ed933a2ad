#include "store/store_key.h"

#include "core/log.h"
#include "core/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_LEN crypto_secretbox_KEYBYTES
#define KEY_HEX_LEN (2 * KEY_LEN)
#define NONCE_LEN crypto_secretbox_NONCEBYTES
#define MAC_LEN crypto_secretbox_MACBYTES
#define B64 sodium_base64_VARIANT_ORIGINAL
/* A sealed value larger than this is not an api key; refuse rather than allocate blindly. */
#define SEALED_MAX (1u << 20)

/* Exactly KEY_HEX_LEN hex digits → key bytes; anything else is not a hex key. */
static int hex_key(const char *hex, size_t len, unsigned char *key)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (len != KEY_HEX_LEN)
        return -1;
    if (sodium_hex2bin(key, KEY_LEN, hex, len, NULL, &bin_len, &end) != 0)
        return -1;
    return (bin_len == KEY_LEN && end == hex + len) ? 0 : -1;
}

static or_err key_from_env(const char *env, unsigned char *key, or_errbuf *eb)
{
    size_t len = strlen(env);
    if (hex_key(env, len, key) == 0) {
        or_log_info("store: secret key from STORAGE_ENCRYPTION_KEY (hex)");
        return OR_OK;
    }
    /* Any other string is a passphrase: hash it so every length gives a full-strength key. */
    if (crypto_generichash(key, KEY_LEN, (const unsigned char *)env, len, NULL, 0) != 0)
        return or_fail(eb, OR_ECRYPTO, "cannot derive key from STORAGE_ENCRYPTION_KEY");
    or_log_info("store: secret key derived from STORAGE_ENCRYPTION_KEY");
    return OR_OK;
}

static or_err read_key_file(const char *path, unsigned char *key, or_errbuf *eb)
{
    char buf[KEY_HEX_LEN + 16];
    size_t len = 0;
    or_err rc = OR_OK;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
        goto out;
    }
    struct stat st;
    if (fstat(fd, &st) == 0 && (st.st_mode & 077))
        or_log_warn("store: %s is readable by group/others (mode %03o); chmod 600 it", path,
                    (unsigned)(st.st_mode & 0777));
    while (len < sizeof buf) {
        ssize_t n = read(fd, buf + len, sizeof buf - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = or_fail(eb, OR_EIO, "read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r' || buf[len - 1] == ' '))
        len--;
    if (hex_key(buf, len, key) != 0)
        rc = or_fail(eb, OR_ECRYPTO, "%s is not %d hex digits", path, KEY_HEX_LEN);
out:
    sodium_memzero(buf, sizeof buf);
    if (fd >= 0)
        close(fd);
    return rc;
}

/* O_EXCL: two processes starting on an empty DATA_DIR must not both write a key; the loser
 * gets EEXIST and reads the winner's. */
static or_err create_key_file(const char *path, unsigned char *key, bool *exists, or_errbuf *eb)
{
    char hex[KEY_HEX_LEN + 2];
    or_err rc = OR_OK;
    *exists = false;
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            *exists = true;
        else
            rc = or_fail(eb, OR_EIO, "create %s: %s", path, strerror(errno));
        goto out;
    }
    or_rand_bytes(key, KEY_LEN);
    sodium_bin2hex(hex, sizeof hex, key, KEY_LEN);
    size_t len = strlen(hex);
    hex[len++] = '\n';
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, hex + off, len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = or_fail(eb, OR_EIO, "write %s: %s", path, strerror(errno));
            goto out;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0) {
        rc = or_fail(eb, OR_EIO, "fsync %s: %s", path, strerror(errno));
        goto out;
    }
    or_log_info("store: generated a new secret key in %s", path);
out:
    sodium_memzero(hex, sizeof hex);
    if (fd >= 0)
        close(fd);
    /* A half-written key file would make every later start fail; remove it. */
    if (rc != OR_OK && fd >= 0)
        unlink(path);
    return rc;
}

static or_err key_from_file(const char *data_dir, unsigned char *key, or_errbuf *eb)
{
    char path[4096];
    bool exists = false;
    int n = snprintf(path, sizeof path, "%s/storage.key", data_dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return or_fail(eb, OR_EINVAL, "data dir path too long");
    if (access(path, F_OK) != 0) {
        or_err rc = create_key_file(path, key, &exists, eb);
        if (rc != OR_OK || !exists)
            return rc;
    }
    return read_key_file(path, key, eb);
}

or_err or_store_key_load(const char *data_dir, unsigned char **key_out, or_errbuf *eb)
{
    or_err rc = OR_OK;
    unsigned char *key = sodium_malloc(KEY_LEN);
    *key_out = NULL;
    if (!key) {
        rc = or_fail(eb, OR_ENOMEM, "sodium_malloc for the store key");
        goto out;
    }
    const char *env = getenv("STORAGE_ENCRYPTION_KEY");
    if (env && *env)
        rc = key_from_env(env, key, eb);
    else
        rc = key_from_file(data_dir, key, eb);
out:
    if (rc != OR_OK)
        or_store_key_free(key);
    else
        *key_out = key;
    return rc;
}

void or_store_key_free(unsigned char *key)
{
    if (!key)
        return;
    sodium_memzero(key, KEY_LEN);
    sodium_free(key);
}

or_err or_store_key_seal(const unsigned char *key, const char *plain, char **out)
{
    or_err rc = OR_OK;
    size_t plen = strlen(plain);
    size_t blen = NONCE_LEN + MAC_LEN + plen;
    unsigned char *bin = NULL;
    char *b64 = NULL;
    *out = NULL;
    if (plen > SEALED_MAX) {
        rc = OR_ETOOBIG;
        goto out;
    }
    bin = malloc(blen);
    b64 = malloc(sodium_base64_ENCODED_LEN(blen, B64));
    if (!bin || !b64) {
        rc = OR_ENOMEM;
        goto out;
    }
    or_rand_bytes(bin, NONCE_LEN);
    if (crypto_secretbox_easy(bin + NONCE_LEN, (const unsigned char *)plain, plen, bin, key) != 0) {
        rc = OR_ECRYPTO;
        goto out;
    }
    sodium_bin2base64(b64, sodium_base64_ENCODED_LEN(blen, B64), bin, blen, B64);
    *out = b64;
    b64 = NULL;
out:
    free(bin);
    free(b64);
    return rc;
}

or_err or_store_key_unseal(const unsigned char *key, const char *sealed, char **out)
{
    or_err rc = OR_OK;
    size_t slen = strlen(sealed);
    size_t cap = slen / 4 * 3 + 3;
    size_t blen = 0;
    unsigned char *bin = NULL;
    char *plain = NULL;
    *out = NULL;
    if (slen > SEALED_MAX * 2) {
        rc = OR_ETOOBIG;
        goto out;
    }
    bin = malloc(cap);
    if (!bin) {
        rc = OR_ENOMEM;
        goto out;
    }
    if (sodium_base642bin(bin, cap, sealed, slen, NULL, &blen, NULL, B64) != 0 ||
        blen < NONCE_LEN + MAC_LEN) {
        rc = OR_ECRYPTO;
        goto out;
    }
    size_t plen = blen - NONCE_LEN - MAC_LEN;
    plain = malloc(plen + 1);
    if (!plain) {
        rc = OR_ENOMEM;
        goto out;
    }
    if (crypto_secretbox_open_easy((unsigned char *)plain, bin + NONCE_LEN, blen - NONCE_LEN, bin,
                                   key) != 0) {
        rc = OR_ECRYPTO;
        goto out;
    }
    plain[plen] = '\0';
    *out = plain;
    plain = NULL;
out:
    free(bin);
    free(plain); /* only reached on failure, when it holds no plaintext */
    return rc;
}
