/* The Gemini generateContent format descriptor (see gemini_internal.h for the file split). */
#include "fmt/gemini_internal.h"

/* An alt=sse client gets text/event-stream; a client streaming without alt=sse gets a JSON
 * array and should be sent application/json (the gateway decides from or_fmt_opts). */
const or_fmt or_fmt_gemini = {
    .id = OR_FMT_GEMINI,
    .name = "gemini",
    .req_to_ir = or_gemini_req_to_ir,
    .req_from_ir = or_gemini_req_from_ir,
    .url = or_gemini_req_url,
    .resp_to_ir = or_gemini_resp_to_ir,
    .resp_from_ir = or_gemini_resp_from_ir,
    .dec_new = or_gemini_stream_dec_new,
    .dec_event = or_gemini_stream_dec_event,
    .dec_end = or_gemini_stream_dec_end,
    .dec_free = or_gemini_stream_dec_free,
    .enc_new = or_gemini_stream_enc_new,
    .enc_event = or_gemini_stream_enc_event,
    .enc_free = or_gemini_stream_enc_free,
    .error_to_ir = or_gemini_resp_error_to_ir,
    .error_from_ir = or_gemini_resp_error_from_ir,
    .stream_content_type = "text/event-stream",
};
