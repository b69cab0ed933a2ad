/* Gemini parts ↔ IR content, finish reasons, usage and tool-call ids: what requests,
 * responses and streams of the Gemini format share. */
#include "fmt/gemini_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

json_t *or_gemini_parts_get(const json_t *o, const char *camel)
{
    char snake[64];
    size_t j = 0;
    json_t *v = json_object_get(o, camel);
    if (v || !json_is_object(o))
        return v;
    for (const char *c = camel; *c && j + 2 < sizeof snake; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            snake[j++] = '_';
            snake[j++] = (char)(*c - 'A' + 'a');
        } else {
            snake[j++] = *c;
        }
    }
    snake[j] = '\0';
    return strcmp(snake, camel) ? json_object_get(o, snake) : NULL;
}

void or_gemini_parts_camel(const char *k, char *out, size_t cap)
{
    size_t j = 0;
    bool up = false;
    for (; *k && j + 1 < cap; k++) {
        if (*k == '_' && j > 0) {
            up = true;
            continue;
        }
        out[j++] = up && *k >= 'a' && *k <= 'z' ? (char)(*k - 'a' + 'A') : *k;
        up = false;
    }
    out[j] = '\0';
}

void or_gemini_parts_ids_init(or_gemini_ids *ids, const char *response_id)
{
    ids->n = 0;
    if (response_id && *response_id && strlen(response_id) < sizeof ids->prefix - 8)
        snprintf(ids->prefix, sizeof ids->prefix, "call_%s_", response_id);
    else
        snprintf(ids->prefix, sizeof ids->prefix, "call_");
}

void or_gemini_parts_next_id(or_gemini_ids *ids, char *out, size_t cap)
{
    ids->n++;
    snprintf(out, cap, "%s%u", ids->prefix, ids->n);
}

char *or_gemini_parts_args_to_ir(const json_t *args)
{
    if (!args || json_is_null(args))
        return strdup("{}");
    return json_dumps(args, JSON_COMPACT | JSON_ENCODE_ANY);
}

json_t *or_gemini_parts_args_from_ir(const char *args)
{
    if (!args || !*args)
        return json_object();
    json_t *v = json_loads(args, JSON_DECODE_ANY, NULL);
    if (json_is_object(v))
        return v;
    json_decref(v);
    /* Keep what the model produced rather than calling the tool with nothing. */
    return json_pack("{s:s}", "_raw", args);
}

json_t *or_gemini_parts_image_to_ir(const json_t *gpart)
{
    const json_t *inl = or_gemini_parts_get(gpart, "inlineData");
    if (json_is_object(inl)) {
        const char *mt = json_string_value(or_gemini_parts_get(inl, "mimeType"));
        const char *data = json_string_value(json_object_get(inl, "data"));
        if (!mt || !data)
            return NULL;
        return json_pack("{s:s,s:s,s:s}", "type", "image", "media_type", mt, "data", data);
    }
    const json_t *fd = or_gemini_parts_get(gpart, "fileData");
    if (json_is_object(fd)) {
        const char *uri = json_string_value(or_gemini_parts_get(fd, "fileUri"));
        const char *mt = json_string_value(or_gemini_parts_get(fd, "mimeType"));
        if (!uri)
            return NULL;
        json_t *p = json_pack("{s:s,s:s}", "type", "image", "url", uri);
        /* media_type next to url is not in the IR table; other builders ignore it, and it
         * lets gemini→gemini keep fileData.mimeType. */
        if (p && mt)
            json_object_set_new(p, "media_type", json_string(mt));
        return p;
    }
    return NULL;
}

/* Extension → MIME type for fileData built from a bare URL (Gemini wants one). */
static const char *guess_mime(const char *url)
{
    static const struct {
        const char *ext, *mime;
    } tab[] = {{".png", "image/png"},      {".jpg", "image/jpeg"},  {".jpeg", "image/jpeg"},
               {".gif", "image/gif"},      {".webp", "image/webp"}, {".heic", "image/heic"},
               {".pdf", "application/pdf"}};
    size_t ul = strcspn(url, "?#");
    for (size_t i = 0; i < sizeof tab / sizeof tab[0]; i++) {
        size_t el = strlen(tab[i].ext);
        if (ul >= el && strncasecmp(url + ul - el, tab[i].ext, el) == 0)
            return tab[i].mime;
    }
    return NULL;
}

