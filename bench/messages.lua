-- wrk script for bench/run.sh's translated streaming phase ("xlate"): POSTs a fixed ~1 KB
-- Anthropic Messages body (stream:true) to the gateway's /v1/messages and prints one JSON summary
-- line in the same shape as chat.lua's, plus "incomplete": 2xx answers that did not end the
-- Anthropic stream (no message_stop event). A translated stream can be cut or malformed while the
-- status line is still 200, so the status alone does not prove the translation ran to the end.
--
-- Environment (read once per Lua state, so every wrk thread sends the same bytes):
--   BENCH_MODEL   model field of the body (default "groq/llama": an OpenAI-format provider, so the
--                 gateway translates the request to OpenAI chat and the SSE stream back)
-- temperature 0.7 and the no-cache header mirror chat.lua, so the two bodies differ only in format.

local model = os.getenv("BENCH_MODEL") or "groq/llama"

local function build_body()
    local head = '{"model":"' .. model .. '","max_tokens":256,"stream":true,"temperature":0.7,' ..
                     '"system":"You are a concise assistant used by a load test.",' ..
                     '"messages":[{"role":"user","content":"'
    local tail = '"}]}'
    -- Pad the user message so the whole body is 1,024 bytes whatever the model name.
    local filler = "Summarise the benefits of connection reuse for an HTTP proxy in one short paragraph. "
    local need = 1024 - #head - #tail
    local content = string.rep(filler, math.ceil(need / #filler)):sub(1, need)
    return head .. content .. tail
end

wrk.method = "POST"
wrk.body = build_body()
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "text/event-stream"
wrk.headers["x-api-key"] = "sk-bench"
wrk.headers["anthropic-version"] = "2023-06-01"
wrk.headers["X-OmniRoute-No-Cache"] = "true"

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non2xx = 0
    first_bad = 0
    incomplete = 0
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if first_bad == 0 then
            first_bad = status
        end
    elseif not (body and body:find("event: message_stop", 1, true)) then
        incomplete = incomplete + 1
    end
end

function done(summary, latency, requests)
    local bad, first, cut = 0, 0, 0
    for _, t in ipairs(threads) do
        bad = bad + (t:get("non2xx") or 0)
        cut = cut + (t:get("incomplete") or 0)
        local f = t:get("first_bad") or 0
        if first == 0 then
            first = f
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
            '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,' ..
            '"err_status":%d,"non2xx":%d,"first_non2xx":%d,"incomplete":%d,"body_bytes":%d}\n',
        summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status, bad, first,
        cut, #wrk.body))
end
