// The Anthropic SDK (@anthropic-ai/sdk) against the real binary: what the matrix does not cover —
// auth forms, thinking with signatures (native and from a Gemini provider), count_tokens, and
// errors in Anthropic's own shape (a provider 429, an unknown model, a stream cut mid-way).
// Tests run in file order on one gateway; the fault tests come last (a 429 may cool a connection).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { runText, runToolRoundTrip, thinkingParams, TOOL_RESULT } from '../mock/clients.mjs';
import { setupFormats, modelFor, upstream, assertUpstream, nativeHistory, PROVIDERS } from '../mock/formats.mjs';
import { signThinking } from '../mock/mock.mjs';

const T = { timeout: 30000 };
let env;
let client;
let sdk;

before(async () => {
  env = await setupFormats();
  client = env.client('anthropic');
  sdk = client.sdk;
});
after(async () => {
  if (env) await env.stop();
});

function messages(body, headers) {
  return fetch(`${env.gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}

test('auth by x-api-key or Bearer, any anthropic-version; upstream gets the connection key', T, async () => {
  const forms = [
    { 'x-api-key': 'client-key', 'anthropic-version': '2023-06-01' },
    { authorization: 'Bearer client-key', 'anthropic-version': '2026-10-21' },
  ];
  for (const [i, h] of forms.entries()) {
    const prompt = `auth form ${i}`;
    const res = await messages({ model: modelFor('anthropic'), max_tokens: 64, messages: [{ role: 'user', content: prompt }] }, h);
    const j = await res.json();
    assert.equal(res.status, 200, JSON.stringify(j));
    assert.equal(j.type, 'message');
    assert.equal(j.content[0].text, `mock reply to: ${prompt}`);
    const r = upstream(env.mock, prompt, 'anthropic');
    assert.equal(r.length, 1);
    assertUpstream('anthropic', r[0], { stream: false });
    assert.equal(r[0].headers.authorization, undefined, 'the client credential is not relayed');
  }
});

for (const stream of [false, true]) {
  test(`thinking round trip on an anthropic provider (${stream ? 'stream' : 'non-stream'}): block and signature survive`, T, async () => {
    const prompt = `think native ${stream}`;
    const rt = await runToolRoundTrip(client, { model: modelFor('anthropic'), prompt, stream, extra: thinkingParams('anthropic') });
    const th = rt.first.content?.[0];
    assert.equal(th?.type, 'thinking', `first block: ${JSON.stringify(rt.first.content)}`);
    assert.equal(th.thinking, `mock thinking about: ${prompt}`);
    assert.equal(th.signature, signThinking(th.thinking), 'the signature reaches the client verbatim');
    assert.deepEqual(rt.call.args, { city: 'Paris' });
    const recs = upstream(env.mock, prompt, 'anthropic');
    assert.equal(recs.length, 2);
    assert.deepEqual(recs[0].body.thinking, { type: 'enabled', budget_tokens: 1024 });
    assertUpstream('anthropic', recs[1], { stream }); // the mock checks the signature and block order
    const sentBack = recs[1].body.messages.find((m) => m.role === 'assistant').content[0];
    assert.deepEqual(sentBack, th, 'the thinking block goes upstream verbatim');
    assert.equal(rt.text, `tool said: ${TOOL_RESULT}`);
  });
}

for (const stream of [false, true]) {
  test(`thinking from a gemini provider becomes a thinking block (${stream ? 'stream' : 'non-stream'})`, T, async () => {
    const prompt = `think gemini ${stream}`;
    const r = await runText(client, { model: modelFor('gemini'), prompt, stream, extra: thinkingParams('anthropic') });
    const recs = upstream(env.mock, prompt, 'gemini');
    assert.equal(recs.length, 1);
    assertUpstream('gemini', recs[0], { stream });
    assert.equal(recs[0].body.generationConfig?.thinkingConfig?.includeThoughts, true, `thinkingConfig: ${JSON.stringify(recs[0].body.generationConfig)}`);
    const th = r.content.find((b) => b.type === 'thinking');
    assert.ok(th, `a thinking block: ${JSON.stringify(r.content)}`);
    assert.equal(th.thinking, `mock thinking about: ${prompt}`);
    assert.equal(r.content.at(-1).type, 'text');
    assert.equal(r.text, `mock reply to: ${prompt}`);
  });
}

for (const stream of [false, true]) {
  test(`thinking via an openai-responses provider (${stream ? 'stream' : 'non-stream'}): no empty thinking block`, T, async (t) => {
    const prompt = `think responses ${stream}`;
    const r = await runText(client, { model: modelFor('openai-responses'), prompt, stream, extra: thinkingParams('anthropic') });
    const recs = upstream(env.mock, prompt, 'openai-responses');
    assert.equal(recs.length, 1);
    assertUpstream('openai-responses', recs[0], { stream });
    assert.equal(r.text, `mock reply to: ${prompt}`);
    t.diagnostic(`upstream reasoning: ${JSON.stringify(recs[0].body.reasoning)} include: ${JSON.stringify(recs[0].body.include)}`);
    t.diagnostic(`client blocks: ${JSON.stringify(r.content)}`);
    // A thinking block with neither text nor signature is not something Anthropic ever sends, and
    // a client that replays it to an Anthropic provider gets a 400.
    for (const b of r.content.filter((x) => x.type === 'thinking')) {
      assert.ok(b.thinking !== '' || b.signature !== '', `an empty thinking block: ${JSON.stringify(b)}`);
    }
  });
}

test('count_tokens: forwarded to an anthropic provider, estimated for others', T, async (t) => {
  const params = { messages: [{ role: 'user', content: 'one two three four' }], system: 'five' };
  const a = await sdk.messages.countTokens({ model: modelFor('anthropic'), ...params });
  assert.ok(Number.isInteger(a.input_tokens) && a.input_tokens > 0, JSON.stringify(a));
  const fwd = env.mock.records.filter((r) => r.path.endsWith('/messages/count_tokens'));
  if (fwd.length > 0) {
    assert.equal(fwd[0].invalid, null, fwd[0].invalid);
    assert.equal(fwd[0].headers['x-api-key'], PROVIDERS.anthropic.key);
    assert.equal(fwd[0].body.model, PROVIDERS.anthropic.model);
    assert.equal(a.input_tokens, 5, 'the provider count is relayed');
  } else t.diagnostic(`not forwarded; the gateway estimated ${a.input_tokens}`);
  const o = await sdk.messages.countTokens({ model: modelFor('openai'), ...params });
  assert.ok(Number.isInteger(o.input_tokens) && o.input_tokens > 0, JSON.stringify(o));
});

test('unknown model: an Anthropic error naming the model', T, async () => {
  const res = await messages({ model: 'nope/x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }, { 'x-api-key': 'k', 'anthropic-version': '2023-06-01' });
  const j = await res.json();
  assert.ok(res.status === 400 || res.status === 404, `${res.status} ${JSON.stringify(j)}`);
  assert.equal(j.type, 'error', JSON.stringify(j));
  assert.equal(typeof j.error?.type, 'string');
  assert.ok(j.error.message.includes('nope/x'), j.error.message);
  await assert.rejects(
    sdk.messages.create({ model: 'nope/x', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] }),
    (e) => e instanceof Anthropic.APIError && (e.status === 400 || e.status === 404),
  );
});

test('a provider 429 (openai) reaches the Anthropic client as an Anthropic rate_limit_error', T, async () => {
  let err;
  try {
    await sdk.messages.create({
      model: modelFor('openai', 'mock-status-429-retry-1'),
      max_tokens: 16,
      messages: [{ role: 'user', content: 'anthropic 429' }],
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Anthropic.RateLimitError, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.equal(err.status, 429);
  assert.equal(err.error?.type, 'error', JSON.stringify(err.error));
  assert.equal(err.error?.error?.type, 'rate_limit_error', JSON.stringify(err.error));
  const r = upstream(env.mock, 'anthropic 429', 'openai');
  assert.ok(r.length >= 1 && r[0].status === 429, 'the provider answered 429');
});

test('a stream cut mid-way (gemini provider) makes the SDK raise, not return truncated text', T, async (t) => {
  const prompt = 'anthropic reset one two three four';
  let got = null;
  await assert.rejects(
    (async () => {
      got = await runText(client, { model: modelFor('gemini', 'mock-reset-mid-stream'), prompt, stream: true });
    })(),
  );
  assert.equal(got, null, `returned ${JSON.stringify(got?.text)}`);
  const r = upstream(env.mock, prompt, 'gemini');
  assert.ok(r[0]?.destroyedByMock, 'the mock cut the stream');
  t.diagnostic(`upstream requests: ${r.length}`);
});

test('a non-stream reply cut mid-way (openai-responses provider) is an Anthropic 5xx error', T, async () => {
  let err;
  try {
    await sdk.messages.create({
      model: modelFor('openai-responses', 'mock-reset-mid-stream'),
      max_tokens: 16,
      messages: [{ role: 'user', content: 'anthropic cut non-stream' }],
    });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof Anthropic.APIError, `got ${err?.constructor?.name}: ${err?.message}`);
  assert.ok(err.status >= 500, `status ${err.status}`);
  assert.equal(err.error?.type, 'error', JSON.stringify(err.error));
});

test('the gateway exits 0 on SIGTERM (no leak or error under ASan)', T, async () => {
  const r = await env.stop();
  assert.deepEqual(r, { code: 0, sig: null }, `exit: ${JSON.stringify(r)}\n${env.gw.stderr().slice(-4000)}`);
});
