#include "route/strategy.h"

#include "core/rand.h"

#include <stdbool.h>
#include <string.h>

static const or_strategy *const table[] = {
    &or_strategy_priority, &or_strategy_round_robin, &or_strategy_random,
    &or_strategy_weighted, &or_strategy_least_used,  &or_strategy_cost_optimized,
};

static const struct {
    const char *alias;
    const or_strategy *s;
} aliases[] = {
    {"fill-first", &or_strategy_priority},
    {"usage", &or_strategy_least_used},
    {"cost", &or_strategy_cost_optimized},
};

/* Names compare with '_' and '-' as the same letter: "round_robin" is "round-robin". */
bool or_strategy_name_eq(const char *a, const char *b)
{
    for (; *a && *b; a++, b++) {
        char x = *a == '_' ? '-' : *a, y = *b == '_' ? '-' : *b;
        if (x != y)
            return false;
    }
    return *a == *b;
}

const or_strategy *or_strategy_find(const char *name)
{
    if (!name || !*name)
        return &or_strategy_priority;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (or_strategy_name_eq(name, table[i]->name))
            return table[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (or_strategy_name_eq(name, aliases[i].alias))
            return aliases[i].s;
    return NULL;
}

size_t or_strategy_count(void)
{
    return sizeof table / sizeof table[0];
}

const or_strategy *or_strategy_at(size_t i)
{
    return i < or_strategy_count() ? table[i] : NULL;
}

void or_strategy_identity(size_t n, size_t out[])
{
    for (size_t i = 0; i < n; i++)
        out[i] = i;
}

void or_strategy_shuffle(size_t n, size_t out[])
{
    for (size_t i = n; i > 1; i--) {
        size_t j = or_rand_uniform((uint32_t)(i > UINT32_MAX ? UINT32_MAX : i));
        size_t t = out[i - 1];
        out[i - 1] = out[j];
        out[j] = t;
    }
}

/* Insertion sort: combos have a handful of targets, and it is stable. */
void or_strategy_sort(size_t n, size_t out[], int (*cmp)(const void *ud, size_t a, size_t b),
                      const void *ud)
{
    for (size_t i = 1; i < n; i++) {
        size_t v = out[i], j = i;
        while (j > 0 && cmp(ud, v, out[j - 1]) < 0) {
            out[j] = out[j - 1];
            j--;
        }
        out[j] = v;
    }
}
