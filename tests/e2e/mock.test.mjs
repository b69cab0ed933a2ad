// The mock upstream's own sanity test: each route and fault mode, driven directly with fetch and
// node:http (no gateway involved), so a failing e2e test can be blamed on the gateway.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import {
  startMock,
  mockReplyText,
  mockUsage,
  mockErrorBody,
  parseFault,
  signThinking,
  signFunctionCall,
  encryptReasoning,
  SKIP_SIGNATURE,
} from '../mock/mock.mjs';
import { makeClient, runText, runToolRoundTrip, thinkingParams, TOOL_RESULT, CLIENT_KINDS } from '../mock/clients.mjs';

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
  assert.ok(r.closedEarlyAt >= abortAt, `closed ${r.closedEarlyAt - abortAt} ms after abort`);
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

// ---- the other provider APIs, driven by the official SDKs straight at the mock ----------------

const SDK_BASE = {
  chat: '/v1',
  responses: '/v1',
  anthropic: '/anthropic',
  gemini: '/gemini',
};
const SDK_MODEL = {
  chat: 'gpt-4o-mini',
  responses: 'gpt-4.1',
  anthropic: 'claude-mock-sonnet',
  gemini: 'gemini-2.5-flash',
};
const SDK_PATH = {
  chat: '/v1/chat/completions',
  responses: '/v1/responses',
  anthropic: '/anthropic/v1/messages',
  gemini: '/gemini/v1beta/models/gemini-2.5-flash:generateContent',
};
const sdkClient = (kind) => makeClient(kind, mock.url + SDK_BASE[kind], 'sk-sdk');
const lastRecord = () => mock.records.at(-1);

function checkAuth(kind, r) {
  if (kind === 'gemini') assert.equal(r.headers['x-goog-api-key'], 'sk-sdk');
  else if (kind === 'anthropic') {
    assert.ok(r.headers['x-api-key'] === 'sk-sdk' || r.headers.authorization === 'Bearer sk-sdk');
    assert.ok(r.headers['anthropic-version']);
  } else assert.equal(r.headers.authorization, 'Bearer sk-sdk');
}

