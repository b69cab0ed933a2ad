// formats.mjs — e2e plumbing for the format-translation tests: one gateway (the real binary) and
// one mock, a connection per provider format pointing at the mock, the client SDKs pointed at
// the gateway, and the checks that an upstream record is a valid request for its API.
//
//   const env = await setupFormats();      // {mock, gw, cookie, conns, client(kind), stop()}
//   env.connError(provider)                // null, or why the connection could not be created
//   upstream(env.mock, marker, provider)   // the records of requests that carried `marker`
//   assertUpstream(provider, rec, {stream})// path, auth header, body shape, mock validation
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from './mock.mjs';
import { makeClient } from './clients.mjs';

/** Provider formats: the connection's provider id → how the mock serves it. */
export const PROVIDERS = {
  openai: { api: 'openai', base: '/v1', model: 'gpt-4o-mini', key: 'sk-up-openai' },
  anthropic: { api: 'anthropic', base: '/anthropic/v1', model: 'claude-mock-sonnet', key: 'sk-up-anthropic' },
  gemini: { api: 'gemini', base: '/gemini/v1beta', model: 'gemini-2.5-flash', key: 'sk-up-gemini' },
  'openai-responses': { api: 'responses', base: '/v1', model: 'gpt-4.1', key: 'sk-up-responses' },
};
export const PROVIDER_IDS = Object.keys(PROVIDERS);

/** The model a client names to reach `provider` (optionally with another upstream model). */
export const modelFor = (provider, model = PROVIDERS[provider].model) => `${provider}/${model}`;

