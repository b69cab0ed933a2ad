// Acceptance of issue 4 (combos and resilience): the official OpenAI SDK talks to the real
// omniroute binary; combos of OpenAI-compatible providers point at one mock upstream under
// different path prefixes, and the mock injects the faults (from the model name, or per
// credential with mock.setFault).
//
// What is checked: a combo [500 → 429 with Retry-After → healthy] answers every request and
// leaves the 429 account alone until its Retry-After passed; X-OmniRoute-Fallback-Attempts
// equals the number of upstream attempts; a failing provider's breaker opens, is skipped
// without a single upstream request, lets exactly one probe through after its cooldown and
// closes on the probe's success; a stream cut before its first token falls over invisibly,
// one cut after it ends in an OpenAI error chunk + [DONE]; with every target down the client
// gets one error in OpenAI's shape within bounded time.
//
// Timings: only order and counts are asserted, with seconds of slack (CI machines are loaded);
// the breaker test shortens the API-key profile's cooldown to 3 s (PATCH /api/resilience).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway } from '../lib/gateway.mjs';
import { adminApi } from '../lib/admin.mjs';
import { startMock, mockReplyText } from '../mock/mock.mjs';

const T = { timeout: 60000 };
const COOLDOWN = 3000; // breaker cooldown (ms) set through PATCH /api/resilience for the breaker test
// The relay's bounds (src/gateway/relay.c), shortened so that hangs and stalls are tested in
// seconds: no first byte within 3 s, no first token within 3 s, 12 s for all attempts.
const LIMITS = {
  OMNIROUTE_FIRST_BYTE_TIMEOUT_MS: '3000',
  OMNIROUTE_FIRST_TOKEN_TIMEOUT_MS: '3000',
  OMNIROUTE_FALLBACK_BUDGET_MS: '12000',
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// provider id → path prefix on the mock; each connection has its own key.
const PROVIDERS = {
  openai: 'a',
  groq: 'b',
  together: 'c',
  deepseek: 'd',
  fireworks: 'f',
  cerebras: 'g',
};
const keyOf = (p) => `sk-resil-${p}`;

let mock;
let gw;
let api; // the management API, once logged in
let client;
let stopped = null;

before(async () => {
  mock = await startMock();
  gw = await startGateway({ env: LIMITS });
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 45000 });
});

after(async () => {
  if (gw && stopped === null) await gw.stop();
  if (mock) await mock.close();
});

async function resetResilience() {
  const r = await api('POST', '/api/resilience/reset', {});
  assert.ok(r.status === 200 || r.status === 204, `POST /api/resilience/reset: ${r.status} ${r.text}`);
}

async function health() {
  const r = await api('GET', '/api/monitoring/health');
  assert.equal(r.status, 200, `GET /api/monitoring/health: ${r.text}`);
  return r.json;
}

// The breakers map wherever the health document keeps it ({breakers:{id:{state,…}}}, possibly
// nested, or an array of {id|name|provider, state}).
function findBreakers(obj, depth = 0) {
  if (!obj || typeof obj !== 'object' || depth > 4) return null;
  for (const k of ['breakers', 'circuitBreakers', 'circuit_breakers']) if (obj[k]) return obj[k];
  for (const v of Object.values(obj)) {
    const b = findBreakers(v, depth + 1);
    if (b) return b;
  }
  return null;
}

function breakerOf(h, id) {
  const b = findBreakers(h);
  if (!b) return undefined;
  if (Array.isArray(b)) return b.find((x) => [x.id, x.name, x.provider].includes(id));
  return b[id];
}

const stateOf = (b) => String(b?.state ?? 'CLOSED').toUpperCase();
const nextProbeAt = (b) => b?.next_probe_at ?? b?.nextProbeAt ?? null;

// Upstream records of one client request (its last user message is the marker).
function recordsFor(marker) {
  return mock.records.filter(
    (r) => r.path.endsWith('/chat/completions') && r.body?.messages?.some((m) => m.content === marker),
  );
}
const prefixOf = (r) => r.path.split('/')[1];
const recordsOf = (provider) =>
  mock.records.filter((r) => r.path.endsWith('/chat/completions') && prefixOf(r) === PROVIDERS[provider]);

