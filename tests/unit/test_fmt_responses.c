/* OpenAI Responses translator: requests, responses, streams and errors both ways. */
#include "check.h"
#include "fmt/fmt.h"

#include <stdlib.h>
#include <string.h>

static const or_fmt *F = &or_fmt_responses;

/* JSON written with single quotes (no apostrophes in the texts), so fixtures stay readable. */
static json_t *J(const char *text)
{
    json_error_t je;
    char *s = strdup(text);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    json_t *j = json_loads(s, JSON_DECODE_ANY, &je);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", je.text, s);
    free(s);
    return j;
}

/* JSON at a path like "input.1.content.0.text" (numeric segments index arrays). */
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

/* What Codex CLI sends on its second turn (shape observed in real-clients.md). */
static const char *codex_request =
    "{'model':'gpt-5.1-codex','stream':true,'store':false,"
    "'include':['reasoning.encrypted_content'],'reasoning':{'summary':'auto','effort':'minimal'},"
    "'tool_choice':'auto','parallel_tool_calls':true,'prompt_cache_key':'sess-1',"
    "'client_metadata':{'x':'y'},'max_output_tokens':2000,"
    "'text':{'format':{'type':'json_schema','name':'out','schema':{'type':'object'},"
    "'strict':true},'verbosity':'low'},"
    "'input':["
    "{'type':'message','id':'msg_1','role':'developer','content':[{'type':'input_text',"
    "'text':'base instructions'}]},"
    "{'type':'message','role':'developer','content':'skills'},"
    "{'type':'message','role':'user','content':[{'type':'input_text','text':'list files'},"
    "{'type':'input_image','image_url':'data:image/png;base64,AAAA'}]},"
    "{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text','text':'Plan A'},"
    "{'type':'summary_text','text':'Plan B'}],'encrypted_content':'gAAAAenc'},"
    "{'type':'function_call','id':'fc_1','call_id':'call_1','name':'exec_command',"
    "'arguments':'{\\'cmd\\':\\'ls\\'}'},"
    "{'type':'function_call_output','id':'fco_1','call_id':'call_1','output':'a.txt'},"
    "{'type':'message','role':'assistant','content':[{'type':'output_text','text':'Done.'}]},"
    "{'type':'web_search_call','id':'ws_1','status':'completed'},"
    "{'role':'user','content':'thanks'}],"
    "'tools':[{'type':'function','name':'exec_command','description':'Run','strict':false,"
    "'parameters':{'type':'object','properties':{'cmd':{'type':'string'}}}},"
    "{'type':'namespace','name':'multi_agent_v1','tools':[]},"
    "{'type':'web_search','external_web_access':false}]}";

static void test_req_to_ir(void)
{
    json_t *body = J(codex_request), *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK_STR(S(ir, "model"), "gpt-5.1-codex");
    CHECK(json_array_size(at(ir, "system")) == 2);
    CHECK_STR(S(ir, "system.0.text"), "base instructions");
    CHECK_STR(S(ir, "system.1.text"), "skills");
    CHECK(json_array_size(at(ir, "messages")) == 5);
    CHECK_STR(S(ir, "messages.0.role"), "user");
    CHECK_STR(S(ir, "messages.0.content.1.type"), "image");
    CHECK_STR(S(ir, "messages.0.content.1.media_type"), "image/png");
    CHECK_STR(S(ir, "messages.0.content.1.data"), "AAAA");
    CHECK_STR(S(ir, "messages.1.role"), "assistant");
    CHECK(same(at(ir, "messages.1.content.0"),
               "{'type':'thinking','text':'Plan A\\n\\nPlan B','encrypted_content':'gAAAAenc',"
               "'id':'rs_1'}"));
    CHECK(same(at(ir, "messages.1.content.1"),
               "{'type':'tool_call','id':'call_1','name':'exec_command',"
               "'arguments':'{\\'cmd\\':\\'ls\\'}'}"));
    CHECK(same(at(ir, "messages.2"),
               "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'call_1',"
               "'name':'exec_command','content':[{'type':'text','text':'a.txt'}]}]}"));
    CHECK(same(at(ir, "messages.3"),
               "{'role':'assistant','content':[{'type':'text','text':'Done.'}]}"));
    CHECK_STR(S(ir, "messages.4.content.0.text"), "thanks");
    CHECK(same(at(ir, "tools"),
               "[{'name':'exec_command','description':'Run','strict':false,'parameters':"
               "{'type':'object','properties':{'cmd':{'type':'string'}}}}]"));
    CHECK(same(at(ir, "tool_choice"), "{'type':'auto'}"));
    CHECK(same(at(ir, "thinking"), "{'type':'enabled','effort':'low'}"));
    CHECK(same(at(ir, "response_format"),
               "{'type':'json_schema','name':'out','schema':{'type':'object'},'strict':true}"));
    CHECK(I(ir, "max_tokens") == 2000);
    CHECK(json_is_true(at(ir, "stream")));
    CHECK(json_is_true(at(ir, "parallel_tool_calls")));
    json_t *ex = at(ir, "extra.openai-responses");
    CHECK(json_is_false(at(ex, "store")));
    CHECK_STR(S(ex, "include.0"), "reasoning.encrypted_content");
    CHECK_STR(S(ex, "prompt_cache_key"), "sess-1");
    CHECK(same(at(ex, "reasoning"), "{'summary':'auto','effort':'minimal'}"));
    CHECK(same(at(ex, "text"), "{'verbosity':'low'}"));
    CHECK(json_array_size(at(ex, "tools")) == 2);
    CHECK(!at(ex, "input") && !at(ex, "model"));

    /* … and back: a Responses provider gets the same conversation. */
    json_t *out = NULL;
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK_STR(S(out, "instructions"), "base instructions\n\nskills");
    CHECK(same(at(out, "input"),
               "[{'type':'message','role':'user','content':[{'type':'input_text','text':"
               "'list files'},{'type':'input_image','image_url':'data:image/png;base64,AAAA'}]},"
               "{'type':'reasoning','id':'rs_1','summary':[{'type':'summary_text','text':"
               "'Plan A\\n\\nPlan B'}],'encrypted_content':'gAAAAenc'},"
               "{'type':'function_call','call_id':'call_1','name':'exec_command','arguments':"
               "'{\\'cmd\\':\\'ls\\'}'},"
               "{'type':'function_call_output','call_id':'call_1','output':'a.txt'},"
               "{'type':'message','role':'assistant','content':[{'type':'output_text','text':"
               "'Done.'}]},"
               "{'type':'message','role':'user','content':[{'type':'input_text','text':"
               "'thanks'}]}]"));
    CHECK(same(at(out, "reasoning"), "{'effort':'minimal','summary':'auto'}"));
    CHECK(same(at(out, "text"),
               "{'format':{'type':'json_schema','name':'out','schema':{'type':'object'},"
               "'strict':true},'verbosity':'low'}"));
    CHECK(json_array_size(at(out, "tools")) == 3);
    CHECK_STR(S(out, "tools.0.name"), "exec_command");
    CHECK(json_is_false(at(out, "tools.0.strict")));
    CHECK_STR(S(out, "tools.2.type"), "web_search");
    CHECK_STR(S(out, "tool_choice"), "auto");
    CHECK(json_is_false(at(out, "store")));
    CHECK(same(at(out, "client_metadata"), "{'x':'y'}"));
    CHECK(I(out, "max_output_tokens") == 2000);
    CHECK(!at(out, "extra") && !at(out, "messages") && !at(out, "system"));
    json_decref(out);
    json_decref(ir);
    json_decref(body);
}

