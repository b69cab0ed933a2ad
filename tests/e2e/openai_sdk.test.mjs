// Acceptance of the foundation: the official OpenAI SDK talks to the real omniroute binary, which
// routes "openai/<model>" to an OpenAI-compatible mock upstream (tests/mock/mock.mjs).
//
// The tests run in file order and share one gateway and one provider connection. Requests that
// may put the connection into a cooldown (injected 500/429) come last, after the ones that need
// it healthy (including the admin CRUD test, which renames it and routes through it); the
// gateway is stopped (SIGTERM) only at the end, where its usage rows and exit code are checked.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { assertOpenAIError } from '../lib/errors.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { startMock, mockReplyText, mockUsage, mockErrorBody } from '../mock/mock.mjs';

const T = { timeout: 30000 };
const UPSTREAM_KEY = 'sk-test-123';

let mock;
let gw;
let cookie;
let conn; // the connection created in test 1
let client;
let stopped = null; // {code, sig} once the gateway was stopped
const requestIds = {}; // label → x-omniroute-request-id, checked against the usage table

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
});

after(async () => {
  if (gw && stopped === null) await gw.stop();
  else if (gw) rmSync(gw.dataDir, { recursive: true, force: true });
  if (mock) await mock.close();
});

function api(method, p, body, { auth = true } = {}) {
  const headers = {};
  if (auth) headers.cookie = cookie;
  if (body !== undefined) headers['content-type'] = 'application/json';
  return fetch(gw.url + p, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
}

function chatFetch(body) {
  return fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

// The mock record of the chat request whose last user message is `marker`.
function upstreamRecord(marker) {
  const rs = mock.records.filter(
    (r) => r.url.endsWith('/chat/completions') && r.body?.messages?.some((m) => m.content === marker),
  );
  assert.equal(rs.length, 1, `exactly one upstream request for "${marker}" (got ${rs.length})`);
  return rs[0];
}

function assertNoSecret(obj, secret) {
  const text = JSON.stringify(obj);
  assert.ok(!text.includes(secret), `secret leaked: ${text}`);
}

// Splits an SSE text into the JSON payloads of its data lines (skips [DONE] and comments).
function sseData(text) {
  const out = [];
  for (const frame of text.split(/\r?\n\r?\n/)) {
    for (const line of frame.split(/\r?\n/)) {
      if (!line.startsWith('data:')) continue;
      const d = line.slice(5).trim();
      if (d !== '[DONE]' && d !== '') out.push(JSON.parse(d));
    }
  }
  return out;
}

test('1. login and create an openai connection pointing at the mock', T, async () => {
  cookie = await gw.login();
  assert.ok(cookie && cookie.includes('='), `cookie: ${cookie}`);
  const res = await api('POST', '/api/providers', {
    provider: 'openai',
    name: 'mock',
    apiKey: UPSTREAM_KEY,
    providerSpecificData: { baseUrl: `${mock.url}/v1` },
  });
  const j = await res.json();
  assert.equal(res.status, 201, JSON.stringify(j));
  conn = j.connection;
  assert.equal(typeof conn?.id, 'string');
  assert.ok(conn.id.length > 0);
  assert.equal(conn.provider, 'openai');
  assert.equal(conn.name, 'mock');
  assert.ok(!('apiKey' in conn), 'no apiKey in the created connection');
  assertNoSecret(j, UPSTREAM_KEY);
});

test('2. non-stream chat through the SDK reaches the mock with the model rewritten', T, async () => {
  const marker = 'non-stream hello';
  const sent = {
    model: 'openai/gpt-4o-mini',
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: marker },
    ],
    temperature: 0.3,
    max_tokens: 64,
    user: 'e2e-user',
  };
  const { data, response } = await client.chat.completions.create(sent).withResponse();
  requestIds.nonStream = response.headers.get('x-omniroute-request-id');
  const expectedText = mockReplyText(sent);
  assert.equal(data.choices[0].message.content, expectedText);
  assert.equal(data.choices[0].finish_reason, 'stop');
  assert.deepEqual(data.usage, mockUsage(sent));

  const r = upstreamRecord(marker);
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/v1/chat/completions');
  assert.equal(r.headers.authorization, `Bearer ${UPSTREAM_KEY}`);
  assert.equal(r.body.model, 'gpt-4o-mini');
  assert.deepEqual({ ...r.body, model: sent.model }, sent, 'every other field passes through unchanged');
});