function attemptsHeader(headers) {
  const v = headers.get('x-omniroute-fallback-attempts');
  assert.match(v ?? '', /^\d+$/, `X-OmniRoute-Fallback-Attempts: "${v}"`);
  return Number(v);
}

// One chat request through the SDK; returns what the client saw.
async function chat(model, marker, { stream = false } = {}) {
  const body = { model, messages: [{ role: 'user', content: marker }] };
  const t0 = Date.now();
  if (!stream) {
    const { data, response } = await client.chat.completions.create(body).withResponse();
    return {
      text: data.choices[0].message.content,
      finish: data.choices[0].finish_reason,
      headers: response.headers,
      ms: Date.now() - t0,
      expected: mockReplyText(body),
    };
  }
  const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
  let text = '';
  let finish = null;
  for await (const chunk of data) {
    const c = chunk.choices[0];
    if (c?.delta?.content) text += c.delta.content;
    if (c?.finish_reason) finish = c.finish_reason;
  }
  return { text, finish, headers: response.headers, ms: Date.now() - t0, expected: mockReplyText(body) };
}

function assertComplete(got, label) {
  assert.equal(got.text, got.expected, `${label}: complete text`);
  assert.equal(got.finish, 'stop', `${label}: finish_reason`);
}

// Splits an SSE body into its data payloads ('[DONE]' kept as the string).
function sseData(text) {
  const out = [];
  for (const frame of text.split(/\r?\n\r?\n/)) {
    for (const line of frame.split(/\r?\n/)) {
      if (!line.startsWith('data:')) continue;
      const d = line.slice(5).trim();
      if (d === '[DONE]') out.push(d);
      else if (d !== '') out.push(JSON.parse(d));
    }
  }
  return out;
}

function rawChat(body) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
    body: JSON.stringify(body),
  });
}

async function createCombo(name, models) {
  const r = await api('POST', '/api/combos', { name, models, strategy: 'priority' });
  assert.equal(r.status, 201, `POST /api/combos ${name}: ${r.status} ${r.text}`);
  assert.equal(typeof r.json?.id, 'string', `combo id: ${r.text}`);
  assert.equal(r.json.name, name);
  return r.json;
}

test('setup: one connection per provider on the mock, and the combos', T, async () => {
  api = adminApi(gw, await gw.login());
  for (const [provider, prefix] of Object.entries(PROVIDERS)) {
    const r = await api('POST', '/api/providers', {
      provider,
      name: `mock-${prefix}`,
      apiKey: keyOf(provider),
      providerSpecificData: { baseUrl: `${mock.url}/${prefix}/v1` },
    });
    assert.equal(r.status, 201, `POST /api/providers ${provider}: ${r.text}`);
  }
  // Every target answers directly (the providers and the mock prefixes are wired right).
  for (const p of ['together', 'deepseek', 'fireworks']) {
    const got = await chat(`${p}/gpt-4o-mini`, `direct ${p}`);
    assertComplete(got, p);
    const rs = recordsFor(`direct ${p}`);
    assert.equal(rs.length, 1);
    assert.equal(prefixOf(rs[0]), PROVIDERS[p]);
    assert.equal(rs[0].headers.authorization, `Bearer ${keyOf(p)}`);
  }

  await createCombo('c-fallback', [
    'openai/mock-status-500',
    'groq/mock-status-429-retry-2',
    'together/gpt-4o-mini',
  ]);
  await createCombo('c-breaker', ['deepseek/gpt-4o-mini', 'fireworks/gpt-4o-mini']);
  await createCombo('c-cut-first', ['cerebras/mock-reset-after-0', 'together/gpt-4o-mini']);
  await createCombo('c-cut-mid', ['cerebras/mock-reset-mid-stream', 'together/gpt-4o-mini']);
  await createCombo('c-down', ['openai/mock-status-500', 'groq/mock-status-503', 'cerebras/mock-status-502']);
  await createCombo('c-stall', ['cerebras/mock-drip-15000-n3', 'together/gpt-4o-mini']);
  await createCombo('c-hang', ['openai/mock-hang', 'groq/mock-hang', 'cerebras/mock-hang']);
  await createCombo('c-hang5', [
    'openai/mock-hang',
    'groq/mock-hang',
    'cerebras/mock-hang',
    'deepseek/mock-hang',
    'fireworks/mock-hang',
  ]);
});

