// Gemini thought signatures survive clients that cannot carry them: an Anthropic client's tool
// round trip through a Gemini 3 provider sends the call's real thoughtSignature back on the next
// turn (kept by the gateway by tool-call id), not the skip-validator placeholder.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';
import { SKIP_SIGNATURE, signFunctionCall } from '../mock/common.mjs';

let gw, mock;
before(async () => {
  mock = await startMock();
  gw = await startGateway();
  const cookie = await gw.login();
  const r = await fetch(`${gw.url}/api/providers`, {
    method: 'POST', headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ provider: 'gemini', name: 'g', apiKey: 'k', providerSpecificData: { baseUrl: `${mock.url}/gemini/v1beta` } }),
  });
  assert.equal(r.status, 201);
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

const tools = [{ name: 'get_weather', description: 'Weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } }];

async function messages(body) {
  const r = await fetch(`${gw.url}/v1/messages`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model: 'gemini/gemini-3-pro-preview', max_tokens: 1024, tools, ...body }),
  });
  assert.equal(r.status, 200, await r.clone().text());
  return r.json();
}

for (const stream of [false, true]) {
  test(`the real signature goes back to Gemini on the next turn (${stream ? 'stream' : 'non-stream'} first turn)`, async () => {
    const user = { role: 'user', content: `weather in Paris? ${stream}` };
    let first;
    if (stream) {
      const r = await fetch(`${gw.url}/v1/messages`, {
        method: 'POST', headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
        body: JSON.stringify({ model: 'gemini/gemini-3-pro-preview', max_tokens: 1024, tools, stream: true, messages: [user] }),
      });
      const text = await r.text();
      const start = [...text.matchAll(/^data: (.*)$/gm)].map((m) => JSON.parse(m[1]))
        .find((e) => e.type === 'content_block_start' && e.content_block.type === 'tool_use');
      first = { content: [start.content_block] };
      first.content[0].input = { city: 'Paris' };
    } else {
      first = await messages({ messages: [user] });
    }
    const call = first.content.find((b) => b.type === 'tool_use');
    assert.ok(call, 'the model called the tool');
    await messages({ messages: [user, { role: 'assistant', content: [call] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: 'Sunny' }] }] });
    const second = mock.records.at(-1);
    const fc = second.body.contents.flatMap((c) => c.parts).find((p) => p.functionCall);
    assert.ok(fc, 'the history carries the function call');
    assert.notEqual(fc.thoughtSignature, SKIP_SIGNATURE);
    assert.equal(fc.thoughtSignature, signFunctionCall('get_weather'));
  });
}
