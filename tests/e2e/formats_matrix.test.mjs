// The translation matrix: every client SDK (OpenAI chat, OpenAI Responses, Anthropic Messages,
// Google GenAI) × every provider format (openai, anthropic, gemini, openai-responses), stream and
// non-stream, a plain text turn and a tool round trip (call → tool result → final text), through
// the real binary to the mock (tests/mock/mock.mjs). Each cell checks
//   * the answer the SDK returns is the mock's deterministic text ("mock reply to: <prompt>",
//     then "tool said: <result>"), and the tool call is get_weather({"city":"Paris"});
//   * every upstream request is valid for the provider's API: the mock validates it as the real
//     API would (a 400 fails the cell with the mock's message), and the path, the auth header
//     and the body shape are the provider's.
// A table of the cells is printed at the end. Chat-client error cases (the openai_sdk file
// covers only the passthrough) come last, after the matrix, since a 429 may cool a connection.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { CLIENT_KINDS, TOOL_RESULT, runText, runToolRoundTrip } from '../mock/clients.mjs';
import {
  PROVIDER_IDS,
  setupFormats,
  modelFor,
  upstream,
  assertUpstream,
  nativeToolNames,
  nativeHistory,
  clientUsage,
  FINISH,
} from '../mock/formats.mjs';

const T = { timeout: 30000 };
let env;
const cells = new Map(); // "client|provider|case" → 'ok' | 'FAIL'

before(async () => {
  env = await setupFormats();
});

after(async () => {
  // One column per provider; each holds text / text-stream / tool / tool-stream.
  const cases = ['text', 'text-stream', 'tool', 'tool-stream'];
  const w = 20;
  const lines = [
    `${'client'.padEnd(12)}${PROVIDER_IDS.map((p) => p.padEnd(w)).join('')}`,
    `${''.padEnd(12)}${PROVIDER_IDS.map(() => 'txt/txtS/tool/toolS'.padEnd(w)).join('')}`,
  ];
  for (const c of CLIENT_KINDS) {
    lines.push(
      c.padEnd(12) +
        PROVIDER_IDS.map((p) => cases.map((k) => cells.get(`${c}|${p}|${k}`) ?? '-').join('/').padEnd(w)).join(''),
    );
  }
  process.stderr.write(`\nformats matrix:\n${lines.join('\n')}\n`);
  if (env) await env.stop();
});

let n = 0;
function cell(client, provider, kase, fn) {
  test(`${client} → ${provider}: ${kase}`, T, async (t) => {
    const key = `${client}|${provider}|${kase}`;
    cells.set(key, 'FAIL');
    const err = env.connError(provider);
    assert.equal(err, null, err ?? '');
    await fn(t);
    cells.set(key, 'ok');
  });
}

for (const client of CLIENT_KINDS) {
  for (const provider of PROVIDER_IDS) {
    for (const stream of [false, true]) {
      const mode = stream ? '-stream' : '';

      cell(client, provider, `text${mode}`, async (t) => {
        const prompt = `matrix ${client} to ${provider} #${++n}.`;
        const r = await runText(env.client(client), { model: modelFor(provider), prompt, stream, system: 'Be brief.' });
        const recs = upstream(env.mock, prompt, provider);
        assert.equal(recs.length, 1, `one upstream request (got ${recs.length}: ${recs.map((x) => `${x.status} ${x.path}`).join(', ')})`);
        for (const note of assertUpstream(provider, recs[0], { stream })) t.diagnostic(note);
        assert.equal(r.text, `mock reply to: ${prompt}`);
        assert.ok(JSON.stringify(recs[0].body).includes('Be brief.'), 'the system prompt reached the provider');
        assert.equal(r.finish, FINISH[client].text, 'finish reason');
        const want = recs[0].reply.usage;
        assert.deepEqual(clientUsage(client, r), { input: want.input, output: want.output }, `usage: ${JSON.stringify(r.usage)}`);
        if (stream) assert.ok(r.deltas >= 3, `the text arrived in several deltas (${r.deltas}), not buffered`);
      });

      cell(client, provider, `tool${mode}`, async (t) => {
        const prompt = `matrix tool ${client} to ${provider} #${++n}.`;
        const rt = await runToolRoundTrip(env.client(client), { model: modelFor(provider), prompt, stream });
        const recs = upstream(env.mock, prompt, provider);
        assert.ok(recs.length >= 1, 'the first request reached the provider');
        for (const note of assertUpstream(provider, recs[0], { stream })) t.diagnostic(`first: ${note}`);
        assert.ok(nativeToolNames(provider, recs[0].body).includes('get_weather'), `tools in ${provider} shape: ${JSON.stringify(recs[0].body.tools)}`);
        assert.deepEqual(recs[0].reply.tool, { name: 'get_weather', args: { city: 'Paris' } }, 'the mock answered with a tool call');
        assert.equal(rt.call?.name, 'get_weather', `the client got the tool call: ${JSON.stringify(rt.first?.raw ?? rt).slice(0, 800)}`);
        assert.deepEqual(rt.call.args, { city: 'Paris' });
        assert.equal(rt.first.finish, FINISH[client].tool, 'finish reason of the tool-call turn');
        assert.equal(rt.second.finish, FINISH[client].text, 'finish reason of the final turn');
        assert.equal(recs.length, 2, `two upstream requests (got ${recs.length})`);
        const second = recs[1];
        for (const note of assertUpstream(provider, second, { stream })) t.diagnostic(`second: ${note}`);
        const h = nativeHistory(provider, second.body);
        assert.equal(h.call?.name, 'get_weather', 'the call is in the history');
        assert.deepEqual(h.call.args, { city: 'Paris' });
        assert.ok(h.result, 'the tool result is in the history');
        assert.ok(JSON.stringify(h.result.content).includes(TOOL_RESULT), `the result text: ${JSON.stringify(h.result.content)}`);
        assert.ok(second.reply.text?.startsWith('tool said: '), `the mock saw a tool result last: ${JSON.stringify(second.reply)}`);
        assert.equal(rt.text, second.reply.text, 'the final answer is the mock text');
        assert.ok(rt.text.includes(TOOL_RESULT));
        if (rt.text !== `tool said: ${TOOL_RESULT}`) t.diagnostic(`final text: ${JSON.stringify(rt.text)}`);
      });
    }
  }
}