test(
  'combo [500 → 429 Retry-After 2 → healthy]: every request succeeds; the 429 account waits out Retry-After; the header counts attempts',
  { timeout: 90000 },
  async (t) => {
    await resetResilience();
    const N = 10; // below the API-key breaker threshold (12), so the 500 target keeps being tried
    const rows = [];
    for (let i = 0; i < N; i++) {
      const marker = `fallback ${i}`;
      const stream = i % 2 === 1;
      const got = await chat('c-fallback', marker, { stream });
      assertComplete(got, `request ${i} (${stream ? 'stream' : 'non-stream'})`);
      const rs = recordsFor(marker);
      assert.equal(
        attemptsHeader(got.headers),
        rs.length,
        `request ${i}: header vs upstream attempts ${rs.map((r) => `${prefixOf(r)}:${r.status}`)}`,
      );
      assert.equal(got.headers.get('x-omniroute-provider'), 'together', `request ${i}: served by`);
      assert.equal(prefixOf(rs.at(-1)), PROVIDERS.together, `request ${i}: the last attempt is the healthy target`);
      assert.equal(rs.at(-1).status, 200);
      rows.push({ i, stream, ms: got.ms, path: rs.map((r) => `${prefixOf(r)}:${r.status}`).join(' ') });
      await sleep(450);
    }
    for (const r of rows) t.diagnostic(`#${r.i} ${r.stream ? 'S' : 'N'} ${r.ms} ms  ${r.path}`);

    // The first request walked the whole combo in order.
    const first = recordsFor('fallback 0').map((r) => `${prefixOf(r)}:${r.status}`);
    assert.deepEqual(first, ['a:500', 'b:429', 'c:200'], 'first request: 500, 429, then the healthy target');

    // The 429 account is never asked again before its Retry-After (2 s) is over.
    const r429 = recordsOf('groq').filter((r) => r.body?.messages?.[0]?.content?.startsWith('fallback '));
    const gaps = r429.slice(1).map((r, k) => r.receivedAt - r429[k].receivedAt);
    t.diagnostic(`429 target asked ${r429.length}× over the run; gaps ${gaps.map((g) => g.toFixed(0))} ms`);
    for (const g of gaps) assert.ok(g >= 1950, `429 target retried after ${g.toFixed(0)} ms < Retry-After 2 s`);
    // The 500 target is not in a cooldown of its own (no Retry-After; breaker below threshold).
    const r500 = recordsOf('openai').filter((r) => r.body?.messages?.[0]?.content?.startsWith('fallback '));
    t.diagnostic(`500 target asked ${r500.length}× for ${N} requests`);
  },
);

