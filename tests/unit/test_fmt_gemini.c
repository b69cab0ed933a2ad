/* Gemini generateContent translator: requests, responses, streams and errors both ways. */
#include "check.h"
#include "fmt/fmt.h"

#include <stdlib.h>
#include <string.h>

static const or_fmt *F = &or_fmt_gemini;

/* JSON from text written with single quotes (tests carry no apostrophes). */
static json_t *J(const char *text)
{
    char *s = strdup(text);
    for (char *c = s; *c; c++)
        if (*c == '\'')
            *c = '"';
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j)
        fprintf(stderr, "bad test JSON: %s: %s\n", je.text, s);
    free(s);
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

/* j equals the (single-quoted) JSON text want; prints both when not. */
static int same(const json_t *j, const char *want)
{
    json_t *w = J(want);
    int ok = w && json_equal(j, w);
    if (!ok) {
        char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
        char *t = w ? json_dumps(w, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        fprintf(stderr, "  got:  %s\n  want: %s\n", s ? s : "(null)", t ? t : want);
        free(s);
        free(t);
    }
    json_decref(w);
    return ok;
}

static json_t *to_ir(const char *req)
{
    json_t *in = J(req), *ir = NULL;
    or_errbuf eb = {{0}};
    or_err e = F->req_to_ir(in, &ir, &eb);
    if (e != OR_OK)
        fprintf(stderr, "req_to_ir: %s\n", eb.msg);
    json_decref(in);
    return ir;
}

static json_t *from_ir(json_t *ir)
{
    json_t *body = NULL;
    or_errbuf eb = {{0}};
    if (F->req_from_ir(ir, &body, &eb) != OR_OK)
        fprintf(stderr, "req_from_ir: %s\n", eb.msg);
    return body;
}

/* ---- requests ---------------------------------------------------------------------------- */

/* What Gemini CLI sends on its second turn (shape from real-clients.md). */
static const char *cli_request =
    "{'contents':[{'role':'user','parts':[{'text':'<session_context>'},{'text':'read a.txt'}]},"
    "{'role':'model','parts':[{'functionCall':{'id':'read_file_1_0','name':'read_file',"
    "'args':{'path':'a.txt'}},'thoughtSignature':'SIG_A'}]},"
    "{'role':'user','parts':[{'functionResponse':{'id':'read_file_1_0','name':'read_file',"
    "'response':{'output':'hello'}}}]}],"
    "'systemInstruction':{'role':'user','parts':[{'text':'You are Gemini CLI.'}]},"
    "'tools':[{'functionDeclarations':[{'name':'read_file','description':'Read a file',"
    "'parametersJsonSchema':{'type':'object','properties':{'path':{'type':'string'}},"
    "'required':['path']}}]},{'googleSearch':{}}],"
    "'generationConfig':{'temperature':1,'topP':0.95,'topK':64,'candidateCount':1,"
    "'thinkingConfig':{'includeThoughts':true,'thinkingLevel':'HIGH'}},"
    "'safetySettings':[{'category':'HARM_CATEGORY_HARASSMENT','threshold':'BLOCK_NONE'}]}";

static void test_req_to_ir_cli(void)
{
    json_t *ir = to_ir(cli_request);
    CHECK(ir != NULL);
    CHECK(at(ir, "model") == NULL);
    CHECK(same(at(ir, "system"), "[{'type':'text','text':'You are Gemini CLI.'}]"));
    CHECK(same(at(ir, "messages.0"), "{'role':'user','content':[{'type':'text','text':"
                                     "'<session_context>'},{'type':'text','text':'read a.txt'}]}"));
    CHECK(same(at(ir, "messages.1"),
               "{'role':'assistant','content':[{'type':'tool_call','id':'read_file_1_0',"
               "'name':'read_file','arguments':'{\\'path\\':\\'a.txt\\'}','signature':'SIG_A'}]}"));
    CHECK(same(
        at(ir, "messages.2"),
        "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'read_file_1_0',"
        "'name':'read_file','content':[{'type':'text','text':'{\\'output\\':\\'hello\\'}'}]}]}"));
    CHECK(same(at(ir, "tools"), "[{'name':'read_file','description':'Read a file','parameters':"
                                "{'type':'object','properties':{'path':{'type':'string'}},"
                                "'required':['path']}}]"));
    CHECK(same(at(ir, "thinking"), "{'type':'enabled','effort':'high'}"));
    CHECK(I(ir, "top_k") == 64);
    CHECK(at(ir, "temperature") && json_number_value(at(ir, "temperature")) == 1.0);
    CHECK(same(at(ir, "extra.gemini.safetySettings"),
               "[{'category':'HARM_CATEGORY_HARASSMENT','threshold':'BLOCK_NONE'}]"));
    CHECK(same(at(ir, "extra.gemini._tools"), "[{'googleSearch':{}}]"));
    CHECK(same(at(ir, "extra.gemini._generationConfig"), "{'candidateCount':1}"));

    /* Gemini → IR → Gemini keeps what matters to the client. */
    json_object_set_new(ir, "model", json_string("gemini-3.1-pro-preview"));
    json_t *body = from_ir(ir);
    CHECK(body != NULL);
    CHECK(at(body, "model") == NULL);
    CHECK(same(at(body, "contents.1"),
               "{'role':'model','parts':[{'functionCall':{'id':'read_file_1_0','name':"
               "'read_file','args':{'path':'a.txt'}},'thoughtSignature':'SIG_A'}]}"));
    CHECK(same(at(body, "contents.2"),
               "{'role':'user','parts':[{'functionResponse':{'id':'read_file_1_0','name':"
               "'read_file','response':{'output':'hello'}}}]}"));
    CHECK(same(at(body, "generationConfig"),
               "{'temperature':1,'topP':0.95,'topK':64,'candidateCount':1,"
               "'thinkingConfig':{'includeThoughts':true,'thinkingLevel':'HIGH'}}"));
    CHECK(same(at(body, "tools"),
               "[{'functionDeclarations':[{'name':'read_file','description':'Read a file',"
               "'parametersJsonSchema':{'type':'object','properties':{'path':{'type':'string'}},"
               "'required':['path']}}]},{'googleSearch':{}}]"));
    CHECK(same(at(body, "systemInstruction"), "{'parts':[{'text':'You are Gemini CLI.'}]}"));
    CHECK(at(body, "safetySettings") != NULL);
    /* A changed IR value wins over the kept original. */
    json_object_set_new(ir, "thinking", J("{'type':'enabled','budget_tokens':2048}"));
    json_decref(body);
    body = from_ir(ir);
    CHECK(same(at(body, "generationConfig.thinkingConfig"),
               "{'includeThoughts':true,'thinkingBudget':2048}"));
    json_decref(body);
    json_decref(ir);
}

static void test_req_ids(void)
{
    /* No ids: parallel calls numbered in order; responses matched by name, earliest first. */
    json_t *ir = to_ir("{'contents':[{'role':'user','parts':[{'text':'weather?'}]},"
                       "{'role':'model','parts':[{'functionCall':{'name':'w','args':{'c':'A'}}},"
                       "{'functionCall':{'name':'w','args':{'c':'B'}}},"
                       "{'functionCall':{'name':'t','args':{}}}]},"
                       "{'role':'user','parts':[{'functionResponse':{'name':'t','response':"
                       "{'result':'noon'}}},{'functionResponse':{'name':'w','response':"
                       "{'result':'sun'}}},{'functionResponse':{'name':'w','response':"
                       "{'error':'rain gauge broken'}}},{'text':'and?'}]},"
                       "{'role':'model','parts':[{'functionCall':{'name':'w'}}]},"
                       "{'role':'user','parts':[{'functionResponse':{'name':'x','response':"
                       "{'result':'?'}}}]}]}");
    CHECK(ir != NULL);
    CHECK_STR(S(ir, "messages.1.content.0.id"), "call_1");
    CHECK_STR(S(ir, "messages.1.content.1.id"), "call_2");
    CHECK_STR(S(ir, "messages.1.content.2.id"), "call_3");
    CHECK_STR(S(ir, "messages.1.content.2.arguments"), "{}");
    CHECK_STR(S(ir, "messages.2.role"), "tool");
    CHECK_STR(S(ir, "messages.2.content.0.tool_call_id"), "call_3");
    CHECK_STR(S(ir, "messages.2.content.0.content.0.text"), "noon");
    CHECK_STR(S(ir, "messages.2.content.1.tool_call_id"), "call_1");
    CHECK_STR(S(ir, "messages.2.content.2.tool_call_id"), "call_2");
    CHECK(json_is_true(at(ir, "messages.2.content.2.is_error")));
    CHECK_STR(S(ir, "messages.3.role"), "user");
    CHECK_STR(S(ir, "messages.3.content.0.text"), "and?");
    CHECK_STR(S(ir, "messages.4.content.0.id"), "call_4");
    CHECK_STR(S(ir, "messages.4.content.0.arguments"), "{}");
    /* An orphan response gets an id of its own. */
    CHECK_STR(S(ir, "messages.5.content.0.tool_call_id"), "call_5");

    /* Back to Gemini: tool results become functionResponse parts merged with the user text;
     * the orphan becomes labelled text; calls without signature get the skip sentinel. */
    json_t *body = from_ir(ir);
    CHECK(json_array_size(at(body, "contents")) == 5);
    CHECK(same(at(body, "contents.2"),
               "{'role':'user','parts':["
               "{'functionResponse':{'id':'call_3','name':'t','response':{'result':'noon'}}},"
               "{'functionResponse':{'id':'call_1','name':'w','response':{'result':'sun'}}},"
               "{'functionResponse':{'id':'call_2','name':'w','response':"
               "{'error':'rain gauge broken'}}},{'text':'and?'}]}"));
    CHECK_STR(S(body, "contents.1.parts.0.thoughtSignature"), "skip_thought_signature_validator");
    CHECK(at(body, "contents.1.parts.1.thoughtSignature") == NULL);
    CHECK_STR(S(body, "contents.4.parts.0.text"), "[tool result call_5] ?");
    json_decref(body);
    json_decref(ir);
}

static void test_req_signatures(void)
{
    /* Parallel calls keep their own signature each; a bare signature part goes to the next
     * call; a signature on text travels as a marker before that text. */
    json_t *ir = to_ir("{'contents':[{'role':'user','parts':[{'text':'go'}]},"
                       "{'role':'model','parts':[{'text':'plan','thought':true},"
                       "{'text':'ok','thoughtSignature':'S0'},"
                       "{'functionCall':{'name':'a','args':{}},'thoughtSignature':'S1'},"
                       "{'functionCall':{'name':'b','args':{}},'thoughtSignature':'S2'},"
                       "{'thoughtSignature':'S3'},{'functionCall':{'name':'c','args':{}}},"
                       "{'text':'','thoughtSignature':'S4'}]}]}");
    CHECK(ir != NULL);
    CHECK(same(at(ir, "messages.1.content"),
               "[{'type':'thinking','text':'plan'},"
               "{'type':'thinking','text':'','signature':'S0'},{'type':'text','text':'ok'},"
               "{'type':'tool_call','id':'call_1','name':'a','arguments':'{}','signature':'S1'},"
               "{'type':'tool_call','id':'call_2','name':'b','arguments':'{}','signature':'S2'},"
               "{'type':'tool_call','id':'call_3','name':'c','arguments':'{}','signature':'S3'},"
               "{'type':'thinking','text':'','signature':'S4'}]"));
    json_t *body = from_ir(ir);
    /* Thought text is not sent back; S4 has nothing after it and goes back to the last text,
     * which already has S0: dropped rather than put on an empty text part. */
    CHECK(same(at(body, "contents.1.parts"),
               "[{'text':'ok','thoughtSignature':'S0'},"
               "{'functionCall':{'id':'call_1','name':'a','args':{}},'thoughtSignature':'S1'},"
               "{'functionCall':{'id':'call_2','name':'b','args':{}},'thoughtSignature':'S2'},"
               "{'functionCall':{'id':'call_3','name':'c','args':{}},'thoughtSignature':'S3'}]"));
    json_decref(body);
    json_decref(ir);
}

static void test_req_snake_case(void)
{
    json_t *ir = to_ir("{'system_instruction':{'parts':[{'text':'sys'}]},"
                       "'contents':[{'parts':[{'text':'what is this'},{'inline_data':"
                       "{'mime_type':'image/png','data':'iVBO'}},{'file_data':{'file_uri':"
                       "'https://x/y.jpg','mime_type':'image/jpeg'}}]}],"
                       "'generation_config':{'max_output_tokens':99,'stop_sequences':['END'],"
                       "'response_mime_type':'application/json','response_schema':"
                       "{'type':'OBJECT','properties':{'n':{'type':'INTEGER'}}},"
                       "'thinking_config':{'thinking_budget':0}},"
                       "'tool_config':{'function_calling_config':{'mode':'ANY',"
                       "'allowed_function_names':['f']}},"
                       "'tools':[{'function_declarations':[{'name':'f','parameters':"
                       "{'type':'OBJECT','properties':{'q':{'type':'STRING'}}}}]}]}");
    CHECK(ir != NULL);
    CHECK_STR(S(ir, "system.0.text"), "sys");
    CHECK(same(at(ir, "messages.0.content.1"),
               "{'type':'image','media_type':'image/png','data':'iVBO'}"));
    CHECK(same(at(ir, "messages.0.content.2"),
               "{'type':'image','url':'https://x/y.jpg','media_type':'image/jpeg'}"));
    CHECK(I(ir, "max_tokens") == 99);
    CHECK(same(at(ir, "stop"), "['END']"));
    CHECK(same(at(ir, "response_format"),
               "{'type':'json_schema','schema':{'type':'object','properties':"
               "{'n':{'type':'integer'}}}}"));
    CHECK(same(at(ir, "thinking"), "{'type':'disabled'}"));
    CHECK(same(at(ir, "tool_choice"), "{'type':'tool','name':'f'}"));
    CHECK(same(at(ir, "tools.0.parameters"),
               "{'type':'object','properties':{'q':{'type':'string'}}}"));
    CHECK(at(ir, "extra.gemini.generation_config") == NULL);
    json_decref(ir);
}

static void test_req_errors(void)
{
    static const struct {
        const char *body, *msg;
    } cases[] = {
        {"[]", "body: expected a JSON object"},
        {"{}", "contents: required"},
        {"{'contents':{}}", "contents: expected an array"},
        {"{'contents':[{'role':'system','parts':[]}]}", "contents[0].role: expected"},
        {"{'contents':[{'role':'user'}]}", "contents[0].parts: expected an array"},
        {"{'contents':[{'parts':[{'text':'a'}]},{'parts':[{'functionResponse':{}}]}]}",
         "contents[1].parts[0].functionResponse.name: expected a string"},
        {"{'contents':[{'role':'model','parts':[{'functionCall':{'args':{}}}]}]}",
         "contents[0].parts[0].functionCall.name: expected a string"},
        {"{'contents':[{'parts':[{'bogus':1}]}]}", "contents[0].parts[0]: unsupported part"},
        {"{'contents':[],'generationConfig':{'temperature':'hot'}}",
         "generationConfig.temperature: expected a number"},
        {"{'contents':[],'generationConfig':{'maxOutputTokens':1.5}}",
         "generationConfig.maxOutputTokens: expected an integer"},
        {"{'contents':[],'tools':[{'functionDeclarations':[{}]}]}",
         "tools[0].functionDeclarations[0].name: expected a string"},
        {"{'contents':[{'parts':[{'inlineData':{'data':'x'}}]}]}",
         "contents[0].parts[0]: inlineData needs"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *in = J(cases[i].body), *ir = NULL;
        or_errbuf eb = {{0}};
        or_err e = F->req_to_ir(in, &ir, &eb);
        CHECK(e == OR_EINVAL);
        CHECK(ir == NULL);
        if (strncmp(eb.msg, cases[i].msg, strlen(cases[i].msg)) != 0)
            fprintf(stderr, "  case %zu: got \"%s\"\n", i, eb.msg);
        CHECK(strncmp(eb.msg, cases[i].msg, strlen(cases[i].msg)) == 0);
        json_decref(in);
    }
}

/* An IR as another format's parser produces it. */
static void test_req_from_ir(void)
{
    json_t *ir =
        J("{'model':'gemini-2.5-flash','system':[{'type':'text','text':'Be brief.'},"
          "{'type':'text','text':'Use tools.'}],'messages':["
          "{'role':'user','content':[{'type':'text','text':'look'},{'type':'image','media_type':"
          "'image/jpeg','data':'AAAA'},{'type':'image','url':'https://e.com/c.png'},"
          "{'type':'image','url':'data:image/webp;base64,UklG'}]},"
          "{'role':'user','content':[{'type':'text','text':''},{'type':'text','text':'more'}]},"
          "{'role':'assistant','content':[{'type':'thinking','text':'hmm','signature':'ANTHROPIC'},"
          "{'type':'text','text':'calling'},"
          "{'type':'tool_call','id':'toolu_1','name':'get','arguments':'{\\'k\\':1}',"
          "'signature':'G1'},{'type':'tool_call','id':'toolu_2','name':'get','arguments':'',"
          "'signature':'G2'},{'type':'tool_call','id':'toolu_3','name':'get','arguments':'oops'}]},"
          "{'role':'tool','content':[{'type':'tool_result','tool_call_id':'toolu_1','content':"
          "[{'type':'text','text':'{\\'v\\':2}'}]},{'type':'tool_result','tool_call_id':'toolu_2',"
          "'content':[{'type':'text','text':'a'},{'type':'text','text':'b'},{'type':'image',"
          "'media_type':'image/png','data':'PNG'}]},{'type':'tool_result','tool_call_id':"
          "'toolu_3','is_error':true,'content':[{'type':'text','text':'bad args'}]},"
          "{'type':'tool_result','tool_call_id':'nope','content':[{'type':'text','text':'x'}]}]},"
          "{'role':'user','content':[{'type':'text','text':'thanks'}]}],"
          "'tools':[{'name':'get','description':'Get','parameters':{'$schema':"
          "'http://json-schema.org/draft-07/schema#','type':'object','properties':{'k':"
          "{'type':'integer'}},'additionalProperties':false}},{'name':'noargs','parameters':{}}],"
          "'tool_choice':{'type':'tool','name':'get'},'parallel_tool_calls':true,"
          "'max_tokens':512,'temperature':0.2,'top_p':0.9,'stop':['X'],'stream':true,"
          "'thinking':{'type':'enabled','budget_tokens':2048},"
          "'response_format':{'type':'json_schema','name':'r','schema':{'$schema':'x',"
          "'type':'object'}},'user':'u','metadata':{'a':'b'},"
          "'extra':{'openai':{'logprobs':true}}}");
    json_t *body = from_ir(ir);
    CHECK(body != NULL);
    CHECK(same(body,
               "{'contents':["
               "{'role':'user','parts':[{'text':'look'},{'inlineData':{'mimeType':'image/jpeg',"
               "'data':'AAAA'}},{'fileData':{'fileUri':'https://e.com/c.png','mimeType':"
               "'image/png'}},{'inlineData':{'mimeType':'image/webp','data':'UklG'}},"
               "{'text':'more'}]},"
               "{'role':'model','parts':[{'text':'calling'},"
               "{'functionCall':{'id':'toolu_1','name':'get','args':{'k':1}},"
               "'thoughtSignature':'G1'},"
               "{'functionCall':{'id':'toolu_2','name':'get','args':{}},'thoughtSignature':'G2'},"
               "{'functionCall':{'id':'toolu_3','name':'get','args':{'_raw':'oops'}}}]},"
               "{'role':'user','parts':["
               "{'functionResponse':{'id':'toolu_1','name':'get','response':{'v':2}}},"
               "{'functionResponse':{'id':'toolu_2','name':'get','response':{'result':'a\\nb'}}},"
               "{'functionResponse':{'id':'toolu_3','name':'get','response':"
               "{'error':'bad args'}}},"
               "{'inlineData':{'mimeType':'image/png','data':'PNG'}},"
               "{'text':'[tool result nope] x'},{'text':'thanks'}]}],"
               "'systemInstruction':{'parts':[{'text':'Be brief.'},{'text':'Use tools.'}]},"
               "'tools':[{'functionDeclarations':[{'name':'get','description':'Get',"
               "'parametersJsonSchema':{'type':'object','properties':{'k':{'type':'integer'}},"
               "'additionalProperties':false}},{'name':'noargs'}]}],"
               "'toolConfig':{'functionCallingConfig':{'mode':'ANY','allowedFunctionNames':"
               "['get']}},"
               "'generationConfig':{'temperature':0.2,'topP':0.9,'maxOutputTokens':512,"
               "'stopSequences':['X'],'thinkingConfig':{'includeThoughts':true,"
               "'thinkingBudget':2048},'responseMimeType':'application/json',"
               "'responseJsonSchema':{'type':'object'}}}"));
    json_decref(body);

    /* Effort-only thinking: a level for Gemini 3, a budget before; disabled on a Pro model is
     * left to the model; tool_choice required/none/auto; json_object mode. */
    json_object_set_new(ir, "thinking", J("{'type':'enabled','effort':'low'}"));
    json_object_set_new(ir, "tool_choice", J("{'type':'required'}"));
    json_object_set_new(ir, "response_format", J("{'type':'json_object'}"));
    body = from_ir(ir);
    CHECK(same(at(body, "generationConfig.thinkingConfig"),
               "{'includeThoughts':true,'thinkingBudget':1024}"));
    CHECK_STR(S(body, "toolConfig.functionCallingConfig.mode"), "ANY");
    CHECK_STR(S(body, "generationConfig.responseMimeType"), "application/json");
    CHECK(at(body, "generationConfig.responseJsonSchema") == NULL);
    json_decref(body);
    json_object_set_new(ir, "model", json_string("gemini-3-flash-preview"));
    json_object_set_new(ir, "tool_choice", J("{'type':'none'}"));
    body = from_ir(ir);
    CHECK(same(at(body, "generationConfig.thinkingConfig"),
               "{'includeThoughts':true,'thinkingLevel':'LOW'}"));
    CHECK_STR(S(body, "toolConfig.functionCallingConfig.mode"), "NONE");
    json_decref(body);
    json_object_set_new(ir, "model", json_string("gemini-2.5-pro"));
    json_object_set_new(ir, "thinking", J("{'type':'disabled'}"));
    body = from_ir(ir);
    CHECK(at(body, "generationConfig.thinkingConfig") == NULL);
    json_decref(body);
    json_object_set_new(ir, "model", json_string("gemini-2.5-flash"));
    body = from_ir(ir);
    CHECK(same(at(body, "generationConfig.thinkingConfig"), "{'thinkingBudget':0}"));
    json_decref(body);
    json_decref(ir);
}

static void test_url(void)
{
    or_buf b;
    or_buf_init(&b, 4096);
    const char *root = "https://generativelanguage.googleapis.com/v1beta/";
    CHECK(F->url(root, strlen(root), "gemini-2.5-flash", false, &b) == OR_OK);
    CHECK_STR(b.data, "https://generativelanguage.googleapis.com/v1beta/models/"
                      "gemini-2.5-flash:generateContent");
    or_buf_reset(&b);
    CHECK(F->url(root, strlen(root) - 1, "models/gemini-2.5-pro", true, &b) == OR_OK);
    CHECK_STR(b.data, "https://generativelanguage.googleapis.com/v1beta/models/"
                      "gemini-2.5-pro:streamGenerateContent?alt=sse");
    or_buf_reset(&b);
    CHECK(F->url("http://h", 8, "a b/c", false, &b) == OR_OK);
    CHECK_STR(b.data, "http://h/models/a%20b%2Fc:generateContent");
    CHECK(F->url("http://h", 8, "", false, &b) == OR_EINVAL);
    or_buf_free(&b);
}

/* ---- responses --------------------------------------------------------------------------- */

static void test_resp_to_ir(void)
{
    json_t *in = J("{'candidates':[{'content':{'role':'model','parts':["
                   "{'text':'thinking...','thought':true},{'text':'Let me check.'},"
                   "{'functionCall':{'name':'get','args':{'city':'Paris'}},"
                   "'thoughtSignature':'SIG1'},{'functionCall':{'name':'get','args':"
                   "{'city':'Rome'}}}]},'finishReason':'STOP','index':0}],"
                   "'usageMetadata':{'promptTokenCount':100,'candidatesTokenCount':20,"
                   "'thoughtsTokenCount':30,'cachedContentTokenCount':40,'totalTokenCount':150},"
                   "'modelVersion':'gemini-2.5-flash','responseId':'R1'}");
    json_t *ir = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->resp_to_ir(in, &ir, &eb) == OR_OK);
    CHECK(same(ir,
               "{'id':'R1','model':'gemini-2.5-flash','content':["
               "{'type':'thinking','text':'thinking...'},{'type':'text','text':'Let me check.'},"
               "{'type':'tool_call','id':'call_R1_1','name':'get','arguments':"
               "'{\\'city\\':\\'Paris\\'}','signature':'SIG1'},"
               "{'type':'tool_call','id':'call_R1_2','name':'get','arguments':"
               "'{\\'city\\':\\'Rome\\'}'}],'stop_reason':'tool_calls',"
               "'usage':{'input_tokens':100,'output_tokens':50,'cached_tokens':40,"
               "'reasoning_tokens':30}}"));
    json_decref(in);
    json_decref(ir);

    static const struct {
        const char *reason, *ir;
    } reasons[] = {{"MAX_TOKENS", "length"},
                   {"SAFETY", "content_filter"},
                   {"RECITATION", "content_filter"},
                   {"PROHIBITED_CONTENT", "content_filter"},
                   {"SPII", "content_filter"},
                   {"BLOCKLIST", "content_filter"},
                   {"MALFORMED_FUNCTION_CALL", "error"},
                   {"OTHER", "stop"},
                   {"SOMETHING_NEW", "stop"}};
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++) {
        char body[256];
        snprintf(body, sizeof body,
                 "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"x\"}]},"
                 "\"finishReason\":\"%s\"}]}",
                 reasons[i].reason);
        in = json_loads(body, 0, NULL);
        CHECK(F->resp_to_ir(in, &ir, &eb) == OR_OK);
        CHECK_STR(S(ir, "stop_reason"), reasons[i].ir);
        CHECK(at(ir, "id") == NULL);
        json_decref(in);
        json_decref(ir);
    }
    /* A blocked prompt: no candidates, promptFeedback. */
    in = J("{'promptFeedback':{'blockReason':'SAFETY'},'usageMetadata':{'promptTokenCount':7}}");
    CHECK(F->resp_to_ir(in, &ir, &eb) == OR_OK);
    CHECK(same(ir, "{'content':[],'stop_reason':'content_filter','usage':{'input_tokens':7,"
                   "'output_tokens':0}}"));
    json_decref(in);
    json_decref(ir);
    in = J("[]");
    CHECK(F->resp_to_ir(in, &ir, &eb) == OR_EINVAL);
    json_decref(in);
}