static void test_req_simple_and_errors(void)
{
    or_errbuf eb = {{0}};
    json_t *ir = NULL, *body = J("{'model':'m','input':'hi','instructions':'be nice',"
                                 "'tool_choice':{'type':'function','name':'f'},"
                                 "'reasoning':{'effort':'none'},'user':'u','metadata':{'a':'b'}}");
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK(same(at(ir, "system"), "[{'type':'text','text':'be nice'}]"));
    CHECK(same(at(ir, "messages"), "[{'role':'user','content':[{'type':'text','text':'hi'}]}]"));
    CHECK(same(at(ir, "tool_choice"), "{'type':'tool','name':'f'}"));
    CHECK(same(at(ir, "thinking"), "{'type':'disabled'}"));
    CHECK_STR(S(ir, "user"), "u");
    json_t *out = NULL;
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(same(out, "{'model':'m','instructions':'be nice','input':[{'type':'message','role':"
                    "'user','content':[{'type':'input_text','text':'hi'}]}],'tool_choice':"
                    "{'type':'function','name':'f'},'reasoning':{'effort':'none'},'user':'u',"
                    "'metadata':{'a':'b'}}"));
    json_decref(out);
    json_decref(ir);
    json_decref(body);

    static const struct {
        const char *body, *msg;
    } bad[] = {
        {"{'input':'x'}", "model: expected a string"},
        {"{'model':'m','input':3}", "input: expected a string or an array"},
        {"{'model':'m','input':[3]}", "input[0]: expected an object"},
        {"{'model':'m','input':[{'role':'robot','content':'x'}]}",
         "input[0].role: expected user, assistant, system or developer"},
        {"{'model':'m','input':[{'role':'user','content':[{'type':'input_file'}]}]}",
         "input[0].content[0].type: unsupported content type \"input_file\""},
        {"{'model':'m','input':[{'role':'user','content':[{'type':'input_text'}]}]}",
         "input[0].content[0].text: expected a string"},
        {"{'model':'m','input':[{'role':'user','content':{}}]}",
         "input[0].content: expected a string or an array"},
        {"{'model':'m','input':[{'type':'function_call','name':'f'}]}",
         "input[0].call_id: expected a string"},
        {"{'model':'m','input':[{'type':'function_call_output'}]}",
         "input[0].call_id: expected a string"},
        {"{'model':'m','input':'x','tools':[{'type':'function'}]}",
         "tools[0].name: expected a string"},
        {"{'model':'m','input':'x','tool_choice':'maybe'}",
         "tool_choice: expected auto, none or required"},
        {"{'model':'m','input':'x','max_output_tokens':-1}",
         "max_output_tokens: expected a non-negative integer"},
        {"{'model':'m','input':'x','temperature':'hot'}", "temperature: expected a number"},
        {"{'model':'m','input':'x','stream':1}", "stream: expected a boolean"},
        {"{'model':'m','input':'x','reasoning':'high'}", "reasoning: expected an object"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *b = J(bad[i].body), *r = NULL;
        eb.msg[0] = 0;
        CHECK(F->req_to_ir(b, &r, &eb) == OR_EINVAL);
        CHECK(r == NULL);
        CHECK_STR(eb.msg, bad[i].msg);
        json_decref(b);
    }
}

/* An IR as another client format produces it (no Responses extra). */
static void test_req_from_foreign_ir(void)
{
    or_errbuf eb = {{0}};
    json_t *ir =
        J("{'model':'gpt-5','system':[{'type':'text','text':'sys'}],'messages':["
          "{'role':'user','content':[{'type':'text','text':'look'},{'type':'image','media_type':"
          "'image/jpeg','data':'QUJD'},{'type':'image','url':'https://x/y.png'}]},"
          "{'role':'assistant','content':[{'type':'thinking','text':'hmm','signature':'anthropic'},"
          "{'type':'thinking','text':'x','id':'rs_gen'},"
          "{'type':'text','text':'calling'},{'type':'text','text':''},"
          "{'type':'tool_call','id':'toolu_1','name':'f','arguments':''}]},"
          "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'toolu_1','content':["
          "{'type':'text','text':'r1'},{'type':'image','media_type':'image/png','data':'Zg=='}]},"
          "{'type':'tool_result','tool_call_id':'ghost','content':[{'type':'text','text':'lost'}]}"
          "]}],"
          "'tools':[{'name':'f','parameters':{'type':'object'}},{'name':'g'}],"
          "'tool_choice':{'type':'required'},'max_tokens':8,'stop':['x'],'top_k':3,"
          "'thinking':{'type':'enabled','budget_tokens':10000},'user':'u','metadata':{'k':'v'},"
          "'response_format':{'type':'json_object'},'temperature':0.3,"
          "'extra':{'openai':{'prompt_cache_retention':'24h','safety_identifier':'s'}}}");
    json_t *out = NULL;
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_OK);
    CHECK(same(out,
               "{'model':'gpt-5','instructions':'sys','input':["
               "{'type':'message','role':'user','content':[{'type':'input_text','text':'look'},"
               "{'type':'input_image','image_url':'data:image/jpeg;base64,QUJD'},"
               "{'type':'input_image','image_url':'https://x/y.png'}]},"
               "{'type':'message','role':'assistant','content':[{'type':'output_text','text':"
               "'calling'}]},"
               "{'type':'function_call','call_id':'toolu_1','name':'f','arguments':'{}'},"
               "{'type':'function_call_output','call_id':'toolu_1','output':[{'type':"
               "'input_text','text':'r1'},{'type':'input_image','image_url':"
               "'data:image/png;base64,Zg=='}]},"
               "{'type':'message','role':'user','content':[{'type':'input_text','text':"
               "'[tool result ghost] lost'}]}],"
               "'tools':[{'type':'function','name':'f','parameters':{'type':'object'},"
               "'strict':false},{'type':'function','name':'g','parameters':{'type':'object',"
               "'properties':{}},'strict':false}],"
               "'tool_choice':'required','max_output_tokens':16,'temperature':0.3,"
               "'reasoning':{'effort':'medium'},'text':{'format':{'type':'json_object'}}}"));
    json_decref(out);
    json_decref(ir);

    ir = J("{'model':'m','messages':[{'role':'robot','content':[]}]}");
    CHECK(F->req_from_ir(ir, &out, &eb) == OR_EINVAL);
    CHECK_STR(eb.msg, "messages[0].role: expected user, assistant or tool");
    json_decref(ir);
}