test(
  'breaker: N failures open it; it is skipped without an upstream request; after the cooldown one probe goes through and its success closes it',
  { timeout: 90000 },
  async (t) => {
    await resetResilience();
    // The API-key profile's threshold stays; its 30 s cooldown is shortened for the test.
    const prof0 = await api('GET', '/api/resilience');
    assert.equal(prof0.status, 200, prof0.text);
    const apikey0 = prof0.json.profiles.apikey;
    const patched = await api('PATCH', '/api/resilience', { profiles: { apikey: { cooldownMs: COOLDOWN } } });
    assert.equal(patched.status, 200, `PATCH /api/resilience: ${patched.text}`);
    assert.equal(patched.json.profiles.apikey.cooldownMs, COOLDOWN);
    mock.setFault(keyOf('deepseek'), 'status-500');
    try {
      const ds0 = recordsOf('deepseek').length;
      let opened = -1;
      for (let i = 0; i < 64; i++) {
        const marker = `brk fail ${i}`;
        const got = await chat('c-breaker', marker, { stream: i % 2 === 1 });
        assertComplete(got, `request ${i}`);
        assert.equal(got.headers.get('x-omniroute-provider'), 'fireworks', `request ${i}: served by the fallback`);
        const rs = recordsFor(marker);
        assert.equal(attemptsHeader(got.headers), rs.length, `request ${i}: header vs upstream attempts`);
        const st = stateOf(breakerOf(await health(), 'deepseek'));
        if (st === 'OPEN') {
          opened = i;
          break;
        }
      }
      const failures = recordsOf('deepseek').length - ds0;
      t.diagnostic(`breaker opened after ${failures} upstream failures (request #${opened})`);
      assert.ok(opened >= 0, 'the breaker opened within 64 failing requests');
      assert.equal(failures, apikey0.threshold, 'it opened at the profile threshold');

      // OPEN: requests skip deepseek entirely.
      const before = recordsOf('deepseek').length;
      for (let i = 0; i < 6; i++) {
        const marker = `brk open ${i}`;
        const got = await chat('c-breaker', marker, { stream: i % 2 === 0 });
        assertComplete(got, `open request ${i}`);
        assert.equal(got.headers.get('x-omniroute-provider'), 'fireworks');
        const rs = recordsFor(marker);
        assert.deepEqual(rs.map(prefixOf), [PROVIDERS.fireworks], `open request ${i}: only the fallback is asked`);
        assert.equal(attemptsHeader(got.headers), 1, `open request ${i}: one upstream attempt`);
      }
      assert.equal(recordsOf('deepseek').length, before, 'no request reached the provider while OPEN');

      // Wait for the cooldown: the health document says when the next probe is due.
      const b = breakerOf(await health(), 'deepseek');
      t.diagnostic(`breaker while open: ${JSON.stringify(b)}`);
      const due = nextProbeAt(b);
      assert.equal(typeof due, 'number', 'next_probe_at in the health document');
      assert.ok(due - Date.now() <= COOLDOWN + 1000, `next probe in ${due - Date.now()} ms`);
      while (Date.now() < due + 250) await sleep(Math.min(1000, Math.max(50, due + 250 - Date.now())));
      assert.equal(recordsOf('deepseek').length, before, 'still untouched until the cooldown ended');

      // The provider is healthy again but slow: four concurrent requests, exactly one is the probe.
      mock.setFault(keyOf('deepseek'), 'slow-first-byte-1000');
      const markers = [0, 1, 2, 3].map((i) => `brk probe ${i}`);
      const results = await Promise.all(markers.map((m, i) => chat('c-breaker', m, { stream: i % 2 === 1 })));
      results.forEach((g, i) => assertComplete(g, `probe-time request ${i}`));
      const probes = recordsOf('deepseek').length - before;
      const byProvider = results.map((g) => g.headers.get('x-omniroute-provider'));
      t.diagnostic(`during HALF_OPEN: ${byProvider.join(', ')}; requests that reached deepseek: ${probes}`);
      assert.equal(probes, 1, 'exactly one probe reaches the provider');
      assert.equal(byProvider.filter((p) => p === 'deepseek').length, 1, 'the probe answered its client');
      assert.equal(byProvider.filter((p) => p === 'fireworks').length, 3, 'the others went to the next target');

      assert.equal(stateOf(breakerOf(await health(), 'deepseek')), 'CLOSED', 'the probe success closed the breaker');
      mock.setFault(keyOf('deepseek'), null);
      const got = await chat('c-breaker', 'brk closed');
      assertComplete(got, 'after close');
      assert.equal(got.headers.get('x-omniroute-provider'), 'deepseek', 'traffic flows to the provider again');
      assert.deepEqual(recordsFor('brk closed').map(prefixOf), [PROVIDERS.deepseek]);
    } finally {
      mock.setFault(keyOf('deepseek'), null);
      await api('PATCH', '/api/resilience', { profiles: { apikey: apikey0 } });
    }
  },
);

