/* OpenAI Chat Completions translator: requests, responses, streams and errors both ways. */
#include "check.h"
#include "fmt/fmt.h"

#include <stdlib.h>
#include <string.h>

static const or_fmt *F = &or_fmt_openai;

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", je.text, text);
    return j;
}

/* JSON at a path like "messages.1.content.0.text" (numeric segments index arrays). */
static json_t *at(json_t *j, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *seg = strtok(buf, "."); seg && j; seg = strtok(NULL, "."))
        j = json_is_array(j) ? json_array_get(j, strtoul(seg, NULL, 10)) : json_object_get(j, seg);
    return j;
}

static const char *S(json_t *j, const char *path)
{
    return json_string_value(at(j, path));
}

static long long I(json_t *j, const char *path)
{
    return json_integer_value(at(j, path));
}

/* Compares j with the JSON text want (order-insensitive, exact values). */
static int same(json_t *j, const char *want)
{
    json_t *w = J(want);
    int ok = w && json_equal(j, w);
    if (!ok) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        fprintf(stderr, "  got:  %s\n  want: %s\n", s ? s : "(null)", want);
        free(s);
    }
    json_decref(w);
    return ok;
}

static const char *full_request =
    "{\"model\":\"gpt-4o-mini\",\"messages\":["
    "{\"role\":\"system\",\"content\":\"Be brief.\"},"
    "{\"role\":\"developer\",\"content\":[{\"type\":\"text\",\"text\":\"Use tools.\"}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KGgo=\","
    "\"detail\":\"low\"}},"
    "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.jpg\"}}]},"
    "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Need weather.\","
    "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":\"get_"
    "weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
    "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
    "\"arguments\":\"{}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"18C\"},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":[{\"type\":\"text\","
    "\"text\":\"noon\"}]},"
    "{\"role\":\"user\",\"content\":\"thanks\"}],"
    "\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
    "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":"
    "\"string\"}}},\"strict\":true}},"
    "{\"type\":\"function\",\"function\":{\"name\":\"get_time\"}}],"
    "\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}},"
    "\"parallel_tool_calls\":false,\"max_completion_tokens\":300,\"max_tokens\":100,"
    "\"temperature\":0.5,\"top_p\":1,\"stop\":\"END\",\"stream\":true,"
    "\"stream_options\":{\"include_usage\":true},"
    "\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"w\",\"schema\":"
    "{\"type\":\"object\"},\"strict\":true}},"
    "\"reasoning_effort\":\"minimal\",\"user\":\"u1\",\"metadata\":{\"k\":\"v\"},"
    "\"seed\":7,\"n\":1,\"logprobs\":false}";

static void test_req_to_ir(void)
{
    json_t *body = J(full_request), *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    if (!ir) {
        fprintf(stderr, "req_to_ir: %s\n", eb.msg);
        json_decref(body);
        return;
    }
    CHECK_STR(S(ir, "model"), "gpt-4o-mini");
    CHECK(same(at(ir, "system"), "[{\"type\":\"text\",\"text\":\"Be brief.\"},"
                                 "{\"type\":\"text\",\"text\":\"Use tools.\"}]"));
    CHECK(json_array_size(at(ir, "messages")) == 4);
    CHECK(same(at(ir, "messages.0"),
               "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"What is this?\"},"
               "{\"type\":\"image\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgo=\","
               "\"detail\":\"low\"},"
               "{\"type\":\"image\",\"url\":\"https://example.com/cat.jpg\"}]}"));
    CHECK(same(at(ir, "messages.1"),
               "{\"role\":\"assistant\",\"content\":["
               "{\"type\":\"thinking\",\"text\":\"Need weather.\"},"
               "{\"type\":\"tool_call\",\"id\":\"call_a\",\"name\":\"get_weather\","
               "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"},"
               "{\"type\":\"tool_call\",\"id\":\"call_b\",\"name\":\"get_time\","
               "\"arguments\":\"{}\"}]}"));
    /* Two tool messages → one IR tool message with two results, names looked up. */
    CHECK(same(at(ir, "messages.2"),
               "{\"role\":\"tool\",\"content\":["
               "{\"type\":\"tool_result\",\"tool_call_id\":\"call_a\",\"name\":\"get_weather\","
               "\"content\":[{\"type\":\"text\",\"text\":\"18C\"}]},"
               "{\"type\":\"tool_result\",\"tool_call_id\":\"call_b\",\"name\":\"get_time\","
               "\"content\":[{\"type\":\"text\",\"text\":\"noon\"}]}]}"));
    CHECK_STR(S(ir, "messages.3.role"), "user");
    CHECK_STR(S(ir, "tools.0.name"), "get_weather");
    CHECK(json_is_true(at(ir, "tools.0.strict")));
    CHECK_STR(S(ir, "tools.1.parameters.type"), "object");
    CHECK(same(at(ir, "tool_choice"), "{\"type\":\"tool\",\"name\":\"get_weather\"}"));
    CHECK(json_is_false(at(ir, "parallel_tool_calls")));
    CHECK(I(ir, "max_tokens") == 300);
    CHECK(json_real_value(at(ir, "temperature")) == 0.5);
    CHECK(same(at(ir, "stop"), "[\"END\"]"));
    CHECK(json_is_true(at(ir, "stream")) && json_is_true(at(ir, "include_usage")));
    CHECK(same(at(ir, "response_format"),
               "{\"type\":\"json_schema\",\"name\":\"w\",\"schema\":{\"type\":\"object\"},"
               "\"strict\":true}"));
    CHECK(same(at(ir, "thinking"), "{\"type\":\"enabled\",\"effort\":\"low\"}"));
    CHECK_STR(S(ir, "user"), "u1");
    CHECK_STR(S(ir, "metadata.k"), "v");
    CHECK(I(ir, "extra.openai.seed") == 7 && I(ir, "extra.openai.n") == 1);
    CHECK(json_is_false(at(ir, "extra.openai.logprobs")));

    /* And back: a clean OpenAI request that keeps what the client meant. */
    json_t *out = NULL;
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK_STR(S(out, "model"), "gpt-4o-mini");
    CHECK(same(at(out, "messages.0"),
               "{\"role\":\"system\",\"content\":\"Be brief.\\n\\nUse tools.\"}"));
    CHECK(
        same(at(out, "messages.1.content"),
             "[{\"type\":\"text\",\"text\":\"What is this?\"},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,"
             "iVBORw0KGgo=\",\"detail\":\"low\"}},"
             "{\"type\":\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.jpg\"}}]"));
    CHECK(same(at(out, "messages.2"),
               "{\"role\":\"assistant\",\"content\":null,\"reasoning_content\":\"Need weather.\","
               "\"tool_calls\":[{\"id\":\"call_a\",\"type\":\"function\",\"function\":{\"name\":"
               "\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}},"
               "{\"id\":\"call_b\",\"type\":\"function\",\"function\":{\"name\":\"get_time\","
               "\"arguments\":\"{}\"}}]}"));
    CHECK(same(at(out, "messages.3"),
               "{\"role\":\"tool\",\"tool_call_id\":\"call_a\",\"content\":\"18C\"}"));
    CHECK(same(at(out, "messages.4"),
               "{\"role\":\"tool\",\"tool_call_id\":\"call_b\",\"content\":\"noon\"}"));
    CHECK(same(at(out, "messages.5"), "{\"role\":\"user\",\"content\":\"thanks\"}"));
    CHECK(same(at(out, "tools.0"),
               "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"description\":"
               "\"Weather\",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{"
               "\"type\":\"string\"}}},\"strict\":true}}"));
    CHECK(same(at(out, "tool_choice"),
               "{\"type\":\"function\",\"function\":{\"name\":\"get_weather\"}}"));
    CHECK(json_is_false(at(out, "parallel_tool_calls")));
    CHECK(I(out, "max_completion_tokens") == 300 && !at(out, "max_tokens"));
    CHECK(same(at(out, "stop"), "[\"END\"]"));
    CHECK(same(at(out, "stream_options"), "{\"include_usage\":true}"));
    CHECK_STR(S(out, "reasoning_effort"), "minimal");
    CHECK(same(at(out, "response_format"),
               "{\"type\":\"json_schema\",\"json_schema\":{\"name\":\"w\",\"schema\":{\"type\":"
               "\"object\"},\"strict\":true}}"));
    CHECK_STR(S(out, "user"), "u1");
    CHECK_STR(S(out, "metadata.k"), "v");
    CHECK(I(out, "seed") == 7 && I(out, "n") == 1 && json_is_false(at(out, "logprobs")));
    json_decref(out);
    json_decref(ir);
    json_decref(body);
}

static void expect_einval(const char *body_text, const char *msg_part)
{
    json_t *body = J(body_text), *ir = NULL;
    or_errbuf eb = {{0}};
    or_err e = F->req_to_ir(body, &ir, &eb);
    CHECK(e == OR_EINVAL && ir == NULL);
    CHECK(strstr(eb.msg, msg_part) != NULL);
    if (!strstr(eb.msg, msg_part))
        fprintf(stderr, "  message was: %s\n", eb.msg);
    json_decref(ir);
    json_decref(body);
}

static void test_req_errors(void)
{
    expect_einval("{\"model\":\"m\"}", "messages: expected an array");
    expect_einval("[1]", "body: expected a JSON object");
    expect_einval("{\"messages\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"user\","
                  "\"content\":5}]}",
                  "messages[1].content: expected a string or an array");
    expect_einval("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"input_audio\","
                  "\"input_audio\":{}}]}]}",
                  "messages[0].content[0].type: unsupported part type \"input_audio\"");
    expect_einval("{\"messages\":[{\"role\":\"wizard\",\"content\":\"a\"}]}",
                  "messages[0].role: unknown role \"wizard\"");
    expect_einval("{\"messages\":[{\"role\":\"tool\",\"content\":\"a\"}]}",
                  "messages[0].tool_call_id");
    expect_einval("{\"messages\":[],\"tools\":[{\"type\":\"custom\",\"custom\":{}}]}",
                  "tools[0].type: unsupported tool type \"custom\"");
    expect_einval("{\"messages\":[],\"temperature\":\"hot\"}", "temperature: expected a number");
    expect_einval("{\"messages\":[],\"tool_choice\":\"sometimes\"}", "tool_choice");
    expect_einval("{\"messages\":[],\"max_tokens\":-1}", "max_tokens");
    expect_einval("{\"messages\":[],\"response_format\":{\"type\":\"yaml\"}}",
                  "response_format.type");
}

static void test_req_legacy_functions(void)
{
    json_t *body = J("{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},"
                     "{\"role\":\"assistant\",\"content\":null,\"function_call\":{\"name\":\"f\","
                     "\"arguments\":\"{}\"}},"
                     "{\"role\":\"function\",\"name\":\"f\",\"content\":\"ok\"}],"
                     "\"functions\":[{\"name\":\"f\",\"parameters\":{\"type\":\"object\"}}],"
                     "\"function_call\":\"auto\",\"temperature\":null}");
    json_t *ir = NULL, *out = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "messages.1.content.0.id"), S(ir, "messages.2.content.0.tool_call_id"));
    CHECK_STR(S(ir, "messages.2.content.0.name"), "f");
    CHECK_STR(S(ir, "tools.0.name"), "f");
    CHECK_STR(S(ir, "tool_choice.type"), "auto");
    CHECK(!at(ir, "temperature"));
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK_STR(S(out, "messages.1.tool_calls.0.function.name"), "f");
    CHECK_STR(S(out, "messages.2.role"), "tool");
    CHECK_STR(S(out, "messages.2.tool_call_id"), S(out, "messages.1.tool_calls.0.id"));
    CHECK_STR(S(out, "tool_choice"), "auto");
    json_decref(out);
    json_decref(ir);
    json_decref(body);
}

