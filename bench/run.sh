#!/usr/bin/env bash
# Same-run benchmark: the gateway against nginx as a reverse proxy, both in front of the same fake
# provider (nginx serving fixed answers), with the provider measured directly as the floor.
#
# Usage: bench/run.sh [path/to/omniroute]          (make bench passes ./build/omniroute)
# Environment:
#   BENCH_ROUNDS=3        interleaved rounds; every figure reported is the median over rounds
#   BENCH_SECONDS=10      measured seconds per run (after BENCH_WARMUP=2 s of discarded warm-up)
#   BENCH_CONNECTIONS=64  wrk connections for the throughput and streaming phases (2 threads)
#   BENCH_WORKERS=2       gateway OMNIROUTE_WORKERS and nginx-proxy worker_processes
#   BENCH_UPSTREAM_WORKERS=2  fake provider's worker_processes
#   BENCH_PHASES="tput sse xlate c1"  phases to run (default all; always run in that order):
#                         tput  JSON, -c64          sse  OpenAI SSE passthrough, -c64
#                         xlate Anthropic Messages client -> OpenAI provider, streamed, -c64 (gateway only)
#                         c1    JSON, -c1 (added latency)
#   BENCH_SKIP_GATEWAY=1  measure only direct + nginx-proxy (to check the harness itself)
#   BENCH_OUT=bench/out   where latest.md and the raw wrk output go
#   BENCH_KEEP_TMP=1      keep the temp dir (configs, logs, data dir) for inspection
# Needs: bash, wrk, nginx, curl, awk. Everything listens on 127.0.0.1 on ports picked free.
set -euo pipefail
shopt -u patsub_replacement 2>/dev/null || true # '&' in a ${x//p/r} replacement stays literal

here=$(cd "$(dirname "$0")" && pwd)
gw_bin=${1:-}
rounds=${BENCH_ROUNDS:-3}
secs=${BENCH_SECONDS:-10}
warm=${BENCH_WARMUP:-2}
conns=${BENCH_CONNECTIONS:-64}
threads=2
workers=${BENCH_WORKERS:-2}
up_workers=${BENCH_UPSTREAM_WORKERS:-$workers}
skip_gw=${BENCH_SKIP_GATEWAY:-0}
out_dir=${BENCH_OUT:-$here/out}
wrk_timeout=2s
noisy_cores=0.5 # a run is marked noisy when other jobs took more than this many cores
json_model="openai/gpt-4o-mini"
sse_model="groq/llama"
# The fake provider's streamed text, one SSE chunk per word (the translated check expects it back).
sse_words=(Connection " reuse" " lets" " a" " proxy" " skip" " the" " TCP" " handshake" " and"
    " slow" " start" " on" " every" " request" " so" " latency" " stays")

die() {
    echo "bench: $*" >&2
    exit 1
}

for tool in wrk nginx curl awk; do
    command -v "$tool" >/dev/null || die "$tool not found (scripts/bootstrap bench installs wrk and nginx-light)"
done

# Phases: selectable, but always run in this order (translated streaming right after the
# passthrough streaming it is compared with, so the two see the most similar background load).
all_phases=(tput sse xlate c1)
declare -A phase_on=()
for p in ${BENCH_PHASES:-${all_phases[*]}}; do
    case " ${all_phases[*]} " in *" $p "*) phase_on[$p]=1 ;; *) die "unknown phase '$p' in BENCH_PHASES (known: ${all_phases[*]})" ;; esac
done
if [ "$skip_gw" = 1 ] && [ -n "${phase_on[xlate]:-}" ]; then
    unset 'phase_on[xlate]'
    echo "bench: BENCH_SKIP_GATEWAY=1: phase xlate (gateway only) skipped" >&2
