// The Google GenAI SDK (@google/genai) against the real binary: what the matrix does not cover —
// GET /v1beta/models, model names with '/' (plain and %2F), the JSON-array stream form, the
// SDK's own default API version, thoughts and thoughtSignature round trips (including a Gemini 3
// provider, which rejects a function call of the current turn without its signature, reached
// from clients that have no place for it), and errors in Gemini's shape.
// Tests run in file order on one gateway; the fault tests come last.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiError } from '@google/genai';
import { runText, runToolRoundTrip, thinkingParams, TOOL_RESULT } from '../mock/clients.mjs';
import { setupFormats, modelFor, upstream, assertUpstream, nativeHistory } from '../mock/formats.mjs';
import { signFunctionCall, SKIP_SIGNATURE } from '../mock/mock.mjs';

const T = { timeout: 30000 };
const GEMINI3 = 'gemini-3-pro-preview';
let env;
let client;

before(async () => {
  env = await setupFormats();
  client = env.client('gemini');
});
after(async () => {
  if (env) await env.stop();
});

function gpost(path, body, headers = { 'x-goog-api-key': 'client-key' }) {
  return fetch(env.gw.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
}
const contents = (text) => ({ contents: [{ role: 'user', parts: [{ text }] }] });

test('GET /v1beta/models lists the connected providers\' models as models/<provider>/<model>', T, async () => {
  const names = [];
  const pager = await client.sdk.models.list();
  for await (const m of pager) names.push(m.name);
  assert.ok(names.length > 0, 'some models');
  assert.ok(names.every((n) => n.startsWith('models/')), JSON.stringify(names.slice(0, 10)));
  assert.ok(names.some((n) => n.startsWith('models/openai/')), JSON.stringify(names.slice(0, 20)));
  const res = await fetch(`${env.gw.url}/v1beta/models`, { headers: { 'x-goog-api-key': 'k' } });
  const j = await res.json();
  assert.equal(res.status, 200);
  assert.ok(Array.isArray(j.models));
});

test('a %2F-encoded model name and ?key= auth', T, async () => {
  const res = await gpost(`/v1beta/models/${encodeURIComponent(modelFor('openai'))}:generateContent?key=client-key`, contents('encoded slash'), {});
  const j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.candidates[0].content.parts.map((p) => p.text).join(''), 'mock reply to: encoded slash');
  assert.equal(j.candidates[0].finishReason, 'STOP');
  assertUpstream('openai', upstream(env.mock, 'encoded slash', 'openai')[0], { stream: false });
});

test('streamGenerateContent without alt=sse answers a JSON array', T, async () => {
  const res = await gpost(`/v1beta/models/${modelFor('anthropic')}:streamGenerateContent`, contents('array please'));
  const text = await res.text();
  assert.equal(res.status, 200, text);
  let arr;
  assert.doesNotThrow(() => (arr = JSON.parse(text)), `a JSON array: ${text.slice(0, 300)}`);
  assert.ok(Array.isArray(arr) && arr.length >= 1);
  const got = arr.map((c) => (c.candidates?.[0]?.content?.parts || []).map((p) => p.text ?? '').join('')).join('');
  assert.equal(got, 'mock reply to: array please');
  assert.ok(arr.some((c) => c.candidates?.[0]?.finishReason), 'a finishReason');
});

test('the SDK\'s default API version (v1 in @google/genai 3.x) works too', T, async () => {
  const c = env.client('gemini', { gemini: { apiVersion: 'v1' } });
  const r = await runText(c, { model: modelFor('openai'), prompt: 'default api version' });
  assert.equal(r.text, 'mock reply to: default api version');
});

for (const stream of [false, true]) {
  test(`thoughts and thoughtSignature round trip on a gemini provider (${stream ? 'stream' : 'non-stream'})`, T, async () => {
    const prompt = `thoughts native ${stream}`;
    const rt = await runToolRoundTrip(client, { model: modelFor('gemini'), prompt, stream, extra: thinkingParams('gemini') });
    assert.equal(rt.first.thoughts, `mock thinking about: ${prompt}`, 'the thought part reaches the client');
    assert.equal(rt.call.signature, signFunctionCall('get_weather'), 'the functionCall keeps its thoughtSignature');
    const recs = upstream(env.mock, prompt, 'gemini');
    assert.equal(recs.length, 2);
    assert.equal(recs[0].body.generationConfig?.thinkingConfig?.includeThoughts, true);
    assertUpstream('gemini', recs[1], { stream });
    assert.equal(nativeHistory('gemini', recs[1].body).call.signature, signFunctionCall('get_weather'));
    assert.equal(rt.text, `tool said: ${TOOL_RESULT}`);
  });
}