/* An IR as another client format would produce it (Anthropic-like). */
static void test_req_from_foreign_ir(void)
{
    json_t *ir = J("{\"model\":\"o3-mini\",\"system\":[{\"type\":\"text\",\"text\":\"S1\"},"
                   "{\"type\":\"text\",\"text\":\"S2\"}],\"messages\":["
                   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"a\"},"
                   "{\"type\":\"text\",\"text\":\"b\"}]},"
                   "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"text\":\"hmm\","
                   "\"signature\":\"sig\"},{\"type\":\"thinking\",\"redacted\":\"xx\"},"
                   "{\"type\":\"text\",\"text\":\"Let me check.\"},"
                   "{\"type\":\"tool_call\",\"id\":\"toolu_1\",\"name\":\"ls\","
                   "\"arguments\":\"{}\"}]},"
                   "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":"
                   "\"toolu_1\",\"content\":[{\"type\":\"text\",\"text\":\"a.txt\"},{\"type\":"
                   "\"image\",\"media_type\":\"image/png\",\"data\":\"AA==\"}]},"
                   "{\"type\":\"tool_result\",\"tool_call_id\":\"toolu_zz\",\"content\":[{"
                   "\"type\":\"text\",\"text\":\"late\"}]}]}],"
                   "\"tool_choice\":{\"type\":\"required\"},\"parallel_tool_calls\":true,"
                   "\"max_tokens\":64000,\"top_k\":5,\"stop\":[\"1\",\"2\",\"3\",\"4\",\"5\"],"
                   "\"stream\":true,\"include_usage\":false,"
                   "\"thinking\":{\"type\":\"adaptive\",\"effort\":\"high\"},"
                   "\"metadata\":{\"user_id\":\"x\"},"
                   "\"extra\":{\"claude\":{\"context_management\":{}}}}");
    json_t *out = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(same(at(out, "messages"),
               "[{\"role\":\"system\",\"content\":\"S1\\n\\nS2\"},"
               "{\"role\":\"user\",\"content\":\"a\\n\\nb\"},"
               "{\"role\":\"assistant\",\"content\":\"Let me check.\",\"reasoning_content\":"
               "\"hmm\",\"tool_calls\":[{\"id\":\"toolu_1\",\"type\":\"function\",\"function\":"
               "{\"name\":\"ls\",\"arguments\":\"{}\"}}]},"
               "{\"role\":\"tool\",\"tool_call_id\":\"toolu_1\",\"content\":\"a.txt\\n[image]\"},"
               "{\"role\":\"user\",\"content\":\"[tool result toolu_zz] late\"}]"));
    /* No tools: tool_choice and parallel_tool_calls would be a 400. */
    CHECK(!at(out, "tool_choice") && !at(out, "parallel_tool_calls") && !at(out, "tools"));
    /* A reasoning request: OpenAI reasoning models only take max_completion_tokens. */
    CHECK(I(out, "max_completion_tokens") == 64000 && !at(out, "max_tokens"));
    CHECK(!at(out, "top_k") && !at(out, "metadata") && !at(out, "context_management"));
    CHECK(json_array_size(at(out, "stop")) == 4);
    /* Usage is always requested upstream so the gateway can record it. */
    CHECK(same(at(out, "stream_options"), "{\"include_usage\":true}"));
    CHECK_STR(S(out, "reasoning_effort"), "high");
    json_decref(out);
    /* The same thinking request to a model without reasoning: no reasoning_effort (a 400 there),
     * and the max_tokens name every compatible upstream knows. */
    json_object_set_new(ir, "model", json_string("deepseek-chat"));
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(!at(out, "reasoning_effort"));
    CHECK(I(out, "max_tokens") == 64000 && !at(out, "max_completion_tokens"));
    json_decref(out);
    json_decref(ir);

    /* Without reasoning the name every compatible upstream knows; strict only when true. */
    ir = J("{\"model\":\"m\",\"messages\":[],\"max_tokens\":5,\"tools\":[{\"name\":\"t\","
           "\"strict\":false}],\"thinking\":{\"type\":\"disabled\"}}");
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(same(out, "{\"model\":\"m\",\"messages\":[],\"max_tokens\":5,\"tools\":[{\"type\":"
                    "\"function\",\"function\":{\"name\":\"t\",\"parameters\":{\"type\":"
                    "\"object\",\"properties\":{}}}}]}"));
    json_decref(out);
    json_decref(ir);

    or_buf u;
    or_buf_init(&u, 1024);
    CHECK(F->url("https://api.deepseek.com/v1/", 28, "m", true, &u) == OR_OK);
    CHECK_STR(u.data, "https://api.deepseek.com/v1/chat/completions");
    or_buf_free(&u);
}