static void test_resp_from_ir(void)
{
    json_t *ir = J("{'id':'up-1','model':'claude-x','content':["
                   "{'type':'thinking','text':'Weighing.','signature':'CLAUDE'},"
                   "{'type':'text','text':'Checking.'},{'type':'tool_call','id':'toolu_9',"
                   "'name':'get','arguments':'{\\'a\\':[1,2]}','signature':'G9'}],"
                   "'stop_reason':'tool_calls','usage':{'input_tokens':10,'output_tokens':8,"
                   "'reasoning_tokens':3,'cached_tokens':4}}");
    or_fmt_opts o = {.model = "gemini-pro-alias", .id = "req-1"};
    json_t *body = NULL;
    or_errbuf eb = {{0}};
    CHECK(F->resp_from_ir(ir, &o, &body, &eb) == OR_OK);
    CHECK(same(body, "{'candidates':[{'content':{'parts':["
                     "{'text':'Weighing.','thought':true},"
                     "{'text':'Checking.'},{'functionCall':{'id':'toolu_9','name':'get',"
                     "'args':{'a':[1,2]}},'thoughtSignature':'G9'}],'role':'model'},"
                     "'finishReason':'STOP','index':0}],"
                     "'usageMetadata':{'promptTokenCount':10,'candidatesTokenCount':5,"
                     "'thoughtsTokenCount':3,'cachedContentTokenCount':4,'totalTokenCount':18},"
                     "'modelVersion':'gemini-pro-alias','responseId':'up-1'}"));
    json_decref(body);
    json_decref(ir);
    /* Empty answer: one empty text part; length → MAX_TOKENS; the gateway id when none. */
    ir = J("{'content':[],'stop_reason':'length'}");
    CHECK(F->resp_from_ir(ir, &o, &body, &eb) == OR_OK);
    CHECK(same(body, "{'candidates':[{'content':{'parts':[{'text':''}],'role':'model'},"
                     "'finishReason':'MAX_TOKENS','index':0}],'modelVersion':'gemini-pro-alias',"
                     "'responseId':'req-1'}"));
    json_decref(body);
    json_decref(ir);
}