export async function setupFormats({ providers = PROVIDER_IDS, env = {} } = {}) {
  const mock = await startMock();
  const gw = await startGateway({ env });
  const cookie = await gw.login();
  const conns = {};
  for (const p of providers) {
    const res = await fetch(`${gw.url}/api/providers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({
        provider: p,
        name: `mock-${p}`,
        apiKey: PROVIDERS[p].key,
        providerSpecificData: { baseUrl: mock.url + PROVIDERS[p].base },
      }),
    });
    const text = await res.text();
    conns[p] = { status: res.status, body: text };
  }
  let stopped = null;
  return {
    mock,
    gw,
    cookie,
    conns,
    connError(p) {
      const c = conns[p];
      return c && c.status === 201 ? null : `creating the ${p} connection answered ${c?.status}: ${c?.body}`;
    },
    /** An SDK client pointed at the gateway. */
    client(kind, opts) {
      const base = kind === 'chat' || kind === 'responses' ? `${gw.url}/v1` : gw.url;
      return makeClient(kind, base, 'sk-client-key', opts);
    },
    /** Stops the gateway (SIGTERM) and the mock once; resolves with the gateway's {code, sig}. */
    async stop() {
      if (stopped === null) {
        stopped = await gw.stop({ keepData: true });
        rmSync(gw.dataDir, { recursive: true, force: true });
        await mock.close();
      }
      return stopped;
    },
  };
}

/** The mock records of requests for `provider`'s API whose body mentions `marker`. */
export function upstream(mock, marker, provider) {
  const api = provider ? PROVIDERS[provider].api : null;
  return mock.records.filter(
    (r) => (api === null || r.api === api) && r.body !== null && JSON.stringify(r.body).includes(marker),
  );
}

/** Where a provider's request must go. */
export function expectedPath(provider, { stream, model = PROVIDERS[provider].model }) {
  const p = PROVIDERS[provider];
  if (p.api === 'openai') return ['/v1/chat/completions'];
  if (p.api === 'anthropic') return ['/anthropic/v1/messages'];
  if (p.api === 'responses') return ['/v1/responses'];
  const verb = stream ? 'streamGenerateContent' : 'generateContent';
  return [`/gemini/v1beta/models/${model}:${verb}`, `/gemini/v1beta/models/${encodeURIComponent(model)}:${verb}`];
}

/**
 * A record is a valid request for its provider's API: the mock accepted it (its validator is
 * the API's rules), the path and the auth header are right, and the body has the API's shape.
 * Returns a list of soft notes (things that are legal but worth reporting).
 */
export function assertUpstream(provider, rec, { stream, model = PROVIDERS[provider].model } = {}) {
  const p = PROVIDERS[provider];
  const notes = [];
  assert.equal(rec.invalid, null, `the ${p.api} mock rejected the translated request: ${rec.invalid}\nbody: ${JSON.stringify(rec.body).slice(0, 1500)}`);
  assert.equal(rec.api, p.api, `went to the ${rec.api} API (${rec.path})`);
  const paths = expectedPath(provider, { stream: rec.path.includes(':streamGenerateContent'), model });
  assert.ok(paths.includes(rec.path), `path ${rec.path}, expected ${paths[0]}`);
  if (p.api === 'gemini' && rec.path.includes(':streamGenerateContent')) {
    assert.equal(new URLSearchParams(rec.query).get('alt'), 'sse', `stream query "${rec.query}"`);
  }
  const h = rec.headers;
  if (p.api === 'anthropic') {
    assert.equal(h['x-api-key'], p.key, 'x-api-key');
    assert.ok(h['anthropic-version'], 'anthropic-version header');
  } else if (p.api === 'gemini') {
    assert.equal(h['x-goog-api-key'], p.key, 'x-goog-api-key');
  } else {
    assert.equal(h.authorization, `Bearer ${p.key}`, 'Authorization: Bearer');
  }
  for (const k of Object.keys(h)) {
    assert.ok(!/^x-omniroute/i.test(k), `no internal header upstream (${k})`);
  }
  const b = rec.body;
  if (p.api === 'openai') {
    assert.equal(b.model, model);
    assert.ok(Array.isArray(b.messages));
  } else if (p.api === 'anthropic') {
    assert.equal(b.model, model);
    assert.ok(Number.isInteger(b.max_tokens));
    assert.ok(Array.isArray(b.messages));
  } else if (p.api === 'gemini') {
    assert.ok(Array.isArray(b.contents));
    assert.equal(b.model, undefined);
  } else {
    assert.equal(b.model, model);
    assert.ok(typeof b.input === 'string' || Array.isArray(b.input));
  }
  if (stream !== undefined && rec.stream !== stream) {
    notes.push(`upstream stream=${rec.stream} for a ${stream ? 'stream' : 'non-stream'} client request`);
  }
  return notes;
}

/** The tool names a request declares, read in its own API's shape. */
export function nativeToolNames(provider, body) {
  const api = PROVIDERS[provider].api;
  const tools = Array.isArray(body?.tools) ? body.tools : [];
  if (api === 'openai') return tools.map((t) => t?.function?.name);
  if (api === 'anthropic' || api === 'responses') return tools.map((t) => t?.name);
  return tools.flatMap((t) => (t?.functionDeclarations || []).map((f) => f?.name));
}

/** The tool call and its result found in a request's history, read in its API's shape. */
export function nativeHistory(provider, body) {
  const api = PROVIDERS[provider].api;
  const out = { call: null, result: null };
  if (api === 'openai') {
    for (const m of body.messages || []) {
      const tc = m.tool_calls?.[0];
      if (tc) out.call = { id: tc.id, name: tc.function.name, args: JSON.parse(tc.function.arguments) };
      if (m.role === 'tool') out.result = { id: m.tool_call_id, content: m.content };
    }
  } else if (api === 'anthropic') {
    for (const m of body.messages || []) {
      for (const b of Array.isArray(m.content) ? m.content : []) {
        if (b.type === 'tool_use') out.call = { id: b.id, name: b.name, args: b.input };
        if (b.type === 'tool_result') out.result = { id: b.tool_use_id, content: b.content };
      }
    }
  } else if (api === 'gemini') {
    for (const c of body.contents || []) {
      for (const p of c.parts || []) {
        if (p.functionCall) out.call = { id: p.functionCall.id, name: p.functionCall.name, args: p.functionCall.args, signature: p.thoughtSignature };
        if (p.functionResponse) out.result = { id: p.functionResponse.id, name: p.functionResponse.name, content: p.functionResponse.response };
      }
    }
  } else {
    for (const it of Array.isArray(body.input) ? body.input : []) {
      if (it.type === 'function_call') out.call = { id: it.call_id, name: it.name, args: JSON.parse(it.arguments) };
      if (it.type === 'function_call_output') out.result = { id: it.call_id, content: it.output };
    }
  }
  return out;
}

/** The usage an SDK result reports, as {input, output} (output includes thinking tokens). */
export function clientUsage(kind, r) {
  const u = r.usage;
  if (!u) return null;
  if (kind === 'chat') return { input: u.prompt_tokens, output: u.completion_tokens };
  if (kind === 'responses') return { input: u.input_tokens, output: u.output_tokens };
  if (kind === 'anthropic') {
    return {
      input: (u.input_tokens ?? 0) + (u.cache_read_input_tokens ?? 0) + (u.cache_creation_input_tokens ?? 0),
      output: u.output_tokens,
    };
  }
  return { input: u.promptTokenCount, output: (u.candidatesTokenCount ?? 0) + (u.thoughtsTokenCount ?? 0) };
}

/** The finish/stop reason each client format shows for a text answer and for a tool call. */
export const FINISH = {
  chat: { text: 'stop', tool: 'tool_calls' },
  responses: { text: 'completed', tool: 'completed' },
  anthropic: { text: 'end_turn', tool: 'tool_use' },
  gemini: { text: 'STOP', tool: 'STOP' },
};
