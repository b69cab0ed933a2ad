/* Anthropic Messages format: requests, responses, stream codecs and errors, both ways. */
#include "check.h"
#include "fmt/fmt.h"

#include <stdlib.h>
#include <string.h>

static const or_fmt *F = &or_fmt_anthropic;

static json_t *J(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    if (!v)
        fprintf(stderr, "bad test JSON at %d: %s\n", e.position, e.text);
    return v;
}

/* Dotted path lookup: "messages.1.content.0.type". */
static json_t *at(json_t *v, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *tok = strtok(buf, "."); tok && v; tok = strtok(NULL, ".")) {
        if (json_is_array(v))
            v = json_array_get(v, (size_t)atoi(tok));
        else
            v = json_object_get(v, tok);
    }
    return v;
}

static const char *S(json_t *v, const char *path)
{
    return json_string_value(at(v, path));
}

static long long I(json_t *v, const char *path)
{
    return (long long)json_integer_value(at(v, path));
}

/* ---------------------------------------------------------------- requests */

static const char *claude_code_req =
    "{\"model\":\"claude-opus-4-8\",\"max_tokens\":64000,\"stream\":true,"
    "\"thinking\":{\"type\":\"adaptive\"},\"output_config\":{\"effort\":\"high\"},"
    "\"context_management\":{\"edits\":[{\"type\":\"clear_thinking_20251015\",\"keep\":\"all\"}]},"
    "\"metadata\":{\"user_id\":\"{\\\"device_id\\\":\\\"d\\\"}\"},"
    "\"system\":[{\"type\":\"text\",\"text\":\"x-anthropic-billing-header: cc\"},"
    "{\"type\":\"text\",\"text\":\"You are Claude Code.\",\"cache_control\":{\"type\":"
    "\"ephemeral\"}}],"
    "\"messages\":["
    "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"<system-reminder>r</"
    "system-reminder>\"},{\"type\":\"text\",\"text\":\"list files\",\"cache_control\":{\"type\":"
    "\"ephemeral\"}}]},"
    "{\"role\":\"system\",\"content\":\"agents: none\"},"
    "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"thinking\":\"let me "
    "look\",\"signature\":\"sig1\"},{\"type\":\"tool_use\",\"id\":\"toolu_1\",\"name\":\"Bash\","
    "\"input\":{\"command\":\"ls\"}}]},"
    "{\"role\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\","
    "\"content\":\"a.txt\\nb.txt\"},{\"type\":\"text\",\"text\":\"thanks\"}]}],"
    "\"tools\":[{\"name\":\"Bash\",\"description\":\"run\",\"input_schema\":{\"type\":"
    "\"object\",\"properties\":{\"command\":{\"type\":\"string\"}}}},"
    "{\"type\":\"web_search_20250305\",\"name\":\"web_search\",\"max_uses\":5}],"
    "\"tool_choice\":{\"type\":\"auto\",\"disable_parallel_tool_use\":true}}";

static void test_req_to_ir(void)
{
    json_t *body = J(claude_code_req), *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "model"), "claude-opus-4-8");
    CHECK(I(ir, "max_tokens") == 64000);
    CHECK(json_is_true(at(ir, "stream")));
    /* system: two blocks + the role:"system" message, in order, cache_control kept */
    CHECK(json_array_size(at(ir, "system")) == 3);
    CHECK_STR(S(ir, "system.1.cache_control.type"), "ephemeral");
    CHECK_STR(S(ir, "system.2.text"), "agents: none");
    /* messages: user, assistant, tool, user */
    CHECK(json_array_size(at(ir, "messages")) == 4);
    CHECK_STR(S(ir, "messages.0.role"), "user");
    CHECK_STR(S(ir, "messages.0.content.1.cache_control.type"), "ephemeral");
    CHECK_STR(S(ir, "messages.1.role"), "assistant");
    CHECK_STR(S(ir, "messages.1.content.0.type"), "thinking");
    CHECK_STR(S(ir, "messages.1.content.0.signature"), "sig1");
    CHECK_STR(S(ir, "messages.1.content.1.type"), "tool_call");
    CHECK_STR(S(ir, "messages.1.content.1.arguments"), "{\"command\":\"ls\"}");
    CHECK_STR(S(ir, "messages.2.role"), "tool");
    CHECK_STR(S(ir, "messages.2.content.0.tool_call_id"), "toolu_1");
    CHECK_STR(S(ir, "messages.2.content.0.name"), "Bash");
    CHECK_STR(S(ir, "messages.2.content.0.content.0.text"), "a.txt\nb.txt");
    CHECK_STR(S(ir, "messages.3.role"), "user");
    CHECK_STR(S(ir, "messages.3.content.0.text"), "thanks");
    /* tools: the custom one in the IR, the server tool kept for a Claude target */
    CHECK(json_array_size(at(ir, "tools")) == 1);
    CHECK_STR(S(ir, "tools.0.parameters.properties.command.type"), "string");
    CHECK_STR(S(ir, "extra.claude.tools.0.type"), "web_search_20250305");
    CHECK_STR(S(ir, "tool_choice.type"), "auto");
    CHECK(json_is_false(at(ir, "parallel_tool_calls")));
    CHECK_STR(S(ir, "thinking.type"), "adaptive");
    CHECK_STR(S(ir, "thinking.effort"), "high");
    CHECK_STR(S(ir, "user"), "{\"device_id\":\"d\"}");
    CHECK_STR(S(ir, "extra.claude.output_config.effort"), "high");
    CHECK(at(ir, "extra.claude.context_management") != NULL);
    CHECK(at(ir, "extra.claude.metadata") == NULL);

    /* claude → IR → claude keeps what a Claude upstream needs */
    json_t *back = NULL;
    CHECK(F->req_from_ir(ir, &back, &eb) == OR_OK);
    CHECK_STR(S(back, "system.1.cache_control.type"), "ephemeral");
    CHECK(json_array_size(at(back, "system")) == 3);
    CHECK_STR(S(back, "messages.0.content.1.cache_control.type"), "ephemeral");
    CHECK(json_array_size(at(back, "messages")) == 3);
    CHECK_STR(S(back, "messages.1.content.0.signature"), "sig1");
    CHECK_STR(S(back, "messages.1.content.1.input.command"), "ls");
    CHECK_STR(S(back, "messages.2.content.0.type"), "tool_result");
    CHECK_STR(S(back, "messages.2.content.0.content.0.text"), "a.txt\nb.txt");
    CHECK_STR(S(back, "messages.2.content.1.text"), "thanks");
    CHECK(json_array_size(at(back, "tools")) == 2);
    CHECK_STR(S(back, "tools.1.type"), "web_search_20250305");
    CHECK(json_is_true(at(back, "tool_choice.disable_parallel_tool_use")));
    CHECK_STR(S(back, "thinking.type"), "adaptive");
    CHECK_STR(S(back, "output_config.effort"), "high");
    CHECK(at(back, "context_management.edits") != NULL);
    CHECK_STR(S(back, "metadata.user_id"), "{\"device_id\":\"d\"}");
    CHECK(I(back, "max_tokens") == 64000);
    json_decref(back);
    json_decref(ir);
    json_decref(body);
}

