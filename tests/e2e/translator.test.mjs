// The dashboard's translator API: detect, translate (request / response / stream), send.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock, cookie;
const api = (path, body, auth = true) => fetch(`${gw.url}${path}`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(auth ? { cookie } : {}) },
  body: JSON.stringify(body),
});

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  cookie = await gw.login();
  const r = await api('/api/providers', { provider: 'anthropic', name: 'a', apiKey: 'sk-ant',
    providerSpecificData: { baseUrl: `${mock.url}/anthropic/v1` } });
  assert.equal(r.status, 201);
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

test('the translator API needs a session', async () => {
  const r = await api('/api/translator/detect', { body: {} }, false);
  assert.equal(r.status, 401);
});

test('detect names the format of typical bodies', async () => {
  const cases = [
    [{ model: 'x', messages: [{ role: 'user', content: 'hi' }], stream_options: {} }, 'openai'],
    [{ model: 'x', system: 's', max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }] }, 'claude'],
    [{ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }, 'gemini'],
    [{ model: 'x', input: 'hi' }, 'openai-responses'],
  ];
  for (const [body, want] of cases) {
    const r = await api('/api/translator/detect', { body });
    assert.equal(r.status, 200);
    assert.equal((await r.json()).format, want);
  }
});

test('translate a request OpenAI → Anthropic', async () => {
  const r = await api('/api/translator/translate', {
    sourceFormat: 'openai', targetFormat: 'claude',
    body: { model: 'm', max_tokens: 50, messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: 'hi' }] },
  });
  assert.equal(r.status, 200);
  const { result } = await r.json();
  assert.equal(result.messages.length, 1);
  assert.equal(result.messages[0].role, 'user');
  const text = typeof result.messages[0].content === 'string'
    ? result.messages[0].content : result.messages[0].content.map((b) => b.text).join('');
  assert.equal(text, 'hi');
  assert.equal(JSON.stringify(result.system).includes('be brief'), true);
  assert.equal(result.max_tokens, 50);
});

test('translate a response Anthropic → OpenAI', async () => {
  const r = await api('/api/translator/translate', {
    sourceFormat: 'claude', targetFormat: 'openai', direction: 'response',
    body: { id: 'msg_1', type: 'message', role: 'assistant', model: 'claude-x', content: [{ type: 'text', text: 'hello' }],
      stop_reason: 'end_turn', usage: { input_tokens: 3, output_tokens: 1 } },
  });
  assert.equal(r.status, 200);
  const { result } = await r.json();
  assert.equal(result.choices[0].message.content, 'hello');
  assert.equal(result.choices[0].finish_reason, 'stop');
  assert.equal(result.usage.prompt_tokens, 3);
});

test('translate a stream OpenAI SSE → Anthropic SSE', async () => {
  const sse = 'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":"he"}}]}\n\n' +
    'data: {"id":"c","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"llo"},"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n';
  const r = await api('/api/translator/translate', { sourceFormat: 'openai', targetFormat: 'claude', direction: 'stream', body: sse });
  assert.equal(r.status, 200);
  const { result } = await r.json();
  assert.match(result, /event: message_start/);
  assert.match(result, /"text":"he"/);
  assert.match(result, /event: message_stop/);
});

test('bad input: unknown format and a non-object body → 400', async () => {
  let r = await api('/api/translator/translate', { sourceFormat: 'nope', targetFormat: 'claude', body: {} });
  assert.equal(r.status, 400);
  r = await api('/api/translator/translate', { sourceFormat: 'openai', targetFormat: 'claude', body: 'x' });
  assert.equal(r.status, 400);
  r = await fetch(`${gw.url}/api/translator/detect`, { method: 'POST', headers: { cookie }, body: '{not json' });
  assert.equal(r.status, 400);
});

test('send routes a body through the gateway in its own format', async () => {
  const r = await api('/api/translator/send', {
    model: 'anthropic/claude-sonnet-4-5',
    body: { messages: [{ role: 'user', content: 'ping' }] },
  });
  assert.equal(r.status, 200);
  const j = await r.json();
  assert.equal(j.choices[0].message.content, 'mock reply to: ping');
  const rec = mock.records.at(-1);
  assert.equal(rec.api, 'anthropic');
  assert.equal(rec.body.model, 'claude-sonnet-4-5');
});