/* OpenAI wants every call answered before the next turn, and results only right after it. */
static void test_req_unanswered_calls(void)
{
    json_t *ir = J("{\"model\":\"m\",\"messages\":["
                   "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"a\","
                   "\"name\":\"f\",\"arguments\":\"{}\"},{\"type\":\"tool_call\",\"id\":\"b\","
                   "\"name\":\"f\",\"arguments\":\"{}\"}]},"
                   "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":"
                   "\"a\",\"content\":[{\"type\":\"text\",\"text\":\"A\"}]}]},"
                   "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"go on\"}]},"
                   "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":"
                   "\"b\",\"content\":[{\"type\":\"text\",\"text\":\"late\"}]}]},"
                   "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"c\","
                   "\"name\":\"f\",\"arguments\":\"{}\"}]}]}");
    json_t *out = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(same(at(out, "messages"),
               "[{\"role\":\"assistant\",\"content\":null,\"tool_calls\":["
               "{\"id\":\"a\",\"type\":\"function\",\"function\":{\"name\":\"f\","
               "\"arguments\":\"{}\"}},{\"id\":\"b\",\"type\":\"function\",\"function\":{"
               "\"name\":\"f\",\"arguments\":\"{}\"}}]},"
               "{\"role\":\"tool\",\"tool_call_id\":\"a\",\"content\":\"A\"},"
               "{\"role\":\"tool\",\"tool_call_id\":\"b\",\"content\":\"\"},"
               "{\"role\":\"user\",\"content\":\"go on\"},"
               "{\"role\":\"user\",\"content\":\"[tool result b] late\"},"
               "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"c\","
               "\"type\":\"function\",\"function\":{\"name\":\"f\",\"arguments\":\"{}\"}}]}]"));
    json_decref(out);
    json_decref(ir);
}