// ---- the OpenAI chat client gets errors in its own format from other providers ---------------

test('chat client ← anthropic provider 429: an OpenAI error with status 429', T, async () => {
  assert.equal(env.connError('anthropic'), null);
  const res = await fetch(`${env.gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
    body: JSON.stringify({ model: modelFor('anthropic', 'mock-status-429-retry-1'), messages: [{ role: 'user', content: 'chat 429' }] }),
  });
  const j = await res.json();
  assert.equal(res.status, 429, JSON.stringify(j));
  assert.equal(typeof j.error?.message, 'string', `OpenAI error shape: ${JSON.stringify(j)}`);
  assert.ok('type' in j.error && 'code' in j.error, JSON.stringify(j));
  assert.equal(upstream(env.mock, 'chat 429', 'anthropic')[0]?.status, 429);
});

test('chat client ← anthropic provider stream: a usage chunk only with stream_options.include_usage', T, async () => {
  assert.equal(env.connError('anthropic'), null);
  // The gateway encodes this stream itself, so the flag read from the raw body decides.
  const usageChunks = async (extra, prompt) => {
    const res = await fetch(`${env.gw.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer k' },
      body: JSON.stringify({ model: modelFor('anthropic'), messages: [{ role: 'user', content: prompt }], stream: true, ...extra }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /data: \[DONE\]/);
    return text.split('\n').filter((l) => l.startsWith('data: {') && JSON.parse(l.slice(6)).usage).length;
  };
  assert.equal(await usageChunks({ stream_options: { include_usage: true } }, 'usage asked'), 1);
  assert.equal(await usageChunks({ stream_options: { include_usage: false } }, 'usage declined'), 0);
  assert.equal(await usageChunks({}, 'usage not mentioned'), 0);
});

test('chat client ← gemini provider reset mid-stream: the SDK raises', T, async () => {
  assert.equal(env.connError('gemini'), null);
  const c = env.client('chat');
  let got = null;
  await assert.rejects(
    (async () => {
      got = await runText(c, { model: modelFor('gemini', 'mock-reset-mid-stream'), prompt: 'chat reset one two three four', stream: true });
    })(),
    (e) => e instanceof OpenAI.OpenAIError || e instanceof Error,
  );
  assert.equal(got, null, `the SDK returned ${JSON.stringify(got?.text)} instead of raising`);
  const r = upstream(env.mock, 'chat reset one two three four', 'gemini')[0];
  assert.ok(r?.destroyedByMock, 'the mock cut the stream');
});

test('the gateway exits 0 on SIGTERM (no leak or error under ASan)', T, async () => {
  const r = await env.stop();
  assert.deepEqual(r, { code: 0, sig: null }, `exit: ${JSON.stringify(r)}\n${env.gw.stderr().slice(-4000)}`);
});