for (const kind of CLIENT_KINDS) {
  for (const stream of [false, true]) {
    const mode = stream ? 'stream' : 'non-stream';
    test(`sdk ${kind} ${mode}: text answer and record`, async () => {
      mock.reset();
      const r = await runText(sdkClient(kind), { model: SDK_MODEL[kind], prompt: `hi ${kind} ${mode}`, stream });
      assert.equal(r.text, `mock reply to: hi ${kind} ${mode}`);
      const rec = lastRecord();
      assert.equal(rec.status, 200, rec.invalid);
      assert.equal(rec.path, stream && kind === 'gemini' ? SDK_PATH.gemini.replace(':generateContent', ':streamGenerateContent') : SDK_PATH[kind]);
      if (kind === 'gemini' && stream) assert.equal(rec.query, 'alt=sse');
      assert.equal(rec.stream, stream);
      assert.equal(rec.reply.text, r.text);
      checkAuth(kind, rec);
      if (stream && kind === 'anthropic') {
        const types = r.raw.map((e) => e.type);
        assert.equal(types[0], 'message_start');
        assert.equal(types.at(-1), 'message_stop');
        assert.ok(types.includes('message_delta'));
      }
      if (stream && kind === 'responses') {
        const types = r.raw.map((e) => e.type);
        assert.equal(types[0], 'response.created');
        assert.equal(types.at(-1), 'response.completed');
        assert.deepEqual(
          r.raw.map((e) => e.sequence_number),
          r.raw.map((_, i) => i),
          'sequence_number counts from 0',
        );
        assert.equal(r.deltaText, r.text);
      }
      if (stream && kind === 'gemini') {
        assert.ok(r.raw.length >= 3, 'several chunks');
        assert.equal(r.finish, 'STOP');
        assert.ok(r.usage.promptTokenCount >= 1 && r.usage.candidatesTokenCount >= 1);
      }
    });

    test(`sdk ${kind} ${mode}: tool round trip`, async () => {
      mock.reset();
      const t = await runToolRoundTrip(sdkClient(kind), { model: SDK_MODEL[kind], prompt: 'weather in Paris?', stream });
      assert.equal(t.call?.name, 'get_weather');
      assert.deepEqual(t.call.args, { city: 'Paris' });
      assert.equal(t.text, `tool said: ${TOOL_RESULT}`);
      assert.equal(mock.records.length, 2);
      assert.ok(mock.records.every((x) => x.status === 200));
      assert.deepEqual(mock.records[0].reply.tool, { name: 'get_weather', args: { city: 'Paris' } });
      if (kind === 'chat') assert.equal(t.first.finish, 'tool_calls');
      if (kind === 'anthropic') assert.equal(t.first.finish, 'tool_use');
    });

    test(`sdk ${kind} ${mode}: thinking round trip`, async () => {
      mock.reset();
      const t = await runToolRoundTrip(sdkClient(kind), {
        model: SDK_MODEL[kind],
        prompt: 'think about Paris',
        stream,
        extra: thinkingParams(kind),
      });
      assert.equal(t.text, `tool said: ${TOOL_RESULT}`);
      const sent = mock.records[1].body;
      if (kind === 'anthropic') {
        const th = t.first.content.find((b) => b.type === 'thinking');
        assert.equal(th.thinking, 'mock thinking about: think about Paris');
        assert.equal(th.signature, signThinking(th.thinking));
        assert.equal(t.first.content[0].type, 'thinking', 'thinking comes first');
        assert.deepEqual(sent.messages[1].content[0], th, 'the SDK sends the block back verbatim');
      } else if (kind === 'gemini') {
        assert.equal(t.first.thoughts, 'mock thinking about: think about Paris');
        assert.equal(t.call.signature, signFunctionCall('get_weather'));
        assert.equal(sent.contents[1].parts.find((p) => p.functionCall).thoughtSignature, signFunctionCall('get_weather'));
      } else if (kind === 'responses') {
        const rs = t.first.output.find((o) => o.type === 'reasoning');
        assert.equal(rs.summary[0].text, 'mock thinking about: think about Paris');
        assert.equal(rs.encrypted_content, encryptReasoning('mock thinking about: think about Paris'));
        assert.ok(sent.input.some((i) => i.type === 'reasoning' && i.encrypted_content === rs.encrypted_content));
      } else {
        assert.equal(mock.records[0].reply.thinking, null, 'chat has no thinking output');
      }
    });
  }
}

// ---- validation: what the real APIs reject -------------------------------------------------

const ANTH = { 'x-api-key': 'k', 'anthropic-version': '2023-06-01', 'content-type': 'application/json' };
const GEM = { 'x-goog-api-key': 'k', 'content-type': 'application/json' };
const anth = (body, headers = ANTH, path = '/anthropic/v1/messages') => post(path, body, headers);
const gem = (body, model = 'gemini-2.5-flash', verb = 'generateContent', headers = GEM) =>
  post(`/gemini/v1beta/models/${model}:${verb}`, body, headers);
const resp = (body) => post('/v1/responses', body);
const amsg = (messages, extra = {}) => ({ model: 'claude-x', max_tokens: 64, messages, ...extra });
const TOOLU = { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } };

async function expect400(res, shape, re) {
  const j = await res.json();
  assert.equal(res.status, 400, JSON.stringify(j));
  if (shape === 'anthropic') {
    assert.equal(j.type, 'error');
    assert.equal(j.error.type, 'invalid_request_error');
  } else if (shape === 'gemini') {
    assert.equal(j.error.code, 400);
    assert.equal(j.error.status, 'INVALID_ARGUMENT');
  } else {
    assert.equal(j.error.type, 'invalid_request_error');
  }
  const msg = j.error.message;
  if (re) assert.match(msg, re);
  assert.equal(mock.records.at(-1).invalid, msg);
}