static void test_resp(void)
{
    json_t *body = J("{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1,"
                     "\"model\":\"deepseek-reasoner\",\"choices\":[{\"index\":0,\"message\":{"
                     "\"role\":\"assistant\",\"content\":\"Sunny.\",\"reasoning_content\":\"ok\","
                     "\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{"
                     "\"name\":\"w\",\"arguments\":\"{\\\"c\\\":1}\"}}]},\"finish_reason\":"
                     "\"stop\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,"
                     "\"total_tokens\":19,\"prompt_tokens_details\":{\"cached_tokens\":4},"
                     "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}");
    json_t *ir = NULL, *out = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
    CHECK(same(ir,
               "{\"id\":\"chatcmpl-1\",\"model\":\"deepseek-reasoner\",\"content\":["
               "{\"type\":\"thinking\",\"text\":\"ok\"},{\"type\":\"text\",\"text\":\"Sunny.\"},"
               "{\"type\":\"tool_call\",\"id\":\"call_9\",\"name\":\"w\",\"arguments\":"
               "\"{\\\"c\\\":1}\"}],\"stop_reason\":\"tool_calls\",\"usage\":{"
               "\"input_tokens\":12,\"output_tokens\":7,\"cached_tokens\":4,"
               "\"reasoning_tokens\":3,\"cache_creation_tokens\":0}}"));
    or_fmt_opts o = {.model = "my-alias", .id = "chatcmpl-gw", .created = 1700000000};
    CHECK(F->resp_from_ir(ir, &o, &out, &eb) == OR_OK);
    CHECK(same(out, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"created\":1700000000,"
                    "\"model\":\"my-alias\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
                    "\"assistant\",\"content\":\"Sunny.\",\"reasoning_content\":\"ok\","
                    "\"tool_calls\":[{\"id\":\"call_9\",\"type\":\"function\",\"function\":{"
                    "\"name\":\"w\",\"arguments\":\"{\\\"c\\\":1}\"}}]},\"finish_reason\":"
                    "\"tool_calls\"}],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":7,"
                    "\"total_tokens\":19,\"prompt_tokens_details\":{\"cached_tokens\":4},"
                    "\"completion_tokens_details\":{\"reasoning_tokens\":3}}}"));
    json_decref(out);
    json_decref(ir);
    json_decref(body);

    /* An IR without id takes the gateway's; a tool-only answer has content null. */
    ir = J("{\"content\":[{\"type\":\"tool_call\",\"id\":\"t\",\"name\":\"n\",\"arguments\":"
           "\"{}\"}],\"stop_reason\":\"tool_calls\"}");
    CHECK(F->resp_from_ir(ir, &o, &out, &eb) == OR_OK);
    CHECK_STR(S(out, "id"), "chatcmpl-gw");
    CHECK(json_is_null(at(out, "choices.0.message.content")));
    CHECK(!at(out, "usage"));
    json_decref(out);
    json_decref(ir);

    /* DeepSeek's top-level cache counter; length stop; refusal as text. */
    body = J("{\"choices\":[{\"message\":{\"content\":null,\"refusal\":\"No.\"},"
             "\"finish_reason\":\"length\"}],\"usage\":{\"prompt_tokens\":5,"
             "\"completion_tokens\":1,\"prompt_cache_hit_tokens\":2}}");
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "content.0.text"), "No.");
    CHECK_STR(S(ir, "stop_reason"), "length");
    CHECK(I(ir, "usage.cached_tokens") == 2);
    json_decref(ir);
    json_decref(body);

    body = J("{\"error\":{\"message\":\"bad model\",\"type\":\"invalid_request_error\"}}");
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_EUPSTREAM && !ir);
    CHECK(strstr(eb.msg, "bad model") != NULL);
    json_decref(body);
}