test('stream reset before the first token: the client gets the complete answer from the next target', T, async () => {
  await resetResilience();
  const got = await chat('c-cut-first', 'cut first stream', { stream: true });
  assertComplete(got, 'stream');
  assert.equal(got.headers.get('x-omniroute-provider'), 'together');
  const rs = recordsFor('cut first stream');
  assert.deepEqual(rs.map(prefixOf), [PROVIDERS.cerebras, PROVIDERS.together], 'cut target, then the next');
  assert.ok(rs[0].destroyedByMock, 'the mock cut the first stream');
  assert.equal(attemptsHeader(got.headers), 2);

  // The raw stream has exactly one role chunk's worth of start: nothing of the cut attempt leaks.
  const res = await rawChat({
    model: 'c-cut-first',
    messages: [{ role: 'user', content: 'cut first raw' }],
    stream: true,
  });
  assert.equal(res.status, 200);
  const frames = sseData(await res.text());
  assert.equal(frames.at(-1), '[DONE]');
  const errs = frames.filter((f) => f !== '[DONE]' && f.error);
  assert.equal(errs.length, 0, `no error frame: ${JSON.stringify(errs)}`);
  const roles = frames.filter((f) => f !== '[DONE]' && f.choices?.[0]?.delta?.role);
  assert.ok(roles.length <= 1, `one assistant start, not one per attempt (${roles.length})`);
  const text = frames
    .filter((f) => f !== '[DONE]')
    .map((f) => f.choices?.[0]?.delta?.content ?? '')
    .join('');
  assert.equal(text, mockReplyText({ messages: [{ role: 'user', content: 'cut first raw' }] }));
});

test('non-stream reply cut mid-body: the client gets the complete answer from the next target', T, async () => {
  await resetResilience();
  const got = await chat('c-cut-mid', 'cut non-stream');
  assertComplete(got, 'non-stream');
  assert.equal(got.headers.get('x-omniroute-provider'), 'together');
  assert.deepEqual(recordsFor('cut non-stream').map(prefixOf), [PROVIDERS.cerebras, PROVIDERS.together]);
  assert.equal(attemptsHeader(got.headers), 2);
});

test('stream reset after the first token: OpenAI error chunk + [DONE], the SDK throws, no second target', T, async () => {
  await resetResilience();
  const marker = 'cut after first token';
  const body = { model: 'c-cut-mid', messages: [{ role: 'user', content: marker }], stream: true };
  const full = mockReplyText(body);

  // Raw SSE: some content, then one error frame, then [DONE]; never a normal finish.
  const res = await rawChat(body);
  assert.equal(res.status, 200);
  let raw;
  try {
    raw = await res.text();
  } catch (e) {
    assert.fail(`the gateway cut the client's stream instead of terminating it properly: ${e}`);
  }
  const frames = sseData(raw);
  assert.equal(frames.at(-1), '[DONE]', `ends with [DONE]: ${raw.slice(-300)}`);
  const errs = frames.filter((f) => f !== '[DONE]' && f.error);
  assert.equal(errs.length, 1, `exactly one error frame: ${raw.slice(-600)}`);
  assert.equal(typeof errs[0].error.message, 'string');
  assert.ok(errs[0].error.message.length > 0);
  const errAt = frames.indexOf(errs[0]);
  assert.equal(errAt, frames.length - 2, 'the error frame is the last before [DONE]');
  const text = frames
    .slice(0, errAt)
    .map((f) => f.choices?.[0]?.delta?.content ?? '')
    .join('');
  assert.ok(text.length > 0, 'the first tokens reached the client');
  assert.ok(full.startsWith(text) && text.length < full.length, `a strict prefix of the reply: "${text}"`);
  for (const f of frames.slice(0, errAt)) assert.notEqual(f.choices?.[0]?.finish_reason, 'stop', 'no normal finish');
  assert.deepEqual(recordsFor(marker).map(prefixOf), [PROVIDERS.cerebras], 'no second target after content was sent');

  // The SDK raises instead of returning truncated text.
  const marker2 = 'cut after first token sdk';
  let text2 = '';
  await assert.rejects(
    (async () => {
      const stream = await client.chat.completions.create({ ...body, messages: [{ role: 'user', content: marker2 }] });
      for await (const chunk of stream) text2 += chunk.choices[0]?.delta?.content ?? '';
    })(),
    (e) => e instanceof OpenAI.APIError,
  );
  assert.ok(text2.length > 0, 'content arrived before the error');
  assert.deepEqual(recordsFor(marker2).map(prefixOf), [PROVIDERS.cerebras]);
});

