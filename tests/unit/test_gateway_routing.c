/* Routing memory: last use and streaks per account, round-robin state and latency per provider,
 * read back through the per-thread memo of the last key found — on another thread, after other
 * keys, with keys too long to remember, and in a routing made after the first one was freed. */
#include "check.h"

#include "gateway/routing.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define A "0b6f7a34-1c2d-4e5f-8a9b-0c1d2e3f4a5b"
#define B "9e8d7c6b-5a49-4382-9170-6f5e4d3c2b1a"

static const char *const ab[2] = {A, B};

static void read_ab(or_routing *r, const char *provider, int64_t used[2], unsigned streaks[2])
{
    or_account_rr *rr = or_routing_accounts(r, provider, ab, 2, used, streaks);
    CHECK(rr != NULL);
}

static void *other_thread(void *arg)
{
    or_routing *r = arg;
    int64_t used[2];
    unsigned streaks[2];
    read_ab(r, "openai", used, streaks);
    CHECK(used[0] == 300 && used[1] == 200);
    CHECK(streaks[0] == 0 && streaks[1] == 1);
    or_routing_touch(r, B, 400); /* seen by the first thread, whose memo points at the same slot */
    return NULL;
}

static void test_memory(void)
{
    or_routing *r = malloc(sizeof *r);
    CHECK(or_routing_init(r) == OR_OK);
    int64_t used[2];
    unsigned streaks[2];
    read_ab(r, "openai", used, streaks);
    CHECK(used[0] == 0 && used[1] == 0 && streaks[0] == 0 && streaks[1] == 0);
    or_routing_touch(r, A, 100);
    read_ab(r, "openai", used, streaks);
    CHECK(used[0] == 100 && used[1] == 0);
    or_routing_touch(r, B, 200);
    or_routing_touch(r, A, 300);
    or_routing_picked(r, "openai", A);
    or_routing_picked(r, "openai", A);
    read_ab(r, "openai", used, streaks);
    CHECK(used[0] == 300 && used[1] == 200);
    CHECK(streaks[0] == 2 && streaks[1] == 0);
    read_ab(r, "anthropic", used, streaks); /* another provider: no streak of its own */
    CHECK(streaks[0] == 0 && streaks[1] == 0);
    or_routing_picked(r, "openai", B);
    read_ab(r, "openai", used, streaks);
    CHECK(streaks[0] == 0 && streaks[1] == 1);
    /* The round-robin state is one per provider, the same pointer every time. */
    or_account_rr *rr1 = or_routing_accounts(r, "openai", ab, 2, used, streaks);
    or_account_rr *rr2 = or_routing_accounts(r, "anthropic", ab, 2, used, streaks);
    CHECK(rr1 && rr2 && rr1 != rr2);
    CHECK(or_routing_accounts(r, "openai", ab, 2, used, streaks) == rr1);

    pthread_t t;
    CHECK(pthread_create(&t, NULL, other_thread, r) == 0);
    pthread_join(t, NULL);
    read_ab(r, "openai", used, streaks);
    CHECK(used[1] == 400);

    /* A key longer than the memo keeps: still found and updated. */
    char longid[100];
    memset(longid, 'x', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    const char *one[1] = {longid};
    or_routing_touch(r, longid, 7);
    or_routing_touch(r, longid, 8);
    or_routing_accounts(r, "openai", one, 1, used, streaks);
    CHECK(used[0] == 8);

    for (uint32_t ms = 1; ms <= 3; ms++)
        or_routing_latency(r, "openai", ms * 10);
    or_routing_latency(r, "anthropic", 5);
    json_t *lat = or_routing_latency_export(r);
    CHECK(json_integer_value(json_object_get(json_object_get(lat, "openai"), "count")) == 3);
    CHECK(json_integer_value(json_object_get(json_object_get(lat, "openai"), "p50")) == 20);
    CHECK(json_integer_value(json_object_get(json_object_get(lat, "anthropic"), "count")) == 1);
    json_decref(lat);

    /* A new routing at the same address knows nothing: the memo must not serve the freed one's
     * slots (ASan would also see the use after free). */
    or_routing_free(r);
    CHECK(or_routing_init(r) == OR_OK);
    read_ab(r, "openai", used, streaks);
    CHECK(used[0] == 0 && used[1] == 0 && streaks[0] == 0 && streaks[1] == 0);
    or_routing_latency(r, "openai", 1);
    lat = or_routing_latency_export(r);
    CHECK(json_integer_value(json_object_get(json_object_get(lat, "openai"), "count")) == 1);
    json_decref(lat);
    or_routing_free(r);
    free(r);
}

int main(void)
{
    test_memory();
    return check_done();
}
