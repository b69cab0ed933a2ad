#include "fmt/fmt.h"

#include <string.h>

static const or_fmt *const all[OR_FMT_COUNT] = {
    [OR_FMT_OPENAI] = &or_fmt_openai,
    [OR_FMT_ANTHROPIC] = &or_fmt_anthropic,
    [OR_FMT_GEMINI] = &or_fmt_gemini,
    [OR_FMT_RESPONSES] = &or_fmt_responses,
};

const or_fmt *or_fmt_get(or_format f)
{
    return f < OR_FMT_COUNT ? all[f] : NULL;
}

const or_fmt *or_fmt_by_name(const char *name)
{
    static const struct {
        const char *alias;
        or_format f;
    } aliases[] = {{"anthropic", OR_FMT_ANTHROPIC},
                   {"responses", OR_FMT_RESPONSES},
                   {"openai-chat", OR_FMT_OPENAI}};
    for (int i = 0; i < OR_FMT_COUNT; i++)
        if (strcmp(all[i]->name, name) == 0)
            return all[i];
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (strcmp(aliases[i].alias, name) == 0)
            return all[aliases[i].f];
    return NULL;
}