test('all targets down: one OpenAI-shaped error within bounded time, stream and non-stream', T, async (t) => {
  await resetResilience();
  const LIMIT = 30000;

  let t0 = Date.now();
  const res = await rawChat({ model: 'c-down', messages: [{ role: 'user', content: 'down non-stream' }] });
  const raw = await res.text();
  let ms = Date.now() - t0;
  t.diagnostic(`non-stream: ${res.status} after ${ms} ms: ${raw.slice(0, 300)}`);
  assert.ok(ms < LIMIT, `answered in ${ms} ms`);
  assert.ok(res.status >= 500 && res.status <= 599, `a 5xx: ${res.status}`);
  const j = JSON.parse(raw);
  assert.equal(typeof j.error?.message, 'string', `OpenAI error shape: ${raw}`);
  assert.ok('type' in j.error && 'code' in j.error, `error.type and error.code: ${raw}`);
  let rs = recordsFor('down non-stream');
  t.diagnostic(`upstream attempts: ${rs.map((r) => `${prefixOf(r)}:${r.status}`)}`);
  for (const p of ['openai', 'groq', 'cerebras'])
    assert.ok(rs.some((r) => prefixOf(r) === PROVIDERS[p]), `${p} was tried`);
  assert.ok(rs.length <= 10, `a bounded number of attempts (${rs.length})`);
  assert.equal(attemptsHeader(res.headers), rs.length, 'the header counts the attempts');

  // Stream: nothing was sent before every target failed, so the SDK gets a typed error.
  t0 = Date.now();
  await assert.rejects(
    (async () => {
      const s = await client.chat.completions.create({
        model: 'c-down',
        messages: [{ role: 'user', content: 'down stream' }],
        stream: true,
      });
      for await (const _ of s); // drain
    })(),
    (e) => e instanceof OpenAI.APIError && (e.status === undefined || e.status >= 500),
  );
  ms = Date.now() - t0;
  assert.ok(ms < LIMIT, `stream failed in ${ms} ms`);
  rs = recordsFor('down stream');
  assert.ok(rs.length >= 3 && rs.length <= 10, `attempts ${rs.length}`);

  // Raw stream: one error, in OpenAI's shape — a JSON error reply, or an error frame + [DONE].
  const res2 = await rawChat({
    model: 'c-down',
    messages: [{ role: 'user', content: 'down stream raw' }],
    stream: true,
  });
  const raw2 = await res2.text();
  if (res2.status === 200) {
    const frames = sseData(raw2);
    assert.equal(frames.at(-1), '[DONE]');
    assert.equal(frames.filter((f) => f !== '[DONE]' && f.error).length, 1, raw2);
    assert.ok(!frames.some((f) => f.choices?.[0]?.delta?.content), 'no content');
  } else {
    assert.ok(res2.status >= 500, `stream error status ${res2.status}`);
    assert.equal(typeof JSON.parse(raw2).error?.message, 'string', raw2);
  }
});