test(
  '3. streaming: deltas concatenate to the mock text; include_usage brings the usage chunk',
  T,
  async () => {
    const marker = 'stream hello';
    const sent = {
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: marker }],
      stream: true,
      stream_options: { include_usage: true },
    };
    const { data: stream, response } = await client.chat.completions.create(sent).withResponse();
    requestIds.stream = response.headers.get('x-omniroute-request-id');
    assert.match(response.headers.get('content-type') || '', /^text\/event-stream/);
    let text = '';
    let usage = null;
    let chunks = 0;
    let finish = null;
    for await (const chunk of stream) {
      chunks++;
      const c = chunk.choices[0];
      if (c?.delta?.content) text += c.delta.content;
      if (c?.finish_reason) finish = c.finish_reason;
      if (chunk.usage) usage = chunk.usage;
    }
    assert.ok(chunks >= 4, `several chunks (${chunks})`);
    assert.equal(text, mockReplyText(sent));
    assert.equal(finish, 'stop');
    assert.deepEqual(usage, mockUsage(sent));

    const r = upstreamRecord(marker);
    assert.equal(r.body.model, 'gpt-4o-mini');
    assert.equal(r.body.stream, true);
    assert.deepEqual(r.body.stream_options, { include_usage: true });
    assert.equal(r.closedEarlyAt, null);
  },
);

test('3a. a whole stream in one upstream write: same text, usage chunk relayed and recorded', T, async () => {
  // Every event then reaches the gateway in one read: the first token, the usage chunk and
  // [DONE] are found in the same buffer (the relay reads them without a JSON tree).
  const marker = 'one write hello';
  const sent = {
    model: 'openai/gpt-4o-mini-one-write',
    messages: [{ role: 'user', content: marker }],
    stream: true,
    stream_options: { include_usage: true },
  };
  const { data: stream, response } = await client.chat.completions.create(sent).withResponse();
  requestIds.oneWrite = response.headers.get('x-omniroute-request-id');
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    if (chunk.choices[0]?.delta?.content) text += chunk.choices[0].delta.content;
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text, mockReplyText(sent));
  assert.deepEqual(usage, mockUsage(sent));
  assert.equal(upstreamRecord(marker).fault.oneWrite, true);
});

test('3b. upstream connections are reused across sequential requests', T, async (t) => {
  const c0 = mock.connections;
  for (let i = 0; i < 10; i++) {
    await client.chat.completions.create({
      model: 'openai/gpt-4o-mini',
      messages: [{ role: 'user', content: `reuse ${i}` }],
    });
  }
  const opened = mock.connections - c0;
  t.diagnostic(`new upstream connections for 10 requests: ${opened}`);
  // One keep-alive connection per worker at most (OMNIROUTE_WORKERS=2 in tests/lib/gateway.mjs).
  assert.ok(opened <= 2, `${opened} new upstream connections for 10 sequential requests`);
});

test('4. X-OmniRoute-* response headers', T, async () => {
  const check = (h, label) => {
    assert.equal(h.get('x-omniroute-provider'), 'openai', `${label}: provider`);
    assert.equal(h.get('x-omniroute-model'), 'gpt-4o-mini', `${label}: model`);
    const id = h.get('x-omniroute-request-id');
    assert.ok(id && id.length >= 8, `${label}: request id "${id}"`);
    const lat = h.get('x-omniroute-latency-ms');
    assert.match(lat || '', /^\d+(\.\d+)?$/, `${label}: latency "${lat}"`);
    assert.ok(Number(lat) < 10000);
    return id;
  };
  const a = await client.chat.completions
    .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'headers 1' }] })
    .withResponse();
  const idA = check(a.response.headers, 'non-stream');
  const b = await client.chat.completions
    .create({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'headers 2' }], stream: true })
    .withResponse();
  const idB = check(b.response.headers, 'stream');
  for await (const _ of b.data); // drain
  assert.notEqual(idA, idB, 'request ids are unique');
});