static void test_url(void)
{
    or_buf b;
    or_buf_init(&b, 1024);
    CHECK(F->url("https://api.openai.com/v1/", 26, "gpt-5", true, &b) == OR_OK);
    CHECK_STR(b.data, "https://api.openai.com/v1/responses");
    or_buf_reset(&b);
    const char *codex = "https://chatgpt.com/backend-api/codexIGNORED";
    CHECK(F->url(codex, 37, "m", false, &b) == OR_OK);
    CHECK_STR(b.data, "https://chatgpt.com/backend-api/codex/responses");
    or_buf_free(&b);
    CHECK_STR(F->stream_content_type, "text/event-stream");
    CHECK_STR(F->name, "openai-responses");
}

static void test_resp_both_ways(void)
{
    or_errbuf eb = {{0}};
    json_t *body = J(
        "{'id':'resp_abc','object':'response','created_at':1,'status':'completed',"
        "'model':'gpt-5','output':["
        "{'type':'reasoning','id':'rs_9','summary':[{'type':'summary_text','text':'think'}],"
        "'encrypted_content':'ENC'},"
        "{'type':'message','id':'msg_9','role':'assistant','status':'completed','content':["
        "{'type':'output_text','text':'Hello','annotations':[]}]},"
        "{'type':'function_call','id':'fc_9','call_id':'call_9','name':'f','arguments':"
        "'{\\'a\\':1}','status':'completed'},"
        "{'type':'web_search_call','id':'ws','status':'completed'}],"
        "'usage':{'input_tokens':100,'input_tokens_details':{'cached_tokens':40},"
        "'output_tokens':20,'output_tokens_details':{'reasoning_tokens':12},'total_tokens':120}}");
    json_t *ir = NULL;
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
    CHECK(same(ir, "{'id':'resp_abc','model':'gpt-5','content':["
                   "{'type':'thinking','text':'think','encrypted_content':'ENC','id':'rs_9'},"
                   "{'type':'text','text':'Hello'},"
                   "{'type':'tool_call','id':'call_9','name':'f','arguments':'{\\'a\\':1}'}],"
                   "'stop_reason':'tool_calls','usage':{'input_tokens':100,'output_tokens':20,"
                   "'cached_tokens':40,'reasoning_tokens':12,'cache_creation_tokens':0}}"));

    or_fmt_opts o = {.id = "req1", .model = "alias-model", .created = 1700000000};
    json_t *out = NULL;
    json_object_del(ir, "id");
    CHECK(F->resp_from_ir(ir, &o, &out, &eb) == OR_OK);
    CHECK(same(out, "{'id':'resp_req1','object':'response','created_at':1700000000,'status':"
                    "'completed','error':null,'incomplete_details':null,'model':'alias-model',"
                    "'parallel_tool_calls':true,'output':["
                    "{'id':'rs_9','type':'reasoning','summary':[{'type':'summary_text','text':"
                    "'think'}],'encrypted_content':'ENC'},"
                    "{'id':'msg_req1_1','type':'message','status':'completed','role':'assistant',"
                    "'content':[{'type':'output_text','text':'Hello','annotations':[]}]},"
                    "{'id':'fc_req1_2','type':'function_call','status':'completed','call_id':"
                    "'call_9','name':'f','arguments':'{\\'a\\':1}'}],"
                    "'usage':{'input_tokens':100,'input_tokens_details':{'cached_tokens':40},"
                    "'output_tokens':20,'output_tokens_details':{'reasoning_tokens':12},"
                    "'total_tokens':120}}"));
    json_decref(out);
    json_decref(ir);
    json_decref(body);

    static const struct {
        const char *status, *reason, *stop;
    } stops[] = {{"incomplete", "max_output_tokens", "length"},
                 {"incomplete", "content_filter", "content_filter"},
                 {"failed", NULL, "error"},
                 {"completed", NULL, "stop"}};
    for (size_t i = 0; i < sizeof stops / sizeof stops[0]; i++) {
        body = json_pack("{s:s, s:[]}", "status", stops[i].status, "output");
        if (stops[i].reason)
            json_object_set_new(body, "incomplete_details",
                                json_pack("{s:s}", "reason", stops[i].reason));
        CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
        CHECK_STR(S(ir, "stop_reason"), stops[i].stop);
        /* and the IR stop comes back as the same status */
        CHECK(F->resp_from_ir(ir, &o, &out, &eb) == OR_OK);
        CHECK_STR(S(out, "status"), stops[i].status);
        if (stops[i].reason)
            CHECK_STR(S(out, "incomplete_details.reason"), stops[i].reason);
        json_decref(out);
        json_decref(ir);
        json_decref(body);
    }
    body = J("{'output':7}");
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_EINVAL);
    json_decref(body);

    /* A reasoning item with nothing in it (no summary asked for, no include) is not a block. */
    body = J("{'status':'completed','output':[{'type':'reasoning','id':'rs_0','summary':[]},"
             "{'type':'message','content':[{'type':'output_text','text':'hi'}]}]}");
    CHECK(F->resp_to_ir(body, &ir, &eb) == OR_OK);
    CHECK(same(at(ir, "content"), "[{'type':'text','text':'hi'}]"));
    json_decref(ir);
    json_decref(body);
    body = J("{'model':'m','input':[{'type':'reasoning','id':'rs_0','summary':[]},"
             "{'role':'user','content':'x'}]}");
    CHECK(F->req_to_ir(body, &ir, &eb) == OR_OK);
    CHECK(json_array_size(at(ir, "messages")) == 1);
    json_decref(ir);
    json_decref(body);
}