test('anthropic validation: the obvious 400s', async () => {
  const u = (t) => ({ role: 'user', content: t });
  await expect400(await anth({ model: 'claude-x', messages: [u('hi')] }), 'anthropic', /max_tokens: Field required/);
  await expect400(await anth(amsg([u('a'), u('b')])), 'anthropic', /roles must alternate/);
  await expect400(await anth(amsg([{ role: 'user', content: [{ type: 'text', text: '' }] }])), 'anthropic', /non-whitespace/);
  await expect400(await anth(amsg([u('')])), 'anthropic', /non-empty content/);
  await expect400(await anth(amsg([u('hi')], { stream_options: {} })), 'anthropic', /stream_options: Extra inputs/);
  await expect400(await anth(amsg([{ role: 'system', content: 'x' }, u('hi')])), 'anthropic', /role/);
  await expect400(
    await anth(amsg([u('hi'), { role: 'assistant', content: [TOOLU] }, u('next')])),
    'anthropic',
    /without `tool_result`/,
  );
  await expect400(
    await anth(amsg([u('hi'), { role: 'assistant', content: 'ok' }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_9', content: 'x' }] }])),
    'anthropic',
    /unexpected `tool_use_id`/,
  );
  const badThinking = { type: 'thinking', thinking: 'hmm', signature: 'forged' };
  await expect400(
    await anth(amsg([u('hi'), { role: 'assistant', content: [badThinking, { type: 'text', text: 'a' }] }, u('more')])),
    'anthropic',
    /Invalid `signature`/,
  );
  await expect400(
    await anth(
      amsg(
        [u('hi'), { role: 'assistant', content: [TOOLU] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: 'x' }] }],
        { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1024 } },
      ),
    ),
    'anthropic',
    /must start with a thinking block/,
  );
  await expect400(await anth(amsg([u('hi')], { thinking: { type: 'enabled', budget_tokens: 100 } })), 'anthropic', /1024/);
  await expect400(await anth(amsg([u('hi')], { temperature: 1.5 })), 'anthropic', /temperature/);
  // Fine: a valid tool round trip, a system role with the mid-conversation beta, Bearer auth.
  let res = await anth(
    amsg([u('hi'), { role: 'assistant', content: [TOOLU] }, { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'rain' }] }] }]),
  );
  assert.equal(res.status, 200);
  assert.equal((await res.json()).content[0].text, 'tool said: rain');
  res = await anth(amsg([u('hi'), { role: 'system', content: 'x' }]), { ...ANTH, 'anthropic-beta': 'mid-conversation-system-2026-04-07' });
  assert.equal(res.status, 200);
  await res.json();
  res = await anth(amsg([u('bearer')]), { authorization: 'Bearer k', 'anthropic-version': '2026-10-21', 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).content[0].text, 'mock reply to: bearer');
  // Auth and version.
  res = await anth(amsg([u('hi')]), { 'anthropic-version': '2023-06-01', 'content-type': 'application/json' });
  assert.equal(res.status, 401);
  assert.equal((await res.json()).error.type, 'authentication_error');
  res = await anth(amsg([u('hi')]), { 'x-api-key': 'k', 'content-type': 'application/json' });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /anthropic-version/);
});

