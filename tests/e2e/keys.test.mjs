// Client API keys through the real binary with REQUIRE_API_KEY=true: every client format gets its
// own 401 shape for a missing, mistyped, unknown, revoked, expired or deleted key; a created key
// works from the OpenAI, Anthropic and Gemini SDKs (Bearer, x-api-key, x-goog-api-key, ?key=);
// allowedModels → 403; an admin-scoped key reaches the management API; the key id lands on the
// usage rows; and the database files never hold a raw key or a provider secret.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { startGateway } from '../lib/gateway.mjs';
import { runText } from '../mock/clients.mjs';
import { setupFormats, modelFor, PROVIDERS } from '../mock/formats.mjs';

const T = { timeout: 60000 };
let env;
let gw;
const made = []; // every raw key handed out, for the database scan

before(async () => {
  env = await setupFormats({ providers: ['openai', 'anthropic', 'gemini'], env: { REQUIRE_API_KEY: 'true' } });
  for (const p of ['openai', 'anthropic', 'gemini']) assert.equal(env.connError(p), null);
  gw = env.gw;
});
after(async () => {
  if (env) await env.stop();
});

const api = (method, p, body, headers = {}) => fetch(`${gw.url}${p}`, {
  method,
  headers: { 'content-type': 'application/json', cookie: env.cookie, ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});

async function json(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return text ? JSON.parse(text) : null;
}

async function createKey(body) {
  const k = await json(await api('POST', '/api/keys', body), 201);
  made.push(k.key);
  return k;
}

// One request per client format, with the credential where that client puts it.
const CLIENTS = {
  openai: (key, model = modelFor('openai')) => fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'key test' }] }),
  }),
  anthropic: (key, model = modelFor('anthropic')) => fetch(`${gw.url}/v1/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'anthropic-version': '2023-06-01', ...(key ? { 'x-api-key': key } : {}) },
    body: JSON.stringify({ model, max_tokens: 32, messages: [{ role: 'user', content: 'key test' }] }),
  }),
  gemini: (key, model = modelFor('gemini')) => fetch(`${gw.url}/v1beta/models/${model}:generateContent`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { 'x-goog-api-key': key } : {}) },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'key test' }] }] }),
  }),
  responses: (key) => fetch(`${gw.url}/v1/responses`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ model: modelFor('openai'), input: 'key test' }),
  }),
};

// The error shape each client's SDK parses.
function assertClientError(kind, status, body) {
  if (kind === 'anthropic') {
    assert.equal(body.type, 'error', JSON.stringify(body));
    assert.equal(body.error.type, status === 401 ? 'authentication_error' : 'permission_error');
    assert.equal(typeof body.error.message, 'string');
  } else if (kind === 'gemini') {
    assert.equal(body.error.code, status, JSON.stringify(body));
    assert.equal(body.error.status, status === 401 ? 'UNAUTHENTICATED' : 'PERMISSION_DENIED');
    assert.equal(typeof body.error.message, 'string');
  } else {
    assert.equal(typeof body.error.message, 'string', JSON.stringify(body));
    assert.equal(typeof body.error.type, 'string');
    if (status === 401) assert.equal(body.error.code, 'invalid_api_key');
  }
}

async function expectRefused(kind, key, status, messageRe) {
  const res = await CLIENTS[kind](key);
  const body = await res.json();
  assert.equal(res.status, status, `${kind} with ${key ? key.slice(0, 12) : 'no key'}: ${JSON.stringify(body)}`);
  assertClientError(kind, status, body);
  if (messageRe) assert.match(JSON.stringify(body), messageRe);
  return body;
}

async function expectOk(kind, key) {
  const res = await CLIENTS[kind](key);
  const text = await res.text();
  assert.equal(res.status, 200, `${kind}: ${text}`);
}

const typo = (key) => key.slice(0, 20) + (key[20] === 'a' ? 'b' : 'a') + key.slice(21);

test('no key or a wrong key → 401 in the client format (OpenAI, Anthropic, Gemini, Responses, model lists)', T, async () => {
  for (const kind of Object.keys(CLIENTS)) {
    await expectRefused(kind, null, 401, /API key is required/);
    await expectRefused(kind, 'sk-client-key', 401, /Invalid API key/);
  }
  const k = await createKey({ name: 'typo-check' });
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectRefused(kind, typo(k.key), 401, /mistyped/);
  for (const p of ['/v1/models', '/models', '/v1beta/models']) {
    const res = await fetch(`${gw.url}${p}`);
    assert.equal(res.status, 401, p);
    assert.match(res.headers.get('www-authenticate') || '', /Bearer/);
  }
  const ok = await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
  assert.equal(ok.status, 200);
  const gm = await fetch(`${gw.url}/v1beta/models?key=${k.key}`);
  assert.equal(gm.status, 200, 'Gemini clients may pass ?key=');
});

test('a created key works from the OpenAI, Anthropic and Gemini SDKs; a missing one fails there with 401', T, async () => {
  const k = await createKey({ name: 'sdk' });
  assert.match(k.key, /^sk-[0-9A-Za-z]{46}$/);
  assert.match(k.id, /^[0-9a-f-]{36}$/);
  assert.equal(k.name, 'sdk');
  assert.equal(k.prefix, k.key.slice(0, 8));
  const cases = [
    ['chat', `${gw.url}/v1`, 'openai'],
    ['responses', `${gw.url}/v1`, 'openai'],
    ['anthropic', gw.url, 'anthropic'],
    ['gemini', gw.url, 'gemini'],
  ];
  const { makeClient } = await import('../mock/clients.mjs');
  for (const [kind, base, provider] of cases) {
    for (const stream of [false, true]) {
      const r = await runText(makeClient(kind, base, k.key), { model: modelFor(provider), prompt: `sdk ${kind} ${stream}`, stream });
      assert.equal(r.text, `mock reply to: sdk ${kind} ${stream}`, `${kind} stream=${stream}`);
    }
    await assert.rejects(
      runText(makeClient(kind, base, 'sk-not-a-key'), { model: modelFor(provider), prompt: 'x' }),
      (e) => (e.status ?? e.code) === 401 || /401|UNAUTHENTICATED/.test(String(e.message)),
      `${kind} SDK without a valid key`,
    );
  }
  // The Gemini SDK sends x-goog-api-key; ?key= works for raw callers.
  const q = await fetch(`${gw.url}/v1beta/models/${modelFor('gemini')}:generateContent?key=${k.key}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'query key' }] }] }),
  });
  assert.equal(q.status, 200, await q.text());
});

