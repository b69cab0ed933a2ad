/* Unit tests of the route pattern matcher. */
#include "app/routes.h"
#include "check.h"

static void test_match(void)
{
    or_route_params p;
    char buf[256];
    CHECK(or_routes_match("/v1/models", "/v1/models", &p, buf, sizeof buf));
    CHECK(p.n == 0);
    CHECK(!or_routes_match("/v1/models", "/v1/models/", &p, buf, sizeof buf));
    CHECK(!or_routes_match("/v1/models", "/v1/model", &p, buf, sizeof buf));
    CHECK(or_routes_match("/api/providers/{id}", "/api/providers/abc-123", &p, buf, sizeof buf));
    CHECK(p.n == 1);
    CHECK_STR(p.v[0], "abc-123");
    CHECK(or_routes_match("/api/providers/{id}/test", "/api/providers/a%2Fb/test", &p, buf,
                          sizeof buf));
    CHECK_STR(p.v[0], "a/b");
    CHECK(!or_routes_match("/api/providers/{id}", "/api/providers/", &p, buf, sizeof buf));
    CHECK(!or_routes_match("/api/providers/{id}", "/api/providers/a/b", &p, buf, sizeof buf));
    CHECK(!or_routes_match("/api/providers/{id}", "/api/providers/%00", &p, buf, sizeof buf));
    char tiny[4];
    CHECK(!or_routes_match("/x/{id}", "/x/abcdef", &p, tiny, sizeof tiny));
}

int main(void)
{
    test_match();
    return check_done();
}
