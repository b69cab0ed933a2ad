-- wrk script for bench/run.sh: POSTs a fixed ~1 KB OpenAI chat body and prints one JSON summary line.
--
-- Environment (read once per Lua state, so every wrk thread sends the same bytes):
--   BENCH_MODEL   model field of the body (default "openai/gpt-4o-mini")
--   BENCH_STREAM  "1" adds "stream":true
-- temperature is 0.7 on purpose: the gateway caches non-streaming requests whose temperature is 0
-- or absent, and a cache hit would measure the cache, not the proxy path. The no-cache header says
-- the same thing a second way; nginx and the fake upstream ignore it.

local model = os.getenv("BENCH_MODEL") or "openai/gpt-4o-mini"
local stream = os.getenv("BENCH_STREAM") == "1"

local function build_body()
    local head = '{"model":"' .. model .. '",' .. (stream and '"stream":true,' or '') ..
                     '"temperature":0.7,"max_tokens":256,"messages":[' ..
                     '{"role":"system","content":"You are a concise assistant used by a load test."},' ..
                     '{"role":"user","content":"'
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
wrk.headers["Accept"] = stream and "text/event-stream" or "application/json"
wrk.headers["X-OmniRoute-No-Cache"] = "true"

-- wrk's own status counter only sees codes > 399; count every non-2xx ourselves, per thread.
local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    non2xx = 0
    first_bad = 0
end

function response(status, headers, body)
    if status < 200 or status > 299 then
        non2xx = non2xx + 1
        if first_bad == 0 then
            first_bad = status
        end
    end
end

function done(summary, latency, requests)
    local bad, first = 0, 0
    for _, t in ipairs(threads) do
        bad = bad + (t:get("non2xx") or 0)
        local f = t:get("first_bad") or 0
        if first == 0 then
            first = f
        end
    end
    local e = summary.errors
    io.write(string.format(
        'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
            '"max_us":%d,"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,' ..
            '"err_status":%d,"non2xx":%d,"first_non2xx":%d,"body_bytes":%d}\n',
        summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency.max, e.connect, e.read, e.write, e.timeout, e.status, bad, first,
        #wrk.body))
end