static void test_errors(void)
{
    static const struct {
        int status;
        const char *body, *type, *msg, *retry;
        int want_status;
    } cases[] = {
        {401,
         "{\"error\":{\"message\":\"Incorrect API key\",\"type\":\"invalid_request_error\","
         "\"code\":\"invalid_api_key\"}}",
         "authentication_error", "Incorrect API key", NULL, 401},
        {429, "{\"error\":{\"message\":\"quota\",\"type\":\"insufficient_quota\"}}",
         "rate_limit_error", "quota", NULL, 429},
        {529,
         "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
         "\"Overloaded\"}}",
         "overloaded_error", "Overloaded", NULL, 529},
        {429,
         "[{\"error\":{\"code\":429,\"message\":\"Quota exceeded\",\"status\":"
         "\"RESOURCE_EXHAUSTED\",\"details\":[{\"@type\":\"type.googleapis.com/google.rpc."
         "RetryInfo\",\"retryDelay\":\"1.5s\"}]}}]",
         "rate_limit_error", "Quota exceeded", "2", 429},
        {500, "{\"detail\":\"Internal failure\"}", "api_error", "Internal failure", NULL, 500},
        {502, "{\"error\":\"bad gateway\"}", "api_error", "bad gateway", NULL, 502},
        {503, NULL, "overloaded_error", "upstream returned HTTP 503", NULL, 503},
        {404, "{\"foo\":1}", "not_found_error", "upstream returned HTTP 404: {\"foo\":1}", NULL,
         404},
        {0, "{\"error\":{\"message\":\"slow down\",\"type\":\"rate_limit_error\"}}",
         "rate_limit_error", "slow down", NULL, 429},
        {0, "{\"error\":{\"message\":\"?\"}}", "api_error", "?", NULL, 502},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = cases[i].body ? J(cases[i].body) : NULL;
        json_t *ir = F->error_to_ir(cases[i].status, b);
        CHECK_STR(S(ir, "error_type"), cases[i].type);
        CHECK_STR(S(ir, "message"), cases[i].msg);
        CHECK(I(ir, "status") == cases[i].want_status);
        if (cases[i].retry)
            CHECK_STR(S(ir, "retry_after"), cases[i].retry);
        else
            CHECK(!at(ir, "retry_after"));
        json_decref(ir);
        json_decref(b);
    }
    json_t *ir = J("{\"status\":429,\"error_type\":\"rate_limit_error\",\"message\":\"slow\"}");
    json_t *w = F->error_from_ir(ir);
    CHECK(same(w, "{\"error\":{\"message\":\"slow\",\"type\":\"requests\",\"param\":null,"
                  "\"code\":\"rate_limit_exceeded\"}}"));
    json_decref(w);
    json_decref(ir);
    ir = J("{\"status\":400,\"error_type\":\"invalid_request_error\",\"message\":\"m\"}");
    w = F->error_from_ir(ir);
    CHECK(same(w, "{\"error\":{\"message\":\"m\",\"type\":\"invalid_request_error\","
                  "\"param\":null,\"code\":null}}"));
    json_decref(w);
    json_decref(ir);
}

/* ---- streams ---- */

/* Feeds SSE `data:` payloads (one per string) to a fresh decoder, then dec_end; returns the IR
 * events, or NULL with *err set when the decoder failed. */