/* Anthropic thinking signatures survive a trip through a Responses client. */
static void test_signature_round_trip(void)
{
    or_errbuf eb = {{0}};
    or_fmt_opts o = {.id = "r2"};
    json_t *ir = J("{'content':[{'type':'thinking','text':'t','signature':'SIG'},"
                   "{'type':'thinking','redacted':'RED'}],'stop_reason':'stop'}");
    json_t *out = NULL, *req = NULL, *back = NULL;
    CHECK(F->resp_from_ir(ir, &o, &out, &eb) == OR_OK);
    CHECK_STR(S(out, "output.0.encrypted_content"), "or-sig:SIG");
    CHECK_STR(S(out, "output.1.encrypted_content"), "or-redacted:RED");
    /* the client replays both items in its next request */
    req = json_pack("{s:s, s:O}", "model", "m", "input", at(out, "output"));
    CHECK(F->req_to_ir(req, &back, &eb) == OR_OK);
    CHECK(same(at(back, "messages.0.content"),
               "[{'type':'thinking','text':'t','signature':'SIG','id':'rs_r2_0'},"
               "{'type':'thinking','redacted':'RED','id':'rs_r2_1'}]"));
    json_decref(back);
    json_decref(req);
    json_decref(out);
    json_decref(ir);
}

/* ---- streams ---- */