static void expect_einval(const char *req, const char *needle)
{
    json_t *body = J(req), *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_EINVAL);
    CHECK(ir == NULL);
    if (!strstr(eb.msg, needle)) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", eb.msg, needle);
        CHECK(0);
    }
    json_decref(body);
}

static void test_req_errors(void)
{
    expect_einval("{\"model\":\"m\"}", "messages");
    expect_einval("[1]", "request body");
    expect_einval("{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"},{\"role\":\"user\","
                  "\"content\":5}]}",
                  "messages[1].content: expected a string or an array");
    expect_einval("{\"messages\":[{\"role\":\"bot\",\"content\":\"hi\"}]}", "messages[0].role");
    expect_einval("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
                  "\"source\":{\"type\":\"base64\",\"media_type\":\"application/pdf\","
                  "\"data\":\"JVBE\"}}]}]}",
                  "messages[0].content[0]: document with source type 'base64' (application/pdf)");
    expect_einval("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"t\",\"name\":\"x\",\"input\":[1]}]}]}",
                  "messages[0].content[0].input");
    expect_einval("{\"messages\":[],\"temperature\":\"hot\"}", "temperature");
    expect_einval("{\"messages\":[],\"tool_choice\":{\"type\":\"maybe\"}}", "tool_choice.type");
    expect_einval("{\"messages\":[],\"thinking\":{\"type\":\"enabled\"}}",
                  "thinking.budget_tokens");
    expect_einval("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"tool_use\","
                  "\"id\":\"t\",\"name\":\"x\"}]}]}",
                  "not allowed in user");

    /* text documents and images of both kinds are fine; unknown blocks travel raw */
    json_t *body = J("{\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"document\","
                     "\"source\":{\"type\":\"text\",\"media_type\":\"text/plain\",\"data\":\"doc "
                     "text\"}},{\"type\":\"image\",\"source\":{\"type\":\"base64\",\"media_type\":"
                     "\"image/png\",\"data\":\"iVBO\"}},{\"type\":\"image\",\"source\":{\"type\":"
                     "\"url\",\"url\":\"https://x/y.png\"}},{\"type\":\"search_result\","
                     "\"source\":\"s\",\"title\":\"t\",\"content\":[]}]}],\"temperature\":null}");
    json_t *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "messages.0.content.0.text"), "doc text");
    CHECK_STR(S(ir, "messages.0.content.1.media_type"), "image/png");
    CHECK_STR(S(ir, "messages.0.content.2.url"), "https://x/y.png");
    CHECK_STR(S(ir, "messages.0.content.3.type"), "raw");
    CHECK_STR(S(ir, "messages.0.content.3.block.type"), "search_result");
    CHECK(at(ir, "temperature") == NULL);
    json_t *back = NULL;
    CHECK(F->req_from_ir(ir, &back, &eb) == OR_OK);
    CHECK_STR(S(back, "messages.0.content.1.source.type"), "base64");
    CHECK_STR(S(back, "messages.0.content.2.source.url"), "https://x/y.png");
    CHECK_STR(S(back, "messages.0.content.3.type"), "search_result");
    json_decref(back);
    json_decref(ir);
    json_decref(body);
}