/* "data:<mime>;base64,<data>" → inlineData; NULL when not such a URL. */
static json_t *data_url(const char *url)
{
    if (strncmp(url, "data:", 5) != 0)
        return NULL;
    const char *semi = strstr(url + 5, ";base64,");
    if (!semi || semi == url + 5)
        return NULL;
    json_t *mt = json_stringn(url + 5, (size_t)(semi - (url + 5)));
    if (!mt)
        return NULL;
    return json_pack("{s:{s:o,s:s}}", "inlineData", "mimeType", mt, "data", semi + 8);
}

json_t *or_gemini_parts_image_from_ir(const json_t *part)
{
    const char *mt = json_string_value(json_object_get(part, "media_type"));
    const char *data = json_string_value(json_object_get(part, "data"));
    const char *url = json_string_value(json_object_get(part, "url"));
    if (data)
        return json_pack("{s:{s:s,s:s}}", "inlineData", "mimeType", mt ? mt : "image/png", "data",
                         data);
    if (!url)
        return NULL;
    json_t *inl = data_url(url);
    if (inl)
        return inl;
    if (!mt)
        mt = guess_mime(url);
    json_t *fd = json_pack("{s:s}", "fileUri", url);
    if (fd && mt)
        json_object_set_new(fd, "mimeType", json_string(mt));
    return fd ? json_pack("{s:o}", "fileData", fd) : NULL;
}

static or_err push_new(json_t *out, json_t *v)
{
    return v && json_array_append_new(out, v) == 0 ? OR_OK : OR_ENOMEM;
}

static or_err add_marker(json_t *out, const char *sig)
{
    json_t *m = json_pack("{s:s,s:s,s:s}", "type", "thinking", "text", "", "signature", sig);
    return m && json_array_append_new(out, m) == 0 ? OR_OK : OR_ENOMEM;
}

/* A signature waiting for the part it belongs to goes out as a marker. */
static or_err flush(json_t *out, const char **pending)
{
    if (!*pending)
        return OR_OK;
    or_err e = add_marker(out, *pending);
    *pending = NULL;
    return e;
}

static json_t *code_text(const json_t *p)
{
    const json_t *ec = or_gemini_parts_get(p, "executableCode");
    if (json_is_object(ec)) {
        const char *lang = json_string_value(json_object_get(ec, "language"));
        const char *code = json_string_value(json_object_get(ec, "code"));
        char *s = NULL;
        if (asprintf(&s, "```%s\n%s\n```", lang && strcmp(lang, "PYTHON") == 0 ? "python" : "",
                     code ? code : "") < 0)
            return NULL;
        json_t *t = json_pack("{s:s,s:s}", "type", "text", "text", s);
        free(s);
        return t;
    }
    const json_t *cr = or_gemini_parts_get(p, "codeExecutionResult");
    if (json_is_object(cr)) {
        const char *o = json_string_value(json_object_get(cr, "output"));
        return json_pack("{s:s,s:s}", "type", "text", "text", o ? o : "");
    }
    return NULL;
}