/* Feeds an SSE transcript ("event: x\ndata: {…}\n\n"…) to the decoder event by event. */
static json_t *decode(const char *sse, or_err *err)
{
    or_fmt_dec *d = F->dec_new();
    json_t *out = json_array();
    or_errbuf eb = {{0}};
    char *copy = strdup(sse), *save = NULL;
    *err = OR_OK;
    for (char *blk = strtok_r(copy, "\n", &save); blk && *err == OR_OK;
         blk = strtok_r(NULL, "\n", &save)) {
        if (strncmp(blk, "data: ", 6) != 0)
            continue;
        char *data = strdup(blk + 6);
        for (char *p = data; *p; p++)
            if (*p == '\'')
                *p = '"';
        *err = F->dec_event(d, NULL, data, strlen(data), out, &eb);
        free(data);
    }
    if (*err == OR_OK)
        *err = F->dec_end(d, out, &eb);
    free(copy);
    F->dec_free(d);
    return out;
}

static const char *openai_stream =
    "event: response.created\n"
    "data: {'type':'response.created','sequence_number':0,'response':{'id':'resp_1','model':"
    "'gpt-5','status':'in_progress','output':[]}}\n\n"
    "data: {'type':'response.in_progress','response':{'id':'resp_1'}}\n\n"
    "data: {'type':'response.output_item.added','output_index':0,'item':{'id':'rs_1','type':"
    "'reasoning','summary':[]}}\n\n"
    "data: {'type':'response.reasoning_summary_part.added','item_id':'rs_1','output_index':0,"
    "'summary_index':0}\n\n"
    "data: {'type':'response.reasoning_summary_text.delta','item_id':'rs_1','output_index':0,"
    "'summary_index':0,'delta':'One'}\n\n"
    "data: {'type':'response.reasoning_summary_text.delta','item_id':'rs_1','output_index':0,"
    "'summary_index':1,'delta':'Two'}\n\n"
    "data: {'type':'response.output_item.done','output_index':0,'item':{'id':'rs_1','type':"
    "'reasoning','summary':[{'type':'summary_text','text':'One'}],'encrypted_content':"
    "'ENC1'}}\n\n"
    "data: {'type':'response.output_item.added','output_index':1,'item':{'id':'msg_1','type':"
    "'message','role':'assistant','content':[]}}\n\n"
    "data: {'type':'response.content_part.added','item_id':'msg_1','output_index':1,"
    "'content_index':0,'part':{'type':'output_text','text':''}}\n\n"
    "data: {'type':'response.output_text.delta','item_id':'msg_1','output_index':1,"
    "'content_index':0,'delta':'Hel'}\n\n"
    "data: {'type':'response.output_text.delta','item_id':'msg_1','output_index':1,"
    "'content_index':0,'delta':'lo'}\n\n"
    "data: {'type':'response.output_item.done','output_index':1,'item':{'id':'msg_1','type':"
    "'message','content':[{'type':'output_text','text':'Hello'}]}}\n\n"
    "data: {'type':'response.output_item.added','output_index':2,'item':{'id':'fc_1','type':"
    "'function_call','call_id':'call_1','name':'get','arguments':''}}\n\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_1','output_index':2,"
    "'delta':'{\\'a\\''}\n\n"
    "data: {'type':'response.function_call_arguments.delta','item_id':'fc_1','output_index':2,"
    "'delta':':1}'}\n\n"
    "data: {'type':'response.function_call_arguments.done','item_id':'fc_1','output_index':2,"
    "'arguments':'{\\'a\\':1}'}\n\n"
    "data: {'type':'response.output_item.done','output_index':2,'item':{'id':'fc_1','type':"
    "'function_call','call_id':'call_1','name':'get','arguments':'{\\'a\\':1}'}}\n\n"
    "data: {'type':'response.completed','response':{'id':'resp_1','status':'completed',"
    "'output':[],'usage':{'input_tokens':9,'input_tokens_details':{'cached_tokens':2},"
    "'output_tokens':5,'output_tokens_details':{'reasoning_tokens':3},'total_tokens':14}}}\n\n";