test('a stream that stalls before its first token falls over to the next target', T, async (t) => {
  await resetResilience();
  const got = await chat('c-stall', 'stall stream', { stream: true });
  t.diagnostic(`answered in ${got.ms} ms (first-token timeout 3 s; the stalled upstream's first token was 15 s away)`);
  assertComplete(got, 'stream');
  assert.equal(got.headers.get('x-omniroute-provider'), 'together');
  const rs = recordsFor('stall stream');
  assert.deepEqual(rs.map(prefixOf), [PROVIDERS.cerebras, PROVIDERS.together]);
  await mock.waitFor((x) => x === rs[0] && x.closedEarlyAt !== null, 5000).catch(() => {});
  assert.ok(rs[0].closedEarlyAt, 'the gateway hung up on the stalled upstream');
  assert.ok(got.ms < 12000, `did not wait for the stalled upstream (${got.ms} ms)`);
  assert.equal(attemptsHeader(got.headers), 2);
});

test('all targets hang: one OpenAI-shaped error within the bounded time, never a hang', { timeout: 90000 }, async (t) => {
  await resetResilience();
  const LIMIT = 25000; // 3 targets × 3 s first-byte timeout, 12 s budget, plenty of slack
  let t0 = Date.now();
  const res = await rawChat({ model: 'c-hang', messages: [{ role: 'user', content: 'hang non-stream' }] });
  const raw = await res.text();
  let ms = Date.now() - t0;
  const rs = recordsFor('hang non-stream');
  t.diagnostic(`non-stream: ${res.status} after ${ms} ms; attempts ${rs.map(prefixOf)}: ${raw.slice(0, 300)}`);
  assert.ok(ms < LIMIT, `answered in ${ms} ms`);
  assert.ok(res.status >= 500 && res.status <= 599, `a 5xx: ${res.status}`);
  assert.equal(typeof JSON.parse(raw).error?.message, 'string', `OpenAI error shape: ${raw}`);
  assert.ok(rs.length >= 1 && rs.length <= 3, `each target at most once (${rs.length})`);
  assert.equal(attemptsHeader(res.headers), rs.length);
  // The close of the last one may reach the mock just after the reply reached us.
  for (const r of rs) {
    await mock.waitFor((x) => x === r && x.closedEarlyAt !== null, 5000).catch(() => {});
    assert.ok(r.closedEarlyAt, `the gateway hung up on ${prefixOf(r)}`);
  }

  t0 = Date.now();
  await assert.rejects(
    (async () => {
      const s = await client.chat.completions.create({
        model: 'c-hang',
        messages: [{ role: 'user', content: 'hang stream' }],
        stream: true,
      });
      for await (const _ of s); // drain
    })(),
    (e) => e instanceof OpenAI.APIError && !(e instanceof OpenAI.APIConnectionTimeoutError),
  );
  ms = Date.now() - t0;
  t.diagnostic(`stream: failed after ${ms} ms; attempts ${recordsFor('hang stream').map(prefixOf)}`);
  assert.ok(ms < LIMIT, `stream failed in ${ms} ms`);
});

test('the fallback budget bounds the total time when the targets would take longer', { timeout: 60000 }, async (t) => {
  await resetResilience();
  // Five hanging targets × 3 s first-byte timeout = 15 s > the 12 s budget.
  const t0 = Date.now();
  const res = await rawChat({ model: 'c-hang5', messages: [{ role: 'user', content: 'hang budget' }] });
  const raw = await res.text();
  const ms = Date.now() - t0;
  const rs = recordsFor('hang budget');
  t.diagnostic(`${res.status} after ${ms} ms; attempts ${rs.map(prefixOf)}: ${raw.slice(0, 300)}`);
  assert.ok(res.status >= 500 && res.status <= 599, `a 5xx: ${res.status}`);
  assert.equal(typeof JSON.parse(raw).error?.message, 'string', `OpenAI error shape: ${raw}`);
  assert.ok(rs.length < 5, `the budget ran out before the fifth target (${rs.length} attempts)`);
  assert.ok(ms < 12000 + 4000, `answered within the budget, with slack (${ms} ms)`);
});

test('the gateway exits 0 on SIGTERM', T, async () => {
  stopped = await gw.stop();
  assert.deepEqual(stopped, { code: 0, sig: null }, `exit: ${JSON.stringify(stopped)}\n${gw.stderr().slice(-4000)}`);
});