static or_err call_to_ir(const json_t *fc, const char *sig, const char *path, size_t i, bool strict,
                         or_gemini_ids *ids, json_t *out, json_t *calls, or_errbuf *eb)
{
    or_err e = OR_OK;
    char gen[160];
    char *args = NULL;
    const char *name = json_string_value(json_object_get(fc, "name"));
    if (!name) {
        if (strict)
            e = or_fail(eb, OR_EINVAL, "%s[%zu].functionCall.name: expected a string", path, i);
        goto out;
    }
    const char *id = json_string_value(json_object_get(fc, "id"));
    or_gemini_parts_next_id(ids, gen, sizeof gen);
    if (!id || !*id)
        id = gen;
    const json_t *a = json_object_get(fc, "args");
    if (a && !json_is_object(a) && !json_is_null(a) && strict) {
        e = or_fail(eb, OR_EINVAL, "%s[%zu].functionCall.args: expected an object", path, i);
        goto out;
    }
    args = or_gemini_parts_args_to_ir(a);
    json_t *tc = args ? json_pack("{s:s,s:s,s:s,s:s}", "type", "tool_call", "id", id, "name", name,
                                  "arguments", args)
                      : NULL;
    if (tc && sig)
        json_object_set_new(tc, "signature", json_string(sig));
    if (!tc || json_array_append_new(out, tc) != 0) {
        e = OR_ENOMEM;
        goto out;
    }
    if (calls && json_array_append_new(calls, json_pack("{s:s,s:s}", "id", id, "name", name)))
        e = OR_ENOMEM;
out:
    free(args);
    return e;
}

static or_err text_to_ir(const json_t *p, const json_t *text, const char *sig, const char **pending,
                         json_t *out)
{
    or_err e;
    size_t tl = json_string_length(text);
    if (json_is_true(json_object_get(p, "thought"))) {
        if ((e = flush(out, pending)) != OR_OK)
            return e;
        /* The signature goes into its own marker, like every Gemini signature, so builders can
         * tell Gemini's signatures (markers) from other vendors' (thinking with text). */
        if (tl > 0 && push_new(out, json_pack("{s:s,s:s%}", "type", "thinking", "text",
                                              json_string_value(text), tl)) != OR_OK)
            return OR_ENOMEM;
        return sig ? add_marker(out, sig) : OR_OK;
    }
    if (tl == 0) {
        /* A bare signature part: it belongs to what follows (a call, if one comes). */
        if (sig) {
            if ((e = flush(out, pending)) != OR_OK)
                return e;
            *pending = sig;
        }
        return OR_OK;
    }
    if ((e = flush(out, pending)) != OR_OK)
        return e;
    if (sig && (e = add_marker(out, sig)) != OR_OK)
        return e;
    json_t *t = json_pack("{s:s,s:s%}", "type", "text", "text", json_string_value(text), tl);
    return t && json_array_append_new(out, t) == 0 ? OR_OK : OR_ENOMEM;
}

or_err or_gemini_parts_model_to_ir(const json_t *parts, const char *path, bool strict,
                                   or_gemini_ids *ids, json_t *out, json_t *calls, or_errbuf *eb)
{
    or_err e = OR_OK;
    const char *pending = NULL;
    size_t i;
    const json_t *p;
    if (!json_is_array(parts)) {
        if (strict && parts)
            e = or_fail(eb, OR_EINVAL, "%s: expected an array", path);
        goto out;
    }
    json_array_foreach(parts, i, p)
    {
        if (!json_is_object(p)) {
            if (strict) {
                e = or_fail(eb, OR_EINVAL, "%s[%zu]: expected an object", path, i);
                goto out;
            }
            continue;
        }
        const char *sig = json_string_value(or_gemini_parts_get(p, "thoughtSignature"));
        if (sig && !*sig)
            sig = NULL;
        const json_t *fc = or_gemini_parts_get(p, "functionCall");
        const json_t *text = json_object_get(p, "text");
        json_t *conv;
        if (json_is_object(fc)) {
            if (!sig) {
                sig = pending;
                pending = NULL;
            }
            e = call_to_ir(fc, sig, path, i, strict, ids, out, calls, eb);
        } else if (json_is_string(text)) {
            e = text_to_ir(p, text, sig, &pending, out);
        } else if ((conv = or_gemini_parts_image_to_ir(p)) || (conv = code_text(p))) {
            e = flush(out, &pending);
            if (e == OR_OK && json_array_append_new(out, conv) != 0)
                e = OR_ENOMEM;
            if (e == OR_OK && sig)
                e = add_marker(out, sig);
        } else if (sig) {
            if ((e = flush(out, &pending)) == OR_OK)
                pending = sig;
        } else if (strict) {
            e = or_fail(eb, OR_EINVAL,
                        "%s[%zu]: unsupported part (expected text, inlineData, "
                        "fileData or functionCall)",
                        path, i);
        }
        if (e != OR_OK)
            goto out;
    }
    e = flush(out, &pending);
out:
    return e;
}

