// Outbound proxies through the real binary: provider requests reach the mock through a loopback
// HTTP proxy and a SOCKS5 proxy (tests/mock/proxies.mjs, whose logs show what went through);
// precedence key → combo → connection → provider → global → environment; passwords sealed and
// never echoed; POST /api/settings/proxy/test; HTTP_PROXY / NO_PROXY from the environment.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { adminApi } from '../lib/admin.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';
import { startHttpProxy, startSocks5Proxy } from '../mock/proxies.mjs';

const SOCKS_PASSWORD = 'socks-p@ss:word/%secret';
let gw, mock, api, httpA, httpB, socks, connId, key;

async function chat(model = 'openai/gpt-4o-mini', { apiKey = 'anything', url = gw.url } = {}) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${apiKey}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'via proxy' }] }),
  });
  return { status: res.status, body: await res.json() };
}

const counts = () => [httpA.requests.length, httpB.requests.length, socks.requests.length];
// Which proxy carried the next chat: 'A', 'B', 'socks' or 'direct'.
async function via(model, opts) {
  const before = counts();
  const r = await chat(model, opts);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.choices[0].message.content, 'mock reply to: via proxy');
  const grew = counts().map((n, i) => n > before[i]);
  assert.ok(grew.filter(Boolean).length <= 1, `one proxy at most: ${grew}`);
  return ['A', 'B', 'socks'][grew.indexOf(true)] ?? 'direct';
}

const put = async (body, status = 200) => {
  const r = await api('PUT', '/api/settings/proxy', body);
  assert.equal(r.status, status, r.text);
  return r.json;
};
const httpProxy = (p, extra = {}) => ({ type: 'http', host: '127.0.0.1', port: p.port, ...extra });

before(async () => {
  mock = await startMock();
  httpA = await startHttpProxy();
  httpB = await startHttpProxy({ auth: { username: 'bee', password: 'b-pass' } });
  socks = await startSocks5Proxy({ auth: { username: 'sox', password: SOCKS_PASSWORD } });
  gw = await startGateway();
  api = adminApi(gw, await gw.login());
  let r = await api('POST', '/api/providers', {
    provider: 'openai', name: 'openai', apiKey: 'sk-openai', providerSpecificData: { baseUrl: `${mock.url}/v1` },
  });
  assert.equal(r.status, 201, r.text);
  connId = r.json.connection.id;
  r = await api('POST', '/api/combos', { name: 'viaCombo', models: ['openai/gpt-4o-mini'] });
  assert.equal(r.status, 201, r.text);
  r = await api('POST', '/api/keys', { name: 'proxied' });
  assert.equal(r.status, 201, r.text);
  key = r.json;
});

after(async () => {
  const { code } = await gw.stop();
  await Promise.all([mock.close(), httpA.close(), httpB.close(), socks.close()]);
  assert.equal(code, 0);
});

test('defaults and validation', async () => {
  let r = await api('GET', '/api/settings/proxy');
  assert.equal(r.status, 200);
  assert.deepEqual(r.json, { global: null, providers: {}, combos: {}, keys: {} });
  for (const [body, msg] of [
    [{ global: { type: 'ftp', host: 'h', port: 1 } }, /^global\.type: must be http, https, socks5 or direct/],
    [{ global: { type: 'http', host: 'h', port: 70000 } }, /^global\.port: must be an integer from 1 to 65535/],
    [{ global: { type: 'http', host: 'a b', port: 1 } }, /^global\.host: /],
    [{ global: { type: 'http', host: 'h', port: 1, pass: 'x' } }, /^global\.pass: unknown field/],
    [{ global: { type: 'http', host: 'h', port: 1, password: 'x' } }, /^global\.password: needs a username/],
    [{ providers: { openai: { type: 'socks5', host: 'h' } } }, /^providers\.openai\.port: /],
    [{ providers: [] }, /^providers: must be an object/],
    [{ nodes: {} }, /^nodes: unknown field/],
  ]) {
    r = await api('PUT', '/api/settings/proxy', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.error.message, msg);
  }
  assert.equal((await api('PUT', '/api/settings/proxy', null)).status, 400);
  assert.equal((await fetch(`${gw.url}/api/settings/proxy`)).status, 401);
  assert.equal(await via(), 'direct');
});

test('a chat reaches the mock through an HTTP proxy (global)', async () => {
  const view = await put({ global: httpProxy(httpA) });
  assert.deepEqual(view.global, { type: 'http', host: '127.0.0.1', port: httpA.port, hasPassword: false });
  const seen = mock.records.length;
  assert.equal(await via(), 'A');
  const entry = httpA.log.at(-1);
  assert.equal(entry.kind, 'forward');
  assert.equal(entry.method, 'POST');
  assert.equal(entry.target, `127.0.0.1:${mock.port}`);
  assert.equal(entry.path, '/v1/chat/completions');
  assert.equal(mock.records.length, seen + 1);
  assert.equal(mock.records.at(-1).headers.authorization, 'Bearer sk-openai');
});