static void test_req_from_ir(void)
{
    /* An IR the way an OpenAI client produces it, with everything Anthropic rejects. */
    json_t *ir =
        J("{\"model\":\"claude-sonnet-4-5\",\"system\":[{\"type\":\"text\",\"text\":\"be "
          "brief\"},{\"type\":\"text\",\"text\":\"\"}],\"messages\":["
          "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":\"ghost\","
          "\"content\":[{\"type\":\"text\",\"text\":\"old\"}]}]},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"hi\"},{\"type\":\"text\","
          "\"text\":\"\"}]},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"image\",\"url\":\"data:image/"
          "jpeg;base64,/9j/\"}]},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"thinking\",\"text\":\"unsigned\"},"
          "{\"type\":\"text\",\"text\":\"\"}]},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"c1\",\"name\":"
          "\"f\",\"arguments\":\"{\\\"a\\\":1}\"},{\"type\":\"tool_call\",\"id\":\"c2\",\"name\":"
          "\"g\",\"arguments\":\"not json\"},{\"type\":\"tool_call\",\"id\":\"c3\",\"name\":\"h\","
          "\"arguments\":\"\"}]},"
          "{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"wait\"}]},"
          "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":\"c2\","
          "\"content\":[{\"type\":\"text\",\"text\":\"r2\"}],\"is_error\":true},{\"type\":"
          "\"tool_result\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":\"text\",\"text\":"
          "\"r1\"}]},{\"type\":\"tool_result\",\"tool_call_id\":\"c1\",\"content\":[{\"type\":"
          "\"text\",\"text\":\"dup\"}]}]},"
          "{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\",\"id\":\"c4\",\"name\":"
          "\"f\",\"arguments\":\"{}\"}]}],"
          "\"tools\":[{\"name\":\"f\",\"parameters\":{\"properties\":{}}},{\"name\":\"g\","
          "\"description\":\"\"},{\"name\":\"h\"}],\"tool_choice\":{\"type\":\"required\"},"
          "\"temperature\":1.5,\"top_p\":0.5,\"stop\":[\"END\",\"  \"],\"user\":\"u1\","
          "\"response_format\":{\"type\":\"json_schema\",\"name\":\"out\",\"schema\":{\"type\":"
          "\"object\"}},\"extra\":{\"openai\":{\"seed\":1}}}");
    json_t *b = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    char *dump = json_dumps(b, JSON_INDENT(1));
    CHECK(I(b, "max_tokens") == 4096);
    CHECK(json_array_size(at(b, "system")) == 1);
    CHECK_STR(S(b, "system.0.text"), "be brief");
    CHECK_STR(S(b, "output_config.format.type"), "json_schema");
    CHECK_STR(S(b, "output_config.format.schema.type"), "object");
    /* user [orphan text, hi, image] / assistant [3 tool_use] / user [r1, r2, c3 filler, wait,
     * dup] / assistant [c4] */
    CHECK(json_array_size(at(b, "messages")) == 4);
    CHECK_STR(S(b, "messages.0.role"), "user");
    CHECK_STR(S(b, "messages.0.content.0.text"), "[tool result ghost] old");
    CHECK_STR(S(b, "messages.0.content.1.text"), "hi");
    CHECK(json_array_size(at(b, "messages.0.content")) == 3);
    CHECK_STR(S(b, "messages.0.content.2.source.media_type"), "image/jpeg");
    CHECK_STR(S(b, "messages.0.content.2.source.data"), "/9j/");
    CHECK_STR(S(b, "messages.1.role"), "assistant");
    CHECK(json_array_size(at(b, "messages.1.content")) == 3); /* unsigned thinking dropped */
    CHECK(I(b, "messages.1.content.0.input.a") == 1);
    CHECK_STR(S(b, "messages.1.content.1.input._raw"), "not json");
    CHECK(json_object_size(at(b, "messages.1.content.2.input")) == 0);
    CHECK_STR(S(b, "messages.2.role"), "user");
    CHECK_STR(S(b, "messages.2.content.0.tool_use_id"), "c2");
    CHECK(json_is_true(at(b, "messages.2.content.0.is_error")));
    CHECK_STR(S(b, "messages.2.content.1.tool_use_id"), "c1");
    CHECK_STR(S(b, "messages.2.content.2.tool_use_id"), "c3");
    CHECK_STR(S(b, "messages.2.content.2.content.0.text"), "[no result]");
    CHECK_STR(S(b, "messages.2.content.3.text"), "wait");
    CHECK_STR(S(b, "messages.2.content.4.text"), "[tool result c1] dup");
    CHECK_STR(S(b, "messages.3.content.0.id"), "c4"); /* trailing call left open */
    CHECK_STR(S(b, "tools.0.input_schema.type"), "object");
    CHECK(at(b, "tools.1.description") == NULL);
    CHECK_STR(S(b, "tool_choice.type"), "any");
    CHECK(json_real_value(at(b, "temperature")) == 1.0); /* clamped to Anthropic's range */
    CHECK(at(b, "top_p") == NULL);
    CHECK(json_array_size(at(b, "stop_sequences")) == 1);
    CHECK_STR(S(b, "metadata.user_id"), "u1");
    CHECK(at(b, "seed") == NULL);
    if (check_failures)
        fprintf(stderr, "%s\n", dump);
    free(dump);
    json_decref(b);
    json_decref(ir);

    /* thinking: budget raises max_tokens, temperature and top_k go, top_p kept only >= .95 */
    ir = J("{\"model\":\"m\",\"max_tokens\":2000,\"thinking\":{\"type\":\"enabled\","
           "\"budget_tokens\":3000},\"temperature\":0.3,\"top_k\":5,\"top_p\":0.96,"
           "\"messages\":[{\"role\":\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]}]}");
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    CHECK(I(b, "max_tokens") == 4024);
    CHECK(I(b, "thinking.budget_tokens") == 3000);
    CHECK(at(b, "temperature") == NULL && at(b, "top_k") == NULL);
    CHECK(json_real_value(at(b, "top_p")) > 0.95);
    json_decref(b);
    json_decref(ir);

    /* effort only → a budget; a tool loop without signed thinking turns thinking off */
    ir = J("{\"thinking\":{\"type\":\"enabled\",\"effort\":\"low\"},\"messages\":[{\"role\":"
           "\"user\",\"content\":[{\"type\":\"text\",\"text\":\"q\"}]}]}");
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    CHECK(I(b, "thinking.budget_tokens") == 1024);
    CHECK(at(b, "model") == NULL);
    json_decref(b);
    json_decref(ir);
    ir = J(
        "{\"thinking\":{\"type\":\"enabled\",\"budget_tokens\":2048},\"temperature\":0.5,"
        "\"messages\":[{\"role\":\"user\",\"content\":\"q\"},{\"role\":\"assistant\","
        "\"content\":[{\"type\":\"tool_call\",\"id\":\"c\",\"name\":\"f\",\"arguments\":\"{}\"}]},"
        "{\"role\":\"tool\",\"content\":[{\"type\":\"tool_result\",\"tool_call_id\":\"c\","
        "\"content\":[]}]}]}");
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    CHECK(at(b, "thinking") == NULL);
    CHECK(json_real_value(at(b, "temperature")) == 0.5);
    CHECK(at(b, "messages.2.content.0.content") == NULL);
    json_decref(b);
    json_decref(ir);

    /* json_object has no schema-less structured output: a system instruction instead */
    ir = J("{\"response_format\":{\"type\":\"json_object\"},\"messages\":[{\"role\":\"user\","
           "\"content\":\"q\"}]}");
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    CHECK(strstr(S(b, "system.0.text"), "JSON object") != NULL);
    CHECK(at(b, "output_config") == NULL);
    json_decref(b);
    json_decref(ir);

    /* output_config.format ↔ response_format; the rest of output_config stays a passthrough */
    json_t *body = J("{\"messages\":[{\"role\":\"user\",\"content\":\"q\"}],\"output_config\":"
                     "{\"effort\":\"low\",\"format\":{\"type\":\"json_schema\",\"schema\":{"
                     "\"type\":\"object\"}}}}");
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "response_format.type"), "json_schema");
    CHECK_STR(S(ir, "response_format.schema.type"), "object");
    CHECK(at(ir, "extra.claude.output_config.format") == NULL);
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_OK);
    CHECK_STR(S(b, "output_config.effort"), "low");
    CHECK_STR(S(b, "output_config.format.schema.type"), "object");
    json_decref(b);
    json_decref(ir);
    json_decref(body);
    body = J("{\"messages\":[],\"output_format\":{\"type\":\"json_schema\",\"schema\":{}}}");
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "response_format.type"), "json_schema");
    CHECK(at(ir, "extra") == NULL);
    json_decref(ir);
    json_decref(body);
    expect_einval("{\"messages\":[],\"output_config\":{\"format\":{\"type\":\"regex\"}}}",
                  "output_config.format");

    /* a tool call without a name cannot be sent */
    ir = J("{\"messages\":[{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_call\","
           "\"id\":\"c\",\"arguments\":\"{}\"}]}]}");
    CHECK(F->req_from_ir(ir, &b, &eb) == OR_EINVAL);
    CHECK(strstr(eb.msg, "messages[0].content[0].name") != NULL);
    json_decref(ir);
}