/* Last plain text part without a signature, for a signature that nothing follows. */
static json_t *last_text(json_t *parts)
{
    for (size_t i = json_array_size(parts); i-- > 0;) {
        json_t *p = json_array_get(parts, i);
        if (json_object_get(p, "text") && !json_object_get(p, "thought") &&
            !or_gemini_parts_get(p, "thoughtSignature"))
            return p;
    }
    return NULL;
}

static void attach_back(json_t *parts, const char *sig)
{
    json_t *p = last_text(parts);
    if (p)
        json_object_set_new(p, "thoughtSignature", json_string(sig));
}

json_t *or_gemini_parts_model_from_ir(const json_t *content, bool thoughts, bool sentinel)
{
    json_t *out = json_array();
    const char *pending = NULL;
    json_t *first_call = NULL;
    bool call_sig = false;
    size_t i;
    const json_t *p;
    if (!out)
        return NULL;
    json_array_foreach(content, i, p)
    {
        const char *type = json_string_value(json_object_get(p, "type"));
        const char *sig = json_string_value(json_object_get(p, "signature"));
        const json_t *text = json_object_get(p, "text");
        json_t *g = NULL;
        if (!type)
            continue;
        if (strcmp(type, "thinking") == 0) {
            size_t tl = json_string_length(text);
            if (thoughts && tl > 0) {
                /* Its signature, if any, is not Gemini's (see below): a Gemini client could
                 * only echo it back, and Gemini CLI drops thought parts anyway. */
                g = json_pack("{s:s%,s:b}", "text", json_string_value(text), tl, "thought", 1);
            } else {
                if (tl > 0 || !sig)
                    continue;
                /* Only the empty marker form travels: signatures on thinking with text may be
                 * another vendor's, and Gemini rejects signatures it did not issue. */
                if (pending)
                    attach_back(out, pending);
                pending = sig;
                continue;
            }
        } else if (strcmp(type, "text") == 0) {
            size_t tl = json_string_length(text);
            if (tl == 0)
                continue;
            g = json_pack("{s:s%}", "text", json_string_value(text), tl);
            if (g && pending) {
                json_object_set_new(g, "thoughtSignature", json_string(pending));
                pending = NULL;
            }
        } else if (strcmp(type, "tool_call") == 0) {
            const char *name = json_string_value(json_object_get(p, "name"));
            const char *id = json_string_value(json_object_get(p, "id"));
            if (!name)
                continue;
            json_t *args =
                or_gemini_parts_args_from_ir(json_string_value(json_object_get(p, "arguments")));
            json_t *fc = args ? json_pack("{s:s,s:o}", "name", name, "args", args) : NULL;
            if (fc && id && *id)
                json_object_set_new(fc, "id", json_string(id));
            g = fc ? json_pack("{s:o}", "functionCall", fc) : NULL;
            if (g && sig && *sig) {
                json_object_set_new(g, "thoughtSignature", json_string(sig));
                call_sig = true;
            }
            if (g && !first_call)
                first_call = g;
        } else if (strcmp(type, "image") == 0) {
            if (!(g = or_gemini_parts_image_from_ir(p)))
                continue; /* neither data nor url: nothing to send */
        } else {
            continue;
        }
        if (g && json_array_append_new(out, g) != 0)
            g = NULL;
        if (!g)
            goto fail;
    }
    if (pending)
        attach_back(out, pending);
    if (sentinel && first_call && !call_sig)
        json_object_set_new(first_call, "thoughtSignature", json_string(OR_GEMINI_SKIP_SIG));
    return out;
fail:
    json_decref(out);
    return NULL;
}

/* ---- finish reasons ---- */