test('revoked, expired and deleted keys → 401 in each format; re-activation restores the key', T, async () => {
  const k = await createKey({ name: 'lifecycle' });
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectOk(kind, k.key);

  let v = await json(await api('PATCH', `/api/keys/${k.id}`, { isActive: false }), 200);
  assert.equal(v.isActive, false);
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectRefused(kind, k.key, 401, /revoked/);

  v = await json(await api('PATCH', `/api/keys/${k.id}`, { isActive: true }), 200);
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectOk(kind, k.key);

  v = await json(await api('PATCH', `/api/keys/${k.id}`, { expiresAt: '2001-01-01T00:00:00Z' }), 200);
  assert.equal(v.expiresAt, '2001-01-01T00:00:00.000Z');
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectRefused(kind, k.key, 401, /expired/);
  v = await json(await api('PATCH', `/api/keys/${k.id}`, { expiresAt: Date.now() + 3600_000 }), 200);
  assert.equal(typeof v.expiresAt, 'string');
  await expectOk('openai', k.key);

  await json(await api('DELETE', `/api/keys/${k.id}`), 200);
  await json(await api('DELETE', `/api/keys/${k.id}`), 404);
  await json(await api('PATCH', `/api/keys/${k.id}`, { isActive: true }), 404);
  for (const kind of ['openai', 'anthropic', 'gemini']) await expectRefused(kind, k.key, 401, /Invalid API key/);
});