static json_t *decode(const char *const *events, size_t n, bool end, or_err *err)
{
    or_fmt_dec *d = F->dec_new();
    json_t *out = json_array();
    or_errbuf eb = {{0}};
    *err = OR_OK;
    for (size_t i = 0; i < n && *err == OR_OK; i++)
        *err = F->dec_event(d, NULL, events[i], strlen(events[i]), out, &eb);
    if (*err == OR_OK && end)
        *err = F->dec_end(d, out, &eb);
    F->dec_free(d);
    if (*err != OR_OK) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static void test_dec_basic(void)
{
    /* GLM-style: the id first, the name in a later chunk, args before the name. */
    static const char *const ev[] = {
        "{\"id\":\"c1\",\"model\":\"glm-4\",\"choices\":[{\"index\":0,\"delta\":{\"role\":"
        "\"assistant\",\"content\":\"\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"reasoning_content\":\"think\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}",
        "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"id\":\"call_x\","
        "\"type\":\"function\"}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
        "\"arguments\":\"{\\\"a\\\"\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
        "\"name\":\"f\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
        "\"arguments\":\":1}\"}},{\"index\":1,\"id\":\"call_y\",\"function\":{\"name\":\"g\","
        "\"arguments\":\"\"}}]}}]}",
        "{\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"tool_calls\"}]}",
        "{\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":4,"
        "\"total_tokens\":7}}",
        " [DONE] ",
        "{\"choices\":[{\"delta\":{\"content\":\"after done\"}}]}",
    };
    or_err err;
    json_t *out = decode(ev, sizeof ev / sizeof ev[0], true, &err);
    CHECK(err == OR_OK);
    CHECK(same(out, "[{\"type\":\"start\",\"id\":\"c1\",\"model\":\"glm-4\"},"
                    "{\"type\":\"thinking\",\"index\":0,\"text\":\"think\"},"
                    "{\"type\":\"text\",\"index\":1,\"text\":\"Hel\"},"
                    "{\"type\":\"text\",\"index\":1,\"text\":\"lo\"},"
                    "{\"type\":\"tool_call\",\"index\":2,\"id\":\"call_x\",\"name\":\"f\"},"
                    "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"{\\\"a\\\"\"},"
                    "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\":1}\"},"
                    "{\"type\":\"tool_call\",\"index\":3,\"id\":\"call_y\",\"name\":\"g\"},"
                    "{\"type\":\"usage\",\"usage\":{\"input_tokens\":3,\"output_tokens\":4,"
                    "\"cached_tokens\":0,\"reasoning_tokens\":0,\"cache_creation_tokens\":0}},"
                    "{\"type\":\"stop\",\"stop_reason\":\"tool_calls\"},"
                    "{\"type\":\"done\"}]"));
    json_decref(out);
}

static void test_dec_ends(void)
{
    or_err err;
    /* Cut mid-answer: the gateway is told. */
    static const char *const cut[] = {
        "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"}}]}"};
    json_t *out = decode(cut, 1, true, &err);
    CHECK(same(out,
               "[{\"type\":\"start\",\"id\":\"c\"},{\"type\":\"text\",\"index\":0,\"text\":"
               "\"par\"},{\"type\":\"error\",\"status\":502,\"error_type\":\"api_error\","
               "\"message\":\"upstream stream ended before completion\"},{\"type\":\"done\"}]"));
    json_decref(out);

    /* finish_reason but no [DONE]: complete; "stop" after tool calls becomes tool_calls. */
    static const char *const sloppy[] = {
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"a\",\"function\":{\"name\":\"f\","
        "\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"id\":\"b\",\"function\":{\"name\":\"g\","
        "\"arguments\":\"{}\"}}]}}]}",
        "{\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":1,"
        "\"completion_tokens\":2}}"};
    out = decode(sloppy, 3, true, &err);
    CHECK(same(out, "[{\"type\":\"start\"},"
                    "{\"type\":\"tool_call\",\"index\":0,\"id\":\"a\",\"name\":\"f\"},"
                    "{\"type\":\"tool_args\",\"index\":0,\"arguments\":\"{}\"},"
                    "{\"type\":\"tool_call\",\"index\":1,\"id\":\"b\",\"name\":\"g\"},"
                    "{\"type\":\"tool_args\",\"index\":1,\"arguments\":\"{}\"},"
                    "{\"type\":\"usage\",\"usage\":{\"input_tokens\":1,\"output_tokens\":2,"
                    "\"cached_tokens\":0,\"reasoning_tokens\":0,\"cache_creation_tokens\":0}},"
                    "{\"type\":\"stop\",\"stop_reason\":\"tool_calls\"},{\"type\":\"done\"}]"));
    json_decref(out);

    /* An error object mid-stream. */
    static const char *const failed[] = {
        "{\"choices\":[{\"delta\":{\"content\":\"x\"}}]}",
        "{\"error\":{\"message\":\"Rate limit reached\",\"type\":\"requests\",\"code\":"
        "\"rate_limit_exceeded\"}}",
        "{\"choices\":[{\"delta\":{\"content\":\"ignored\"}}]}"};
    out = decode(failed, 3, true, &err);
    CHECK(json_array_size(out) == 4);
    CHECK(same(at(out, "2"), "{\"type\":\"error\",\"status\":429,\"error_type\":"
                             "\"rate_limit_error\",\"message\":\"Rate limit reached\"}"));
    CHECK_STR(S(out, "3.type"), "done");
    json_decref(out);

    /* Mistral reasoning parts; an empty-choices keep-alive changes nothing. */
    static const char *const mistral[] = {
        "{\"id\":\"m\",\"choices\":[{\"delta\":{\"content\":[{\"type\":\"thinking\","
        "\"thinking\":[{\"type\":\"text\",\"text\":\"plan\"}]}]}}]}",
        "{\"choices\":[]}",
        "{\"choices\":[{\"delta\":{\"content\":[{\"type\":\"text\",\"text\":\"ok\"}]},"
        "\"finish_reason\":\"stop\"}]}",
        "[DONE]"};
    out = decode(mistral, 4, true, &err);
    CHECK(same(out, "[{\"type\":\"start\",\"id\":\"m\"},"
                    "{\"type\":\"thinking\",\"index\":0,\"text\":\"plan\"},"
                    "{\"type\":\"text\",\"index\":1,\"text\":\"ok\"},"
                    "{\"type\":\"stop\",\"stop_reason\":\"stop\"},{\"type\":\"done\"}]"));
    json_decref(out);

    /* Not JSON: the decoder says so. */
    static const char *const junk[] = {"{\"choices\":[", "x"};
    out = decode(junk, 2, false, &err);
    CHECK(err == OR_EUPSTREAM && !out);

    /* A nameless call cannot buffer arguments forever. */
    or_fmt_dec *d = F->dec_new();
    json_t *evs = json_array();
    or_errbuf eb = {{0}};
    size_t piece = 1 << 20;
    char *big = malloc(piece + 200);
    int n = snprintf(big, 200,
                     "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,"
                     "\"function\":{\"arguments\":\"");
    memset(big + n, 'a', piece);
    strcpy(big + n + piece, "\"}}]}}]}");
    err = OR_OK;
    for (int i = 0; i < 6 && err == OR_OK; i++)
        err = F->dec_event(d, NULL, big, strlen(big), evs, &eb);
    CHECK(err == OR_ETOOBIG);
    free(big);
    json_decref(evs);
    F->dec_free(d);
}