/* ---- streams ----------------------------------------------------------------------------- */

static json_t *decode(const char *const *events, size_t n)
{
    json_t *out = json_array();
    or_errbuf eb = {{0}};
    or_fmt_dec *d = F->dec_new();
    for (size_t i = 0; i < n; i++)
        CHECK(F->dec_event(d, NULL, events[i], strlen(events[i]), out, &eb) == OR_OK);
    CHECK(F->dec_end(d, out, &eb) == OR_OK);
    F->dec_free(d);
    return out;
}

static void test_stream_decode(void)
{
    static const char *const ev[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Pondering\",\"thought\":true}],"
        "\"role\":\"model\"},\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":9},"
        "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"RX\"}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\" more\",\"thought\":true}],"
        "\"role\":\"model\"},\"index\":0}],\"responseId\":\"RX\"}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"Hel\"}],\"role\":\"model\"}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"lo\"}],\"role\":\"model\"}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"get\","
        "\"args\":{\"c\":\"P\"}},\"thoughtSignature\":\"S1\"},{\"functionCall\":{\"name\":"
        "\"get\",\"args\":{\"c\":\"R\"}}}],\"role\":\"model\"}}]}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"\"}],\"role\":\"model\"},"
        "\"finishReason\":\"STOP\"}],\"usageMetadata\":{\"promptTokenCount\":9,"
        "\"candidatesTokenCount\":12,\"thoughtsTokenCount\":5,\"totalTokenCount\":26}}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"late\"}]}}]}",
    };
    json_t *out = decode(ev, sizeof ev / sizeof ev[0]);
    CHECK(same(out, "[{'type':'start','id':'RX','model':'gemini-2.5-flash'},"
                    "{'type':'thinking','index':0,'text':'Pondering'},"
                    "{'type':'thinking','index':0,'text':' more'},"
                    "{'type':'text','index':1,'text':'Hel'},{'type':'text','index':1,'text':'lo'},"
                    "{'type':'tool_call','index':2,'id':'call_RX_1','name':'get'},"
                    "{'type':'tool_args','index':2,'arguments':'{\\'c\\':\\'P\\'}'},"
                    "{'type':'tool_signature','index':2,'signature':'S1'},"
                    "{'type':'tool_call','index':3,'id':'call_RX_2','name':'get'},"
                    "{'type':'tool_args','index':3,'arguments':'{\\'c\\':\\'R\\'}'},"
                    "{'type':'usage','usage':{'input_tokens':9,'output_tokens':17,"
                    "'reasoning_tokens':5}},{'type':'stop','stop_reason':'tool_calls'},"
                    "{'type':'done'}]"));
    json_decref(out);

    /* JSON-array framing left on the elements; a signature on text; no finishReason. */
    static const char *const ev2[] = {
        "[{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"A\"}]}}]}",
        ",\r\n{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"B\",\"thoughtSignature\":"
        "\"TS\"}]}}]}",
        "]",
    };
    out = decode(ev2, 3);
    CHECK(same(out, "[{'type':'start'},{'type':'text','index':0,'text':'A'},"
                    "{'type':'thinking_signature','index':1,'signature':'TS'},"
                    "{'type':'text','index':2,'text':'B'},"
                    "{'type':'error','status':502,'error_type':'api_error','message':"
                    "'upstream stream ended before completion'},{'type':'done'}]"));
    json_decref(out);

    /* An error chunk mid-stream ends the stream with error + done. */
    static const char *const ev3[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"par\"}]}}]}",
        "{\"error\":{\"code\":503,\"message\":\"The model is overloaded.\",\"status\":"
        "\"UNAVAILABLE\"}}",
        "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"ignored\"}]}}]}",
    };
    out = decode(ev3, 3);
    CHECK(same(out, "[{'type':'start'},{'type':'text','index':0,'text':'par'},"
                    "{'type':'error','status':503,'error_type':'overloaded_error','message':"
                    "'The model is overloaded.'},{'type':'done'}]"));
    json_decref(out);

    /* Blocked prompt; empty upstream; garbage. */
    static const char *const ev4[] = {"{\"promptFeedback\":{\"blockReason\":\"OTHER\"}}"};
    out = decode(ev4, 1);
    CHECK(same(out, "[{'type':'start'},{'type':'stop','stop_reason':'content_filter'},"
                    "{'type':'done'}]"));
    json_decref(out);
    out = decode(NULL, 0);
    CHECK(same(out, "[{'type':'error','status':502,'error_type':'api_error','message':"
                    "'upstream stream ended before completion'},{'type':'done'}]"));
    json_decref(out);
    or_fmt_dec *d = F->dec_new();
    or_errbuf eb = {{0}};
    out = json_array();
    CHECK(F->dec_event(d, NULL, "{oops", 5, out, &eb) == OR_EUPSTREAM);
    CHECK(F->dec_event(d, NULL, "42", 2, out, &eb) == OR_EUPSTREAM);
    F->dec_free(d);
    json_decref(out);
}