test('7. GET /v1/models lists openai models prefixed "openai/"', T, async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  const openai = ids.filter((id) => id.startsWith('openai/'));
  assert.ok(openai.length > 0, `openai/ models in ${JSON.stringify(ids.slice(0, 20))}`);
});

test('5a. errors: unknown provider, provider without connection, bad JSON', T, async () => {
  let res = await chatFetch({ model: 'nope/x', messages: [{ role: 'user', content: 'hi' }] });
  let j = await res.json();
  assert.ok(res.status === 400 || res.status === 404, `unknown provider: ${res.status} ${JSON.stringify(j)}`);
  assertOpenAIError(j);
  assert.ok(j.error.message.includes('nope/x'), `names the model: ${j.error.message}`);

  res = await chatFetch({ model: 'groq/llama', messages: [{ role: 'user', content: 'hi' }] });
  j = await res.json();
  assert.equal(res.status, 503, `no connection: ${JSON.stringify(j)}`);
  assertOpenAIError(j);

  res = await chatFetch('{"model": "openai/gpt-4o-mini", "messages": [');
  j = await res.json();
  assert.equal(res.status, 400, `bad JSON: ${JSON.stringify(j)}`);
  assertOpenAIError(j);

  // The SDK maps these to its typed errors.
  await assert.rejects(
    client.chat.completions.create({ model: 'groq/llama', messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof OpenAI.APIError && e.status === 503,
  );
});

test('8. client abort mid-stream closes the upstream connection (latency reported)', T, async (t) => {
  const marker = 'abort me';
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'openai/mock-drip-50', messages: [{ role: 'user', content: marker }], stream: true },
    { signal: ac.signal },
  );
  let contentChunks = 0;
  let abortAt = 0;
  const arrivals = []; // when each content chunk reached the client: frames must not be batched
  // After abort() the SDK's iterator either ends quietly or throws its abort error.
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) {
        contentChunks++;
        arrivals.push(Date.now());
      }
      if (contentChunks === 3 && abortAt === 0) {
        abortAt = Date.now();
        ac.abort();
      }
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `abort error: ${e}`);
  }
  assert.ok(abortAt > 0, 'got three content chunks before aborting');
  // The mock sends one token every 50 ms; a gateway that flushes each frame delivers them spread out.
  // (Timing is reported, not asserted: a loaded CI box must not turn scheduling into failures.)
  t.diagnostic(`chunk arrivals ${arrivals.map((a) => a - arrivals[0])} ms`);
  const r = await mock.waitFor(
    (x) => x.body?.messages?.[0]?.content === marker && x.closedEarlyAt !== null,
    5000,
  );
  const dt = r.closedEarlyAt - abortAt;
  t.diagnostic(`upstream closed ${dt.toFixed(1)} ms after the abort`);
  // The close came from the gateway (not the mock finishing): the drip had ~200 tokens to go.
  assert.ok(r.closedEarlyAt >= abortAt, 'closed after (because of) the abort');
  assert.ok(r.contentBytesWritten < 200 * 6, 'the upstream did not run to completion');
});

