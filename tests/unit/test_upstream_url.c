/* The URL splitter the upstream client dials with: targets, proxies, credentials, IPv6, and
 * every malformed shape it must refuse. */
#include "check.h"

#include "upstream/url.h"

#include <string.h>

static void target(const char *s, or_url_scheme sc, const char *host, unsigned port,
                   const char *tgt)
{
    or_url u;
    or_errbuf eb = {{0}};
    or_err e = or_url_parse(s, false, &u, &eb);
    CHECK(e == OR_OK);
    if (e != OR_OK) {
        fprintf(stderr, "  %s: %s\n", s, eb.msg);
        return;
    }
    CHECK(u.scheme == sc);
    CHECK_STR(u.host, host);
    CHECK(u.port == port);
    CHECK(u.target_len == strlen(tgt) && memcmp(u.target, tgt, u.target_len) == 0);
}

static void refused(const char *s, bool creds, or_err want)
{
    or_url u;
    or_errbuf eb = {{0}};
    or_err e = or_url_parse(s, creds, &u, &eb);
    CHECK(e == want);
    if (e != want)
        fprintf(stderr, "  %s: got %s\n", s, or_err_name(e));
    CHECK(e == OR_OK || eb.msg[0]);
    CHECK(u.user[0] == '\0' && u.pass[0] == '\0'); /* nothing half-parsed is left behind */
}

int main(void)
{
    target("http://127.0.0.1:8080/v1/chat/completions", OR_URL_HTTP, "127.0.0.1", 8080,
           "/v1/chat/completions");
    target("https://api.openai.com/v1/models?limit=5#frag", OR_URL_HTTPS, "api.openai.com", 443,
           "/v1/models?limit=5");
    target("HTTPS://example.com", OR_URL_HTTPS, "example.com", 443, "/");
    target("http://example.com:/x", OR_URL_HTTP, "example.com", 80, "/x");
    target("http://[::1]:9000/a", OR_URL_HTTP, "::1", 9000, "/a");
    target("https://[2001:db8::7]/", OR_URL_HTTPS, "2001:db8::7", 443, "/");

    or_url u;
    CHECK(or_url_parse("http://[::1]/", false, &u, NULL) == OR_OK && u.ipv6 && u.ip);
    CHECK(or_url_parse("http://10.0.0.1/", false, &u, NULL) == OR_OK && !u.ipv6 && u.ip);
    CHECK(or_url_parse("http://10.0.0.1.example/", false, &u, NULL) == OR_OK && !u.ip);

    /* Proxies: credentials %-decoded; the last '@' ends them. */
    CHECK(or_url_parse("socks5h://us%40er:p%3Ass@w@proxy.local:1081", true, &u, NULL) == OR_OK);
    CHECK(u.scheme == OR_URL_SOCKS5 && u.has_user && u.port == 1081);
    CHECK_STR(u.user, "us@er");
    CHECK_STR(u.pass, "p:ss@w");
    CHECK_STR(u.host, "proxy.local");
    or_url_wipe(&u);
    CHECK(u.user[0] == '\0' && u.pass[0] == '\0');
    CHECK(or_url_parse("socks5://p", true, &u, NULL) == OR_OK && u.port == 1080 && !u.has_user);
    CHECK(or_url_parse("http://user@p:3128", true, &u, NULL) == OR_OK && u.has_user);
    CHECK_STR(u.user, "user");
    CHECK_STR(u.pass, "");

    refused("http://u:p@host/", false, OR_EINVAL); /* credentials only where allowed */
    refused("ftp://host/", true, OR_EINVAL);
    refused("host/path", true, OR_EINVAL);
    refused("http:///path", true, OR_EINVAL);
    refused("http://:80/", true, OR_EINVAL);
    refused("http://host:0/", true, OR_EINVAL);
    refused("http://host:65536/", true, OR_EINVAL);
    refused("http://host:8o/", true, OR_EINVAL);
    refused("http://[::1/", true, OR_EINVAL);
    refused("http://[::1]x/", true, OR_EINVAL);
    refused("http://[not:an:ip]/", true, OR_EINVAL);
    refused("http://ho st/", true, OR_EINVAL);
    refused("http://host/a b", true, OR_EINVAL);
    refused("http://host/\r\nX: y", true, OR_EINVAL);
    refused("http://host?q=1", true, OR_EINVAL);
    refused("http://u:%zz@host/", true, OR_EINVAL);
    refused("http://u:%4@host/", true, OR_EINVAL);
    refused("http://u:%00@host/", true, OR_EINVAL);
    refused(NULL, true, OR_EINVAL);

    char longhost[400];
    memset(longhost, 'a', sizeof longhost);
    memcpy(longhost, "http://", 7);
    longhost[sizeof longhost - 1] = '\0';
    refused(longhost, true, OR_ETOOBIG);
    char longuser[700] = "socks5://";
    memset(longuser + 9, 'u', 300);
    strcpy(longuser + 309, "@h");
    refused(longuser, true, OR_ETOOBIG);
    return check_done();
}
