/*
 * provider.c — the provider table. OpenAI-compatible API-key providers are one row each, then
 * the providers of other wire formats; a provider with quirks gets hooks in its own file
 * (none yet).
 */
#include "provider/provider.h"

#include <string.h>

#define MODELS(...) ((const char *const[]){__VA_ARGS__, NULL})
#define OPENAI_CHAT "/chat/completions", "/models", OR_FMT_OPENAI

static const or_provider table[] = {
    {"openai", NULL, "OpenAI", "https://api.openai.com/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("gpt-4o", "gpt-4o-mini", "gpt-4.1", "gpt-4.1-mini", "gpt-5", "gpt-5-mini", "o3",
            "o4-mini")},
    {"deepseek", "ds", "DeepSeek", "https://api.deepseek.com/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("deepseek-chat", "deepseek-reasoner")},
    {"groq", NULL, "Groq", "https://api.groq.com/openai/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("llama-3.3-70b-versatile", "llama-3.1-8b-instant", "openai/gpt-oss-120b",
            "moonshotai/kimi-k2-instruct")},
    {"xai", NULL, "xAI", "https://api.x.ai/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("grok-4", "grok-3", "grok-3-mini", "grok-code-fast-1")},
    {"mistral", NULL, "Mistral", "https://api.mistral.ai/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("mistral-large-latest", "mistral-medium-latest", "codestral-latest",
            "devstral-medium-latest")},
    {"perplexity", "pplx", "Perplexity", "https://api.perplexity.ai", OPENAI_CHAT, OR_AUTH_BEARER,
     NULL, MODELS("sonar", "sonar-pro", "sonar-reasoning-pro")},
    {"together", NULL, "Together AI", "https://api.together.xyz/v1", OPENAI_CHAT, OR_AUTH_BEARER,
     NULL,
     MODELS("meta-llama/Llama-3.3-70B-Instruct-Turbo", "deepseek-ai/DeepSeek-V3",
            "Qwen/Qwen3-Coder-480B-A35B-Instruct-FP8")},
    {"fireworks", NULL, "Fireworks AI", "https://api.fireworks.ai/inference/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL,
     MODELS("accounts/fireworks/models/deepseek-v3", "accounts/fireworks/models/kimi-k2-instruct")},
    {"cerebras", NULL, "Cerebras", "https://api.cerebras.ai/v1", OPENAI_CHAT, OR_AUTH_BEARER, NULL,
     MODELS("llama-3.3-70b", "qwen-3-coder-480b", "gpt-oss-120b")},
    {"cohere", NULL, "Cohere", "https://api.cohere.ai/compatibility/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL, MODELS("command-a-03-2025", "command-r-plus")},
    {"nvidia", NULL, "NVIDIA NIM", "https://integrate.api.nvidia.com/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL,
     MODELS("meta/llama-3.3-70b-instruct", "deepseek-ai/deepseek-r1",
            "qwen/qwen3-coder-480b-a35b-instruct")},
    {"kimi", NULL, "Kimi (Moonshot)", "https://api.moonshot.ai/v1", OPENAI_CHAT, OR_AUTH_BEARER,
     NULL, MODELS("kimi-k2-0905-preview", "kimi-k2-turbo-preview", "kimi-latest")},
    {"openrouter", NULL, "OpenRouter", "https://openrouter.ai/api/v1", OPENAI_CHAT, OR_AUTH_BEARER,
     "HTTP-Referer: https://github.com/omniroute\nX-Title: OmniRoute\n",
     MODELS("openrouter/auto", "anthropic/claude-sonnet-4.5", "google/gemini-2.5-pro",
            "deepseek/deepseek-chat-v3.1")},
    {"glm-cn", NULL, "GLM (BigModel China)", "https://open.bigmodel.cn/api/coding/paas/v4",
     OPENAI_CHAT, OR_AUTH_BEARER, NULL, MODELS("glm-4.6", "glm-4.5", "glm-4.5-air")},
    {"nebius", NULL, "Nebius AI Studio", "https://api.studio.nebius.com/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL,
     MODELS("deepseek-ai/DeepSeek-V3", "Qwen/Qwen3-Coder-480B-A35B-Instruct")},
    {"siliconflow", NULL, "SiliconFlow", "https://api.siliconflow.cn/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL,
     MODELS("deepseek-ai/DeepSeek-V3", "Qwen/Qwen3-Coder-480B-A35B-Instruct")},
    {"hyperbolic", "hyp", "Hyperbolic", "https://api.hyperbolic.xyz/v1", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL, MODELS("deepseek-ai/DeepSeek-V3", "meta-llama/Llama-3.3-70B-Instruct")},
    {"deepinfra", NULL, "DeepInfra", "https://api.deepinfra.com/v1/openai", OPENAI_CHAT,
     OR_AUTH_BEARER, NULL, MODELS("deepseek-ai/DeepSeek-V3", "meta-llama/Llama-3.3-70B-Instruct")},
    {"sambanova", NULL, "SambaNova", "https://api.sambanova.ai/v1", OPENAI_CHAT, OR_AUTH_BEARER,
     NULL, MODELS("DeepSeek-V3-0324", "Meta-Llama-3.3-70B-Instruct")},
    {"longcat", "lc", "LongCat", "https://api.longcat.chat/openai/v1", OPENAI_CHAT, OR_AUTH_BEARER,
     NULL, MODELS("LongCat-Flash-Chat")},
};