static const struct {
    const char *gemini, *ir;
} finish_tab[] = {
    {"STOP", "stop"},
    {"MAX_TOKENS", "length"},
    {"SAFETY", "content_filter"},
    {"RECITATION", "content_filter"},
    {"BLOCKLIST", "content_filter"},
    {"PROHIBITED_CONTENT", "content_filter"},
    {"SPII", "content_filter"},
    {"LANGUAGE", "content_filter"},
    {"IMAGE_SAFETY", "content_filter"},
    {"IMAGE_PROHIBITED_CONTENT", "content_filter"},
    {"IMAGE_RECITATION", "content_filter"},
    /* The model tried to call a tool and failed: no usable call exists, so "tool_calls" would
     * make clients wait for calls that are not there, and "stop" would pass leftover
     * narration off as the answer. "error" says the turn did not complete. */
    {"MALFORMED_FUNCTION_CALL", "error"},
    {"UNEXPECTED_TOOL_CALL", "error"},
};

const char *or_gemini_parts_finish_to_ir(const char *reason, bool had_calls)
{
    const char *r = "stop";
    for (size_t i = 0; reason && i < sizeof finish_tab / sizeof finish_tab[0]; i++)
        if (strcmp(finish_tab[i].gemini, reason) == 0) {
            r = finish_tab[i].ir;
            break;
        }
    return had_calls && strcmp(r, "stop") == 0 ? "tool_calls" : r;
}

const char *or_gemini_parts_finish_from_ir(const char *stop_reason)
{
    static const struct {
        const char *ir, *gemini;
    } tab[] = {{"stop", "STOP"},
               {"tool_calls", "STOP"},
               {"length", "MAX_TOKENS"},
               {"content_filter", "SAFETY"},
               {"error", "OTHER"}};
    for (size_t i = 0; stop_reason && i < sizeof tab / sizeof tab[0]; i++)
        if (strcmp(tab[i].ir, stop_reason) == 0)
            return tab[i].gemini;
    return "STOP";
}

/* ---- usage ---- */

static json_int_t num(const json_t *o, const char *k, bool *present)
{
    const json_t *v = json_object_get(o, k);
    if (present)
        *present = json_is_integer(v) || json_is_real(v);
    if (json_is_integer(v))
        return json_integer_value(v) > 0 ? json_integer_value(v) : 0;
    if (json_is_real(v) && json_real_value(v) > 0 && json_real_value(v) < 9e15)
        return (json_int_t)json_real_value(v);
    return 0;
}

json_t *or_gemini_parts_usage_to_ir(const json_t *u)
{
    bool has_cached, has_thoughts;
    if (!json_is_object(u))
        return NULL;
    json_int_t prompt = num(u, "promptTokenCount", NULL) + num(u, "toolUsePromptTokenCount", NULL);
    json_int_t cand = num(u, "candidatesTokenCount", NULL);
    json_int_t thoughts = num(u, "thoughtsTokenCount", &has_thoughts);
    json_int_t cached = num(u, "cachedContentTokenCount", &has_cached);
    json_t *r = json_pack("{s:I,s:I}", "input_tokens", prompt, "output_tokens", cand + thoughts);
    if (r && has_cached)
        json_object_set_new(r, "cached_tokens", json_integer(cached));
    if (r && has_thoughts)
        json_object_set_new(r, "reasoning_tokens", json_integer(thoughts));
    return r;
}

json_t *or_gemini_parts_usage_from_ir(const json_t *u)
{
    if (!json_is_object(u))
        return NULL;
    json_int_t in = num(u, "input_tokens", NULL), out = num(u, "output_tokens", NULL);
    json_int_t reasoning = num(u, "reasoning_tokens", NULL), cached = num(u, "cached_tokens", NULL);
    if (reasoning > out)
        reasoning = out;
    json_t *r =
        json_pack("{s:I,s:I}", "promptTokenCount", in, "candidatesTokenCount", out - reasoning);
    if (r && reasoning > 0)
        json_object_set_new(r, "thoughtsTokenCount", json_integer(reasoning));
    if (r && cached > 0)
        json_object_set_new(r, "cachedContentTokenCount", json_integer(cached));
    if (r)
        json_object_set_new(r, "totalTokenCount", json_integer(in + out));
    return r;
}