static void test_decode(void)
{
    or_err err;
    json_t *ev = decode(openai_stream, &err);
    CHECK(err == OR_OK);
    CHECK(same(ev, "[{'type':'start','id':'resp_1','model':'gpt-5'},"
                   "{'type':'thinking','index':0,'text':'One','id':'rs_1'},"
                   "{'type':'thinking','index':0,'text':'\\n\\n'},"
                   "{'type':'thinking','index':0,'text':'Two'},"
                   "{'type':'thinking_signature','index':0,"
                   "'encrypted_content':'ENC1','id':'rs_1'},"
                   "{'type':'text','index':1,'text':'Hel'},"
                   "{'type':'text','index':1,'text':'lo'},"
                   "{'type':'tool_call','index':2,'id':'call_1','name':'get'},"
                   "{'type':'tool_args','index':2,'arguments':'{\\'a\\''},"
                   "{'type':'tool_args','index':2,'arguments':':1}'},"
                   "{'type':'usage','usage':{'input_tokens':9,'output_tokens':5,"
                   "'cached_tokens':2,'reasoning_tokens':3,'cache_creation_tokens':0}},"
                   "{'type':'stop','stop_reason':'tool_calls'},{'type':'done'}]"));
    json_decref(ev);

    /* The name arrives after the arguments: the call opens once it is known. */
    ev = decode("data: {'type':'response.output_item.added','output_index':0,'item':{'type':"
                "'function_call','id':'fc_2','arguments':''}}\n"
                "data: {'type':'response.function_call_arguments.delta','output_index':0,"
                "'delta':'{}'}\n"
                "data: {'type':'response.output_item.done','output_index':0,'item':{'type':"
                "'function_call','id':'fc_2','call_id':'call_2','name':'late','arguments':"
                "'{}'}}\n"
                "data: {'type':'response.incomplete','response':{'status':'incomplete',"
                "'incomplete_details':{'reason':'max_output_tokens'}}}\n"
                "data: {'type':'response.output_text.delta','output_index':3,'delta':'x'}\n",
                &err);
    CHECK(same(ev, "[{'type':'start'},{'type':'tool_call','index':0,'id':'call_2','name':"
                   "'late'},{'type':'tool_args','index':0,'arguments':'{}'},"
                   "{'type':'stop','stop_reason':'length'},{'type':'done'}]"));
    json_decref(ev);

    /* Failures: response.failed and the bare error event become IR errors. */
    ev = decode("data: {'type':'response.created','response':{'id':'r'}}\n"
                "data: {'type':'response.output_text.delta','output_index':0,'delta':'par'}\n"
                "data: {'type':'response.failed','response':{'status':'failed','error':{"
                "'code':'rate_limit_exceeded','message':'slow down'}}}\n",
                &err);
    CHECK(same(ev, "[{'type':'start','id':'r'},{'type':'text','index':0,'text':'par'},"
                   "{'type':'error','status':429,'error_type':'rate_limit_error','message':"
                   "'slow down','code':'rate_limit_exceeded'},{'type':'done'}]"));
    json_decref(ev);
    ev = decode("data: {'type':'error','code':'server_error','message':'boom'}\n", &err);
    CHECK(same(ev, "[{'type':'error','status':500,'error_type':'api_error','message':'boom',"
                   "'code':'server_error'},{'type':'done'}]"));
    json_decref(ev);

    /* EOF without response.completed is a cut stream, never a clean stop. */
    ev = decode("data: {'type':'response.output_text.delta','output_index':0,'delta':'a'}\n"
                "data: [DONE]\n",
                &err);
    CHECK_STR(S(ev, "2.type"), "error");
    CHECK(I(ev, "2.status") == 502);
    CHECK_STR(S(ev, "3.type"), "done");
    json_decref(ev);

    /* A proxy that sends only the final response: its output is replayed. */
    ev = decode("data: {'type':'response.completed','response':{'id':'r','status':'completed',"
                "'output':[{'type':'message','content':[{'type':'output_text','text':'all'}]},"
                "{'type':'function_call','call_id':'c','name':'n','arguments':'{}'}]}}\n",
                &err);
    CHECK(same(ev, "[{'type':'start','id':'r'},{'type':'text','index':0,'text':'all'},"
                   "{'type':'tool_call','index':1,'id':'c','name':'n'},"
                   "{'type':'tool_args','index':1,'arguments':'{}'},"
                   "{'type':'stop','stop_reason':'tool_calls'},{'type':'done'}]"));
    json_decref(ev);

    /* Arguments held for a name that never comes are capped. */
    or_fmt_dec *d = F->dec_new();
    json_t *out = json_array();
    or_errbuf eb = {{0}};
    size_t n = 1024 * 1024;
    char *big = malloc(n + 200);
    int len = snprintf(big, 200,
                       "{\"type\":\"response.function_call_arguments.delta\","
                       "\"output_index\":0,\"delta\":\"");
    memset(big + len, 'a', n);
    strcpy(big + len + n, "\"}");
    err = OR_OK;
    for (int i = 0; i < 10 && err == OR_OK; i++)
        err = F->dec_event(d, NULL, big, strlen(big), out, &eb);
    CHECK(err == OR_ETOOBIG);
    free(big);
    F->dec_free(d);
    json_decref(out);
}

/* Runs IR events through the encoder; `chunks` splits every text/args delta that many ways. */
static char *encode(const char *events, const or_fmt_opts *o, int chunks)
{
    json_t *evs = J(events), *ev;
    or_fmt_enc *e = F->enc_new(o);
    or_buf out;
    or_buf_init(&out, 0);
    size_t i;
    json_array_foreach(evs, i, ev)
    {
        const char *key = json_object_get(ev, "text")        ? "text"
                          : json_object_get(ev, "arguments") ? "arguments"
                                                             : NULL;
        const char *s = key ? json_string_value(json_object_get(ev, key)) : NULL;
        size_t len = s ? strlen(s) : 0;
        if (!s || chunks <= 1 || len < 2) {
            CHECK(F->enc_event(e, ev, &out) == OR_OK);
            continue;
        }
        for (size_t off = 0; off < len;) {
            size_t step = len / (size_t)chunks ? len / (size_t)chunks : 1;
            if (off + step > len)
                step = len - off;
            json_t *part = json_copy(ev);
            json_object_set_new(part, key, json_stringn(s + off, step));
            CHECK(F->enc_event(e, part, &out) == OR_OK);
            json_decref(part);
            off += step;
        }
    }
    F->enc_free(e);
    json_decref(evs);
    char *r = strdup(out.data ? out.data : "");
    or_buf_free(&out);
    return r;
}