test('allowedModels (globs) are enforced against the requested model: 403 in the client format', T, async () => {
  const k = await createKey({ name: 'openai-only', allowedModels: ['openai/*', 'gemini/gemini-2.?-flash'] });
  assert.deepEqual(k.allowedModels, ['openai/*', 'gemini/gemini-2.?-flash']);
  await expectOk('openai', k.key);
  await expectOk('gemini', k.key);
  const body = await (await CLIENTS.anthropic(k.key)).json();
  assertClientError('anthropic', 403, body);
  assert.match(body.error.message, /anthropic\/claude-mock-sonnet/);
  const res = await CLIENTS.openai(k.key, modelFor('anthropic'));
  assert.equal(res.status, 403);
  assertClientError('openai', 403, await res.json());
  const g = await CLIENTS.gemini(k.key, 'gemini/gemini-2.5-pro');
  assert.equal(g.status, 403);
  assertClientError('gemini', 403, await g.json());
  // The model lists show only what the key may use.
  const list = await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } })).json();
  assert.ok(list.data.length > 0);
  assert.ok(list.data.every((m) => m.id.startsWith('openai/') || /^gemini\/gemini-2\..-flash$/.test(m.id)),
    list.data.map((m) => m.id).join(' '));
  assert.ok(list.data.some((m) => m.id.startsWith('openai/')));
  const glist = await (await fetch(`${gw.url}/v1beta/models`, { headers: { 'x-goog-api-key': k.key } })).json();
  assert.ok(glist.models.every((m) => m.name.startsWith('models/openai/') || /gemini-2\..-flash$/.test(m.name)));
  // Widening the list lets the model through at once.
  await json(await api('PATCH', `/api/keys/${k.id}`, { allowedModels: [] }), 200);
  await expectOk('anthropic', k.key);
  const all = await (await fetch(`${gw.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } })).json();
  assert.ok(all.data.some((m) => m.id.startsWith('anthropic/')), 'an unrestricted key sees every model');
});

test('the list shows metadata and lastUsedAt, never a key; bad bodies → 400 naming the field', T, async () => {
  const k = await createKey({ name: 'listed', scopes: [] });
  await expectOk('openai', k.key);
  const { keys } = await json(await api('GET', '/api/keys'), 200);
  const row = keys.find((x) => x.id === k.id);
  assert.ok(row);
  for (const f of ['id', 'name', 'prefix', 'allowedModels', 'scopes', 'isActive', 'expiresAt', 'createdAt', 'lastUsedAt']) {
    assert.ok(f in row, `list field ${f}`);
  }
  assert.equal(row.prefix, k.key.slice(0, 8));
  assert.ok(Date.parse(row.lastUsedAt) >= Date.parse(row.createdAt), JSON.stringify(row));
  const listText = JSON.stringify(keys);
  for (const raw of made) assert.ok(!listText.includes(raw), 'no raw key in the list');
  assert.ok(!/hash/i.test(listText), 'no hash in the list');
  const one = await json(await api('GET', `/api/keys/${k.id}`), 200);
  assert.equal(one.name, 'listed');
  assert.equal(one.key, undefined);
  await json(await api('GET', '/api/keys/nope'), 404);

  const bad = [
    [{}, /name: required/],
    [{ name: 'x', colour: 'red' }, /colour: unknown field/],
    [{ name: '' }, /^name:/],
    [{ name: 'x', allowedModels: 'openai/*' }, /^allowedModels:/],
    [{ name: 'x', scopes: ['root'] }, /^scopes\[0\]:/],
    [{ name: 'x', expiresAt: 'next week' }, /^expiresAt:/],
  ];
  for (const [b, re] of bad) {
    const e = await json(await api('POST', '/api/keys', b), 400);
    assert.match(e.error.message, re, JSON.stringify(b));
  }
  const e = await json(await api('PATCH', `/api/keys/${k.id}`, { isActive: 'no' }), 400);
  assert.match(e.error.message, /isActive/);
  const raw = await fetch(`${gw.url}/api/keys`, { method: 'POST', headers: { cookie: env.cookie }, body: '{oops' });
  assert.equal(raw.status, 400);
  // Keys are not settings: the settings API neither shows nor takes them.
  const settings = await json(await api('GET', '/api/settings'), 200);
  assert.equal(settings.apiKeys, undefined);
  await json(await api('PUT', '/api/settings', { apiKeys: [] }), 400);
});

test('management by Bearer key: the admin scope is needed (403 without, 401 for a bad key)', T, async () => {
  const admin = await createKey({ name: 'ops', scopes: ['admin'] });
  const plain = await createKey({ name: 'plain' });
  const get = (h) => fetch(`${gw.url}/api/providers`, { headers: h });
  assert.equal((await get({ authorization: `Bearer ${admin.key}` })).status, 200);
  const r403 = await get({ authorization: `Bearer ${plain.key}` });
  assert.equal(r403.status, 403);
  assert.match((await r403.json()).error.message, /admin scope/);
  assert.equal((await get({ authorization: `Bearer ${typo(admin.key)}` })).status, 401);
  assert.equal((await get({ authorization: 'Bearer sk-whatever' })).status, 401);
  assert.equal((await get({})).status, 401);
  // The admin key can manage keys, and losing its scope takes effect at once.
  const made2 = await fetch(`${gw.url}/api/keys`, {
    method: 'POST',
    headers: { authorization: `Bearer ${admin.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'by-admin-key' }),
  });
  assert.equal(made2.status, 201);
  made.push((await made2.json()).key);
  await json(await api('PATCH', `/api/keys/${admin.id}`, { scopes: [] }), 200);
  assert.equal((await get({ authorization: `Bearer ${admin.key}` })).status, 403);
  // A key still serves clients.
  await expectOk('openai', admin.key);
});