fi
phases=()
for p in "${all_phases[@]}"; do [ -z "${phase_on[$p]:-}" ] || phases+=("$p"); done
[ ${#phases[@]} -gt 0 ] || die "no phase left to run (BENCH_PHASES='${BENCH_PHASES:-}')"
ran() { [ -n "${phase_on[$1]:-}" ]; }

if [ "$skip_gw" != 1 ]; then
    [ -n "$gw_bin" ] || die "usage: $0 path/to/omniroute   (or BENCH_SKIP_GATEWAY=1)"
    [ -x "$gw_bin" ] || die "$gw_bin is not an executable file"
    gw_bin=$(cd "$(dirname "$gw_bin")" && pwd)/$(basename "$gw_bin")
fi

# ---------------------------------------------------------------------------------------------
# Processes and cleanup: every server started here is recorded and stopped on any exit.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/omniroute-bench.XXXXXX")
# nginx started as root drops its workers to "nobody", which must be able to read sse.txt.
chmod 755 "$tmp"
started_pids=()

cleanup() {
    local rc=$? pid i
    trap - EXIT INT TERM
    [ -z "${wrk_pid:-}" ] || kill -TERM "$wrk_pid" 2>/dev/null || true
    for pid in "${started_pids[@]+"${started_pids[@]}"}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${started_pids[@]+"${started_pids[@]}"}"; do
        for i in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
    if [ "${BENCH_KEEP_TMP:-0}" = 1 ]; then
        echo "bench: temp dir kept: $tmp" >&2
    else
        rm -rf "$tmp"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Ports come from below the kernel's ephemeral range (so no outgoing connection can be holding
# one) and must not appear as a local port in /proc/net/tcp{,6} in any state.
ephemeral_low=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
[ "$ephemeral_low" -gt 12000 ] || ephemeral_low=61000
taken_ports=" "
pick_port() { # pick_port VAR
    local p hex
    while :; do
        p=$((10000 + RANDOM % (ephemeral_low - 10000)))
        case "$taken_ports" in *" $p "*) continue ;; esac
        printf -v hex ':%04X ' "$p"
        if grep -qF "$hex" /proc/net/tcp /proc/net/tcp6 2>/dev/null; then continue; fi
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            taken_ports+="$p "
            printf -v "$1" '%s' "$p"
            return
        fi
    done
}

wait_http() { # wait_http PORT PID LOG: until anything answers HTTP on PORT
    local i
    for i in $(seq 1 100); do
        if curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/healthz"; then
            return 0
        fi
        kill -0 "$2" 2>/dev/null || {
            tail -n 30 "$3" >&2
            die "process $2 exited before listening on $1"
        }
        sleep 0.1
    done
    tail -n 30 "$3" >&2
    die "nothing answered on port $1 within 10 s"
}

check_alive() { # check_alive PID NAME LOG
    kill -0 "$1" 2>/dev/null && return 0
    tail -n 40 "$3" >&2
    die "$2 (pid $1) died during the benchmark; log above"
}

# ---------------------------------------------------------------------------------------------
# Fake provider content.
fake_json() {
    local content="Connection reuse lets a proxy skip the TCP handshake and slow start on every request, so latency stays flat and the upstream sees fewer sockets. Keep-alive pools also bound the number of open connections, which protects the provider from bursts."
    printf '{"id":"chatcmpl-bench00000000000000000000000000","object":"chat.completion","created":1700000000,"model":"gpt-4o-mini-2024-07-18","system_fingerprint":"fp_bench0000","choices":[{"index":0,"message":{"role":"assistant","content":"%s","refusal":null},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":251,"completion_tokens":52,"total_tokens":303,"prompt_tokens_details":{"cached_tokens":0}},"service_tier":"default"}' "$content"
}

fake_sse() { # 20 chunk events + [DONE]
    local i pre='{"id":"chatcmpl-bench00000000000000000000000000","object":"chat.completion.chunk","created":1700000000,"model":"llama-3.3-70b-versatile","system_fingerprint":"fp_bench0000","choices":[{"index":0,"delta":'
    printf 'data: %s{"role":"assistant","content":""},"logprobs":null,"finish_reason":null}]}\n\n' "$pre"
    for i in "${sse_words[@]}"; do
        printf 'data: %s{"content":"%s"},"logprobs":null,"finish_reason":null}]}\n\n' "$pre" "$i"
    done
    printf 'data: %s{},"logprobs":null,"finish_reason":"stop"}],"usage":{"prompt_tokens":251,"completion_tokens":18,"total_tokens":269}}\n\n' "$pre"
    printf 'data: [DONE]\n\n'
}

render_conf() { # render_conf TEMPLATE DIR PORT WORKERS UP_PORT > conf
    local conf
    conf=$(<"$1")
    conf=${conf//@DIR@/$2}
    conf=${conf//@PORT@/$3}
    conf=${conf//@WORKERS@/$4}
    conf=${conf//@UP_PORT@/$5}
    conf=${conf//@JSON_BODY@/$(fake_json)}
    printf '%s\n' "$conf"
}

start_nginx() { # start_nginx NAME TEMPLATE PORT WORKERS UP_PORT; sets last_pid
    local dir="$tmp/$1"
    mkdir -p "$dir"
    chmod 755 "$dir"
    render_conf "$here/$2" "$dir" "$3" "$4" "$5" >"$dir/nginx.conf"
    nginx -p "$dir" -c "$dir/nginx.conf" -t -q -e "$dir/error.log" 2>"$dir/test.log" || {
        cat "$dir/test.log" >&2
        die "nginx rejected $dir/nginx.conf"
    }
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" -g 'daemon off;' >"$dir/stdout.log" 2>&1 &
    last_pid=$!
    started_pids+=("$last_pid")
    wait_http "$3" "$last_pid" "$dir/error.log"
}

# ---------------------------------------------------------------------------------------------
# /proc readers (no forks: bash's `times` must only see wrk among the children of a measured run).
clk_tck=$(getconf CLK_TCK)

proc_ticks() { # proc_ticks VAR PID...: utime+stime of each PID and its direct children
    local total=0 p q line fields kids
    for p in "${@:2}"; do
        kids=()
        if [ -r "/proc/$p/task/$p/children" ]; then read -r -a kids <"/proc/$p/task/$p/children" || true; fi
        for q in "$p" "${kids[@]+"${kids[@]}"}"; do
            [ -r "/proc/$q/stat" ] || continue
            read -r line <"/proc/$q/stat" || continue
            read -r -a fields <<<"${line##*) }"
            total=$((total + fields[11] + fields[12]))
        done
    done
    printf -v "$1" '%s' "$total"
}

box_ticks() { # box_ticks BUSY_VAR: busy ticks summed over all CPUs, from /proc/stat
    local _cpu user nice sys _idle _iow irq sirq steal _rest
    read -r _cpu user nice sys _idle _iow irq sirq steal _rest </proc/stat
    printf -v "$1" '%s' $((user + nice + sys + irq + sirq + steal))
}

children_ms() { # children_ms VAR: CPU of waited-for children (bash `times`, second line)
    local line
    times >"$tmp/times"
    line=$(sed -n 2p "$tmp/times")
    printf -v "$1" '%s' "$(awk '{ t = 0; for (i = 1; i <= 2; i++) { split($i, a, "m"); sub("s", "", a[2]); t += a[1] * 60000 + a[2] * 1000 } printf "%d", t }' <<<"$line")"
}

vm_kb() { # vm_kb PID FIELD (VmRSS, VmHWM) -> kB on stdout
    awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status"
}

# ---------------------------------------------------------------------------------------------
# Start the fake provider and nginx-proxy.
up_port=""
px_port=""
pick_port up_port
pick_port px_port
start_nginx upstream nginx-upstream.conf "$up_port" "$up_workers" 0
up_pid=$last_pid
fake_sse >"$tmp/upstream/sse.txt"
chmod 644 "$tmp/upstream/sse.txt"
start_nginx proxy nginx-proxy.conf "$px_port" "$workers" "$up_port"
px_pid=$last_pid

# ---------------------------------------------------------------------------------------------
# Start the gateway, log in, create the two connections.
gw_port=""
gw_pid=""
idle_rss_kb=""
load_rss_kb=""
login_rss_kb=""
login_anon_kb=""
login_file_kb=""
end_anon_kb=""
if [ "$skip_gw" != 1 ]; then
    pick_port gw_port
    mkdir -p "$tmp/gw-data"
    PORT=$gw_port HOSTNAME=127.0.0.1 DATA_DIR="$tmp/gw-data" INITIAL_PASSWORD=bench \
        OMNIROUTE_WORKERS=$workers OMNIROUTE_LOG=warn REQUIRE_API_KEY=false \
        "$gw_bin" >"$tmp/gateway.log" 2>&1 &
    gw_pid=$!
    started_pids+=("$gw_pid")
    wait_http "$gw_port" "$gw_pid" "$tmp/gateway.log"
    idle_rss_kb=$(vm_kb "$gw_pid" VmRSS)

    code=$(curl -sS -o "$tmp/login.out" -w '%{http_code}' -c "$tmp/cookies" \
        -H 'Content-Type: application/json' -d '{"password":"bench"}' \
        "http://127.0.0.1:$gw_port/api/auth/login") || die "login request failed"
    [ "$code" = 200 ] || die "POST /api/auth/login answered $code: $(head -c 400 "$tmp/login.out")"
    login_rss_kb=$(vm_kb "$gw_pid" VmRSS)
    login_anon_kb=$(vm_kb "$gw_pid" RssAnon)
    login_file_kb=$(vm_kb "$gw_pid" RssFile)

    add_connection() { # add_connection PROVIDER NAME BASEURL
        local body code
        body=$(printf '{"provider":"%s","name":"%s","apiKey":"sk-bench","providerSpecificData":{"baseUrl":"%s"}}' "$1" "$2" "$3")
        code=$(curl -sS -o "$tmp/provider.out" -w '%{http_code}' -b "$tmp/cookies" \
            -H 'Content-Type: application/json' -d "$body" \
            "http://127.0.0.1:$gw_port/api/providers") || die "POST /api/providers failed"
        case "$code" in 200 | 201) ;; *) die "POST /api/providers ($1) answered $code: $(head -c 400 "$tmp/provider.out")" ;; esac
    }
    add_connection openai bench-json "http://127.0.0.1:$up_port/v1"
    add_connection groq bench-sse "http://127.0.0.1:$up_port/sse/v1"
fi

# ---------------------------------------------------------------------------------------------
# Targets: NAME -> URL, model, stream flag, PIDs whose CPU is "the proxy's". Keys are TARGET.KIND:
# json and sse (OpenAI chat bodies, bench/chat.lua) on every target, msg (Anthropic Messages body,
# bench/messages.lua) on the gateway only: nginx cannot translate.
declare -A t_url t_model t_stream t_pids
t_url[direct.json]="http://127.0.0.1:$up_port/v1/chat/completions"
t_url[nginx.json]="http://127.0.0.1:$px_port/v1/chat/completions"
t_url[direct.sse]="http://127.0.0.1:$up_port/sse/v1/chat/completions"
t_url[nginx.sse]="http://127.0.0.1:$px_port/sse/v1/chat/completions"
t_pids[direct]=""
t_pids[nginx]=$px_pid
targets=(direct nginx)
if [ "$skip_gw" != 1 ]; then
    t_url[gateway.json]="http://127.0.0.1:$gw_port/v1/chat/completions"
    t_url[gateway.sse]="http://127.0.0.1:$gw_port/v1/chat/completions"
    t_url[gateway.msg]="http://127.0.0.1:$gw_port/v1/messages"
    t_model[gateway.msg]=$sse_model
    t_stream[gateway.msg]=1
    t_pids[gateway]=$gw_pid
    targets+=(gateway)
fi
for t in "${targets[@]}"; do
    t_model[$t.json]=$json_model
    t_stream[$t.json]=0
    t_model[$t.sse]=$sse_model
    t_stream[$t.sse]=1
done
declare -A t_label=([direct]="direct (no proxy)" [nginx]="nginx-proxy" [gateway]="gateway")
phase_targets() { # phase_targets PHASE: sets pt to the targets PHASE measures
    if [ "$1" = xlate ]; then pt=(gateway); else pt=("${targets[@]}"); fi
}

# Every target must answer one request correctly before anything is timed.
check_target() { # check_target KEY
    local key=$1 code body ctype want
    body=$(printf '{"model":"%s",%s"temperature":0.7,"messages":[{"role":"user","content":"ping"}]}' \
        "${t_model[$key]}" "$([ "${t_stream[$key]}" = 1 ] && echo '"stream":true,')")
    code=$(curl -sS -o "$tmp/check.out" -D "$tmp/check.hdr" -w '%{http_code} %{content_type}' \
        -H 'Content-Type: application/json' -H 'X-OmniRoute-No-Cache: true' -d "$body" \
        "${t_url[$key]}") || die "check $key: request failed"
    ctype=${code#* }
    code=${code%% *}
    if [ "${t_stream[$key]}" = 1 ]; then want='data: [DONE]'; else want='"chat.completion"'; fi
    if [ "$code" != 200 ] || ! grep -qF "$want" "$tmp/check.out"; then
        cat "$tmp/check.hdr" >&2
        head -c 600 "$tmp/check.out" >&2
        echo >&2
        die "check $key (${t_url[$key]}): status $code, content-type '$ctype', body lacks $want"
    fi
    echo "  ok  $key  $code  $ctype  $(wc -c <"$tmp/check.out") bytes"
}

# The translated stream must be a whole Anthropic stream: message_start first, message_stop last,
# one data line per event, the content block events and a message_delta with stop_reason end_turn
# in between, and the text deltas spelling out exactly what the fake provider streamed.
msg_bytes=""
check_messages() { # check_messages KEY
    local key=$1 code body ctype events first last ev want text n_ev n_data fail=""
    body=$(printf '{"model":"%s","max_tokens":256,"stream":true,"temperature":0.7,"system":"You are a concise assistant used by a load test.","messages":[{"role":"user","content":"ping"}]}' \
        "${t_model[$key]}")
    code=$(curl -sS -o "$tmp/check.out" -D "$tmp/check.hdr" -w '%{http_code} %{content_type}' \
        -H 'Content-Type: application/json' -H 'x-api-key: sk-bench' -H 'anthropic-version: 2023-06-01' \
        -H 'X-OmniRoute-No-Cache: true' -d "$body" "${t_url[$key]}") || die "check $key: request failed"
    ctype=${code#* }
    code=${code%% *}
    tr -d '\r' <"$tmp/check.out" >"$tmp/check.lf"
    events=$(sed -n 's/^event: //p' "$tmp/check.lf")
    first=$(head -n1 <<<"$events")
    last=$(tail -n1 <<<"$events")
    n_ev=$(grep -c '^event: ' "$tmp/check.lf" || true)
    n_data=$(grep -c '^data: ' "$tmp/check.lf" || true)
    want=$(printf '%s' "${sse_words[@]}")
    text=$(grep '^data: .*"text_delta"' "$tmp/check.lf" | sed 's/.*"text":"\([^"]*\)".*/\1/' | tr -d '\n')
    [ "$code" = 200 ] || fail+=" status $code;"
    case "$ctype" in text/event-stream*) ;; *) fail+=" content-type '$ctype';" ;; esac
    [ "$first" = message_start ] || fail+=" first event '$first', not message_start;"
    [ "$last" = message_stop ] || fail+=" last event '$last', not message_stop;"
    [ "$n_ev" = "$n_data" ] || fail+=" $n_ev event lines but $n_data data lines;"
    for ev in content_block_start content_block_delta content_block_stop message_delta; do
        grep -qx "$ev" <<<"$events" || fail+=" no $ev event;"
    done
    grep -q '^data: .*"type":"message_delta".*"stop_reason":"end_turn"' "$tmp/check.lf" || fail+=" message_delta lacks stop_reason end_turn;"
    [ "$text" = "$want" ] || fail+=" text deltas spell '$text', want '$want';"
    if [ -n "$fail" ]; then
        cat "$tmp/check.hdr" >&2
        head -c 1500 "$tmp/check.out" >&2
        echo >&2
        die "check $key (${t_url[$key]}):$fail"
    fi
    msg_bytes=$(wc -c <"$tmp/check.out")
    echo "  ok  $key  $code  $ctype  $msg_bytes bytes, $n_ev events message_start .. message_stop, text matches the provider's"
}

# ---------------------------------------------------------------------------------------------
# One wrk run, fields stored in R[phase|target|round|field].
declare -A R
rm -rf "$out_dir/raw"
mkdir -p "$out_dir/raw"

# Connections the fake provider accepted (nginx stub_status): the delta over a measured run shows
# whether a proxy reuses its upstream connections. Each reading is itself one connection.
upstream_accepts() {
    curl -s --max-time 2 "http://127.0.0.1:$up_port/nginx_status" | awk 'NR == 3 { print $1 }'
}

# wrk runs in the background so that a signal reaches our trap at once (and the trap stops wrk).
wrk_pid=""
run_wrk() { # run_wrk SECONDS OUTFILE [RSS_PID]: RSS_PID's VmRSS is sampled half-way into mid_rss_kb
    local rc=0 line
    BENCH_MODEL=${t_model[$key]} BENCH_STREAM=${t_stream[$key]} wrk -d"$1s" "${args[@]}" >"$2" 2>&1 &
    wrk_pid=$!
    if [ -n "${3:-}" ]; then
        sleep "$(awk -v s="$1" 'BEGIN { print s / 2 }')"
        while read -r line; do
            case "$line" in VmRSS:*) line=${line#VmRSS:} && mid_rss_kb=${line% kB} && mid_rss_kb=${mid_rss_kb// /} ;; esac
        done <"/proc/$3/status"
    fi
    wait "$wrk_pid" || rc=$?
    wrk_pid=""
    return "$rc"
}

run_one() { # run_one PHASE TARGET ROUND
    local phase=$1 t=$2 r=$3 kind=json script=chat.lua c=$conns th=$threads key line json
    case "$phase" in
    sse) kind=sse ;;
    xlate) kind=msg script=messages.lua ;;
    c1) c=1 th=1 ;;
    esac
    key=$t.$kind
    local args=(-t"$th" -c"$c" --timeout "$wrk_timeout" --latency -s "$here/$script" "${t_url[$key]}")
    local raw="$out_dir/raw/r${r}-${phase}-${t}.txt"

    run_wrk "$warm" "$raw.warmup" || die "wrk warm-up failed: $(tail -n 5 "$raw.warmup")"

    local p0 u0 b0 w0 p1 u1 b1 w1 a0 a1
    local -a pids=() rss_pid=()
    [ -z "${t_pids[$t]}" ] || pids=("${t_pids[$t]}")
    [ "$t" != gateway ] || rss_pid=("$gw_pid")
    a0=$(upstream_accepts)
    proc_ticks p0 "${pids[@]+"${pids[@]}"}"
    proc_ticks u0 "$up_pid"
    box_ticks b0
    children_ms w0
    mid_rss_kb=""
    run_wrk "$secs" "$raw" "${rss_pid[@]+"${rss_pid[@]}"}" || die "wrk failed: $(tail -n 5 "$raw")"
    children_ms w1
    box_ticks b1
    proc_ticks u1 "$up_pid"
    proc_ticks p1 "${pids[@]+"${pids[@]}"}"
    a1=$(upstream_accepts)

    line=$(grep -m1 '^BENCH_JSON ' "$raw") || die "no summary line in $raw"
    json=${line#BENCH_JSON }
    local f v
    for f in requests duration_us p50_us p99_us err_connect err_read err_write err_timeout err_status non2xx first_non2xx incomplete; do
        v=$(sed -n "s/.*\"$f\":\([0-9-]*\).*/\1/p" <<<"$json")
        R[$phase|$t|$r|$f]=$v
    done
    local req=${R[$phase|$t|$r|requests]} dur=${R[$phase|$t|$r|duration_us]}
    R[$phase|$t|$r|up_conns]=$((a1 - a0 - 1))
    R[$phase|$t|$r|mid_rss]=$(awk -v k="$mid_rss_kb" 'BEGIN { if (k == "") print "-"; else printf "%.1f", k / 1024 }')
    if [ -n "$mid_rss_kb" ] && [ "$mid_rss_kb" -gt "${load_rss_kb:-0}" ]; then load_rss_kb=$mid_rss_kb; fi
    R[$phase|$t|$r|rps]=$(awk -v n="$req" -v d="$dur" 'BEGIN { printf "%.0f", n / (d / 1e6) }')
    # incomplete: 2xx streams without message_stop (messages.lua only; chat.lua has no such field).
    R[$phase|$t|$r|errors]=$((R[$phase|$t|$r|err_connect] + R[$phase|$t|$r|err_read] + R[$phase|$t|$r|err_write] + R[$phase|$t|$r|err_timeout] + R[$phase|$t|$r|non2xx] + ${R[$phase|$t|$r|incomplete]:-0}))
    # CPU per request of the proxy under test (nginx: master+workers; gateway: all threads).
    local us_per_tick=$((1000000 / clk_tck))
    if [ -n "${t_pids[$t]}" ] && [ "$req" -gt 0 ]; then
        R[$phase|$t|$r|cpu_us]=$(awk -v d=$((p1 - p0)) -v u="$us_per_tick" -v n="$req" 'BEGIN { printf "%.1f", d * u / n }')
    else
        R[$phase|$t|$r|cpu_us]="-"
    fi
    # Load on the box that is not ours (wrk, fake provider, proxy under test), in cores.
    local ours_ms=$(((p1 - p0 + u1 - u0) * 1000 / clk_tck + w1 - w0))
    R[$phase|$t|$r|other_cores]=$(awk -v busy=$((b1 - b0)) -v ours="$ours_ms" -v t="$clk_tck" -v d="$dur" \
        'BEGIN { o = (busy * 1000 / t - ours) / (d / 1000); if (o < 0) o = 0; printf "%.2f", o }')

    local flag=""
    [ "${R[$phase|$t|$r|errors]}" -gt 0 ] && flag="  <-- ERRORS"
    if awk -v o="${R[$phase|$t|$r|other_cores]}" -v lim="$noisy_cores" 'BEGIN { exit !(o > lim) }'; then
        R[$phase|$t|$r|noisy]=1
        flag+="  (noisy)"
    else
        R[$phase|$t|$r|noisy]=0
    fi
    printf '  round %d  %-6s %-8s rps %7s  p50 %7s us  p99 %8s us  cpu/req %5s us  other load %s cores  new upstream conns %s  errors %s%s\n' \
        "$r" "$phase" "$t" "${R[$phase|$t|$r|rps]}" "${R[$phase|$t|$r|p50_us]}" "${R[$phase|$t|$r|p99_us]}" \
        "${R[$phase|$t|$r|cpu_us]}" "${R[$phase|$t|$r|other_cores]}" "${R[$phase|$t|$r|up_conns]}" "${R[$phase|$t|$r|errors]}" "$flag"

    check_alive "$up_pid" "fake provider" "$tmp/upstream/error.log"
    check_alive "$px_pid" "nginx-proxy" "$tmp/proxy/error.log"
    [ -z "$gw_pid" ] || check_alive "$gw_pid" "gateway" "$tmp/gateway.log"
}

# ---------------------------------------------------------------------------------------------
started_at=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: fake provider :$up_port (${up_workers}w), nginx-proxy :$px_port (${workers}w)$([ -n "$gw_pid" ] && echo ", gateway :$gw_port (${workers}w)")"
n_runs=0
for phase in "${phases[@]}"; do
    phase_targets "$phase"
    n_runs=$((n_runs + ${#pt[@]}))
done
n_runs=$((n_runs * rounds))
echo "bench: ${rounds} rounds x phases (${phases[*]}) = $n_runs runs, ${warm}s warm-up + ${secs}s each"
echo "bench: checking every target once"
for t in "${targets[@]}"; do
    check_target "$t.json"
    check_target "$t.sse"
done
if ran xlate; then check_messages gateway.msg; fi

for ((r = 1; r <= rounds; r++)); do
    for phase in "${phases[@]}"; do
        # Rotate the order each round so no target always runs first (or right after another).
        phase_targets "$phase"
        n=${#pt[@]}
        for ((i = 0; i < n; i++)); do
            run_one "$phase" "${pt[$(((i + r - 1) % n))]}" "$r"
        done
    done
done
peak_rss_kb=""
end_rss_kb=""
if [ -n "$gw_pid" ]; then
    peak_rss_kb=$(vm_kb "$gw_pid" VmHWM)
    end_rss_kb=$(vm_kb "$gw_pid" VmRSS)
    end_anon_kb=$(vm_kb "$gw_pid" RssAnon)
fi
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

# ---------------------------------------------------------------------------------------------
# Medians and the report.
median() { # numbers on argv -> median on stdout ("-" if none)
    printf '%s\n' "$@" | { grep -E '^-?[0-9.]+$' || true; } | sort -g | awk '{ a[NR] = $1 } END { if (NR == 0) { print "-"; exit } if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}
collect() { # collect PHASE TARGET FIELD -> values over rounds
    local r
    for ((r = 1; r <= rounds; r++)); do printf '%s\n' "${R[$1|$2|$r|$3]:-}"; done
}
med() {
    local -a vals
    mapfile -t vals < <(collect "$@")
    median "${vals[@]}"
}
medi() { awk -v v="$(med "$@")" 'BEGIN { if (v == "-") print "-"; else printf "%.0f", v }'; } # integer median
ms() { awk -v v="$1" 'BEGIN { if (v == "-") print "-"; else printf "%.3f", v / 1000 }'; }
mib() { awk -v v="$1" 'BEGIN { if (v == "") print "-"; else printf "%.1f MiB", v / 1024 }'; }
# A ratio of a negative or zero quantity (an "added" latency that came out below direct's) is noise.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "-" || b == "-" || a + 0 < 0 || b + 0 <= 0) print "n/a"; else printf "%.2f", a / b }'; }
errsum() { # total errors over rounds for PHASE TARGET
    local r s=0
    for ((r = 1; r <= rounds; r++)); do s=$((s + ${R[$1|$2|$r|errors]:-0})); done
    echo "$s"
}

# Per-round ratios (same round, so the same background load) and their median.
xratio() { # xratio FIELD PHASE_A TARGET_A PHASE_B TARGET_B -> median over rounds of A/B
    local r vals=()
    for ((r = 1; r <= rounds; r++)); do vals+=("$(ratio "${R[$2|$3|$r|$1]:--}" "${R[$4|$5|$r|$1]:--}")"); done
    median "${vals[@]}"
}
per_round_ratio() { # PHASE FIELD A B -> median of A/B over rounds
    xratio "$2" "$1" "$3" "$1" "$4"
}
na() { if [ "$1" = - ]; then echo n/a; else echo "$1"; fi; }
row() { # row PHASE TARGET LABEL: one RPS / p50 / p99 / CPU / errors table row, or "not run"
    if ran "$1"; then
        echo "| $3 | $(medi "$1" "$2" rps) | $(ms "$(med "$1" "$2" p50_us)") | $(ms "$(med "$1" "$2" p99_us)") | $(med "$1" "$2" cpu_us) | $(errsum "$1" "$2") |"
    else
        echo "| $3 | phase $1 not run | | | | |"
    fi
}
# Added latency at c1: proxy minus direct in the same round.
added() { # added TARGET FIELD ROUND
    echo $((R[c1|$1|$3|$2] - R[c1|direct|$3|$2]))
}
added_med() {
    local r vals=()
    for ((r = 1; r <= rounds; r++)); do vals+=("$(added "$1" "$2" "$r")"); done
    median "${vals[@]}"
}

md="$out_dir/latest.md"
{
    echo "# Benchmark run $started_at"
    echo
    echo "- Machine: $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(uname -sr); load average before $load_before, after $load_after (the box is shared)."
    echo "- Tools: $(wrk -v 2>&1 | head -n1 | awk '{ print $1, $2 }'), $(nginx -v 2>&1 | sed 's/^nginx version: //')."
    if [ -n "$gw_pid" ]; then
        echo "- Gateway: \`$gw_bin\` (sha256 $(sha256sum "$gw_bin" | cut -c1-12), repo $(git -C "$here/.." describe --always --dirty 2>/dev/null || echo '?')), OMNIROUTE_WORKERS=$workers."
    else
        echo "- Gateway: skipped (BENCH_SKIP_GATEWAY=1)."
    fi
    echo "- Load: wrk, 1,024-byte JSON POST, ${warm} s warm-up + ${secs} s measured per run, ${rounds} interleaved rounds (order rotated each round); figures are medians over rounds. wrk timeout $wrk_timeout."
    echo "- Phases run: ${phases[*]} (of ${all_phases[*]})."
    echo "- nginx-proxy: $workers workers, upstream keepalive 64; fake provider: nginx, $up_workers workers."
    echo
    if ran tput; then
        echo "## Throughput: JSON, -t$threads -c$conns"
        echo
        echo "| target | RPS | p50 ms | p99 ms | proxy CPU µs/req | errors (all rounds) |"
        echo "|---|---:|---:|---:|---:|---:|"
        for t in "${targets[@]}"; do row tput "$t" "${t_label[$t]}"; done
        echo
    fi
    if ran sse; then
        echo "## Streaming: SSE (20 chunks + [DONE], $(wc -c <"$tmp/upstream/sse.txt") bytes), -t$threads -c$conns; latency is to the last byte"
        echo
        echo "| target | RPS | p50 ms | p99 ms | proxy CPU µs/req | errors (all rounds) |"
        echo "|---|---:|---:|---:|---:|---:|"
        for t in "${targets[@]}"; do row sse "$t" "${t_label[$t]}"; done
        echo
    fi
    if ran xlate; then
        echo "## Translated streaming: Anthropic Messages client → OpenAI provider, -t$threads -c$conns; latency is to the last byte"
        echo
        echo "1,024-byte Anthropic Messages body (\`stream: true\`) to the gateway's \`POST /v1/messages\` for \`$sse_model\`: the gateway translates it to OpenAI chat for the provider and the provider's SSE file ($(wc -c <"$tmp/upstream/sse.txt") bytes) back into Anthropic events ($msg_bytes bytes for the pre-check's answer). Passthrough rows are the streaming phase of the same rounds (OpenAI client → OpenAI provider). Errors include 2xx streams that lacked \`message_stop\`."
        echo
        echo "| target | RPS | p50 ms | p99 ms | proxy CPU µs/req | errors (all rounds) |"
        echo "|---|---:|---:|---:|---:|---:|"
        row xlate gateway "gateway, translated (Anthropic → OpenAI → Anthropic)"
        row sse gateway "gateway, passthrough (OpenAI → OpenAI)"
        row sse nginx "nginx-proxy, passthrough"
        echo
        echo "Ratios: median over rounds of the per-round ratio (RPS below 1 and latency or CPU above 1 mean translation costs more)."
        echo
        echo "| measure | translated ÷ gateway passthrough | translated ÷ nginx-proxy |"
        echo "|---|---:|---:|"
        for f in rps:RPS p50_us:"p50 latency" p99_us:"p99 latency" cpu_us:"proxy CPU µs/req"; do
            echo "| ${f#*:} | $(na "$(xratio "${f%%:*}" xlate gateway sse gateway)") | $(na "$(xratio "${f%%:*}" xlate gateway sse nginx)") |"
        done
        ran sse || echo "(phase sse was not run: no ratios)"
        echo
    fi
    if ran c1; then
        echo "## Added latency: JSON, -t1 -c1 (proxy minus direct, same round)"
        echo
        echo "| target | RPS | p50 ms | p99 ms | added p50 µs | added p99 µs | errors (all rounds) |"
        echo "|---|---:|---:|---:|---:|---:|---:|"
        for t in "${targets[@]}"; do
            if [ "$t" = direct ]; then a50="-" a99="-"; else a50=$(added_med "$t" p50_us) a99=$(added_med "$t" p99_us); fi
            echo "| ${t_label[$t]} | $(medi c1 "$t" rps) | $(ms "$(med c1 "$t" p50_us)") | $(ms "$(med c1 "$t" p99_us)") | $a50 | $a99 | $(errsum c1 "$t") |"
        done
        echo
    fi
    if [ -n "$gw_pid" ]; then
        rps_ratio=$(na "$(per_round_ratio tput rps gateway nginx)")
        sse_ratio=$(na "$(per_round_ratio sse rps gateway nginx)")
        p99_ratio=n/a p50_ratio=n/a c1_p99_ratio=n/a
        if ran c1; then
            p99_ratio=$(ratio "$(added_med gateway p99_us)" "$(added_med nginx p99_us)")
            p50_ratio=$(ratio "$(added_med gateway p50_us)" "$(added_med nginx p50_us)")
            c1_p99_ratio=$(na "$(per_round_ratio c1 p99_us gateway nginx)")
        fi
        verdict() { awk -v v="$1" -v lim="$2" -v op="$3" 'BEGIN { if (v == "n/a" || v == "-") print "n/a"; else if ((op == ">=" && v + 0 >= lim) || (op == "<=" && v + 0 <= lim)) print "met"; else print "MISSED" }'; }
        echo "## Gateway against the targets"
        echo
        echo "| measure | value | target | verdict |"
        echo "|---|---:|---:|---|"
        echo "| throughput, gateway / nginx-proxy RPS (median of per-round ratios) | $rps_ratio | ≥ 0.80 | $(verdict "$rps_ratio" 0.8 '>=') |"
        c1_noisy=0
        for ((r = 1; r <= rounds; r++)); do
            for t in "${targets[@]}"; do
                if [ "${R[c1|$t|$r|noisy]:-0}" = 1 ]; then c1_noisy=$((c1_noisy + 1)); fi
            done
        done
        c1_note=""
        [ "$c1_noisy" = 0 ] || c1_note=" ($c1_noisy of $((rounds * ${#targets[@]})) c1 runs noisy)"
        if ran c1; then
            echo "| added p99 at c1, gateway / nginx-proxy (ratio of medians: $(added_med gateway p99_us) / $(added_med nginx p99_us) µs) | $p99_ratio | ≤ 1.50 | $(verdict "$p99_ratio" 1.5 '<=')$c1_note |"
        else
            echo "| added p99 at c1, gateway / nginx-proxy (phase c1 not run) | n/a | ≤ 1.50 | n/a |"
        fi
        echo "| idle RSS after start + login (VmRSS; RssAnon $(mib "$login_anon_kb") + RssFile $(mib "$login_file_kb")) | $(mib "$login_rss_kb") | ≤ 10 MiB | $(verdict "$(awk -v k="$login_rss_kb" 'BEGIN { printf "%.2f", k / 1024 }')" 10 '<=') |"
        echo "| streaming, gateway / nginx-proxy RPS | $sse_ratio | (none) | |"
        echo "| added p50 at c1, gateway / nginx-proxy | $p50_ratio | (none) | |"
        echo "| p99 at c1 (not minus direct), gateway / nginx-proxy (median of per-round ratios) | $c1_p99_ratio | (none) | |"
        if ran xlate; then
            echo "| translated streaming (Anthropic → OpenAI), RPS ÷ gateway passthrough streaming | $(na "$(xratio rps xlate gateway sse gateway)") | (none) | |"
            echo "| translated streaming (Anthropic → OpenAI), RPS ÷ nginx-proxy streaming | $(na "$(xratio rps xlate gateway sse nginx)") | (none) | |"
        fi
        echo "| RSS right after start, before login | $(mib "$idle_rss_kb") | | |"
        echo "| highest VmRSS sampled half-way through a gateway run (under load) | $(mib "$load_rss_kb") | | |"
        echo "| peak RSS (VmHWM) after all runs (includes start-up and login: argon2id) | $(mib "$peak_rss_kb") | | |"
        echo "| RSS after all runs (VmRSS; RssAnon $(mib "$end_anon_kb")) | $(mib "$end_rss_kb") | | |"
        echo
    fi
    echo "## Every run"
    echo
    echo "Other load = CPU used on the box by anything but wrk, the fake provider and the proxy under test, in cores (of $(nproc))."
    echo
    echo "New upstream conns = connections the fake provider accepted during the measured run (for direct: wrk's own)."
    echo "Gateway VmRSS = sampled half-way through each gateway run."
    echo
    echo "Errors = connect/read/write/timeout/non-2xx, and for xlate runs /incomplete (2xx streams without message_stop)."
    echo
    echo "| round | phase | target | requests | RPS | p50 µs | p99 µs | proxy CPU µs/req | other load | new upstream conns | gateway VmRSS MiB | errors |"
    echo "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
    for ((r = 1; r <= rounds; r++)); do
        for phase in "${phases[@]}"; do
            phase_targets "$phase"
            for t in "${pt[@]}"; do
                k="$phase|$t|$r"
                e="${R[$k|err_connect]}/${R[$k|err_read]}/${R[$k|err_write]}/${R[$k|err_timeout]}/${R[$k|non2xx]}"
                [ -z "${R[$k|incomplete]}" ] || e+="/${R[$k|incomplete]}"
                [ "${R[$k|errors]}" -gt 0 ] && e="**$e** ⚠ (first non-2xx: ${R[$k|first_non2xx]})"
                echo "| $r | $phase | ${t_label[$t]} | ${R[$k|requests]} | ${R[$k|rps]} | ${R[$k|p50_us]} | ${R[$k|p99_us]} | ${R[$k|cpu_us]} | ${R[$k|other_cores]}$([ "${R[$k|noisy]}" = 1 ] && echo ' (noisy)') | ${R[$k|up_conns]} | ${R[$k|mid_rss]} | $e |"
            done
        done
    done
    flagged=0
    noisy=0
    for k in "${!R[@]}"; do
        case "$k" in
        *"|errors") if [ "${R[$k]}" -gt 0 ]; then flagged=$((flagged + 1)); fi ;;
        *"|noisy") if [ "${R[$k]}" = 1 ]; then noisy=$((noisy + 1)); fi ;;
        esac
    done
    echo
    echo "$noisy of $n_runs runs were noisy (other jobs took more than $noisy_cores of the $(nproc) cores)."
    echo
    if [ "$flagged" -gt 0 ]; then
        echo "**$flagged run(s) had errors (marked ⚠ above); their figures are not clean.**"
    else
        echo "No run had errors (connect/read/write/timeout), non-2xx answers or incomplete translated streams."
    fi
} >"$md"

if [ -n "$gw_pid" ]; then
    cp "$tmp/gateway.log" "$out_dir/gateway.log"
fi

# The same report on stdout, markdown tables turned into aligned columns.
echo
awk -F'|' '
    function flush(   i, j, line) {
        for (i = 1; i <= rows; i++) {
            line = sprintf("  %-" w[1] "s", cell[i, 1])
            for (j = 2; j <= ncol[i]; j++) line = line sprintf("  %" w[j] "s", cell[i, j])
            print line
        }
        rows = 0; delete w
    }
    /^\|---/ { next }
    /^\|/ { rows++; ncol[rows] = NF - 2
            for (i = 2; i < NF; i++) { v = $i; gsub(/^ +| +$/, "", v); gsub(/\*\*/, "", v); gsub(/µ/, "u", v); gsub(/≥/, ">=", v); gsub(/≤/, "<=", v); gsub(/→/, "->", v); gsub(/÷/, "/", v)
                cell[rows, i - 1] = v; if (length(v) > w[i - 1]) w[i - 1] = length(v) }
            next }
    { if (rows) flush() }
    /^#/ { sub(/^#+ /, ""); gsub(/µ/, "u"); print "== " $0 " =="; next }
    { print }
    END { if (rows) flush() }
' <(sed '/^## Every run/,$d' "$md")
grep -E 'run\(s\) had errors|No run had errors|runs were noisy' "$md" | sed 's/\*\*//g'
grep '^|.*⚠' "$md" | awk -F'|' '{ gsub(/\*\*/, ""); for (i = 2; i <= 13; i++) gsub(/ +$|^ +/, "", $i)
    printf "  FLAGGED: round %s, %s, %s: connect/read/write/timeout/non-2xx[/incomplete] = %s\n", $2, $3, $4, $13 }' || true
echo
echo "bench: report written to $md (raw wrk output in $out_dir/raw)"