test(
  '9. slow client: memory stays bounded and backpressure reaches the upstream',
  { timeout: 60000 },
  async (t) => {
    const MB = 64;
    const marker = 'big stream';
    const rss0 = gw.rss();
    assert.ok(rss0 > 0, 'can read the gateway RSS');
    const res = await new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: gw.port,
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { 'content-type': 'application/json', authorization: 'Bearer anything' },
        },
        resolve,
      );
      req.on('error', reject);
      req.end(
        JSON.stringify({
          model: `openai/mock-big-stream-${MB}`,
          messages: [{ role: 'user', content: marker }],
          stream: true,
        }),
      );
    });
    res.pause();
    assert.equal(res.statusCode, 200);

    let peak = rss0;
    const t0 = Date.now();
    while (Date.now() - t0 < 3000) {
      await new Promise((r) => setTimeout(r, 100));
      peak = Math.max(peak, gw.rss());
    }
    const growth = (peak - rss0) / (1024 * 1024);
    const r = upstreamRecord(marker);
    t.diagnostic(
      `RSS ${(rss0 / 1048576).toFixed(1)} MB → peak ${(peak / 1048576).toFixed(1)} MB; mock wrote ${(r.contentBytesWritten / 1048576).toFixed(1)} of ${MB} MB, blocked=${r.blocked}`,
    );
    assert.ok(growth < 16, `gateway RSS grew ${growth.toFixed(1)} MB while the client did not read`);
    assert.equal(r.blocked, true, 'the mock is waiting for drain');
    assert.ok(
      r.contentBytesWritten < r.contentBytesPlanned,
      `mock wrote ${r.contentBytesWritten} of ${r.contentBytesPlanned} bytes`,
    );

    // Now read everything and count the content.
    let content = 0;
    let rest = '';
    let sawDone = false;
    res.setEncoding('utf8');
    res.on('data', (d) => {
      rest += d;
      const frames = rest.split(/\r?\n\r?\n/);
      rest = frames.pop();
      for (const f of frames) {
        if (/^data:\s*\[DONE\]/m.test(f)) sawDone = true;
        for (const c of sseData(f)) content += (c.choices?.[0]?.delta?.content ?? '').length;
      }
    });
    res.resume();
    await new Promise((resolve, reject) => {
      res.on('end', resolve);
      res.on('error', reject);
    });
    assert.equal(content, MB * 1024 * 1024, 'every content byte arrived');
    assert.ok(sawDone, 'stream ended with [DONE]');
    assert.ok(r.endedAt, 'the mock finished writing');
  },
);

test('6. provider admin API: auth, list without secrets, update, delete', T, async () => {
  let res = await api('GET', '/api/providers', undefined, { auth: false });
  assert.equal(res.status, 401, 'unauthenticated list');
  await res.body?.cancel();

  res = await api('GET', '/api/providers');
  let j = await res.json();
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(j.connections));
  const listed = j.connections.find((c) => c.id === conn.id);
  assert.ok(listed, 'the connection is listed');
  assert.equal(listed.provider, 'openai');
  assert.ok(!('apiKey' in listed));
  assertNoSecret(j, UPSTREAM_KEY);

  res = await api('POST', '/api/providers', {
    provider: 'openai',
    name: 'crud',
    apiKey: 'sk-crud-456',
    providerSpecificData: { baseUrl: `${mock.url}/v1` },
  });
  j = await res.json();
  assert.equal(res.status, 201, JSON.stringify(j));
  const id = j.connection.id;

  res = await api('PUT', `/api/providers/${id}`, { name: 'renamed' });
  j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  assertNoSecret(j, 'sk-crud-456');
  res = await api('GET', `/api/providers/${id}`);
  j = await res.json();
  assert.equal(res.status, 200);
  assert.equal((j.connection ?? j).name, 'renamed');
  assertNoSecret(j, 'sk-crud-456');

  // A partial update must keep the key: rename the main connection and route through it.
  res = await api('PUT', `/api/providers/${conn.id}`, { name: 'mock-renamed' });
  assert.equal(res.status, 200);
  await res.body?.cancel();
  res = await api('DELETE', `/api/providers/${id}`);
  assert.ok(res.status === 200 || res.status === 204, `delete: ${res.status}`);
  await res.body?.cancel();
  res = await api('GET', `/api/providers/${id}`);
  assert.equal(res.status, 404);
  await res.body?.cancel();

  await client.chat.completions.create({
    model: 'openai/gpt-4o-mini',
    messages: [{ role: 'user', content: 'after rename' }],
  });
  assert.equal(upstreamRecord('after rename').headers.authorization, `Bearer ${UPSTREAM_KEY}`);
});