test('gemini validation: the obvious 400s', async () => {
  const c = (role, text) => ({ role, parts: [{ text }] });
  await expect400(await gem({ model: 'gemini-2.5-flash', contents: [c('user', 'hi')] }), 'gemini', /Unknown name "model"/);
  await expect400(await gem({ contents: [c('user', 'a'), c('user', 'b')] }), 'gemini', /alternate/);
  await expect400(await gem({ contents: [c('user', 'hi')], generationConfig: { max_tokens: 5 } }), 'gemini', /Unknown name "max_tokens"/);
  await expect400(await gem({ contents: [{ role: 'assistant', parts: [{ text: 'x' }] }] }), 'gemini', /valid role/);
  await expect400(await gem({ contents: [{ role: 'user', parts: [] }] }), 'gemini', /must not be empty/);
  const schema = { type: 'object', properties: { city: { type: 'string' } }, additionalProperties: false };
  await expect400(
    await gem({ contents: [c('user', 'hi')], tools: [{ functionDeclarations: [{ name: 'f', parameters: schema }] }] }),
    'gemini',
    /Unknown name "additionalProperties"/,
  );
  const call = { role: 'model', parts: [{ functionCall: { name: 'f', args: { a: 1 } } }] };
  const two = { role: 'user', parts: [{ functionResponse: { name: 'f', response: { output: 'x' } } }, { functionResponse: { name: 'f', response: { output: 'y' } } }] };
  await expect400(await gem({ contents: [c('user', 'hi'), call, two] }), 'gemini', /number of function response parts/);
  const forged = { role: 'model', parts: [{ functionCall: { name: 'f', args: {} }, thoughtSignature: 'forged' }] };
  const one = { role: 'user', parts: [{ functionResponse: { name: 'f', response: { output: 'x' } } }] };
  await expect400(await gem({ contents: [c('user', 'hi'), forged, one] }), 'gemini', /Corrupted thought signature/);
  await expect400(await gem({ contents: [c('user', 'hi'), call, one] }, 'gemini-3-pro-preview'), 'gemini', /missing a thought_signature/);
  // Fine: JSON Schema under parametersJsonSchema, the skip sentinel, a %2F-encoded model.
  let res = await gem({ contents: [c('user', 'hi')], tools: [{ functionDeclarations: [{ name: 'f', parametersJsonSchema: schema }] }] });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).candidates[0].content.parts[0].functionCall.name, 'f');
  const skip = { role: 'model', parts: [{ functionCall: { name: 'f', args: {} }, thoughtSignature: SKIP_SIGNATURE }] };
  res = await gem({ contents: [c('user', 'hi'), skip, one] }, 'gemini-3-pro-preview');
  const j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.candidates[0].content.parts[0].text, 'tool said: x');
  res = await post('/gemini/v1beta/models/gemini-2.5-flash%2Fvariant:generateContent', { contents: [c('user', 'enc')] }, GEM);
  assert.equal(res.status, 200);
  assert.equal((await res.json()).modelVersion, 'gemini-2.5-flash/variant');
  // Auth: no key → 403 PERMISSION_DENIED; ?key= works.
  res = await gem({ contents: [c('user', 'hi')] }, 'gemini-2.5-flash', 'generateContent', { 'content-type': 'application/json' });
  assert.equal(res.status, 403);
  assert.equal((await res.json()).error.status, 'PERMISSION_DENIED');
  res = await post('/gemini/v1beta/models/gemini-2.5-flash:generateContent?key=k', { contents: [c('user', 'q')] }, { 'content-type': 'application/json' });
  assert.equal(res.status, 200);
  await res.json();
});

test('responses validation: the obvious 400s', async () => {
  const user = (content) => ({ role: 'user', content });
  await expect400(await resp({ model: 'm', input: [user([{ type: 'text', text: 'hi' }])] }), 'openai', /Invalid value: 'text'/);
  await expect400(
    await resp({ model: 'm', input: [user('hi'), { role: 'assistant', content: [{ type: 'input_text', text: 'x' }] }, user('again')] }),
    'openai',
    /'output_text' and 'refusal'/,
  );
  await expect400(await resp({ model: 'm', input: [user('hi'), { type: 'function_call_output', call_id: 'call_1', output: 'x' }] }), 'openai', /No tool call found/);
  await expect400(
    await resp({ model: 'm', input: [user('hi'), { type: 'function_call', id: 'call_1', call_id: 'call_1', name: 'f', arguments: '{}' }] }),
    'openai',
    /begins with 'fc'/,
  );
  await expect400(await resp({ model: 'm', input: 'hi', messages: [] }), 'openai', /Unknown parameter: 'messages'/);
  await expect400(
    await resp({ model: 'm', input: 'hi', tools: [{ type: 'function', function: { name: 'f', parameters: {} } }] }),
    'openai',
    /tools\[0\]\.name/,
  );
  await expect400(await resp({ model: 'm', input: 'hi', max_output_tokens: 8 }), 'openai', />= 16/);
  await expect400(
    await resp({ model: 'm', input: [user('hi'), { type: 'reasoning', id: 'rs_1', summary: [], encrypted_content: 'gibberish' }] }),
    'openai',
    /could not be verified/,
  );
  const res = await resp({
    model: 'm',
    input: [
      user([{ type: 'input_text', text: 'hi' }]),
      { type: 'function_call', id: 'fc_1', call_id: 'call_1', name: 'f', arguments: '{}' },
      { type: 'function_call_output', call_id: 'call_1', output: 'cloudy' },
    ],
  });
  const j = await res.json();
  assert.equal(res.status, 200, JSON.stringify(j));
  assert.equal(j.output[0].content[0].text, 'tool said: cloudy');
});