static void test_url(void)
{
    or_buf b;
    or_buf_init(&b, 1024);
    const char *root = "https://api.z.ai/api/anthropic/v1/";
    CHECK(F->url(root, strlen(root), "glm-4.6", true, &b) == OR_OK);
    CHECK_STR(b.data, "https://api.z.ai/api/anthropic/v1/messages");
    or_buf_free(&b);
    CHECK_STR(F->name, "claude");
    CHECK_STR(F->stream_content_type, "text/event-stream");
    CHECK(or_fmt_anthropic.id == OR_FMT_ANTHROPIC);
}

/* ---------------------------------------------------------------- responses */

static void test_resp(void)
{
    json_t *body =
        J("{\"id\":\"msg_01\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude-x\","
          "\"content\":[{\"type\":\"thinking\",\"thinking\":\"hmm\",\"signature\":\"s\"},"
          "{\"type\":\"redacted_thinking\",\"data\":\"R\"},{\"type\":\"text\",\"text\":\"Hi\","
          "\"citations\":null},{\"type\":\"tool_use\",\"id\":\"toolu_9\",\"name\":\"f\","
          "\"input\":{\"x\":[1,2]}},{\"type\":\"server_tool_use\",\"id\":\"srv\",\"name\":"
          "\"web_search\",\"input\":{}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,"
          "\"usage\":{\"input_tokens\":10,\"cache_read_input_tokens\":100,"
          "\"cache_creation_input_tokens\":5,\"output_tokens\":7}}");
    json_t *ir = NULL, *back = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "id"), "msg_01");
    CHECK_STR(S(ir, "content.0.type"), "thinking");
    CHECK_STR(S(ir, "content.0.signature"), "s");
    CHECK_STR(S(ir, "content.1.redacted"), "R");
    CHECK_STR(S(ir, "content.2.text"), "Hi");
    CHECK_STR(S(ir, "content.3.arguments"), "{\"x\":[1,2]}");
    CHECK_STR(S(ir, "content.4.type"), "raw");
    CHECK_STR(S(ir, "stop_reason"), "tool_calls");
    CHECK(I(ir, "usage.input_tokens") == 115);
    CHECK(I(ir, "usage.cached_tokens") == 100);
    CHECK(I(ir, "usage.cache_creation_tokens") == 5);
    CHECK(I(ir, "usage.output_tokens") == 7);

    or_fmt_opts o = {.model = "my-alias", .id = "req42"};
    CHECK(F->resp_from_ir(ir, &o, &back, &eb) == OR_OK);
    CHECK_STR(S(back, "id"), "msg_01");
    CHECK_STR(S(back, "type"), "message");
    CHECK_STR(S(back, "model"), "my-alias");
    CHECK_STR(S(back, "stop_reason"), "tool_use");
    CHECK(json_is_null(at(back, "stop_sequence")));
    CHECK(I(back, "usage.input_tokens") == 10);
    CHECK(I(back, "usage.cache_read_input_tokens") == 100);
    CHECK(I(back, "usage.cache_creation_input_tokens") == 5);
    CHECK(I(back, "content.3.input.x.1") == 2);
    CHECK_STR(S(back, "content.1.type"), "redacted_thinking");
    CHECK_STR(S(back, "content.4.type"), "server_tool_use");
    json_decref(back);
    json_decref(ir);
    json_decref(body);

    /* from another provider: ids get msg_, stop maps, plain stop with calls → tool_use */
    ir = J("{\"id\":\"chatcmpl-1\",\"model\":\"gpt\",\"content\":[{\"type\":\"thinking\","
           "\"text\":\"\",\"encrypted_content\":\"gAAA\"},{\"type\":\"text\",\"text\":"
           "\"\"},{\"type\":\"tool_call\",\"id\":\"call_1\",\"name\":\"f\",\"arguments\":"
           "\"{bad\"}],\"stop_reason\":\"stop\",\"usage\":{\"input_tokens\":3,\"output_tokens\":"
           "4,\"cached_tokens\":5}}");
    CHECK(F->resp_from_ir(ir, NULL, &back, &eb) == OR_OK);
    CHECK_STR(S(back, "id"), "msg_chatcmpl-1");
    CHECK_STR(S(back, "model"), "gpt");
    CHECK_STR(S(back, "stop_reason"), "tool_use");
    CHECK(json_array_size(at(back, "content")) == 1);
    CHECK_STR(S(back, "content.0.input._raw"), "{bad");
    CHECK(I(back, "usage.input_tokens") == 0);
    json_decref(back);
    json_decref(ir);

    static const char *const stops[][2] = {
        {"end_turn", "stop"},          {"max_tokens", "length"}, {"stop_sequence", "stop"},
        {"refusal", "content_filter"}, {"pause_turn", "stop"},   {"tool_use", "tool_calls"},
    };
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        char s[160];
        snprintf(s, sizeof s, "{\"content\":[],\"stop_reason\":\"%s\"}", stops[i][0]);
        body = J(s);
        CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
        CHECK_STR(S(ir, "stop_reason"), stops[i][1]);
        json_decref(ir);
        json_decref(body);
    }
    body = J("{\"type\":\"error\",\"error\":{\"type\":\"api_error\",\"message\":\"boom\"}}");
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_EUPSTREAM);
    CHECK(strstr(eb.msg, "boom") != NULL);
    json_decref(body);
}

