// The OpenAI SDK's Responses API against the real binary: what the matrix does not cover — the
// WebSocket probe Codex makes (426), the typed event sequence the gateway synthesises for each
// provider, reasoning items with encrypted_content (native and through an Anthropic provider,
// whose thinking signature must survive the round trip), and errors (a provider 429, a stream
// cut mid-way). Tests run in file order on one gateway; the fault tests come last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import OpenAI from 'openai';
import { runText, runToolRoundTrip, thinkingParams, TOOL_RESULT } from '../mock/clients.mjs';
import { setupFormats, modelFor, upstream, assertUpstream, PROVIDER_IDS } from '../mock/formats.mjs';
import { encryptReasoning } from '../mock/mock.mjs';

const T = { timeout: 30000 };
let env;
let client;

before(async () => {
  env = await setupFormats();
  client = env.client('responses');
});
after(async () => {
  if (env) await env.stop();
});

test('GET /v1/responses with Upgrade: websocket → 426 (Codex falls back to HTTP at once)', T, async () => {
  const status = await new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: env.gw.port,
      path: '/v1/responses',
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==',
        authorization: 'Bearer k',
      },
    });
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.on('response', (r) => {
      r.resume();
      resolve(r.statusCode);
    });
    req.on('upgrade', (_r, sock) => {
      sock.destroy();
      resolve(101);
    });
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 426);
});

for (const provider of PROVIDER_IDS) {
  test(`stream events from a ${provider} provider: typed, numbered, complete`, T, async () => {
    const prompt = `events from ${provider}`;
    const r = await runText(client, { model: modelFor(provider), prompt, stream: true });
    const ev = r.raw;
    const types = ev.map((e) => e.type);
    assert.equal(types[0], 'response.created', types.join(' '));
    assert.equal(types.at(-1), 'response.completed', types.join(' '));
    assert.deepEqual(ev.map((e) => e.sequence_number), ev.map((_, i) => i), 'sequence_number 0, 1, 2, …');
    const added = ev.filter((e) => e.type === 'response.output_item.added');
    const done = ev.filter((e) => e.type === 'response.output_item.done');
    assert.ok(added.length >= 1);
    assert.deepEqual(added.map((e) => e.item.id), done.map((e) => e.item.id), 'every added item is done');
    const msgId = done.find((e) => e.item.type === 'message')?.item.id;
    assert.ok(msgId, 'a message item');
    for (const e of ev.filter((x) => x.type === 'response.output_text.delta')) assert.equal(e.item_id, msgId);
    assert.ok(types.indexOf('response.content_part.added') < types.indexOf('response.output_text.delta'));
    assert.equal(r.deltaText, `mock reply to: ${prompt}`);
    assert.equal(r.text, r.deltaText, 'response.completed carries the same text');
    assert.ok(r.usage?.input_tokens > 0 && r.usage.output_tokens > 0, `usage: ${JSON.stringify(r.usage)}`);
    assertUpstream(provider, upstream(env.mock, prompt, provider)[0], { stream: true });
  });
}

for (const stream of [false, true]) {
  test(`reasoning round trip on an openai-responses provider (${stream ? 'stream' : 'non-stream'}): encrypted_content survives`, T, async () => {
    const prompt = `reason native ${stream}`;
    const rt = await runToolRoundTrip(client, { model: modelFor('openai-responses'), prompt, stream, extra: thinkingParams('responses') });
    const rs = rt.first.output.find((o) => o.type === 'reasoning');
    assert.ok(rs, `a reasoning item: ${JSON.stringify(rt.first.output)}`);
    assert.equal(rs.encrypted_content, encryptReasoning(`mock thinking about: ${prompt}`));
    assert.equal(rs.summary?.[0]?.text, `mock thinking about: ${prompt}`);
    const recs = upstream(env.mock, prompt, 'openai-responses');
    assert.equal(recs.length, 2);
    assert.deepEqual(recs[0].body.include, ['reasoning.encrypted_content']);
    assertUpstream('openai-responses', recs[1], { stream });
    assert.ok(recs[1].body.input.some((i) => i.type === 'reasoning' && i.encrypted_content === rs.encrypted_content), 'reasoning goes back upstream');
    assert.equal(rt.text, `tool said: ${TOOL_RESULT}`);
  });
}

for (const stream of [false, true]) {
  test(`reasoning through an anthropic provider (${stream ? 'stream' : 'non-stream'}): thinking shown, its signature survives the tool round trip`, T, async () => {
    const prompt = `reason anthropic ${stream}`;
    const rt = await runToolRoundTrip(client, { model: modelFor('anthropic'), prompt, stream, extra: thinkingParams('responses') });
    const recs = upstream(env.mock, prompt, 'anthropic');
    assert.ok(recs.length >= 1);
    assertUpstream('anthropic', recs[0], { stream });
    assert.equal(recs[0].body.thinking?.type, 'enabled', `thinking asked upstream: ${JSON.stringify(recs[0].body.thinking)}`);
    const rs = rt.first.output?.find((o) => o.type === 'reasoning');
    assert.ok(rs, `a reasoning item: ${JSON.stringify(rt.first.output)}`);
    assert.ok(JSON.stringify(rs).includes(`mock thinking about: ${prompt}`), `the thinking text: ${JSON.stringify(rs)}`);
    assert.equal(recs.length, 2, 'the second turn reached the provider');
    assertUpstream('anthropic', recs[1], { stream }); // the mock demands the signed thinking block first
    assert.equal(rt.text, `tool said: ${TOOL_RESULT}`);
  });
}

test('unknown model: an OpenAI-shaped error naming the model', T, async () => {
  await assert.rejects(
    client.sdk.responses.create({ model: 'nope/x', input: 'hi' }),
    (e) => e instanceof OpenAI.APIError && (e.status === 400 || e.status === 404) && String(e.message).includes('nope/x'),
  );
});

test('a provider 429 (gemini) reaches the Responses client as a RateLimitError', T, async () => {
  let err;
  try {
    await client.sdk.responses.create({ model: modelFor('gemini', 'mock-status-429-retry-1'), input: 'responses 429' });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof OpenAI.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, 429);
  assert.equal(typeof err.error?.message, 'string', JSON.stringify(err.error));
  assert.equal(upstream(env.mock, 'responses 429', 'gemini')[0]?.status, 429);
});

test('a stream cut mid-way (anthropic provider) ends in response.failed/error or an SDK error, never response.completed', T, async (t) => {
  const prompt = 'responses reset one two three four';
  let got = null;
  let err = null;
  try {
    got = await runText(client, { model: modelFor('anthropic', 'mock-reset-mid-stream'), prompt, stream: true });
  } catch (e) {
    err = e;
  }
  assert.equal(got, null, `completed with ${JSON.stringify(got?.text)}`);
  t.diagnostic(`client saw: ${err?.event ? `event ${err.event.type}` : `${err?.constructor?.name}: ${err?.message}`}`);
  assert.ok(upstream(env.mock, prompt, 'anthropic')[0]?.destroyedByMock, 'the mock cut the stream');
});

test('the gateway exits 0 on SIGTERM (no leak or error under ASan)', T, async () => {
  const r = await env.stop();
  assert.deepEqual(r, { code: 0, sig: null }, `exit: ${JSON.stringify(r)}\n${env.gw.stderr().slice(-4000)}`);
});
