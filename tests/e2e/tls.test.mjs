// HTTPS upstreams end to end: the official OpenAI SDK talks to the real binary, which reaches
// mock providers over TLS (tests/mock/mock.mjs in https mode) — directly, and through HTTP
// CONNECT, SOCKS5 and TLS ("https") proxies (tests/mock/proxies.mjs).
//
// Certificates are made per run (tests/lib/certs.mjs): a test CA, server certs signed by it, and
// a self-signed one nobody trusts. The gateway trusts the CA only because the test says so:
// SSL_CERT_FILE for the shared gateway, NODE_EXTRA_CA_CERTS for a second one; every other
// trust or proxy variable of the runner's environment is removed. Each scenario gets its own
// provider node (its own prefix and key), so a refused certificate, which may cool one
// connection down, cannot disturb the others. Tests run in file order on one gateway, stopped
// with SIGTERM at the end (exit code 0: LeakSanitizer found nothing).
import assert from 'node:assert/strict';
import https from 'node:https';
import { after, before, test } from 'node:test';
import OpenAI from 'openai';
import { adminApi, addNode } from '../lib/admin.mjs';
import { makeCerts } from '../lib/certs.mjs';
import { assertOpenAIError } from '../lib/errors.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { mockReplyText, numberedContent, startMock } from '../mock/mock.mjs';
import { startHttpProxy, startSocks5Proxy } from '../mock/proxies.mjs';

const T = { timeout: 30000 };
const HERMETIC_ENV = Object.fromEntries(
  [
    'SSL_CERT_FILE', 'SSL_CERT_DIR', 'NODE_EXTRA_CA_CERTS', 'CURL_CA_BUNDLE',
    'HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy', 'NO_PROXY', 'no_proxy',
  ].map((k) => [k, undefined]), // undefined: left out of the child's environment
);

let certs, gw, api, client;
// TLS mocks by certificate: good (leaf), nameOnly, ipOnly, untrusted, good2 (leaf on 127.0.0.2)
const m = {};
let plain; // a plain-http mock, for the proxy-over-TLS forward case
let connectProxy, authProxy, socksProxy, tlsProxy;

before(async () => {
  certs = makeCerts();
  m.good = await startMock({ tls: certs.leaf });
  m.nameOnly = await startMock({ tls: certs.nameOnly });
  m.ipOnly = await startMock({ tls: certs.ipOnly });
  m.untrusted = await startMock({ tls: certs.untrusted });
  m.good2 = await startMock({ tls: certs.leaf, host: '127.0.0.2' });
  plain = await startMock();
  connectProxy = await startHttpProxy();
  authProxy = await startHttpProxy({ auth: { username: 'bee', password: 'b-pass' } });
  socksProxy = await startSocks5Proxy();
  tlsProxy = await startHttpProxy({ tls: certs.leaf });
  gw = await startGateway({ env: { ...HERMETIC_ENV, SSL_CERT_FILE: certs.caFile } });
  api = adminApi(gw, await gw.login());
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
});

after(async () => {
  const { code } = gw ? await gw.stop() : { code: 0 };
  await Promise.all([
    ...Object.values(m).map((x) => x.close()),
    plain?.close(),
    ...[connectProxy, authProxy, socksProxy, tlsProxy].map((p) => p?.close()),
  ]);
  certs?.cleanup();
  assert.equal(code, 0, 'SIGTERM → exit 0 (ASan/LSan clean)');
});

// A node "<prefix>/…" whose one connection (key sk-<prefix>) points at baseUrl.
async function route(prefix, baseUrl) {
  return (await addNode(api, { name: prefix, prefix, baseUrl }, { apiKey: `sk-${prefix}` })).connection;
}

const setProxy = async (connId, proxy) => {
  const r = await api('PUT', '/api/settings/proxy', { providers: { [connId]: proxy } });
  assert.equal(r.status, 200, r.text);
};