test('5b. upstream 500 is relayed with its body', T, async () => {
  const res = await chatFetch({
    model: 'openai/mock-status-500',
    messages: [{ role: 'user', content: 'err 500' }],
  });
  const j = await res.json();
  assert.equal(res.status, 500, JSON.stringify(j));
  assert.deepEqual(j, mockErrorBody(500));
  assert.equal(upstreamRecord('err 500').body.model, 'mock-status-500');
});

test('5c. upstream 429 is relayed with Retry-After', T, async () => {
  const res = await chatFetch({
    model: 'openai/mock-status-429-retry-2',
    messages: [{ role: 'user', content: 'err 429' }],
  });
  const j = await res.json();
  assert.equal(res.status, 429, JSON.stringify(j));
  assert.equal(res.headers.get('retry-after'), '2');
  assertOpenAIError(j);
  assert.deepEqual(j, mockErrorBody(429));
});

test('10. usage rows are in DATA_DIR/storage.sqlite after shutdown', T, async () => {
  stopped = await gw.stop({ keepData: true });
  const db = path.join(gw.dataDir, 'storage.sqlite');
  const out = execFileSync('sqlite3', ['-json', db, 'select * from usage'], { encoding: 'utf8' });
  const rows = out.trim() === '' ? [] : JSON.parse(out);
  assert.ok(rows.length >= 3, `usage rows: ${rows.length}`);
  const byId = (id) => {
    const row = rows.find((r) => r.request_id === id);
    assert.ok(row, `a usage row for request ${id}; columns: ${Object.keys(rows[0] || {}).join(',')}`);
    return row;
  };
  const usage = mockUsage({
    messages: [
      { role: 'system', content: 'You are terse.' },
      { role: 'user', content: 'non-stream hello' },
    ],
  });
  let row = byId(requestIds.nonStream);
  assert.equal(row.provider, 'openai');
  assert.equal(row.model, 'gpt-4o-mini');
  assert.equal(row.status, 200);
  assert.equal(row.tokens_in, usage.prompt_tokens);
  assert.equal(row.tokens_out, usage.completion_tokens);
  assert.equal(typeof row.latency_ms, 'number');
  assert.ok(row.latency_ms >= 0 && row.latency_ms < 10000);

  const su = mockUsage({ messages: [{ role: 'user', content: 'stream hello' }] });
  row = byId(requestIds.stream);
  assert.equal(row.provider, 'openai');
  assert.equal(row.model, 'gpt-4o-mini');
  assert.equal(row.status, 200);
  assert.equal(row.tokens_in, su.prompt_tokens, 'tokens from the stream usage chunk');
  assert.equal(row.tokens_out, su.completion_tokens);

  const ou = mockUsage({ messages: [{ role: 'user', content: 'one write hello' }] });
  row = byId(requestIds.oneWrite);
  assert.equal(row.status, 200);
  assert.equal(row.tokens_in, ou.prompt_tokens, 'tokens from a usage chunk read in the same buffer');
  assert.equal(row.tokens_out, ou.completion_tokens);

  const errRow = rows.find((r) => r.model === 'mock-status-500');
  assert.ok(errRow, 'the relayed 500 has a usage row');
  assert.equal(errRow.status, 500);
});

test('11. the gateway exits 0 on SIGTERM', T, async () => {
  if (stopped === null) stopped = await gw.stop({ keepData: true });
  assert.deepEqual(
    stopped,
    { code: 0, sig: null },
    `exit: ${JSON.stringify(stopped)}\n${gw.stderr().slice(-4000)}`,
  );
});