test('openai chat validation: orphan tool message, unanswered tool_calls, unknown parameter', async () => {
  const tc = { id: 'call_1', type: 'function', function: { name: 'f', arguments: '{}' } };
  await expect400(
    await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }, { role: 'tool', tool_call_id: 'call_1', content: 'x' }] }),
    'openai',
    /must be a response to a preceeding message with 'tool_calls'/,
  );
  await expect400(
    await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [tc] }, { role: 'user', content: 'x' }] }),
    'openai',
    /did not have response messages: call_1/,
  );
  await expect400(await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'hi' }], max_output_tokens: 5 }), 'openai', /Unrecognized request argument/);
  await expect400(
    await post('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: [{ type: 'input_text', text: 'x' }] }] }),
    'openai',
    /Invalid value: 'input_text'/,
  );
  const res = await post('/v1/chat/completions', {
    model: 'm',
    messages: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: null, tool_calls: [tc] }, { role: 'tool', tool_call_id: 'call_1', content: 'fog' }],
  });
  assert.equal((await res.json()).choices[0].message.content, 'tool said: fog');
});

// ---- faults on every API, errors in each API's shape -------------------------------------

test('status faults answer in each API\'s own error shape, with Retry-After', async () => {
  let res = await anth(amsg([{ role: 'user', content: 'x' }], { model: 'mock-status-429-retry-2' }));
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '2');
  let j = await res.json();
  assert.equal(j.type, 'error');
  assert.equal(j.error.type, 'rate_limit_error');
  res = await anth(amsg([{ role: 'user', content: 'x' }], { model: 'mock-status-529' }));
  assert.equal((await res.json()).error.type, 'overloaded_error');

  res = await gem({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, 'mock-status-429-retry-3');
  assert.equal(res.status, 429);
  assert.equal(res.headers.get('retry-after'), '3');
  j = await res.json();
  assert.equal(j.error.code, 429);
  assert.equal(j.error.status, 'RESOURCE_EXHAUSTED');
  assert.equal(j.error.details[0].retryDelay, '3s');
  res = await gem({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, 'mock-status-503', 'streamGenerateContent');
  assert.equal(res.status, 503);
  assert.equal((await res.json()).error.status, 'UNAVAILABLE');

  res = await resp({ model: 'mock-status-500', input: 'x', stream: true });
  assert.equal(res.status, 500);
  assert.deepEqual(await res.json(), mockErrorBody(500));
});

test('reset-mid-stream: every SDK raises instead of returning the truncated text', async () => {
  for (const kind of CLIENT_KINDS) {
    const c = makeClient(kind, mock.url + SDK_BASE[kind], 'sk-sdk', { timeout: 5000 });
    await assert.rejects(runText(c, { model: 'mock-reset-mid-stream', prompt: 'cut me off please now', stream: true }), `${kind} stream`);
    await assert.rejects(runText(c, { model: 'mock-reset-mid-stream', prompt: 'cut me', stream: false }), `${kind} non-stream`);
  }
});

test('drip and hang on the Anthropic and Gemini APIs', async () => {
  const c = makeClient('anthropic', mock.url + '/anthropic', 'k');
  const r = await runText(c, { model: 'mock-drip-5-n4', prompt: 'x', stream: true });
  assert.equal(r.text, 'tok0 tok1 tok2 tok3');
  const g = makeClient('gemini', mock.url + '/gemini', 'k');
  const rg = await runText(g, { model: 'mock-drip-5-n3', prompt: 'x', stream: true });
  assert.equal(rg.text, 'tok0 tok1 tok2');
  mock.reset();
  const ac = new AbortController();
  const p = gem({ contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, 'mock-hang');
  p.catch(() => {}); // settles when the mock closes
  const p2 = post('/v1/responses', { model: 'mock-hang', input: 'x' }, AUTH, ac.signal);
  await mock.waitFor((x) => x.api === 'responses', 2000);
  await new Promise((res) => setTimeout(res, 100));
  assert.ok(mock.records.every((x) => x.headersSentAt === null));
  ac.abort();
  await assert.rejects(p2);
});

// ---- the rest of the surface -------------------------------------------------------------

test('gemini streamGenerateContent without alt=sse is a JSON array', async () => {
  const res = await gem({ contents: [{ role: 'user', parts: [{ text: 'array form' }] }] }, 'gemini-2.5-flash', 'streamGenerateContent');
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /application\/json/);
  const arr = JSON.parse(await res.text());
  assert.ok(Array.isArray(arr) && arr.length >= 3);
  assert.equal(arr.map((c) => c.candidates[0].content.parts.map((p) => p.text).join('')).join(''), 'mock reply to: array form');
  assert.equal(arr.at(-1).candidates[0].finishReason, 'STOP');
  assert.ok(arr.at(-1).usageMetadata.totalTokenCount > 0);
});

test('gemini SSE frames end with \\r\\n\\r\\n, Anthropic and Responses name their events', async () => {
  let res = await post('/gemini/v1beta/models/g:streamGenerateContent?alt=sse', { contents: [{ role: 'user', parts: [{ text: 'x' }] }] }, GEM);
  let text = await res.text();
  assert.ok(text.startsWith('data: {') && text.endsWith('}\r\n\r\n'));
  res = await anth(amsg([{ role: 'user', content: 'x' }], { stream: true }));
  text = await res.text();
  assert.ok(text.startsWith('event: message_start\ndata: {"type":"message_start"'));
  assert.ok(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n'));
  res = await resp({ model: 'm', input: 'x', stream: true });
  text = await res.text();
  assert.ok(text.startsWith('event: response.created\ndata: {"type":"response.created","sequence_number":0'));
});

test('count tokens (Anthropic, Gemini), model lists, HEAD /, WebSocket upgrade → 426', async () => {
  let res = await anth({ model: 'claude-x', messages: [{ role: 'user', content: 'one two three' }], system: 'four' }, ANTH, '/anthropic/v1/messages/count_tokens');
  assert.deepEqual(await res.json(), { input_tokens: 4 });
  res = await anth({ model: 'claude-x', messages: [{ role: 'user', content: 'x' }], max_tokens: 5 }, ANTH, '/anthropic/v1/messages/count_tokens');
  assert.equal(res.status, 400, 'count_tokens takes no max_tokens');
  await res.json();
  res = await gem({ contents: [{ role: 'user', parts: [{ text: 'a b' }] }] }, 'gemini-2.5-flash', 'countTokens');
  assert.deepEqual(await res.json(), { totalTokens: 2 });
  res = await fetch(mock.url + '/gemini/v1beta/models', { headers: GEM });
  let j = await res.json();
  assert.ok(j.models.some((m) => m.name === 'models/gemini-2.5-flash'));
  res = await fetch(mock.url + '/anthropic/v1/models', { headers: ANTH });
  j = await res.json();
  assert.ok(j.data.length > 0 && j.data[0].type === 'model');
  res = await fetch(mock.url + '/', { method: 'HEAD' });
  assert.equal(res.status, 200);
  const status = await new Promise((resolve, reject) => {
    const req = http.request({
      host: '127.0.0.1',
      port: mock.port,
      path: '/v1/responses',
      headers: { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' },
    });
    req.on('response', (r) => {
      r.resume();
      resolve(r.statusCode);
    });
    req.on('upgrade', () => resolve(101));
    req.on('error', reject);
    req.end();
  });
  assert.equal(status, 426);
});