test('a chat reaches the mock through a SOCKS5 proxy with credentials; the password is sealed', async () => {
  const view = await put({ providers: { openai: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } } });
  assert.deepEqual(view.providers.openai, { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', hasPassword: true });
  assert.equal(await via(), 'socks', 'the provider proxy beats the global one');
  const entry = socks.log.at(-1);
  assert.deepEqual([entry.user, entry.denied, entry.target], ['sox', false, `127.0.0.1:${mock.port}`]);

  // Never echoed, never stored in clear.
  const r = await api('GET', '/api/settings/proxy');
  assert.ok(!r.text.includes(SOCKS_PASSWORD) && !r.text.includes('passwordSealed'), r.text);
  const settings = await api('GET', '/api/settings');
  assert.ok(!settings.text.includes(SOCKS_PASSWORD));
  for (const f of readdirSync(gw.dataDir)) {
    const bytes = readFileSync(path.join(gw.dataDir, f));
    assert.ok(!bytes.includes(Buffer.from(SOCKS_PASSWORD)), `${f} holds the password in clear`);
    assert.ok(!bytes.includes(Buffer.from('socks-p%40ss')), `${f} holds the encoded password`);
  }

  // An update without a password keeps it; a wrong one fails the request, never goes direct.
  await put({ providers: { openai: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox' } } });
  assert.equal(await via(), 'socks');
  await put({ providers: { openai: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: 'wrong' } } });
  const seen = mock.records.length;
  const bad = await chat();
  assert.ok(bad.status >= 500, `status ${bad.status}`);
  assert.equal(socks.log.at(-1).denied, true);
  assert.equal(mock.records.length, seen, 'nothing reached the provider around the proxy');
});

test('socks5 resolves names through the proxy (socks5h)', async () => {
  const r = await api('POST', '/api/providers', {
    provider: 'deepseek', name: 'by-name', apiKey: 'sk-ds', providerSpecificData: { baseUrl: `http://localhost:${mock.port}/v1` },
  });
  assert.equal(r.status, 201, r.text);
  const id = r.json.connection.id;
  await put({ providers: { deepseek: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } } });
  assert.equal(await via('deepseek/deepseek-chat'), 'socks');
  assert.deepEqual([socks.log.at(-1).atyp, socks.log.at(-1).target], ['domain', `localhost:${mock.port}`]);
  await put({ providers: { deepseek: null } });
  assert.equal((await api('DELETE', `/api/providers/${id}`)).status, 200);
});

test('precedence: key → combo → connection → provider → global, and direct', async () => {
  await put({
    global: httpProxy(httpA),
    providers: { openai: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } },
  });
  assert.equal(await via(), 'socks', 'provider beats global');
  await put({ providers: { [connId]: httpProxy(httpB, { username: 'bee', password: 'b-pass' }) } });
  assert.equal(await via(), 'B', 'connection beats provider');
  assert.equal(httpB.log.at(-1).user, 'bee');
  await put({ combos: { viaCombo: httpProxy(httpA) } });
  assert.equal(await via('viaCombo'), 'A', 'combo beats connection');
  assert.equal(await via(), 'B', 'the combo proxy is for the combo only');
  await put({ keys: { [key.id]: { type: 'direct' } } });
  assert.equal(await via('viaCombo', { apiKey: key.key }), 'direct', 'key (direct) beats combo');
  await put({ keys: { [key.id]: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } } });
  assert.equal(await via('viaCombo', { apiKey: key.key }), 'socks', 'key beats combo');
  assert.equal(await via('viaCombo'), 'A', 'other callers keep the combo proxy');

  const view = (await api('GET', '/api/settings/proxy')).json;
  assert.deepEqual(Object.keys(view.providers).sort(), [connId, 'openai'].sort());
  assert.deepEqual(view.keys[key.id].type, 'socks5');

  // DELETE one level at a time, then everything.
  let r = await api('DELETE', `/api/settings/proxy?level=keys&id=${key.id}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.keys, {});
  assert.equal(await via('viaCombo', { apiKey: key.key }), 'A');
  assert.equal((await api('DELETE', `/api/settings/proxy?level=keys&id=${key.id}`)).status, 404);
  assert.equal((await api('DELETE', '/api/settings/proxy?level=combos')).status, 400);
  assert.equal((await api('DELETE', '/api/settings/proxy?level=nope&id=x')).status, 400);
  r = await api('DELETE', `/api/settings/proxy?level=providers&id=${connId}`);
  assert.equal(r.status, 200);
  assert.equal(await via(), 'socks');
  r = await api('DELETE', '/api/settings/proxy?level=global');
  assert.equal(r.json.global, null);
  r = await api('DELETE', '/api/settings/proxy');
  assert.deepEqual(r.json, { global: null, providers: {}, combos: {}, keys: {} });
  assert.equal(await via(), 'direct');
});

test('POST /api/settings/proxy/test reports reachability and latency', async () => {
  let r = await api('POST', '/api/settings/proxy/test', { proxy: httpProxy(httpA) });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ok, true, r.text);
  assert.equal(typeof r.json.latencyMs, 'number');
  assert.equal(r.json.url, `${mock.url}/v1`, 'default: the first connection\'s API root');
  assert.equal(r.json.proxy, `http://127.0.0.1:${httpA.port}`);
  assert.equal(httpA.log.at(-1).path, '/v1');

  r = await api('POST', '/api/settings/proxy/test', {
    proxy: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD },
    url: `${mock.url}/healthz-anything`,
  });
  assert.equal(r.json.ok, true, r.text);
  assert.equal(r.json.proxy, `socks5h://sox@127.0.0.1:${socks.port}`, 'shown without the password');
  assert.ok(!r.text.includes('p%40ss') && !r.text.includes(SOCKS_PASSWORD));

  r = await api('POST', '/api/settings/proxy/test', {
    proxy: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: 'nope' },
  });
  assert.equal(r.json.ok, false);
  assert.equal(typeof r.json.error, 'string');
  r = await api('POST', '/api/settings/proxy/test', { proxy: httpProxy(httpB, { username: 'bee', password: 'bad' }) });
  assert.equal(r.json.ok, false);
  assert.equal(r.json.statusCode, 407);

  const closed = await startHttpProxy();
  const port = closed.port;
  await closed.close();
  r = await api('POST', '/api/settings/proxy/test', { proxy: { type: 'http', host: '127.0.0.1', port } });
  assert.equal(r.json.ok, false);
  assert.match(r.json.error, /connect/i);

  // A stored proxy by level and id uses its sealed password.
  await put({ providers: { openai: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } } });
  const through = socks.requests.length;
  r = await api('POST', '/api/settings/proxy/test', { level: 'providers', id: 'openai' });
  assert.equal(r.json.ok, true, r.text);
  assert.equal(socks.requests.length, through + 1);
  assert.equal(socks.requests.at(-1).path, '/v1');
  assert.equal((await api('POST', '/api/settings/proxy/test', { level: 'combos', id: 'none' })).status, 404);
  assert.equal((await api('POST', '/api/settings/proxy/test', {})).status, 400);
  assert.equal((await api('POST', '/api/settings/proxy/test', { proxy: { type: 'direct' } })).status, 400);
  assert.equal((await api('POST', '/api/settings/proxy/test', { proxy: httpProxy(httpA), url: 'ftp://x' })).status, 400);
  await api('DELETE', '/api/settings/proxy');
});

