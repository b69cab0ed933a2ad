// The mock upstream's own sanity test: each route and fault mode, driven directly with fetch and
// node:http (no gateway involved), so a failing e2e test can be blamed on the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startMock, mockReplyText, mockUsage, mockErrorBody, parseFault } from '../mock/mock.mjs';

let mock;
const AUTH = { authorization: 'Bearer sk-mock', 'content-type': 'application/json' };
const chatBody = (model, extra = {}) => ({
  model,
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: 'hello there world' },
  ],
  ...extra,
});

before(async () => {
  mock = await startMock();
});
after(async () => {
  await mock.close();
});

function post(path, body, headers = AUTH, signal) {
  return fetch(mock.url + path, { method: 'POST', headers, body: JSON.stringify(body), signal });
}

// Reads an SSE body into its data payloads (strings), in order.
async function sseEvents(res) {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((f) => f.startsWith('data: '))
    .map((f) => f.slice(6));
}

test('parseFault grammar', () => {
  assert.deepEqual(parseFault('gpt-4o-mini'), {});
  assert.deepEqual(parseFault('mock-status-500'), { status: 500 });
  assert.deepEqual(parseFault('mock-status-429-retry-2'), { status: 429, retryAfter: 2 });
  assert.deepEqual(parseFault('mock-slow-first-byte-1500'), { slowFirstByteMs: 1500 });
  assert.deepEqual(parseFault('mock-drip-50'), { dripMs: 50, dripCount: 200 });
  assert.deepEqual(parseFault('mock-drip-5-n3'), { dripMs: 5, dripCount: 3 });
  assert.deepEqual(parseFault('mock-reset-mid-stream'), { reset: true });
  assert.deepEqual(parseFault('mock-hang'), { hang: true });
  assert.deepEqual(parseFault('mock-big-stream-64'), { bigMB: 64 });
  assert.deepEqual(parseFault('mock-slow-first-byte-10-status-503'), { slowFirstByteMs: 10, status: 503 });
  assert.deepEqual(parseFault('changer'), {}); // "hang" only as a whole token
});

test('non-stream chat: deterministic text, usage, echoed model, recorded', async () => {
  mock.reset();
  const body = chatBody('gpt-4o-mini', { temperature: 0.5 });
  const res = await post('/v1/chat/completions', body);
  assert.equal(res.status, 200);
  const j = await res.json();
  assert.equal(j.object, 'chat.completion');
  assert.equal(j.model, 'gpt-4o-mini');
  assert.equal(j.choices[0].message.content, 'mock reply to: hello there world');
  assert.equal(j.choices[0].message.content, mockReplyText(body));
  assert.equal(j.choices[0].finish_reason, 'stop');
  assert.deepEqual(j.usage, { prompt_tokens: 5, completion_tokens: 6, total_tokens: 11 });
  assert.deepEqual(j.usage, mockUsage(body));
  assert.equal(mock.records.length, 1);
  const r = mock.records[0];
  assert.equal(r.method, 'POST');
  assert.equal(r.url, '/v1/chat/completions');
  assert.equal(r.headers.authorization, 'Bearer sk-mock');
  assert.deepEqual(r.body, body);
  assert.equal(r.status, 200);
  assert.ok(r.endedAt >= r.receivedAt);
  assert.equal(r.closedEarlyAt, null);
});

test('array content and the bare /chat/completions path', async () => {
  const body = {
    model: 'm',
    messages: [
      {
        role: 'user',
        content: [
          { type: 'text', text: 'a' },
          { type: 'text', text: 'b c' },
        ],
      },
    ],
  };
  const res = await post('/chat/completions', body);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).choices[0].message.content, 'mock reply to: ab c');
});

