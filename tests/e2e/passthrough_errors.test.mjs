// Same-format (passthrough) streams that break after their first token end with the client
// format's own termination — once, after the provider's own opening events, never a second
// message_start / response.created.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock;
before(async () => {
  mock = await startMock();
  gw = await startGateway();
  const cookie = await gw.login();
  for (const [provider, baseUrl] of [['anthropic', `${mock.url}/anthropic/v1`],
    ['openai-responses', `${mock.url}/v1`], ['openai', `${mock.url}/v1`]]) {
    const r = await fetch(`${gw.url}/api/providers`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ provider, name: provider, apiKey: 'sk-x', providerSpecificData: { baseUrl } }),
    });
    assert.equal(r.status, 201);
  }
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

async function stream(path, body) {
  const r = await fetch(gw.url + path, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  });
  assert.equal(r.status, 200);
  const text = await r.text();
  return { text, events: [...text.matchAll(/^event: (.*)$/gm)].map((m) => m[1]) };
}

const count = (list, name) => list.filter((e) => e === name).length;

test('Anthropic passthrough: one message_start, then event: error last', async () => {
  const { events } = await stream('/v1/messages', { model: 'anthropic/mock-reset-mid-stream',
    max_tokens: 50, stream: true, messages: [{ role: 'user', content: 'hello' }] });
  assert.equal(count(events, 'message_start'), 1);
  assert.ok(events.includes('content_block_delta'), 'tokens came first');
  assert.equal(events.at(-1), 'error');
  assert.equal(count(events, 'message_stop'), 0);
});

test('Responses passthrough: one response.created, then response.failed last', async () => {
  const { events } = await stream('/v1/responses', { model: 'openai-responses/mock-reset-mid-stream',
    stream: true, input: 'hello' });
  assert.equal(count(events, 'response.created'), 1);
  assert.ok(events.includes('response.output_text.delta'));
  assert.equal(events.at(-1), 'response.failed');
});

test('OpenAI passthrough: an error chunk, then [DONE]', async () => {
  const { text } = await stream('/v1/chat/completions', { model: 'openai/mock-reset-mid-stream',
    stream: true, messages: [{ role: 'user', content: 'hello' }] });
  const data = [...text.matchAll(/^data: (.*)$/gm)].map((m) => m[1]);
  assert.equal(data.at(-1), '[DONE]');
  assert.ok(JSON.parse(data.at(-2)).error, 'an error chunk before [DONE]');
  assert.equal(count(data, '[DONE]'), 1);
});