test('environment: HTTP_PROXY (upper case, which libcurl alone ignores) and NO_PROXY', async () => {
  for (const [env, expect] of [
    [{ HTTP_PROXY: httpA.url, http_proxy: '' }, 'A'],
    [{ ALL_PROXY: httpA.url, HTTP_PROXY: '', http_proxy: '' }, 'A'],
    [{ HTTP_PROXY: httpA.url, http_proxy: '', NO_PROXY: 'example.com, 127.0.0.0/8' }, 'direct'],
  ]) {
    const g = await startGateway({ env: { HTTPS_PROXY: '', https_proxy: '', ALL_PROXY: '', all_proxy: '', NO_PROXY: '', no_proxy: '', ...env } });
    try {
      const c = await g.login();
      const r = await fetch(`${g.url}/api/providers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', cookie: c },
        body: JSON.stringify({ provider: 'openai', name: 'o', apiKey: 'sk-o', providerSpecificData: { baseUrl: `${mock.url}/v1` } }),
      });
      assert.equal(r.status, 201);
      assert.equal(await via('openai/gpt-4o-mini', { url: g.url }), expect, JSON.stringify(env));
      // A configured proxy beats the environment, NO_PROXY included.
      const p = await fetch(`${g.url}/api/settings/proxy`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', cookie: c },
        body: JSON.stringify({ global: { type: 'socks5', host: '127.0.0.1', port: socks.port, username: 'sox', password: SOCKS_PASSWORD } }),
      });
      assert.equal(p.status, 200);
      assert.equal(await via('openai/gpt-4o-mini', { url: g.url }), 'socks');
    } finally {
      const { code } = await g.stop();
      assert.equal(code, 0);
    }
  }
});
