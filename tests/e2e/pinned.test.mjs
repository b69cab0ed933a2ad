// Provider-pinned routes: /v1/providers/{provider}/chat/completions adds the prefix when missing
// and refuses a model of another provider.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock;
before(async () => {
  mock = await startMock();
  gw = await startGateway();
  const cookie = await gw.login();
  const r = await fetch(`${gw.url}/api/providers`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ provider: 'openai', name: 'o', apiKey: 'sk-o', providerSpecificData: { baseUrl: `${mock.url}/v1` } }),
  });
  assert.equal(r.status, 201);
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

const post = (provider, model) => fetch(`${gw.url}/v1/providers/${provider}/chat/completions`, {
  method: 'POST', headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ model, messages: [{ role: 'user', content: 'pinned' }] }),
});

test('a bare model gets the pinned provider prefix', async () => {
  const r = await post('openai', 'gpt-4o-mini');
  assert.equal(r.status, 200);
  assert.equal((await r.json()).choices[0].message.content, 'mock reply to: pinned');
  assert.equal(mock.records.at(-1).body.model, 'gpt-4o-mini');
  assert.equal(r.headers.get('x-omniroute-provider'), 'openai');
});

test('a model already prefixed with the pinned provider works', async () => {
  const r = await post('openai', 'openai/gpt-4o');
  assert.equal(r.status, 200);
  assert.equal(mock.records.at(-1).body.model, 'gpt-4o');
});

test('a model of another provider → 400 naming both; an unknown provider → 404', async () => {
  let r = await post('openai', 'groq/llama-3.3-70b-versatile');
  assert.equal(r.status, 400);
  const { error } = await r.json();
  assert.match(error.message, /groq/);
  assert.match(error.message, /openai/);
  r = await post('nope', 'x');
  assert.equal(r.status, 404);
});