/* ---------------------------------------------------------------- errors */

static void test_errors(void)
{
    static const struct {
        int status;
        const char *body, *type, *msg;
        int want_status;
    } cases[] = {
        {529,
         "{\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":"
         "\"Overloaded\"}}",
         "overloaded_error", "Overloaded", 529},
        {429,
         "{\"error\":{\"message\":\"slow down\",\"type\":\"requests\",\"code\":"
         "\"rate_limit_exceeded\"}}",
         "rate_limit_error", "slow down", 429},
        {429,
         "[{\"error\":{\"code\":429,\"message\":\"quota\",\"status\":"
         "\"RESOURCE_EXHAUSTED\",\"details\":[{\"retryDelay\":\"7s\"}]}}]",
         "rate_limit_error", "quota", 429},
        {401, "{\"message\":\"bad key\"}", "authentication_error", "bad key", 401},
        {502, "\"gateway down\"", "api_error", "gateway down", 502},
        {503, "null", "overloaded_error", "upstream returned HTTP 503", 503},
        {402, "{\"type\":\"error\",\"error\":{\"type\":\"billing_error\",\"message\":\"pay\"}}",
         "permission_error", "pay", 402},
        {200, "{\"type\":\"error\",\"error\":{\"type\":\"rate_limit_error\",\"message\":\"m\"}}",
         "rate_limit_error", "m", 429},
        {0, "{\"error\":\"plain string\"}", "api_error", "plain string", 502},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = json_loads(cases[i].body, JSON_DECODE_ANY, NULL);
        json_t *e = F->error_to_ir(cases[i].status, b);
        CHECK_STR(S(e, "error_type"), cases[i].type);
        CHECK_STR(S(e, "message"), cases[i].msg);
        CHECK(I(e, "status") == cases[i].want_status);
        json_decref(e);
        json_decref(b);
    }
    json_t *b = J("[{\"error\":{\"code\":429,\"message\":\"q\",\"status\":\"RESOURCE_EXHAUSTED\","
                  "\"details\":[{\"@type\":\"x\",\"retryDelay\":\"7s\"}]}}]");
    json_t *e = F->error_to_ir(429, b);
    CHECK_STR(S(e, "retry_after"), "7");
    json_decref(e);
    json_decref(b);

    static const struct {
        const char *ir, *type;
    } out[] = {
        {"{\"status\":429,\"error_type\":\"rate_limit_error\",\"message\":\"m\"}",
         "rate_limit_error"},
        {"{\"status\":529,\"error_type\":\"overloaded_error\",\"message\":\"m\"}",
         "overloaded_error"},
        {"{\"status\":413,\"error_type\":\"invalid_request_error\",\"message\":\"m\"}",
         "request_too_large"},
        {"{\"status\":504,\"error_type\":\"timeout_error\",\"message\":\"m\"}", "timeout_error"},
        {"{\"status\":502,\"error_type\":\"weird\",\"message\":\"m\"}", "api_error"},
        {"{\"status\":404,\"message\":\"m\"}", "not_found_error"},
    };
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        json_t *ir = J(out[i].ir);
        json_t *w = F->error_from_ir(ir);
        CHECK_STR(S(w, "type"), "error");
        CHECK_STR(S(w, "error.type"), out[i].type);
        CHECK_STR(S(w, "error.message"), "m");
        json_decref(w);
        json_decref(ir);
    }
}