/* The event names in order, and the data of the last event. */
static void parse_sse(const char *sse, char *names, size_t cap, json_t **last, int *seq_ok)
{
    const char *p = sse;
    long long want = 0;
    names[0] = 0;
    *seq_ok = 1;
    *last = NULL;
    while ((p = strstr(p, "event: "))) {
        const char *nl = strchr(p, '\n');
        size_t used = strlen(names);
        snprintf(names + used, cap - used, "%s%.*s", used ? " " : "", (int)(nl - p - 7), p + 7);
        const char *data = nl + 7, *end = strstr(data, "\n\n");
        json_decref(*last);
        *last = json_loadb(data, (size_t)(end - data), 0, NULL);
        if (!*last || I(*last, "sequence_number") != want++)
            *seq_ok = 0;
        p = end;
    }
}

static const char *ir_events =
    "[{'type':'start','id':'up_1','model':'upstream-model'},"
    "{'type':'thinking','index':0,'text':'Let me think'},"
    "{'type':'thinking_signature','index':0,'signature':'SIG0'},"
    "{'type':'text','index':1,'text':'Hello there'},"
    "{'type':'tool_call','index':2,'id':'call_7','name':'get_weather'},"
    "{'type':'tool_args','index':2,'arguments':'{\\'city\\':\\'Paris\\'}'},"
    "{'type':'tool_signature','index':2,'signature':'gem'},"
    "{'type':'usage','usage':{'input_tokens':10,'output_tokens':5,'cached_tokens':4,"
    "'reasoning_tokens':2}},"
    "{'type':'stop','stop_reason':'tool_calls'},{'type':'done'},"
    "{'type':'text','index':9,'text':'after the end'}]";

static void test_encode(void)
{
    or_fmt_opts o = {.stream = true, .id = "gw1", .model = "client-model", .created = 42};
    char names[4096];
    json_t *last;
    int seq_ok;
    char *a = encode(ir_events, &o, 1);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK(seq_ok);
    CHECK_STR(names,
              "response.created response.in_progress response.output_item.added "
              "response.reasoning_summary_part.added response.reasoning_summary_text.delta "
              "response.reasoning_summary_text.done response.reasoning_summary_part.done "
              "response.output_item.done response.output_item.added "
              "response.content_part.added response.output_text.delta "
              "response.output_text.done response.content_part.done response.output_item.done "
              "response.output_item.added response.function_call_arguments.delta "
              "response.function_call_arguments.done response.output_item.done "
              "response.completed");
    CHECK(same(at(last, "response"),
               "{'id':'up_1','object':'response','created_at':42,'status':'completed',"
               "'error':null,'incomplete_details':null,'model':'client-model','parallel_tool_calls'"
               ":true,'output':["
               "{'id':'rs_gw1_0','type':'reasoning','summary':[{'type':'summary_text','text':"
               "'Let me think'}],'encrypted_content':'or-sig:SIG0'},"
               "{'id':'msg_gw1_1','type':'message','status':'completed','role':'assistant',"
               "'content':[{'type':'output_text','text':'Hello there','annotations':[]}]},"
               "{'id':'fc_gw1_2','type':'function_call','status':'completed','arguments':"
               "'{\\'city\\':\\'Paris\\'}','call_id':'call_7','name':'get_weather'}],"
               "'usage':{'input_tokens':10,'input_tokens_details':{'cached_tokens':4},"
               "'output_tokens':5,'output_tokens_details':{'reasoning_tokens':2},"
               "'total_tokens':15}}"));
    const char *head = "event: response.created\ndata: {\"type\":\"response.created\","
                       "\"sequence_number\":0,";
    CHECK(strncmp(a, head, strlen(head)) == 0);
    json_decref(last);

    /* Deterministic, and splitting the deltas changes only the delta events. */
    char *b = encode(ir_events, &o, 1);
    CHECK_STR(a, b);
    char *c = encode(ir_events, &o, 4);
    json_t *last_c;
    parse_sse(c, names, sizeof names, &last_c, &seq_ok);
    CHECK(seq_ok);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK(json_equal(at(last, "response"), at(last_c, "response")));
    CHECK(strlen(c) > strlen(a));
    json_decref(last);
    json_decref(last_c);

    /* Whatever the encoder wrote, our decoder reads back as the same answer. */
    or_err err;
    json_t *back = decode(c, &err);
    CHECK(err == OR_OK);
    json_t *ir = NULL;
    or_errbuf eb = {{0}};
    /* rebuild the text from the deltas */
    size_t i;
    json_t *ev;
    char text[64] = "", args[64] = "";
    json_array_foreach(back, i, ev)
    {
        const char *t = S(ev, "type");
        if (strcmp(t, "text") == 0)
            strncat(text, S(ev, "text"), sizeof text - strlen(text) - 1);
        if (strcmp(t, "tool_args") == 0)
            strncat(args, S(ev, "arguments"), sizeof args - strlen(args) - 1);
    }
    CHECK_STR(text, "Hello there");
    CHECK_STR(args, "{\"city\":\"Paris\"}");
    CHECK_STR(S(back, "0.id"), "up_1");
    CHECK_STR(S(at(back, "0"), "type"), "start");
    json_t *stop = json_array_get(back, json_array_size(back) - 2);
    CHECK_STR(S(stop, "stop_reason"), "tool_calls");
    (void)ir;
    (void)eb;
    json_decref(back);
    free(a);
    free(b);
    free(c);

    /* No start event, no id from the IR: resp_<opts id>; a length stop is incomplete. */
    a = encode("[{'type':'text','index':0,'text':'cut'},{'type':'stop','stop_reason':'length'},"
               "{'type':'done'}]",
               &o, 1);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK_STR(S(last, "type"), "response.incomplete");
    CHECK_STR(S(last, "response.id"), "resp_gw1");
    CHECK_STR(S(last, "response.status"), "incomplete");
    CHECK_STR(S(last, "response.incomplete_details.reason"), "max_output_tokens");
    json_decref(last);
    free(a);

    /* A failure midway ends with response.failed; nothing follows. */
    a = encode("[{'type':'start'},{'type':'text','index':0,'text':'par'},"
               "{'type':'error','status':429,'error_type':'rate_limit_error','message':'slow'},"
               "{'type':'done'},{'type':'text','index':0,'text':'more'}]",
               &o, 1);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK(seq_ok);
    CHECK_STR(names, "response.created response.in_progress response.output_item.added "
                     "response.content_part.added response.output_text.delta response.failed");
    CHECK_STR(S(last, "response.status"), "failed");
    CHECK(same(at(last, "response.error"), "{'code':'rate_limit_exceeded','message':'slow'}"));
    json_decref(last);
    free(a);

    /* Parallel calls whose argument deltas interleave still land in the right items. */
    a = encode("[{'type':'tool_call','index':0,'id':'c0','name':'a'},"
               "{'type':'tool_call','index':1,'id':'c1','name':'b'},"
               "{'type':'tool_args','index':0,'arguments':'{\\'x\\':'},"
               "{'type':'tool_args','index':1,'arguments':'{}'},"
               "{'type':'tool_args','index':0,'arguments':'1}'},{'type':'done'}]",
               &o, 1);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK_STR(S(last, "response.output.0.arguments"), "{\"x\":1}");
    CHECK_STR(S(last, "response.output.1.arguments"), "{}");
    CHECK_STR(S(last, "response.status"), "completed");
    json_decref(last);
    free(a);

    /* Reasoning with only encrypted content (no summary) still yields a reasoning item. */
    a = encode("[{'type':'thinking_signature','index':0,'encrypted_content':'E','id':'rs_up'},{'"
               "type':'text','index':1,'text':'hi'},{'type':'done'}]",
               &o, 1);
    parse_sse(a, names, sizeof names, &last, &seq_ok);
    CHECK(same(at(last, "response.output.0"),
               "{'id':'rs_up','type':'reasoning','summary':[],'encrypted_content':'E'}"));
    json_decref(last);
    free(a);
}