static char *encode(const char *ir_events, const or_fmt_opts *o)
{
    json_t *evs = J(ir_events);
    or_fmt_enc *e = F->enc_new(o);
    or_buf out;
    or_buf_init(&out, 1 << 20);
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev) CHECK(F->enc_event(e, ev, &out) == OR_OK);
    F->enc_free(e);
    json_decref(evs);
    size_t len;
    return or_buf_take(&out, &len);
}

static const char *answer_events =
    "[{\"type\":\"start\",\"id\":\"msg_1\",\"model\":\"claude-x\"},"
    "{\"type\":\"thinking\",\"index\":0,\"text\":\"hm\"},"
    "{\"type\":\"thinking_signature\",\"index\":0,\"signature\":\"s\"},"
    "{\"type\":\"text\",\"index\":1,\"text\":\"Hi\"},"
    "{\"type\":\"tool_call\",\"index\":2,\"id\":\"toolu_1\",\"name\":\"ls\"},"
    "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"{\\\"p\\\":\"},"
    "{\"type\":\"tool_call\",\"index\":3,\"id\":\"toolu_2\",\"name\":\"cat\"},"
    "{\"type\":\"tool_args\",\"index\":3,\"arguments\":\"{}\"},"
    "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"1}\"},"
    "{\"type\":\"usage\",\"usage\":{\"input_tokens\":10,\"output_tokens\":5,"
    "\"cached_tokens\":2}},"
    "{\"type\":\"stop\",\"stop_reason\":\"tool_calls\"},{\"type\":\"done\"}]";

#define ENV(x)                                                                                     \
    "data: {\"id\":\"msg_1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"         \
    "\"model\":\"alias\"," x "}\n\n"
#define CH(delta, fin)                                                                             \
    ENV("\"choices\":[{\"index\":0,\"delta\":" delta ",\"finish_reason\":" fin "}]")

static void test_enc(void)
{
    or_fmt_opts o = {.stream = true,
                     .include_usage = true,
                     .model = "alias",
                     .id = "gw-1",
                     .created = 1700000000};
    char *got = encode(answer_events, &o);
    const char *want = CH("{\"role\":\"assistant\",\"content\":\"\"}", "null")
        CH("{\"reasoning_content\":\"hm\"}", "null") CH("{\"content\":\"Hi\"}", "null") CH(
            "{\"tool_calls\":[{\"index\":0,\"id\":\"toolu_1\",\"type\":\"function\",\"function\":"
            "{\"name\":\"ls\",\"arguments\":\"\"}}]}",
            "null")
            CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\\\"p\\\":\"}}]}",
               "null") CH("{\"tool_calls\":[{\"index\":1,\"id\":\"toolu_2\",\"type\":\"function\","
                          "\"function\":"
                          "{\"name\":\"cat\",\"arguments\":\"\"}}]}",
                          "null")
                CH("{\"tool_calls\":[{\"index\":1,\"function\":{\"arguments\":\"{}\"}}]}", "null")
                    CH("{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"1}\"}}]}",
                       "null") CH("{}", "\"tool_calls\"")
                        ENV("\"choices\":[],\"usage\":{\"prompt_tokens\":10,\"completion_"
                            "tokens\":5,"
                            "\"total_tokens\":15,\"prompt_tokens_details\":{\"cached_tokens\":"
                            "2},\"completion_tokens_details\":{\"reasoning_tokens\":0}}") "data: "
                                                                                          "[DONE]"
                                                                                          "\n\n";
    CHECK_STR(got, want);
    free(got);

    /* The client did not ask for usage: no usage chunk. */
    o.include_usage = false;
    got = encode(answer_events, &o);
    CHECK(strstr(got, "\"usage\"") == NULL);
    CHECK(strstr(got, "data: [DONE]\n\n") != NULL);
    free(got);

    /* Failing midway: an error object, then [DONE], nothing after. */
    o.include_usage = true;
    got = encode("[{\"type\":\"start\"},{\"type\":\"text\",\"index\":0,\"text\":\"par\"},"
                 "{\"type\":\"error\",\"status\":529,\"error_type\":\"overloaded_error\","
                 "\"message\":\"Overloaded\"},{\"type\":\"done\"},"
                 "{\"type\":\"text\",\"index\":0,\"text\":\"late\"}]",
                 &o);
    const char *want_err =
        "data: {\"id\":\"gw-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"alias\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\","
        "\"content\":\"\"},\"finish_reason\":null}]}\n\n"
        "data: {\"id\":\"gw-1\",\"object\":\"chat.completion.chunk\",\"created\":1700000000,"
        "\"model\":\"alias\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"par\"},"
        "\"finish_reason\":null}]}\n\n"
        "data: {\"error\":{\"message\":\"Overloaded\",\"type\":\"server_error\",\"param\":null,"
        "\"code\":null}}\n\n"
        "data: [DONE]\n\n";
    CHECK_STR(got, want_err);
    free(got);

    /* No start, no stop: the role rides on the first chunk and done closes properly. */
    got = encode("[{\"type\":\"text\",\"index\":0,\"text\":\"a\"},{\"type\":\"done\"}]", &o);
    CHECK(strstr(got, "{\"role\":\"assistant\",\"content\":\"a\"}") != NULL);
    CHECK(strstr(got, "\"finish_reason\":\"stop\"") != NULL);
    free(got);
}