test('stream: role delta, several content deltas, stop, usage chunk, [DONE]', async () => {
  const body = chatBody('gpt-4o', { stream: true, stream_options: { include_usage: true } });
  const res = await post('/v1/chat/completions', body);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/event-stream/);
  const ev = await sseEvents(res);
  assert.equal(ev.at(-1), '[DONE]');
  const chunks = ev.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o'));
  assert.equal(chunks[0].choices[0].delta.role, 'assistant');
  const contentChunks = chunks.filter((c) => c.choices[0]?.delta?.content);
  assert.ok(contentChunks.length >= 3);
  assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), mockReplyText(body));
  const stop = chunks.find((c) => c.choices[0]?.finish_reason === 'stop');
  assert.ok(stop);
  const last = chunks.at(-1);
  assert.deepEqual(last.choices, []);
  assert.deepEqual(last.usage, mockUsage(body));
});

test('stream without include_usage has no usage chunk', async () => {
  const res = await post('/v1/chat/completions', chatBody('gpt-4o', { stream: true }));
  const ev = await sseEvents(res);
  const chunks = ev.slice(0, -1).map((e) => JSON.parse(e));
  assert.ok(chunks.every((c) => c.usage === undefined && c.choices.length === 1));
});

test('auth required on /v1 routes, request still recorded', async () => {
  mock.reset();
  let res = await post('/v1/chat/completions', chatBody('x'), { 'content-type': 'application/json' });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.code, 'invalid_api_key');
  res = await fetch(mock.url + '/v1/models', { headers: { authorization: 'Bearer ' } });
  assert.equal(res.status, 401);
  assert.equal(mock.records.length, 2);
  assert.deepEqual(mock.records[0].body, chatBody('x'));
});

test('GET /v1/models', async () => {
  const res = await fetch(mock.url + '/v1/models', { headers: AUTH });
  const j = await res.json();
  assert.equal(j.object, 'list');
  assert.ok(j.data.length >= 3);
  assert.ok(j.data.some((m) => m.id === 'gpt-4o-mini'));
});

test('bad JSON → 400, unknown route → 404', async () => {
  let res = await fetch(mock.url + '/v1/chat/completions', { method: 'POST', headers: AUTH, body: '{nope' });
  assert.equal(res.status, 400);
  assert.equal((await res.json()).error.type, 'invalid_request_error');
  res = await fetch(mock.url + '/v1/nothing', { headers: AUTH });
  assert.equal(res.status, 404);
});

test('status fault by model and by header, Retry-After', async () => {
  let res = await post('/v1/chat/completions', chatBody('mock-status-500'));
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), mockErrorBody(500));
  res = await post('/v1/chat/completions', chatBody('mock-status-429-retry-2', { stream: true }));
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '2');
  assert.deepEqual(await res.json(), mockErrorBody(429));
  res = await post('/v1/chat/completions', chatBody('gpt-4o'), { ...AUTH, 'x-mock-fault': 'status-503' });
  assert.equal(res.status, 503);
  assert.equal(mock.records.at(-1).responseBody.error.code, 'mock_status_503');
});

test('slow-first-byte delays the head', async () => {
  const t0 = Date.now();
  const res = await post('/v1/chat/completions', chatBody('mock-slow-first-byte-300'));
  const dt = Date.now() - t0;
  assert.equal(res.status, 200);
  assert.ok(dt >= 290, `head after ${dt} ms`);
  await res.json();
});

test('drip: one token per interval; client abort recorded as closedEarlyAt', async () => {
  mock.reset();
  const ac = new AbortController();
  const res = await post('/v1/chat/completions', chatBody('mock-drip-20', { stream: true }), AUTH, ac.signal);
  const reader = res.body.getReader();
  let seen = '';
  const t0 = Date.now();
  while (!seen.includes('tok3')) {
    const { value } = await reader.read();
    seen += Buffer.from(value).toString();
  }
  assert.ok(Date.now() - t0 >= 50, 'tokens are spaced out');
  const abortAt = Date.now();
  ac.abort();
  const r = await mock.waitFor((x) => x.closedEarlyAt !== null, 2000);
  assert.ok(r.closedEarlyAt - abortAt < 100, `closed ${r.closedEarlyAt - abortAt} ms after abort`);
  assert.ok(r.contentBytesWritten < 200 * 5);
});

test('drip with a count finishes', async () => {
  const res = await post('/v1/chat/completions', chatBody('mock-drip-5-n4', { stream: true }));
  const ev = await sseEvents(res);
  const text = ev
    .slice(0, -1)
    .map((e) => JSON.parse(e).choices[0]?.delta?.content ?? '')
    .join('');
  assert.equal(text, 'tok0 tok1 tok2 tok3');
});