test('usage rows carry the key id; the database holds no raw key and no provider secret', T, async () => {
  const k = await createKey({ name: 'usage' });
  await expectOk('openai', k.key);
  await expectOk('anthropic', k.key);
  const files = () => ['storage.sqlite', 'storage.sqlite-wal'].map((f) => path.join(gw.dataDir, f)).filter(existsSync);
  const secrets = () => [...made, ...Object.values(PROVIDERS).map((p) => p.key)];
  const scan = (when) => {
    const fs = files();
    assert.ok(fs.length >= 1, 'database files exist');
    for (const f of fs) {
      const bytes = readFileSync(f);
      for (const s of secrets()) {
        assert.ok(!bytes.includes(Buffer.from(s)), `${when}: ${path.basename(f)} holds ${s.slice(0, 10)}…`);
      }
    }
  };
  scan('while running');

  const dir = gw.dataDir;
  const { code } = await gw.stop({ keepData: true });
  assert.equal(code, 0);
  scan('after stop');
  const secretFile = path.join(dir, 'api_key.secret');
  assert.equal(statSync(secretFile).mode & 0o777, 0o600);
  assert.match(readFileSync(secretFile, 'utf8').trim(), /^[0-9a-f]{64}$/);
  const ids = execFileSync('sqlite3', [path.join(dir, 'storage.sqlite'),
    `SELECT api_key_id FROM usage WHERE api_key_id = '${k.id}'`]).toString().trim().split('\n');
  assert.equal(ids.length, 2, `usage rows for the key: ${ids}`);

  // A restart on the same data dir reads the same secret: the key still works, lastUsedAt kept.
  const again = await startGateway({ env: { DATA_DIR: dir, REQUIRE_API_KEY: 'true' } });
  try {
    const res = await fetch(`${again.url}/v1/models`, { headers: { authorization: `Bearer ${k.key}` } });
    assert.equal(res.status, 200);
    const cookie = await again.login();
    const { keys } = await (await fetch(`${again.url}/api/keys`, { headers: { cookie } })).json();
    const row = keys.find((x) => x.id === k.id);
    assert.ok(row && row.lastUsedAt, `lastUsedAt after restart: ${JSON.stringify(row)}`);
  } finally {
    const r = await again.stop({ keepData: true });
    rmSync(again.dataDir, { recursive: true, force: true });
    assert.equal(r.code, 0);
  }
});
