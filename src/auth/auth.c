#include "auth/auth.h"

#include "auth/jwt.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/rand.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY_HEX_LEN 64

/* Reads the hex key from an open file; refuses anything that is not exactly 32 bytes of hex. */
static or_err read_key(int fd, const char *path, uint8_t out[32], or_errbuf *eb)
{
    or_err e = OR_OK;
    char text[KEY_HEX_LEN + 8];
    struct stat st;
    size_t len = 0, bin_len = 0;

    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        e = or_fail(eb, OR_EIO, "%s is not a regular file", path);
        goto out;
    }
    if ((st.st_mode & 077) != 0) {
        or_log_warn("auth: %s was readable by others; setting mode 0600", path);
        if (fchmod(fd, 0600) != 0)
            or_log_warn("auth: chmod %s: %s", path, strerror(errno));
    }
    while (len < sizeof text - 1) {
        ssize_t n = read(fd, text + len, sizeof text - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            e = or_fail(eb, OR_EIO, "read %s: %s", path, strerror(errno));
            goto out;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    text[len] = '\0';
    if (sodium_hex2bin(out, 32, text, len, "\r\n\t ", &bin_len, NULL) != 0 || bin_len != 32) {
        e = or_fail(eb, OR_ECRYPTO, "%s does not hold a 64-hex-digit key", path);
        goto out;
    }
out:
    sodium_memzero(text, sizeof text);
    return e;
}

static or_err write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return OR_EIO;
        p += w;
        n -= (size_t)w;
    }
    return OR_OK;
}

/* Writes a fresh key to a private temporary file, then links it into place: link() fails with
 * EEXIST if another process won the race, and a crash never leaves a half-written key file. */
static or_err create_key(const char *path, uint8_t out[32], bool *lost_race, or_errbuf *eb)
{
    or_err e = OR_OK;
    char tmp[PATH_MAX], text[KEY_HEX_LEN + 2], tag[17];
    int fd = -1;
    bool linked_tmp = false;

    *lost_race = false;
    or_rand_hex(tag, 8);
    if (snprintf(tmp, sizeof tmp, "%s.%s.tmp", path, tag) >= (int)sizeof tmp) {
        e = or_fail(eb, OR_EINVAL, "data directory path too long");
        goto out;
    }
    or_rand_bytes(out, 32);
    sodium_bin2hex(text, sizeof text, out, 32);
    text[KEY_HEX_LEN] = '\n';
    fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        e = or_fail(eb, OR_EIO, "create %s: %s", tmp, strerror(errno));
        goto out;
    }
    linked_tmp = true;
    if (fchmod(fd, 0600) != 0 || write_all(fd, text, KEY_HEX_LEN + 1) != OR_OK || fsync(fd) != 0) {
        e = or_fail(eb, OR_EIO, "write %s: %s", tmp, strerror(errno));
        goto out;
    }
    if (link(tmp, path) != 0) {
        if (errno == EEXIST)
            *lost_race = true;
        else
            e = or_fail(eb, OR_EIO, "link %s: %s", path, strerror(errno));
        goto out;
    }
    or_log_info("auth: generated a new secret in %s", path);
out:
    if (fd >= 0)
        close(fd);
    if (linked_tmp)
        unlink(tmp);
    sodium_memzero(text, sizeof text);
    if (e != OR_OK || *lost_race)
        sodium_memzero(out, 32);
    return e;
}

or_err or_auth_load_secret(const char *data_dir, const char *env_name, const char *file,
                           uint8_t out[32], or_errbuf *eb)
{
    or_err e = OR_OK;
    char path[PATH_MAX];
    const char *env = env_name ? getenv(env_name) : NULL;

    if (env && *env) {
        crypto_generichash(out, 32, (const unsigned char *)env, strlen(env), NULL, 0);
        goto out;
    }
    if (!data_dir || !*data_dir) {
        e = or_fail(eb, OR_EINVAL, "no data directory for %s", file);
        goto out;
    }
    if (snprintf(path, sizeof path, "%s/%s", data_dir, file) >= (int)sizeof path) {
        e = or_fail(eb, OR_EINVAL, "data directory path too long");
        goto out;
    }
    if (mkdir(data_dir, 0700) != 0 && errno != EEXIST) {
        e = or_fail(eb, OR_EIO, "mkdir %s: %s", data_dir, strerror(errno));
        goto out;
    }
    /* Two rounds cover "another process created the file between our open and our link". */
    for (int round = 0; round < 2; round++) {
        int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
            e = read_key(fd, path, out, eb);
            close(fd);
            goto out;
        }
        if (errno != ENOENT) {
            e = or_fail(eb, OR_EIO, "open %s: %s", path, strerror(errno));
            goto out;
        }
        bool lost = false;
        e = create_key(path, out, &lost, eb);
        if (e != OR_OK || !lost)
            goto out;
    }
    e = or_fail(eb, OR_EIO, "could not create or read %s", path);
out:
    if (e != OR_OK)
        sodium_memzero(out, 32);
    return e;
}

or_err or_auth_load_jwt_key(const char *data_dir, uint8_t out[32], or_errbuf *eb)
{
    return or_auth_load_secret(data_dir, "JWT_SECRET", OR_AUTH_KEY_FILE, out, eb);
}

or_err or_auth_session_issue(const uint8_t key[32], unsigned ttl_s, char **token, or_errbuf *eb)
{
    json_int_t now = (json_int_t)(or_clock_wall_ms() / 1000);
    json_t *claims = json_pack("{s:s, s:b, s:I, s:I}", "sub", "admin", "authenticated", 1, "iat",
                               now, "exp", now + (json_int_t)ttl_s);
    if (!claims) {
        *token = NULL;
        return or_fail(eb, OR_ENOMEM, "out of memory");
    }
    or_err e = or_jwt_sign(key, claims, token, eb);
    json_decref(claims);
    return e;
}

or_err or_auth_session_verify(const uint8_t key[32], const char *token, size_t len, or_errbuf *eb)
{
    return or_auth_session_verify_since(key, token, len, 0, eb);
}

or_err or_auth_session_verify_since(const uint8_t key[32], const char *token, size_t len,
                                    int64_t not_before_s, or_errbuf *eb)
{
    json_t *claims = NULL;
    or_err e = or_jwt_verify(key, token, len, &claims, eb);
    if (e != OR_OK)
        goto out;
    const json_t *sub = json_object_get(claims, "sub");
    if (!json_is_string(sub) || strcmp(json_string_value(sub), "admin") != 0) {
        e = or_fail(eb, OR_EAUTH, "not a session token");
        goto out;
    }
    /* jwt.h guarantees iat is an integer. */
    if (json_integer_value(json_object_get(claims, "iat")) < not_before_s)
        e = or_fail(eb, OR_EAUTH, "session was revoked by a password change");
out:
    json_decref(claims);
    return e;
}