// The mock's records of the requests whose only user message is marker.
const sent = (mock, marker) => mock.records.filter((r) => r.body?.messages?.[0]?.content === marker);
// The TLS session (mock side) a record's request came on.
const sessionOf = (mock, rec) => mock.tlsSessions.find((s) => s.conn === rec.conn);
// The mock's TCP connections that carried requests so far.
const usedConns = (mock) => new Set(mock.records.map((r) => r.conn));
const onNewConns = (recs, old) => recs.every((r) => !old.has(r.conn));

// One non-stream and one stream chat for model; both answers must be the mock's text, and the
// mock must have seen both with the connection's key and the model without its prefix.
async function roundTrip(mock, model, marker, key) {
  const body = { model, messages: [{ role: 'user', content: marker }] };
  const r = await client.chat.completions.create(body);
  assert.equal(r.choices[0].message.content, mockReplyText(body));
  let text = '';
  for await (const chunk of await client.chat.completions.create({ ...body, stream: true })) {
    text += chunk.choices[0]?.delta?.content ?? '';
  }
  assert.equal(text, mockReplyText(body));
  const recs = sent(mock, marker);
  assert.deepEqual(recs.map((x) => x.stream), [false, true]);
  for (const rec of recs) {
    assert.equal(rec.headers.authorization, `Bearer ${key}`);
    assert.equal(rec.body.model, model.slice(model.indexOf('/') + 1));
  }
  return recs;
}

// The gateway's answer to a chat it cannot deliver: an OpenAI-shaped 5xx, returned for a look.
async function failing(model, marker) {
  let err;
  try {
    await client.chat.completions.create({ model, messages: [{ role: 'user', content: marker }] });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof OpenAI.APIError, `an API error, got ${err}`);
  assert.ok(err.status >= 500 && err.status <= 599, `5xx, got ${err.status}: ${err.message}`);
  assertOpenAIError({ error: err.error });
  return err;
}

function nodeGet(mock, { servername, agent } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.get(
      `${mock.url}/`,
      { ca: certs.ca.cert, agent: agent ?? false, ...(servername ? { servername } : {}) },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      },
    );
    req.on('error', reject);
  });
}