test('thoughts from an anthropic provider (thinking) become thought parts', T, async () => {
  const prompt = 'thoughts from anthropic';
  const r = await runText(client, { model: modelFor('anthropic'), prompt, extra: thinkingParams('gemini') });
  const rec = upstream(env.mock, prompt, 'anthropic')[0];
  assertUpstream('anthropic', rec, { stream: false });
  assert.ok(rec.body.thinking, `thinking asked upstream: ${JSON.stringify(rec.body)}`);
  assert.equal(r.thoughts, `mock thinking about: ${prompt}`);
  assert.equal(r.text, `mock reply to: ${prompt}`);
});

for (const kind of ['gemini', 'chat', 'responses', 'anthropic']) {
  test(`${kind} client → Gemini 3 provider tool round trip: the call's thoughtSignature goes back`, T, async (t) => {
    const prompt = `gemini3 from ${kind}`;
    const rt = await runToolRoundTrip(env.client(kind), { model: modelFor('gemini', GEMINI3), prompt });
    const recs = upstream(env.mock, prompt, 'gemini');
    assert.equal(rt.call?.name, 'get_weather');
    assert.equal(recs.length, 2, `two upstream requests (got ${recs.length})`);
    assertUpstream('gemini', recs[1], { stream: false, model: GEMINI3 });
    const sig = nativeHistory('gemini', recs[1].body).call?.signature;
    assert.ok(sig === signFunctionCall('get_weather') || sig === SKIP_SIGNATURE, `signature sent back: ${sig}`);
    if (sig === SKIP_SIGNATURE) t.diagnostic('the gateway sent the skip sentinel, not the real signature');
    assert.equal(rt.text, recs[1].reply.text);
  });
}

test('unknown model: a Gemini error naming the model', T, async () => {
  const res = await gpost('/v1beta/models/nope/x:generateContent', contents('hi'));
  const j = await res.json();
  assert.ok(res.status === 400 || res.status === 404, `${res.status} ${JSON.stringify(j)}`);
  assert.equal(j.error?.code, res.status, JSON.stringify(j));
  assert.equal(typeof j.error.status, 'string');
  assert.ok(j.error.message.includes('nope/x'), j.error.message);
});

test('a provider 429 (anthropic) reaches the Gemini client as RESOURCE_EXHAUSTED', T, async () => {
  const res = await gpost(`/v1beta/models/${modelFor('anthropic', 'mock-status-429-retry-1')}:generateContent`, contents('gemini 429'));
  const j = await res.json();
  assert.equal(res.status, 429, JSON.stringify(j));
  assert.equal(j.error?.code, 429, JSON.stringify(j));
  assert.equal(j.error.status, 'RESOURCE_EXHAUSTED');
  assert.equal(typeof j.error.message, 'string');
  await assert.rejects(
    client.sdk.models.generateContent({ model: modelFor('openai', 'mock-status-429'), contents: 'sdk 429' }),
    (e) => e instanceof ApiError && e.status === 429,
  );
});

test('a stream cut mid-way (openai-responses provider) makes the SDK raise', T, async () => {
  const prompt = 'gemini reset one two three four';
  let got = null;
  await assert.rejects(
    (async () => {
      got = await runText(client, { model: modelFor('openai-responses', 'mock-reset-mid-stream'), prompt, stream: true });
    })(),
  );
  assert.equal(got, null, `returned ${JSON.stringify(got?.text)}`);
  assert.ok(upstream(env.mock, prompt, 'openai-responses')[0]?.destroyedByMock, 'the mock cut the stream');
});

test('the gateway exits 0 on SIGTERM (no leak or error under ASan)', T, async () => {
  const r = await env.stop();
  assert.deepEqual(r, { code: 0, sig: null }, `exit: ${JSON.stringify(r)}\n${env.gw.stderr().slice(-4000)}`);
});