/* ---------------------------------------------------------------- streams */

/* A real-shaped Anthropic stream: thinking with signature, text, a tool call with streamed
 * input, usage split between message_start and message_delta. */
static const char *upstream_sse =
    "event: message_start\n"
    "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_A\",\"type\":\"message\","
    "\"role\":\"assistant\",\"model\":\"claude-x\",\"content\":[],\"stop_reason\":null,"
    "\"stop_sequence\":null,\"usage\":{\"input_tokens\":12,\"cache_read_input_tokens\":30,"
    "\"cache_creation_input_tokens\":0,\"output_tokens\":1}}}\n\n"
    "event: ping\ndata: {\"type\":\"ping\"}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
    "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"thinking_delta\","
    "\"thinking\":\"Let me think\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
    "\"signature_delta\",\"signature\":\"EqQB\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":\"text\","
    "\"text\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\"Hello\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
    "\"text\":\" world\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
    "event: content_block_start\n"
    "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":"
    "\"tool_use\",\"id\":\"toolu_1\",\"name\":\"get_weather\",\"input\":{}}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"\"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"{\\\"city\\\": \"}}\n\n"
    "event: content_block_delta\n"
    "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
    "\"input_json_delta\",\"partial_json\":\"\\\"Paris\\\"}\"}}\n\n"
    "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
    "event: message_delta\n"
    "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
    "\"stop_sequence\":null},\"usage\":{\"output_tokens\":42}}\n\n"
    "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";

/* Minimal SSE splitter for tests: feeds `sse` to the decoder in chunks of `step` bytes,
 * assembling events at blank lines the way the gateway's line reader does. */
static or_err decode_chunked(const char *sse, size_t step, json_t *out, int end)
{
    or_fmt_dec *d = F->dec_new();
    or_errbuf eb = {{0}};
    or_buf acc;
    or_buf_init(&acc, 0);
    char ev[64] = "", data[8192] = "";
    size_t n = strlen(sse), dl = 0;
    or_err r = OR_OK;
    for (size_t off = 0; off < n && r == OR_OK; off += step) {
        or_buf_append(&acc, sse + off, off + step > n ? n - off : step);
        char *nl;
        while (r == OR_OK && (nl = memchr(acc.data, '\n', acc.len))) {
            size_t ll = (size_t)(nl - acc.data);
            if (ll == 0) {
                if (dl)
                    r = F->dec_event(d, ev[0] ? ev : NULL, data, dl, out, &eb);
                ev[0] = 0;
                dl = 0;
            } else if (strncmp(acc.data, "event: ", 7) == 0) {
                snprintf(ev, sizeof ev, "%.*s", (int)(ll - 7), acc.data + 7);
            } else if (strncmp(acc.data, "data: ", 6) == 0) {
                memcpy(data, acc.data + 6, ll - 6);
                dl = ll - 6;
                data[dl] = 0;
            }
            or_buf_consume(&acc, ll + 1);
        }
    }
    if (r == OR_OK && end)
        r = F->dec_end(d, out, &eb);
    or_buf_free(&acc);
    F->dec_free(d);
    return r;
}

static void test_decoder(void)
{
    json_t *first = NULL;
    static const size_t steps[] = {100000, 1, 7, 64};
    for (size_t s = 0; s < sizeof steps / sizeof steps[0]; s++) {
        json_t *out = json_array();
        CHECK(decode_chunked(upstream_sse, steps[s], out, 1) == OR_OK);
        if (!first) {
            first = out;
            continue;
        }
        CHECK(json_equal(first, out));
        json_decref(out);
    }
    json_t *o = first;
    CHECK_STR(S(o, "0.type"), "start");
    CHECK_STR(S(o, "0.id"), "msg_A");
    CHECK_STR(S(o, "0.model"), "claude-x");
    CHECK_STR(S(o, "1.type"), "thinking");
    CHECK(I(o, "1.index") == 0);
    CHECK_STR(S(o, "1.text"), "Let me think");
    CHECK_STR(S(o, "2.type"), "thinking_signature");
    CHECK_STR(S(o, "2.signature"), "EqQB");
    CHECK_STR(S(o, "3.text"), "Hello");
    CHECK(I(o, "3.index") == 1);
    CHECK_STR(S(o, "4.text"), " world");
    CHECK_STR(S(o, "5.type"), "tool_call");
    CHECK_STR(S(o, "5.id"), "toolu_1");
    CHECK_STR(S(o, "5.name"), "get_weather");
    CHECK(I(o, "5.index") == 2);
    CHECK_STR(S(o, "6.type"), "tool_args");
    CHECK_STR(S(o, "6.arguments"), "{\"city\": ");
    CHECK_STR(S(o, "7.arguments"), "\"Paris\"}");
    CHECK_STR(S(o, "8.type"), "usage");
    CHECK(I(o, "8.usage.input_tokens") == 42);
    CHECK(I(o, "8.usage.cached_tokens") == 30);
    CHECK(I(o, "8.usage.output_tokens") == 42);
    CHECK_STR(S(o, "9.type"), "stop");
    CHECK_STR(S(o, "9.stop_reason"), "tool_calls");
    CHECK_STR(S(o, "10.type"), "done");
    CHECK(json_array_size(o) == 11);
    json_decref(first);

    /* mid-stream error: error + done, and nothing after */
    json_t *out = json_array();
    const char *err_sse =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\","
        "\"message\":\"Overloaded\"}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    CHECK(decode_chunked(err_sse, 5, out, 1) == OR_OK);
    CHECK(json_array_size(out) == 3);
    CHECK_STR(S(out, "1.type"), "error");
    CHECK(I(out, "1.status") == 529);
    CHECK_STR(S(out, "1.error_type"), "overloaded_error");
    CHECK_STR(S(out, "1.message"), "Overloaded");
    CHECK_STR(S(out, "2.type"), "done");
    json_decref(out);

    /* cut stream: EOF before message_stop is an error, not a short answer */
    out = json_array();
    const char *cut =
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"par\"}}\n\n";
    CHECK(decode_chunked(cut, 3, out, 1) == OR_OK);
    CHECK_STR(S(out, "1.text"), "par");
    CHECK_STR(S(out, "2.type"), "error");
    CHECK(I(out, "2.status") == 502);
    CHECK_STR(S(out, "3.type"), "done");
    json_decref(out);

    /* server tool blocks travel whole as raw events and come out as they went in */
    out = json_array();
    const char *srv =
        "event: message_start\ndata: "
        "{\"type\":\"message_start\",\"message\":{\"id\":\"msg_S\"}}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,"
        "\"content_block\":{\"type\":\"server_tool_use\",\"id\":\"srvtoolu_1\",\"name\":"
        "\"web_search\",\"input\":{}}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\\\"query\\\": \"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,"
        "\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"weather\\\"}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":1,"
        "\"content_block\":{\"type\":\"web_search_tool_result\",\"tool_use_id\":\"srvtoolu_1\","
        "\"content\":[{\"type\":\"web_search_result\",\"url\":\"https://w\",\"title\":\"W\"}]}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":2,"
        "\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":2,"
        "\"delta\":{\"type\":\"text_delta\",\"text\":\"Sunny\"}}\n\n"
        "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":"
        "\"end_turn\"},\"usage\":{\"output_tokens\":3}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    CHECK(decode_chunked(srv, 13, out, 1) == OR_OK);
    CHECK_STR(S(out, "1.type"), "raw");
    CHECK(I(out, "1.index") == 0);
    CHECK_STR(S(out, "1.block.type"), "server_tool_use");
    CHECK_STR(S(out, "1.block.input.query"), "weather");
    CHECK_STR(S(out, "2.block.type"), "web_search_tool_result");
    CHECK_STR(S(out, "2.block.content.0.url"), "https://w");
    CHECK_STR(S(out, "3.text"), "Sunny");
    CHECK(I(out, "3.index") == 2);
    CHECK_STR(S(out, "5.stop_reason"), "stop");
    or_fmt_enc *enc = F->enc_new(NULL);
    or_buf wire;
    or_buf_init(&wire, 0);
    size_t k;
    json_t *x;
    json_array_foreach(out, k, x) CHECK(F->enc_event(enc, x, &wire) == OR_OK);
    F->enc_free(enc);
    CHECK(strstr(wire.data, "\"content_block\":{\"type\":\"server_tool_use\",\"id\":"
                            "\"srvtoolu_1\",\"name\":\"web_search\",\"input\":{\"query\":"
                            "\"weather\"}}") != NULL);
    CHECK(strstr(wire.data, "\"index\":1,\"content_block\":{\"type\":\"web_search_tool_result\"") !=
          NULL);
    CHECK(strstr(wire.data, "\"stop_reason\":\"end_turn\"") != NULL);
    or_buf_free(&wire);
    json_decref(out);

    /* bad JSON and absurd indexes are upstream errors */
    or_fmt_dec *d = F->dec_new();
    or_errbuf eb = {{0}};
    out = json_array();
    CHECK(F->dec_event(d, "message_start", "{nope", 5, out, &eb) == OR_EUPSTREAM);
    const char *big = "{\"type\":\"content_block_start\",\"index\":99999999,\"content_block\":"
                      "{\"type\":\"text\",\"text\":\"\"}}";
    CHECK(F->dec_event(d, NULL, big, strlen(big), out, &eb) == OR_ETOOBIG);
    F->dec_free(d);
    json_decref(out);
}

static char *encode(const char *ir_events, const or_fmt_opts *o)
{
    json_t *evs = J(ir_events);
    or_fmt_enc *e = F->enc_new(o);
    or_buf b;
    or_buf_init(&b, 0);
    size_t i;
    json_t *ev;
    json_array_foreach(evs, i, ev) CHECK(F->enc_event(e, ev, &b) == OR_OK);
    F->enc_free(e);
    json_decref(evs);
    char *s = or_buf_take(&b, NULL);
    return s;
}

static void test_encoder(void)
{
    or_fmt_opts o = {.stream = true, .model = "claude-alias", .id = "req1"};
    char *s = encode("[{\"type\":\"start\",\"id\":\"chatcmpl-9\",\"model\":\"gpt-4o\"},"
                     "{\"type\":\"thinking\",\"index\":0,\"text\":\"hm\"},"
                     "{\"type\":\"thinking_signature\",\"index\":0,\"signature\":\"S\"},"
                     "{\"type\":\"text\",\"index\":1,\"text\":\"Hi\"},"
                     "{\"type\":\"text\",\"index\":1,\"text\":\"\"},"
                     "{\"type\":\"tool_call\",\"index\":2,\"id\":\"call_1\",\"name\":\"f\"},"
                     "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"{\\\"a\\\":\"},"
                     "{\"type\":\"tool_call\",\"index\":3,\"id\":\"call_2\",\"name\":\"g\"},"
                     "{\"type\":\"tool_args\",\"index\":3,\"arguments\":\"{}\"},"
                     "{\"type\":\"tool_args\",\"index\":2,\"arguments\":\"1}\"},"
                     "{\"type\":\"tool_signature\",\"index\":2,\"signature\":\"x\"},"
                     "{\"type\":\"usage\",\"usage\":{\"input_tokens\":100,\"output_tokens\":9,"
                     "\"cached_tokens\":60}},"
                     "{\"type\":\"stop\",\"stop_reason\":\"tool_calls\"},{\"type\":\"done\"}]",
                     &o);
    const char *want =
        "event: message_start\n"
        "data: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_chatcmpl-9\",\"type\":"
        "\"message\",\"role\":\"assistant\",\"model\":\"claude-alias\",\"content\":[],"
        "\"stop_reason\":null,\"stop_sequence\":null,\"usage\":{\"input_tokens\":0,"
        "\"cache_creation_input_tokens\":0,\"cache_read_input_tokens\":0,\"output_tokens\":0}}}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":"
        "\"thinking\",\"thinking\":\"\",\"signature\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"thinking_delta\",\"thinking\":\"hm\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":"
        "\"signature_delta\",\"signature\":\"S\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":1,\"content_block\":{\"type\":"
        "\"text\",\"text\":\"\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":1,\"delta\":{\"type\":\"text_delta\","
        "\"text\":\"Hi\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":1}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":2,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"call_1\",\"name\":\"f\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{\\\"a\\\":\"}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":2,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"1}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":2}\n\n"
        "event: content_block_start\n"
        "data: {\"type\":\"content_block_start\",\"index\":3,\"content_block\":{\"type\":"
        "\"tool_use\",\"id\":\"call_2\",\"name\":\"g\",\"input\":{}}}\n\n"
        "event: content_block_delta\n"
        "data: {\"type\":\"content_block_delta\",\"index\":3,\"delta\":{\"type\":"
        "\"input_json_delta\",\"partial_json\":\"{}\"}}\n\n"
        "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":3}\n\n"
        "event: message_delta\n"
        "data: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"tool_use\","
        "\"stop_sequence\":null},\"usage\":{\"input_tokens\":40,\"cache_creation_input_tokens\":0,"
        "\"cache_read_input_tokens\":60,\"output_tokens\":9}}\n\n"
        "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n";
    CHECK_STR(s, want);

    /* encoder output decodes back to the same conversation */
    json_t *out = json_array();
    CHECK(decode_chunked(s, 11, out, 1) == OR_OK);
    CHECK_STR(S(out, "0.id"), "msg_chatcmpl-9");
    CHECK_STR(S(out, "1.text"), "hm");
    CHECK_STR(S(out, "2.signature"), "S");
    CHECK_STR(S(out, "3.text"), "Hi");
    CHECK_STR(S(out, "4.name"), "f");
    CHECK_STR(S(out, "7.name"), "g");
    CHECK(I(out, "9.usage.input_tokens") == 100);
    CHECK_STR(S(out, "10.stop_reason"), "tool_calls");
    CHECK_STR(S(out, "11.type"), "done");
    json_decref(out);
    free(s);

    /* deterministic: same events, same bytes */
    const char *simple = "[{\"type\":\"text\",\"index\":0,\"text\":\"x\"},"
                         "{\"type\":\"stop\",\"stop_reason\":\"length\"},{\"type\":\"done\"}]";
    char *a = encode(simple, &o), *b2 = encode(simple, &o);
    CHECK_STR(a, b2);
    CHECK(strstr(a, "\"id\":\"msg_req1\"") != NULL);
    CHECK(strstr(a, "\"stop_reason\":\"max_tokens\"") != NULL);
    CHECK(strstr(a, "\"cache_read_input_tokens\":0,\"output_tokens\":0}}\n\nevent: message_stop") !=
          NULL);
    free(a);
    free(b2);

    /* error midway: `event: error` is the last thing on the wire */
    s = encode("[{\"type\":\"start\",\"id\":\"msg_1\"},{\"type\":\"text\",\"index\":0,\"text\":"
               "\"partial\"},{\"type\":\"error\",\"status\":529,\"error_type\":"
               "\"overloaded_error\",\"message\":\"Overloaded\"},{\"type\":\"done\"}]",
               &o);
    const char *tail = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                       "\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n";
    CHECK(strlen(s) > strlen(tail) && strcmp(s + strlen(s) - strlen(tail), tail) == 0);
    CHECK(strstr(s, "message_stop") == NULL);
    free(s);

    /* an error before anything: just the error event */
    s = encode("[{\"type\":\"error\",\"status\":401,\"error_type\":\"authentication_error\","
               "\"message\":\"bad key\"},{\"type\":\"done\"}]",
               NULL);
    CHECK_STR(s, "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":"
                 "\"authentication_error\",\"message\":\"bad key\"}}\n\n");
    free(s);

    /* redacted thinking passes through as its own block */
    s = encode("[{\"type\":\"thinking\",\"index\":0,\"text\":\"\",\"redacted\":\"RD\"},"
               "{\"type\":\"done\"}]",
               NULL);
    CHECK(strstr(s, "{\"type\":\"redacted_thinking\",\"data\":\"RD\"}") != NULL);
    CHECK(strstr(s, "\"id\":\"msg_0\"") != NULL);
    out = json_array();
    CHECK(decode_chunked(s, 9, out, 1) == OR_OK);
    CHECK_STR(S(out, "1.redacted"), "RD");
    json_decref(out);
    free(s);
}

int main(void)
{
    test_req_to_ir();
    test_req_errors();
    test_req_from_ir();
    test_url();
    test_resp();
    test_errors();
    test_decoder();
    test_encoder();
    return check_done();
}