test('fixtures: node:https trusts the leaf, refuses the others, and the mock logs its sessions', T, async () => {
  // What the gateway tests below rely on, checked with node's own client on throwaway mocks
  // first: a failure further down is then the gateway's, not the certificates'.
  const [good, untrusted, nameOnly, ipOnly] = await Promise.all(
    [certs.leaf, certs.untrusted, certs.nameOnly, certs.ipOnly].map((tls) => startMock({ tls })),
  );
  try {
    const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
    for (let i = 0; i < 3; i++) assert.equal(await nodeGet(good, { agent, servername: 'localhost' }), 200);
    agent.destroy();
    assert.equal(good.tlsSessions.length, 1, 'three keep-alive requests, one session');
    assert.equal(good.connections, 1);
    assert.deepEqual([good.tlsSessions[0].servername, good.records.at(-1).conn], ['localhost', 1]);
    assert.equal(await nodeGet(good), 200, 'the leaf is good for 127.0.0.1');
    await assert.rejects(nodeGet(untrusted), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    await assert.rejects(nodeGet(nameOnly), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
    await assert.rejects(nodeGet(ipOnly, { servername: 'localhost' }), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
  } finally {
    await Promise.all([good, untrusted, nameOnly, ipOnly].map((x) => x.close()));
  }
});

let openaiConn; // the built-in openai provider pointed at https://127.0.0.1 (reused below)

test('https://127.0.0.1 (IP in the SAN): answers, key and model arrive; no SNI for an IP', T, async (t) => {
  const r = await api('POST', '/api/providers', {
    provider: 'openai', name: 'tls-ip', apiKey: 'sk-tls-ip', providerSpecificData: { baseUrl: `${m.good.url}/v1` },
  });
  assert.equal(r.status, 201, r.text);
  openaiConn = r.json.connection;
  const recs = await roundTrip(m.good, 'openai/gpt-4o-mini', 'over tls by ip', 'sk-tls-ip');
  const s = sessionOf(m.good, recs[0]);
  assert.equal(s.servername, null, 'RFC 6066: no SNI for an IP literal');
  t.diagnostic(`session ${s.protocol}, ALPN ${s.alpn}`);
});

test('https://localhost (name in the SAN): answers, key and model arrive; SNI is the name', T, async () => {
  await route('tls-name', `https://localhost:${m.good.port}/v1`);
  const recs = await roundTrip(m.good, 'tls-name/gpt-4o-mini', 'over tls by name', 'sk-tls-name');
  assert.equal(sessionOf(m.good, recs[0]).servername, 'localhost');
});

test('30 sequential requests reuse their TLS connections (≤ 2 handshakes)', T, async (t) => {
  const before = m.good.tlsSessions.length;
  const tcpBefore = m.good.connections;
  for (let i = 0; i < 30; i++) {
    const r = await client.chat.completions.create({
      model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: `reuse ${i}` }],
    });
    assert.equal(r.choices[0].message.content, `mock reply to: reuse ${i}`);
  }
  const fresh = m.good.tlsSessions.slice(before);
  t.diagnostic(`${fresh.length} new TLS sessions (${fresh.filter((s) => s.resumed).length} resumed), ` +
    `${m.good.connections - tcpBefore} new TCP connections for 30 requests`);
  assert.ok(fresh.length <= 2, `${fresh.length} handshakes for 30 requests`);
  const conns = new Set(Array.from({ length: 30 }, (_, i) => sent(m.good, `reuse ${i}`)[0].conn));
  assert.ok(conns.size <= 2, `requests came on ${conns.size} connections`);
});

test('a 2 MiB SSE stream over TLS arrives complete and in order', { timeout: 60000 }, async (t) => {
  const total = 2 * 1024 * 1024;
  const parts = [];
  const stream = await client.chat.completions.create({
    model: 'openai/gpt-x-big-stream-2-numbered', messages: [{ role: 'user', content: 'big over tls' }], stream: true,
  });
  for await (const chunk of stream) {
    const d = chunk.choices[0]?.delta?.content;
    if (d) parts.push(d);
  }
  const text = parts.join('');
  const want = numberedContent(0, total);
  t.diagnostic(`${parts.length} content chunks, ${text.length} bytes`);
  if (text !== want) {
    let i = 0;
    while (i < text.length && text[i] === want[i]) i++;
    assert.fail(`differs at byte ${i} of ${total} (got ${text.length}): ` +
      `${JSON.stringify(text.slice(i, i + 24))} vs ${JSON.stringify(want.slice(i, i + 24))}`);
  }
  assert.equal(sent(m.good, 'big over tls')[0].contentBytesWritten, total);
});

test('an untrusted (self-signed) certificate: 5xx, the key never leaves, the gateway keeps serving', T, async (t) => {
  await route('tls-untrusted', `${m.untrusted.url}/v1`);
  const err = await failing('tls-untrusted/gpt-4o-mini', 'to an untrusted server');
  t.diagnostic(`client got ${err.status}: ${err.message}`);
  assert.equal(m.untrusted.records.length, 0, 'no request (and no Authorization) reached the server');
  assert.equal(m.untrusted.tlsSessions.length, 0, 'no handshake completed');
  t.diagnostic(`mock saw: ${m.untrusted.tlsErrors.map((e) => e.code).join(', ')}`);
  await roundTrip(m.good, 'openai/gpt-4o-mini', 'after the untrusted one', 'sk-tls-ip');
});

test('hostname mismatch: the certificate is checked against the host dialled', T, async (t) => {
  for (const [prefix, baseUrl, mock] of [
    ['tls-mm-ip', `https://127.0.0.1:${m.nameOnly.port}/v1`, m.nameOnly], // cert: DNS:localhost only
    ['tls-mm-name', `https://localhost:${m.ipOnly.port}/v1`, m.ipOnly], // cert: IP:127.0.0.1 only
    ['tls-mm-other-ip', `${m.good2.url}/v1`, m.good2], // the good leaf, dialled as 127.0.0.2
  ]) {
    await route(prefix, baseUrl);
    const err = await failing(`${prefix}/gpt-4o-mini`, `mismatch ${prefix}`);
    t.diagnostic(`${baseUrl}: ${err.status} ${err.message}`);
    assert.equal(mock.records.length, 0, `${baseUrl}: nothing reached the server`);
  }
  await roundTrip(m.good, 'openai/gpt-4o-mini', 'after the mismatches', 'sk-tls-ip');
});

test('through an HTTP CONNECT proxy: the tunnel is opened for the https target, TLS inside', T, async () => {
  // The openai connection has pooled direct connections by now: a proxy set on it must not
  // reuse them, and removing it must go direct again.
  await setProxy(openaiConn.id, { type: 'http', host: '127.0.0.1', port: connectProxy.port });
  const direct = usedConns(m.good);
  const recs = await roundTrip(m.good, 'openai/gpt-4o-mini', 'via connect', 'sk-tls-ip');
  assert.ok(onNewConns(recs, direct), 'no pooled direct connection was reused for the proxied route');
  const tunnels = connectProxy.log.filter((e) => e.kind === 'connect');
  assert.ok(tunnels.length >= 1, 'a CONNECT went through the proxy');
  assert.deepEqual(tunnels.map((e) => [e.target, e.denied]), tunnels.map(() => [`127.0.0.1:${m.good.port}`, false]));
  assert.equal(connectProxy.log.filter((e) => e.kind === 'forward').length, 0, 'https is never forwarded in clear');
  assert.equal(connectProxy.requests.length, 0, 'no plaintext request line crossed the tunnel');
  assert.equal(sessionOf(m.good, recs[1]).servername, null, 'still no SNI for the IP');

  const r = await api('DELETE', `/api/settings/proxy?level=providers&id=${openaiConn.id}`);
  assert.equal(r.status, 200, r.text);
  const seen = connectProxy.log.length;
  const again = await roundTrip(m.good, 'openai/gpt-4o-mini', 'direct again', 'sk-tls-ip');
  assert.equal(connectProxy.log.length, seen, 'no new tunnel');
  assert.ok(onNewConns(again, new Set(recs.map((r) => r.conn))), 'a pooled tunnel was not reused for direct');
});

test('through an HTTP CONNECT proxy with Basic auth; a wrong password fails without going around it', T, async (t) => {
  const conn = await route('tls-auth', `${m.good.url}/v1`);
  const proxy = { type: 'http', host: '127.0.0.1', port: authProxy.port, username: 'bee' };
  await setProxy(conn.id, { ...proxy, password: 'b-pass' });
  const old = usedConns(m.good);
  const recs = await roundTrip(m.good, 'tls-auth/gpt-4o-mini', 'via connect with auth', 'sk-tls-auth');
  assert.ok(onNewConns(recs, old), 'not on a pooled direct connection to the same origin');
  const e = authProxy.log.at(-1);
  assert.ok(e, 'the proxy saw the tunnel');
  assert.deepEqual([e.kind, e.target, e.user, e.denied], ['connect', `127.0.0.1:${m.good.port}`, 'bee', false]);

  const bad = await route('tls-auth-bad', `${m.good.url}/v1`);
  await setProxy(bad.id, { ...proxy, password: 'wrong' });
  const err = await failing('tls-auth-bad/gpt-4o-mini', 'via connect, wrong password');
  t.diagnostic(`client got ${err.status}: ${err.message}`);
  assert.equal(authProxy.log.at(-1).denied, true);
  assert.equal(sent(m.good, 'via connect, wrong password').length, 0, 'nothing reached the provider');
});

test('through SOCKS5 with a name: the proxy resolves it, TLS verifies and SNIs the name', T, async () => {
  const conn = await route('tls-socks', `https://localhost:${m.good.port}/v1`);
  await setProxy(conn.id, { type: 'socks5', host: '127.0.0.1', port: socksProxy.port });
  const old = usedConns(m.good);
  const recs = await roundTrip(m.good, 'tls-socks/gpt-4o-mini', 'via socks5', 'sk-tls-socks');
  assert.ok(onNewConns(recs, old), 'not on a pooled direct connection to the same origin');
  const e = socksProxy.log.at(-1);
  assert.ok(e, 'the proxy saw the tunnel');
  assert.deepEqual([e.atyp, e.target, e.denied], ['domain', `localhost:${m.good.port}`, false]);
  assert.equal(socksProxy.requests.length, 0, 'TLS inside the tunnel: no plaintext request line');
  assert.equal(sessionOf(m.good, recs[0]).servername, 'localhost');
});

test('through a TLS ("https") proxy: TLS inside TLS to an https target, forward to an http one', T, async () => {
  const proxy = { type: 'https', host: '127.0.0.1', port: tlsProxy.port };
  const secure = await route('tls-in-tls', `${m.good.url}/v1`);
  await setProxy(secure.id, proxy);
  const old = usedConns(m.good);
  const recs = await roundTrip(m.good, 'tls-in-tls/gpt-4o-mini', 'tls in tls', 'sk-tls-in-tls');
  assert.ok(onNewConns(recs, old), 'not on a pooled direct connection to the same origin');
  assert.deepEqual(tlsProxy.log.map((x) => [x.kind, x.target]).at(-1), ['connect', `127.0.0.1:${m.good.port}`]);
  assert.equal(tlsProxy.requests.length, 0, 'TLS inside the tunnel: no plaintext request line');

  const clear = await route('tls-proxy-plain', `${plain.url}/v1`);
  await setProxy(clear.id, proxy);
  await roundTrip(plain, 'tls-proxy-plain/gpt-4o-mini', 'plain via tls proxy', 'sk-tls-proxy-plain');
  const fwd = tlsProxy.log.filter((x) => x.kind === 'forward');
  assert.ok(fwd.length >= 1, 'absolute-form request forwarded');
  assert.deepEqual([fwd.at(-1).target, fwd.at(-1).path], [`127.0.0.1:${plain.port}`, '/v1/chat/completions']);
});

test('NODE_EXTRA_CA_CERTS instead of SSL_CERT_FILE also trusts the test CA', T, async () => {
  const g = await startGateway({ env: { ...HERMETIC_ENV, NODE_EXTRA_CA_CERTS: certs.caFile } });
  try {
    const a = adminApi(g, await g.login());
    const r = await addNode(a, { name: 'extra', prefix: 'extra', baseUrl: `https://localhost:${m.good.port}/v1` }, {
      apiKey: 'sk-extra',
    });
    assert.equal(r.connection.provider, r.node.providerId);
    const c = new OpenAI({ baseURL: `${g.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 20000 });
    const body = { model: 'extra/gpt-4o-mini', messages: [{ role: 'user', content: 'extra ca' }] };
    assert.equal((await c.chat.completions.create(body)).choices[0].message.content, mockReplyText(body));
    assert.equal(sent(m.good, 'extra ca')[0].headers.authorization, 'Bearer sk-extra');
  } finally {
    const { code } = await g.stop();
    assert.equal(code, 0, 'second gateway: SIGTERM → exit 0');
  }
});

test('client aborts a TLS stream: the mock sees its TLS connection close', T, async (t) => {
  const marker = 'abort over tls';
  const ac = new AbortController();
  const stream = await client.chat.completions.create(
    { model: 'openai/gpt-x-drip-50', messages: [{ role: 'user', content: marker }], stream: true },
    { signal: ac.signal },
  );
  let chunks = 0;
  let abortAt = 0;
  try {
    for await (const chunk of stream) {
      if (chunk.choices[0]?.delta?.content) chunks++;
      if (chunks === 3 && abortAt === 0) {
        abortAt = Date.now();
        ac.abort();
      }
    }
  } catch (e) {
    assert.ok(e instanceof OpenAI.APIUserAbortError || e.name === 'AbortError', `abort error: ${e}`);
  }
  assert.ok(abortAt > 0, 'three content chunks came before the abort');
  const rec = await m.good.waitFor((x) => x.body?.messages?.[0]?.content === marker && x.closedEarlyAt !== null);
  const s = await m.good.waitForSession((x) => x.conn === rec.conn && x.closedAt !== null);
  t.diagnostic(`upstream request closed ${(rec.closedEarlyAt - abortAt).toFixed(1)} ms after the abort, ` +
    `its TLS socket ${(s.closedAt - abortAt).toFixed(1)} ms after`);
  assert.ok(rec.contentBytesWritten < 200 * 6, 'the drip (200 tokens) did not run to completion');
});