static char *encode(const char *ir_events, bool sse)
{
    or_fmt_opts o = {.stream = true, .gemini_sse = sse, .model = "gemini-2.5-flash", .id = "g1"};
    or_fmt_enc *e = F->enc_new(&o);
    json_t *evs = J(ir_events);
    or_buf b;
    size_t i;
    json_t *ev;
    or_buf_init(&b, 1 << 20);
    json_array_foreach(evs, i, ev) CHECK(F->enc_event(e, ev, &b) == OR_OK);
    F->enc_free(e);
    json_decref(evs);
    if (or_buf_append(&b, "", 0) != OR_OK)
        return NULL;
    return or_buf_take(&b, NULL);
}

#define CAND(parts) "{\"candidates\":[{\"content\":{\"parts\":" parts ",\"role\":\"model\"},"
#define TAIL "\"modelVersion\":\"gemini-2.5-flash\",\"responseId\":\"up\"}"

static void test_stream_encode(void)
{
    /* Tool arguments split and interleaved between two calls: each call goes out whole. */
    const char *evs =
        "[{'type':'start','id':'up','model':'m'},{'type':'thinking','index':0,'text':'hm'},"
        "{'type':'thinking_signature','index':0,'signature':'FOREIGN'},"
        "{'type':'thinking_signature','index':1,'signature':'TS'},"
        "{'type':'text','index':2,'text':'Hi'},{'type':'text','index':2,'text':''},"
        "{'type':'tool_call','index':3,'id':'c1','name':'get'},"
        "{'type':'tool_call','index':4,'id':'c2','name':'put'},"
        "{'type':'tool_args','index':3,'arguments':'{\\'a\\''},"
        "{'type':'tool_args','index':4,'arguments':'{}'},"
        "{'type':'tool_args','index':3,'arguments':':1}'},"
        "{'type':'tool_signature','index':3,'signature':'S1'},"
        "{'type':'usage','usage':{'input_tokens':5,'output_tokens':7,'reasoning_tokens':2}},"
        "{'type':'stop','stop_reason':'tool_calls'},{'type':'done'}]";
    char *s = encode(evs, true);
    const char *want = "data: " CAND(
        "[{\"text\":\"hm\",\"thought\":true}]") "\"index\":0}]," TAIL "\r\n\r\n"
                                                "data: " CAND(
                                                    "[{\"text\":\"\","
                                                    "\"thoughtSignature\":\"TS\"}"
                                                    "]") "\"index\":0}]," TAIL "\r\n\r\n"
                                                         "data: " CAND(
                                                             "[{\"text\":\"Hi\"}"
                                                             "]") "\"index\":0}]"
                                                                  "," TAIL "\r\n\r\n"
                                                                  "data: " CAND(
                                                                      "[{"
                                                                      "\"function"
                                                                      "Call\":{"
                                                                      "\"name\":"
                                                                      "\"get\","
                                                                      "\"args\":{"
                                                                      "\"a\":1},"
                                                                      "\"id\":"
                                                                      "\"c1\"},"
                                                                      "\"thoughtS"
                                                                      "ignature\""
                                                                      ":\"S1\"}]") "\"index\":"
                                                                                   "0}]," TAIL
                                                                                   "\r\n\r\n"
                                                                                   "data:"
                                                                                   " " CAND(
                                                                                       "[{"
                                                                                       "\"funct"
                                                                                       "ionCall"
                                                                                       "\":{"
                                                                                       "\"name"
                                                                                       "\":"
                                                                                       "\"put\""
                                                                                       ",\"args"
                                                                                       "\":{},"
                                                                                       "\"id\":"
                                                                                       "\"c2\"}"
                                                                                       "}]") "\"ind"
                                                                                             "ex\":"
                                                                                             "0}]"
                                                                                             "," TAIL
                                                                                             "\r\n"
                                                                                             "\r\n"
                                                                                             "d"
                                                                                             "a"
                                                                                             "t"
                                                                                             "a"
                                                                                             ":"
                                                                                             " " CAND(
                                                                                                 "["
                                                                                                 "{"
                                                                                                 "\"text\":\"\"}]") "\"index\":0,\"finishReason\":\"STOP\"}],"
                                                                                                                    "\"usageMetadata\":{\"promptTokenCount\":5,\"candidatesTokenCount\":5,"
                                                                                                                    "\"thoughtsTokenCount\":2,\"totalTokenCount\":12}," TAIL
                                                                                                                    "\r\n\r\n";
    CHECK_STR(s, want);
    free(s);

    /* JSON-array form: the same chunks, as one array. */
    s = encode("[{'type':'start'},{'type':'text','index':0,'text':'A'},"
               "{'type':'stop','stop_reason':'length'},{'type':'done'}]",
               false);
    CHECK_STR(
        s,
        "[" CAND("[{\"text\":\"A\"}]") "\"index\":0}],\"modelVersion\":"
                                       "\"gemini-2.5-flash\",\"responseId\":\"g1\"},\r\n" CAND(
                                           "[{\"text\":\"\"}]") "\"index\":0,\"finishReason\":"
                                                                "\"MAX_TOKENS\"}],\"modelVersion\":"
                                                                "\"gemini-2.5-flash\","
                                                                "\"responseId\":\"g1\"}]");
    json_t *arr = json_loads(s, 0, NULL);
    CHECK(json_array_size(arr) == 2);
    json_decref(arr);
    free(s);

    /* An error mid-stream: the half-built call is dropped, the error object ends the stream. */
    s = encode("[{'type':'start'},{'type':'text','index':0,'text':'A'},"
               "{'type':'tool_call','index':1,'id':'c','name':'f'},"
               "{'type':'tool_args','index':1,'arguments':'{\\'x'},"
               "{'type':'error','status':429,'error_type':'rate_limit_error','message':'slow',"
               "'retry_after':'3'},{'type':'done'}]",
               false);
    arr = s ? json_loads(s, 0, NULL) : NULL;
    CHECK(json_array_size(arr) == 2);
    CHECK(same(json_array_get(arr, 1),
               "{'error':{'code':429,'message':'slow','status':'RESOURCE_EXHAUSTED','details':"
               "[{'@type':'type.googleapis.com/google.rpc.RetryInfo','retryDelay':'3s'}]}}"));
    json_decref(arr);
    free(s);
    s = encode("[{'type':'start'},{'type':'error','status':500,'error_type':'api_error',"
               "'message':'boom'},{'type':'done'}]",
               true);
    CHECK_STR(s, "data: {\"error\":{\"code\":500,\"message\":\"boom\",\"status\":\"INTERNAL\"}}"
                 "\r\n\r\n");
    free(s);
    /* done without stop still ends with a finishReason; no events at all gives []. */
    s = encode("[{'type':'start'},{'type':'done'}]", false);
    CHECK(s && strstr(s, "\"finishReason\":\"STOP\"") && s[strlen(s) - 1] == ']');
    free(s);
    s = encode("[{'type':'done'},{'type':'text','index':0,'text':'after'}]", false);
    CHECK(s && strstr(s, "after") == NULL);
    free(s);

    /* Argument cap. */
    or_fmt_opts o = {.gemini_sse = true};
    or_fmt_enc *e = F->enc_new(&o);
    or_buf b;
    or_buf_init(&b, 0);
    json_t *ev = J("{'type':'tool_call','index':0,'id':'c','name':'f'}");
    CHECK(F->enc_event(e, ev, &b) == OR_OK);
    json_decref(ev);
    char *big = malloc((3u << 20) + 1);
    memset(big, 'a', 3u << 20);
    big[3u << 20] = '\0';
    ev = json_pack("{s:s,s:i,s:s}", "type", "tool_args", "index", 0, "arguments", big);
    CHECK(F->enc_event(e, ev, &b) == OR_OK);
    CHECK(F->enc_event(e, ev, &b) == OR_ETOOBIG);
    json_decref(ev);
    free(big);
    F->enc_free(e);
    or_buf_free(&b);
}