test('reset-mid-stream: a few chunks then the socket dies', async () => {
  mock.reset();
  const res = await post('/v1/chat/completions', chatBody('mock-reset-mid-stream', { stream: true }));
  assert.equal(res.status, 200);
  await assert.rejects(res.text());
  const r = mock.records[0];
  assert.ok(r.destroyedByMock);
  assert.equal(r.closedEarlyAt, null);
  const res2 = await post('/v1/chat/completions', chatBody('mock-reset-mid-stream'));
  await assert.rejects(res2.text());
});

test('hang: no answer; the client gives up', async () => {
  mock.reset();
  const ac = new AbortController();
  const p = post('/v1/chat/completions', chatBody('mock-hang'), AUTH, ac.signal);
  await mock.waitFor((r) => r.body?.model === 'mock-hang', 2000);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(mock.records[0].headersSentAt, null);
  ac.abort();
  await assert.rejects(p);
  await mock.waitFor((r) => r.closedEarlyAt !== null, 2000);
});

test('big-stream: backpressure blocks the writer while the client does not read', async () => {
  mock.reset();
  const body = JSON.stringify(chatBody('mock-big-stream-32', { stream: true }));
  const { port } = mock;
  const res = await new Promise((resolve, reject) => {
    const req = http.request(
      { port, host: '127.0.0.1', method: 'POST', path: '/v1/chat/completions', headers: AUTH },
      resolve,
    );
    req.on('error', reject);
    req.end(body);
  });
  res.pause();
  await new Promise((r) => setTimeout(r, 500));
  const r = mock.records[0];
  assert.equal(r.blocked, true);
  assert.ok(r.writesBlocked >= 1);
  assert.ok(
    r.contentBytesWritten < r.contentBytesPlanned,
    `${r.contentBytesWritten} of ${r.contentBytesPlanned}`,
  );
  // Now drain it and count the content bytes.
  let rest = '';
  let content = 0;
  let done = false;
  res.setEncoding('utf8');
  res.on('data', (d) => {
    rest += d;
    let i;
    while ((i = rest.indexOf('\n\n')) >= 0) {
      const frame = rest.slice(0, i);
      rest = rest.slice(i + 2);
      if (frame === 'data: [DONE]') done = true;
      else content += (JSON.parse(frame.slice(6)).choices[0]?.delta?.content ?? '').length;
    }
  });
  res.resume();
  await new Promise((resolve) => res.on('end', resolve));
  assert.equal(done, true);
  assert.equal(content, 32 * 1024 * 1024);
  assert.equal(r.contentBytesWritten, 32 * 1024 * 1024);
  assert.ok(r.endedAt);
});

test('keep-alive connection reuse is counted', async () => {
  mock.reset();
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const one = () =>
    new Promise((resolve, reject) => {
      const req = http.request(
        {
          agent,
          port: mock.port,
          host: '127.0.0.1',
          method: 'POST',
          path: '/v1/chat/completions',
          headers: AUTH,
        },
        (res) => {
          res.resume();
          res.on('end', resolve);
        },
      );
      req.on('error', reject);
      req.end(JSON.stringify(chatBody('gpt-4o-mini')));
    });
  for (let i = 0; i < 5; i++) await one();
  agent.destroy();
  assert.equal(mock.connections, 1);
  assert.equal(new Set(mock.records.map((r) => r.conn)).size, 1);
});

test('/__mock/records and /__mock/reset over HTTP', async () => {
  mock.reset();
  await (await post('/v1/chat/completions', chatBody('gpt-4o-mini'))).json();
  let j = await (await fetch(mock.url + '/__mock/records')).json();
  assert.equal(j.records.length, 1);
  assert.ok(j.connections >= 1);
  assert.equal(j.records[0].body.model, 'gpt-4o-mini');
  await fetch(mock.url + '/__mock/reset', { method: 'POST' });
  j = await (await fetch(mock.url + '/__mock/records')).json();
  assert.equal(j.records.length, 0);
});