#define ANTHROPIC_MSGS "/messages", "/models", OR_FMT_ANTHROPIC
#define ANTHROPIC_VERSION "anthropic-version: 2023-06-01\n"

/* Providers whose wire format is not OpenAI chat. */
static const or_provider other_formats[] = {
    {"anthropic", NULL, "Anthropic", "https://api.anthropic.com/v1", ANTHROPIC_MSGS,
     OR_AUTH_X_API_KEY, ANTHROPIC_VERSION,
     MODELS("claude-opus-4-1", "claude-sonnet-4-5", "claude-haiku-4-5", "claude-3-5-haiku-latest")},
    {"glm", NULL, "GLM (Z.AI coding plan)", "https://api.z.ai/api/anthropic/v1", ANTHROPIC_MSGS,
     OR_AUTH_X_API_KEY, ANTHROPIC_VERSION, MODELS("glm-4.6", "glm-4.5", "glm-4.5-air")},
    {"minimax", NULL, "MiniMax", "https://api.minimax.io/anthropic/v1", ANTHROPIC_MSGS,
     OR_AUTH_BEARER, ANTHROPIC_VERSION, MODELS("MiniMax-M2")},
    {"kimi-coding", "kmc", "Kimi for Coding", "https://api.kimi.com/coding/v1", ANTHROPIC_MSGS,
     OR_AUTH_X_API_KEY, ANTHROPIC_VERSION, MODELS("kimi-for-coding")},
    {"gemini", NULL, "Google Gemini", "https://generativelanguage.googleapis.com/v1beta",
     ":generateContent", "/models", OR_FMT_GEMINI, OR_AUTH_GOOG, NULL,
     MODELS("gemini-2.5-pro", "gemini-2.5-flash", "gemini-2.5-flash-lite")},
    {"openai-responses", NULL, "OpenAI (Responses API)", "https://api.openai.com/v1", "/responses",
     "/models", OR_FMT_RESPONSES, OR_AUTH_BEARER, NULL,
     MODELS("gpt-5", "gpt-5-codex", "gpt-5-mini", "o3", "o4-mini")},
};

static const char *const format_names[OR_FMT_COUNT] = {
    [OR_FMT_OPENAI] = "openai",
    [OR_FMT_ANTHROPIC] = "claude",
    [OR_FMT_GEMINI] = "gemini",
    [OR_FMT_RESPONSES] = "openai-responses",
};

static bool same(const char *name, const char *s, size_t len)
{
    return name && strlen(name) == len && memcmp(name, s, len) == 0;
}

#define NTABLE (sizeof table / sizeof table[0])
#define NOTHER (sizeof other_formats / sizeof other_formats[0])

const or_provider *or_provider_find(const char *id_or_alias, size_t len)
{
    for (size_t i = 0; i < or_provider_count(); i++) {
        const or_provider *p = or_provider_at(i);
        if (same(p->id, id_or_alias, len) || same(p->alias, id_or_alias, len))
            return p;
    }
    return NULL;
}

size_t or_provider_count(void)
{
    return NTABLE + NOTHER;
}

const or_provider *or_provider_at(size_t i)
{
    if (i < NTABLE)
        return &table[i];
    return i < NTABLE + NOTHER ? &other_formats[i - NTABLE] : NULL;
}

const char *or_format_name(or_format f)
{
    return f < OR_FMT_COUNT ? format_names[f] : "unknown";
}