/* Minimal SSE framer for the round trip: bytes in arbitrary pieces → data payloads. */
typedef struct {
    or_buf line, data;
    or_fmt_dec *d;
    json_t *out;
    or_err err;
} sse;

static void sse_feed(sse *s, const char *p, size_t n)
{
    or_errbuf eb;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '\n') {
            or_buf_append(&s->line, p + i, 1);
            continue;
        }
        if (s->line.len == 0 && s->data.len) {
            if (s->err == OR_OK)
                s->err = F->dec_event(s->d, NULL, s->data.data, s->data.len, s->out, &eb);
            or_buf_reset(&s->data);
        } else if (s->line.len > 5 && memcmp(s->line.data, "data:", 5) == 0) {
            or_buf_append(&s->data, s->line.data + 6, s->line.len - 6);
        }
        or_buf_reset(&s->line);
    }
}

static void test_roundtrip_split(void)
{
    or_fmt_opts o = {.stream = true, .include_usage = true, .model = "alias", .created = 1};
    char *wire = encode(answer_events, &o);
    size_t len = strlen(wire);
    const char *want = "[{\"type\":\"start\",\"id\":\"msg_1\",\"model\":\"alias\"},"
                       "{\"type\":\"thinking\",\"index\":0,\"text\":\"hm\"},"
                       "{\"type\":\"text\",\"index\":1,\"text\":\"Hi\"},"
                       "{\"type\":\"tool_call\",\"index\":2,\"id\":\"toolu_1\",\"name\":\"ls\"},"
                       "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"{\\\"p\\\":\"},"
                       "{\"type\":\"tool_call\",\"index\":3,\"id\":\"toolu_2\",\"name\":\"cat\"},"
                       "{\"type\":\"tool_args\",\"index\":3,\"arguments\":\"{}\"},"
                       "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"1}\"},"
                       "{\"type\":\"usage\",\"usage\":{\"input_tokens\":10,\"output_tokens\":5,"
                       "\"cached_tokens\":2,\"reasoning_tokens\":0,\"cache_creation_tokens\":0}},"
                       "{\"type\":\"stop\",\"stop_reason\":\"tool_calls\"},{\"type\":\"done\"}]";
    int bad = 0;
    for (size_t cut1 = 0; cut1 < len; cut1 += 7) {
        size_t cut2 = cut1 + (len - cut1) / 2;
        sse s = {.d = F->dec_new(), .out = json_array()};
        or_buf_init(&s.line, 1 << 20);
        or_buf_init(&s.data, 1 << 20);
        sse_feed(&s, wire, cut1);
        sse_feed(&s, wire + cut1, cut2 - cut1);
        sse_feed(&s, wire + cut2, len - cut2);
        or_errbuf eb;
        if (s.err == OR_OK)
            s.err = F->dec_end(s.d, s.out, &eb);
        json_t *w = J(want);
        if (s.err != OR_OK || !json_equal(w, s.out)) {
            if (!bad++)
                CHECK(same(s.out, want));
        }
        json_decref(w);
        json_decref(s.out);
        F->dec_free(s.d);
        or_buf_free(&s.line);
        or_buf_free(&s.data);
    }
    CHECK(bad == 0);
    free(wire);
}

int main(void)
{
    test_req_to_ir();
    test_req_errors();
    test_req_legacy_functions();
    test_req_from_foreign_ir();
    test_req_unanswered_calls();
    test_resp();
    test_errors();
    test_dec_basic();
    test_dec_ends();
    test_enc();
    test_roundtrip_split();
    return check_done();
}