/* Decoding a Gemini stream and encoding it for a Gemini client keeps the calls and their
 * signatures. */
static void test_stream_round_trip(void)
{
    static const char *const ev[] = {
        "{\"candidates\":[{\"content\":{\"parts\":[{\"functionCall\":{\"name\":\"a\",\"args\":"
        "{\"x\":1}},\"thoughtSignature\":\"SA\"},{\"functionCall\":{\"name\":\"b\",\"args\":"
        "{}},\"thoughtSignature\":\"SB\"}],\"role\":\"model\"},\"finishReason\":\"STOP\"}],"
        "\"responseId\":\"Q\"}",
    };
    json_t *irs = decode(ev, 1);
    or_fmt_opts o = {.gemini_sse = true, .model = "m"};
    or_fmt_enc *e = F->enc_new(&o);
    or_buf b;
    size_t i;
    json_t *x;
    or_buf_init(&b, 0);
    json_array_foreach(irs, i, x) CHECK(F->enc_event(e, x, &b) == OR_OK);
    F->enc_free(e);
    CHECK(b.data && strstr(b.data, "{\"functionCall\":{\"name\":\"a\",\"args\":{\"x\":1},\"id\":"
                                   "\"call_Q_1\"},\"thoughtSignature\":\"SA\"}"));
    CHECK(b.data && strstr(b.data, "{\"functionCall\":{\"name\":\"b\",\"args\":{},\"id\":"
                                   "\"call_Q_2\"},\"thoughtSignature\":\"SB\"}"));
    or_buf_free(&b);
    json_decref(irs);
}

