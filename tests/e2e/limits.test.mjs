// Per-connection request limits (providerSpecificData.limits): a request over the limit waits
// for a slot within a bounded time, or, when it may not wait, gets a clear 429 with Retry-After.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock, cookie;
const api = (method, path, body) => fetch(`${gw.url}${path}`, {
  method, headers: { 'content-type': 'application/json', cookie }, body: body && JSON.stringify(body),
});
const chat = (model, content) => fetch(`${gw.url}/v1/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content }] }),
});

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  cookie = await gw.login();
  // groq: one request at a time, and others may queue for up to 10 s.
  let r = await api('POST', '/api/providers', { provider: 'groq', name: 'queued', apiKey: 'sk-q',
    providerSpecificData: { baseUrl: `${mock.url}/q/v1`, limits: { maxConcurrent: 1, maxQueue: 5, maxWaitMs: 10000 } } });
  assert.equal(r.status, 201);
  // together: one at a time and no queue.
  r = await api('POST', '/api/providers', { provider: 'together', name: 'strict', apiKey: 'sk-s',
    providerSpecificData: { baseUrl: `${mock.url}/s/v1`, limits: { maxConcurrent: 1, maxQueue: 0 } } });
  assert.equal(r.status, 201);
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

test('over maxConcurrent with a queue: the second request waits for the first, then succeeds', async () => {
  const first = chat('groq/mock-drip-20-n15', 'one'); // ~300 ms upstream
  await new Promise((r) => setTimeout(r, 100));
  const second = chat('groq/plain', 'two');
  const [a, b] = await Promise.all([first, second]);
  assert.equal(a.status, 200);
  assert.equal(b.status, 200);
  const recs = mock.records.filter((x) => x.url.startsWith('/q/'));
  const one = recs.find((x) => x.body.messages[0].content === 'one');
  const two = recs.find((x) => x.body.messages[0].content === 'two');
  assert.ok(two.receivedAt >= one.endedAt - 5, 'the second started only after the first ended');
});

test('over maxConcurrent without a queue: 429 with Retry-After, in OpenAI error shape', async () => {
  const first = chat('together/mock-drip-20-n15', 'one');
  await new Promise((r) => setTimeout(r, 100));
  const r = await chat('together/plain', 'two');
  assert.equal(r.status, 429);
  assert.ok(r.headers.get('retry-after'));
  const { error } = await r.json();
  assert.match(error.message, /limit/);
  assert.equal((await first).status, 200);
});
