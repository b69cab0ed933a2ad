/* The dashboard password against a real store on a temp dir (first login with INITIAL_PASSWORD
 * stores an argon2id hash; afterwards only the hash counts), and the session key file
 * (generated once, mode 0600, stable across loads; JWT_SECRET overrides it). */
#include "check.h"

#include "auth/auth.h"
#include "auth/password.h"
#include "core/rand.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void test_hash(void)
{
    char h[OR_PASSWORD_HASH_MAX];
    CHECK(or_password_hash("correct horse", h, NULL) == OR_OK);
    CHECK(strncmp(h, "$argon2id$", 10) == 0);
    CHECK(or_password_hash_ok(h, "correct horse"));
    CHECK(!or_password_hash_ok(h, "correct horsE"));
    CHECK(!or_password_hash_ok(h, ""));
    CHECK(!or_password_hash_ok("not a hash", "correct horse"));
    char *huge = malloc(OR_PASSWORD_MAX + 2);
    memset(huge, 'x', OR_PASSWORD_MAX + 1);
    huge[OR_PASSWORD_MAX + 1] = '\0';
    CHECK(or_password_hash(huge, h, NULL) == OR_EINVAL);
    free(huge);
}

static void test_store_flow(void)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/pw", root);
    or_store *s = NULL;
    or_errbuf eb = {{0}};
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    if (!s) {
        fprintf(stderr, "store: %s\n", eb.msg);
        return;
    }

    /* nothing configured */
    CHECK(!or_password_configured(s, NULL));
    CHECK(!or_password_configured(s, ""));
    CHECK(or_password_check(s, NULL, "anything", NULL) == OR_EUNAVAIL);
    CHECK(or_password_check(s, "", "", NULL) == OR_EUNAVAIL);

    /* INITIAL_PASSWORD until the first successful login */
    CHECK(or_password_configured(s, "first-pass"));
    CHECK(or_password_check(s, "first-pass", "first-pas", NULL) == OR_EAUTH);
    CHECK(or_password_check(s, "first-pass", "first-passs", NULL) == OR_EAUTH);
    json_t *h = or_store_setting_get(s, OR_PASSWORD_SETTING);
    CHECK(h == NULL);
    json_decref(h);
    CHECK(or_password_check(s, "first-pass", "first-pass", NULL) == OR_OK);
    h = or_store_setting_get(s, OR_PASSWORD_SETTING);
    CHECK(json_is_string(h) && strncmp(json_string_value(h), "$argon2id$", 10) == 0);
    json_decref(h);

    /* from now on the stored hash decides, whatever INITIAL_PASSWORD says */
    CHECK(or_password_configured(s, NULL));
    CHECK(or_password_check(s, NULL, "first-pass", NULL) == OR_OK);
    CHECK(or_password_check(s, "changed", "changed", NULL) == OR_EAUTH);
    CHECK(or_password_check(s, "changed", "first-pass", NULL) == OR_OK);

    /* a new password replaces it */
    CHECK(or_password_set(s, "abc", NULL) == OR_EINVAL);
    CHECK(or_password_set(s, "new-secret", NULL) == OR_OK);
    CHECK(or_password_check(s, NULL, "first-pass", NULL) == OR_EAUTH);
    CHECK(or_password_check(s, NULL, "new-secret", NULL) == OR_OK);
    or_store_close(s);

    /* and it survives a restart */
    s = NULL;
    CHECK(or_store_open(dir, &s, &eb) == OR_OK);
    if (s) {
        CHECK(or_password_check(s, "first-pass", "new-secret", NULL) == OR_OK);
        CHECK(or_password_check(s, "first-pass", "first-pass", NULL) == OR_EAUTH);
        or_store_close(s);
    }
}

static unsigned mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (unsigned)(st.st_mode & 0777) : 0xffffu;
}

static void test_key_file(void)
{
    char dir[128], path[192];
    uint8_t k1[32], k2[32], k3[32], zero[32] = {0};
    or_errbuf eb = {{0}};

    unsetenv("JWT_SECRET");
    snprintf(dir, sizeof dir, "%s/keys", root);
    snprintf(path, sizeof path, "%s/%s", dir, OR_AUTH_KEY_FILE);
    CHECK(or_auth_load_jwt_key(dir, k1, &eb) == OR_OK);
    CHECK(memcmp(k1, zero, 32) != 0);
    CHECK(mode_of(path) == 0600);
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_OK);
    CHECK(memcmp(k1, k2, 32) == 0);

    /* no temporary file left behind */
    char cmd[256];
    snprintf(cmd, sizeof cmd, "test $(ls -A '%s' | wc -l) -eq 1", dir);
    CHECK(system(cmd) == 0);

    /* a loose mode is tightened on load */
    chmod(path, 0644);
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_OK);
    CHECK(memcmp(k1, k2, 32) == 0);
    CHECK(mode_of(path) == 0600);

    /* another data dir gets another key */
    char dir2[128];
    snprintf(dir2, sizeof dir2, "%s/keys2", root);
    CHECK(or_auth_load_jwt_key(dir2, k3, &eb) == OR_OK);
    CHECK(memcmp(k1, k3, 32) != 0);

    /* a session signed with one key does not open with the other */
    char *tok = NULL;
    CHECK(or_auth_session_issue(k1, 60, &tok, NULL) == OR_OK);
    CHECK(or_auth_session_verify(k1, tok, strlen(tok), NULL) == OR_OK);
    CHECK(or_auth_session_verify(k3, tok, strlen(tok), NULL) == OR_EAUTH);
    free(tok);

    /* JWT_SECRET wins and does not touch the file */
    setenv("JWT_SECRET", "my shared secret", 1);
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_OK);
    CHECK(memcmp(k1, k2, 32) != 0);
    CHECK(or_auth_load_jwt_key(dir2, k3, &eb) == OR_OK);
    CHECK(memcmp(k2, k3, 32) == 0);
    unsetenv("JWT_SECRET");
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_OK);
    CHECK(memcmp(k1, k2, 32) == 0);

    /* a damaged file is an error, not a silent new key */
    FILE *f = fopen(path, "w");
    fputs("not hex\n", f);
    fclose(f);
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_ECRYPTO);
    CHECK(memcmp(k2, zero, 32) == 0);

    /* a symlink in place of the file is refused */
    unlink(path);
    CHECK(symlink("/etc/passwd", path) == 0);
    CHECK(or_auth_load_jwt_key(dir, k2, &eb) == OR_EIO);
    unlink(path);

    /* data dir missing is created */
    char dir3[192];
    snprintf(dir3, sizeof dir3, "%s/fresh", root);
    CHECK(or_auth_load_jwt_key(dir3, k2, &eb) == OR_OK);
    CHECK(or_auth_load_jwt_key(NULL, k2, &eb) == OR_EINVAL);
}

int main(void)
{
    or_rand_init();
    snprintf(root, sizeof root, "/tmp/or-test-auth-XXXXXX");
    if (!mkdtemp(root))
        return 1;
    test_hash();
    test_store_flow();
    test_key_file();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", root);
    return check_done();
}
