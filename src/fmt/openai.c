/* The OpenAI Chat Completions format (POST /v1/chat/completions): what the openai SDKs,
 * Cursor and Cline speak as clients, and what OpenAI, DeepSeek, Groq, OpenRouter and every
 * OpenAI-compatible provider speak as upstreams. */
#include "fmt/openai_internal.h"

const or_fmt or_fmt_openai = {
    .id = OR_FMT_OPENAI,
    .name = "openai",
    .req_to_ir = or_openai_req_to_ir,
    .req_from_ir = or_openai_build_req,
    .url = or_openai_build_url,
    .resp_to_ir = or_openai_resp_to_ir,
    .resp_from_ir = or_openai_resp_from_ir,
    .dec_new = or_openai_stream_dec_new,
    .dec_event = or_openai_stream_dec_event,
    .dec_end = or_openai_stream_dec_end,
    .dec_free = or_openai_stream_dec_free,
    .enc_new = or_openai_stream_enc_new,
    .enc_event = or_openai_stream_enc_event,
    .enc_free = or_openai_stream_enc_free,
    .error_to_ir = or_openai_resp_error_to_ir,
    .error_from_ir = or_openai_resp_error_from_ir,
    .stream_content_type = "text/event-stream",
};