/* ---- errors ------------------------------------------------------------------------------ */

static void test_errors(void)
{
    json_t *body =
        J("{'error':{'code':429,'message':'Quota exceeded','status':"
          "'RESOURCE_EXHAUSTED','details':[{'@type':'type.googleapis.com/"
          "google.rpc.QuotaFailure'},{'@type':'type.googleapis.com/google.rpc.RetryInfo',"
          "'retryDelay':'36.5s'}]}}");
    json_t *ir = F->error_to_ir(429, body);
    CHECK(same(ir, "{'status':429,'error_type':'rate_limit_error','message':'Quota exceeded',"
                   "'retry_after':'37'}"));
    json_t *back = F->error_from_ir(ir);
    CHECK(same(back, "{'error':{'code':429,'message':'Quota exceeded','status':"
                     "'RESOURCE_EXHAUSTED','details':[{'@type':"
                     "'type.googleapis.com/google.rpc.RetryInfo','retryDelay':'37s'}]}}"));
    json_decref(back);
    json_decref(ir);
    json_decref(body);

    static const struct {
        int status;
        const char *body, *type, *msg;
        int ir_status;
    } cases[] = {
        {400, "{'error':{'code':400,'message':'bad','status':'INVALID_ARGUMENT'}}",
         "invalid_request_error", "bad", 400},
        {403, "[{'error':{'code':403,'message':'denied','status':'PERMISSION_DENIED'}}]",
         "permission_error", "denied", 403},
        {401, "{'error':{'message':'key','type':'authentication_error'}}", "authentication_error",
         "key", 401},
        {503, "{'type':'error','error':{'type':'overloaded_error','message':'busy'}}",
         "overloaded_error", "busy", 503},
        {504, "{}", "timeout_error", "upstream error (HTTP 504)", 504},
        {404, "{'error':{'code':404,'message':'no model','status':'NOT_FOUND'}}", "not_found_error",
         "no model", 404},
        {0, "{'error':{'code':500,'message':'x','status':'INTERNAL'}}", "api_error", "x", 500},
        {0, "{'error':'plain'}", "api_error", "plain", 502},
        {400, "{'error':{'code':400,'message':'fp','status':'FAILED_PRECONDITION'}}",
         "invalid_request_error", "fp", 400},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        body = J(cases[i].body);
        ir = F->error_to_ir(cases[i].status, body);
        CHECK_STR(S(ir, "error_type"), cases[i].type);
        CHECK_STR(S(ir, "message"), cases[i].msg);
        CHECK(I(ir, "status") == cases[i].ir_status);
        json_decref(ir);
        json_decref(body);
    }
    static const struct {
        const char *ir, *status;
        int code;
    } out[] = {
        {"{'error_type':'authentication_error','message':'m'}", "UNAUTHENTICATED", 401},
        {"{'error_type':'overloaded_error','message':'m','status':529}", "UNAVAILABLE", 529},
        {"{'error_type':'timeout_error','message':'m'}", "DEADLINE_EXCEEDED", 504},
        {"{'error_type':'not_found_error','message':'m'}", "NOT_FOUND", 404},
        {"{'error_type':'permission_error','message':'m'}", "PERMISSION_DENIED", 403},
        {"{'error_type':'invalid_request_error','message':'m','status':413}", "INVALID_ARGUMENT",
         413},
        {"{'message':'m','status':503}", "UNAVAILABLE", 503},
        {"{}", "INTERNAL", 500},
    };
    for (size_t i = 0; i < sizeof out / sizeof out[0]; i++) {
        ir = J(out[i].ir);
        back = F->error_from_ir(ir);
        CHECK_STR(S(back, "error.status"), out[i].status);
        CHECK(I(back, "error.code") == out[i].code);
        CHECK(json_is_string(at(back, "error.message")));
        json_decref(back);
        json_decref(ir);
    }
}

static void test_descriptor(void)
{
    CHECK(F->id == OR_FMT_GEMINI);
    CHECK_STR(F->name, "gemini");
    CHECK_STR(F->stream_content_type, "text/event-stream");
    CHECK(F->req_to_ir && F->req_from_ir && F->url && F->resp_to_ir && F->resp_from_ir &&
          F->dec_new && F->dec_event && F->dec_end && F->dec_free && F->enc_new && F->enc_event &&
          F->enc_free && F->error_to_ir && F->error_from_ir);
}

int main(void)
{
    test_descriptor();
    test_req_to_ir_cli();
    test_req_ids();
    test_req_signatures();
    test_req_snake_case();
    test_req_errors();
    test_req_from_ir();
    test_url();
    test_resp_to_ir();
    test_resp_from_ir();
    test_stream_decode();
    test_stream_encode();
    test_stream_round_trip();
    test_errors();
    return check_done();
}