static void test_errors(void)
{
    static const struct {
        int status;
        const char *body, *type, *msg;
        int want_status;
    } cases[] = {
        {429,
         "{'error':{'message':'Rate limit reached','type':'requests','code':"
         "'rate_limit_exceeded','param':null}}",
         "rate_limit_error", "Rate limit reached", 429},
        {401,
         "{'error':{'message':'bad key','type':'invalid_request_error','code':"
         "'invalid_api_key'}}",
         "authentication_error", "bad key", 401},
        {529, "{'type':'error','error':{'type':'overloaded_error','message':'Overloaded'}}",
         "overloaded_error", "Overloaded", 529},
        {400, "[{'error':{'code':400,'message':'bad arg','status':'INVALID_ARGUMENT'}}]",
         "invalid_request_error", "bad arg", 400},
        {500, "{'detail':'oops'}", "api_error", "oops", 500},
        {502, "\"plain\"", "api_error", "plain", 502},
        {404, "{}", "not_found_error", "upstream returned HTTP 404", 404},
        {200, "{'response':{'error':{'code':'insufficient_quota','message':'quota'}}}",
         "rate_limit_error", "quota", 429},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *b = J(cases[i].body);
        json_t *e = F->error_to_ir(cases[i].status, b);
        CHECK_STR(S(e, "error_type"), cases[i].type);
        CHECK_STR(S(e, "message"), cases[i].msg);
        CHECK(I(e, "status") == cases[i].want_status);
        json_decref(e);
        json_decref(b);
    }
    json_t *e = F->error_to_ir(503, NULL);
    CHECK_STR(S(e, "error_type"), "overloaded_error");
    json_decref(e);

    json_t *ir = J("{'status':429,'error_type':'rate_limit_error','message':'slow down'}");
    json_t *w = F->error_from_ir(ir);
    CHECK(same(w, "{'error':{'message':'slow down','type':'requests','code':"
                  "'rate_limit_exceeded','param':null}}"));
    json_decref(w);
    json_decref(ir);
}

int main(void)
{
    test_req_to_ir();
    test_req_simple_and_errors();
    test_req_from_foreign_ir();
    test_url();
    test_resp_both_ways();
    test_signature_round_trip();
    test_decode();
    test_encode();
    test_errors();
    return check_done();
}
