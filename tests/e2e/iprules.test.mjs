// IP access control through the real binary: client and management allow/block lists
// (PUT /api/settings/security), temporary bans (POST /api/security/ban) that expire, 403s in
// the client's own format, and the refusal happening at the request head (a declared 10 MB body
// that is never sent still gets its 403 at once).
//
// Loopback is a /8 on Linux: the admin talks from 127.0.0.1, the "other clients" bind their
// sockets to 127.0.0.2…127.0.0.9 (http.request localAddress), so the gateway sees distinct peers.
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock, cookie;

// One request from a chosen source address → {status, headers, json, text}.
function call(method, path, { from = '127.0.0.1', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1', port: gw.port, method, path, localAddress: from, agent: false,
      headers: {
        ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        ...headers,
      },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = JSON.parse(text); } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, json, text });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const admin = (method, path, body, from) => call(method, path, { from, body, headers: { cookie } });
const chat = (from, model = 'openai/gpt-4o-mini') => call('POST', '/v1/chat/completions', {
  from, body: { model, messages: [{ role: 'user', content: 'ip test' }] },
});
const putSecurity = (body, from) => admin('PUT', '/api/settings/security', body, from);

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  cookie = await gw.login();
  const r = await admin('POST', '/api/providers', {
    provider: 'openai', name: 'openai', apiKey: 'sk-openai', providerSpecificData: { baseUrl: `${mock.url}/v1` },
  });
  assert.equal(r.status, 201, r.text);
});

after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

test('security settings: defaults, validation, normalization, no self-lockout', async () => {
  let r = await admin('GET', '/api/settings/security');
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, {
    ipAllowlist: { client: [], management: [] }, ipBlocklist: { client: [], management: [] },
    bans: [], yourIp: '127.0.0.1',
  });
  r = await putSecurity({ ipBlocklist: { client: ['10.1.2.3/8', '2001:db8::1/32', '::1/128'] } });
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json.ipBlocklist, { client: ['10.0.0.0/8', '2001:db8::/32', '::1'], management: [] });

  for (const [body, msg] of [
    [{ ipBlocklist: { client: ['10.0.0.0/33'] } }, /ipBlocklist\.client\[0\]: prefix length/],
    [{ ipAllowlist: { management: ['nope'] } }, /ipAllowlist\.management\[0\]: not an IP/],
    [{ ipAllowlist: { admins: [] } }, /ipAllowlist\.admins: unknown list/],
    [{ ipAllowlist: 'x' }, /ipAllowlist: must be/],
    [{ bans: [] }, /bans: unknown field/],
  ]) {
    r = await putSecurity(body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.error.message, msg);
  }
  // A management list that leaves the caller out would lock them out.
  r = await putSecurity({ ipAllowlist: { management: ['10.0.0.0/8'] } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /would lock out your own address 127\.0\.0\.1/);
  r = await putSecurity({ ipBlocklist: { management: ['127.0.0.0/8'] } });
  assert.equal(r.status, 400);
  assert.match(r.json.error.message, /ipBlocklist\.management: would lock out/);
  // Nothing of the refused updates was stored.
  r = await admin('GET', '/api/settings/security');
  assert.deepEqual(r.json.ipAllowlist, { client: [], management: [] });
  r = await putSecurity({ ipBlocklist: null });
  assert.deepEqual(r.json.ipBlocklist, { client: [], management: [] });
  // The lists are not /api/settings fields, and the anonymous caller gets 401.
  assert.equal((await call('GET', '/api/settings/security')).status, 401);
});

test('client blocklist: 403 in each client format, management and other addresses unaffected', async () => {
  assert.equal((await chat('127.0.0.2')).status, 200);
  let r = await putSecurity({ ipBlocklist: { client: ['127.0.0.2', '127.0.1.0/24'] } });
  assert.equal(r.status, 200, r.text);
  const before = mock.records.length;

  r = await chat('127.0.0.2');
  assert.equal(r.status, 403, r.text);
  assert.equal(r.json.error.type, 'permission_error');
  assert.match(r.json.error.message, /127\.0\.0\.2 is not allowed/);
  assert.equal((await chat('127.0.1.77')).status, 403);

  r = await call('POST', '/v1/messages', {
    from: '127.0.0.2', body: { model: 'openai/gpt-4o-mini', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] },
  });
  assert.equal(r.status, 403);
  assert.equal(r.json.type, 'error');
  assert.equal(r.json.error.type, 'permission_error');

  r = await call('POST', '/v1beta/models/gemini-2.5-flash:generateContent', {
    from: '127.0.0.2', body: { contents: [{ role: 'user', parts: [{ text: 'x' }] }] },
  });
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 403);
  assert.equal(r.json.error.status, 'PERMISSION_DENIED');

  r = await call('GET', '/v1/models', { from: '127.0.0.2' });
  assert.equal(r.status, 403);
  assert.equal(mock.records.length, before, 'a blocked request never reaches the provider');

  // Other addresses still chat; the blocked one still manages (client list only) and /healthz.
  assert.equal((await chat('127.0.0.3')).status, 200);
  assert.equal((await chat('127.0.0.1')).status, 200);
  assert.equal((await admin('GET', '/api/settings/security', undefined, '127.0.0.2')).status, 200);
  assert.equal((await call('GET', '/healthz', { from: '127.0.0.2' })).status, 200);
});

test('a blocked request is refused at its head: the declared body is never waited for', async () => {
  const t0 = Date.now();
  const reply = await new Promise((resolve, reject) => {
    const s = net.connect({ host: '127.0.0.1', port: gw.port, localAddress: '127.0.0.2' });
    let data = '';
    s.on('connect', () => s.write('POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n'
      + 'Content-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{"model":'));
    s.on('data', (d) => { data += d; });
    s.on('close', () => resolve(data));
    s.on('error', reject);
    s.setTimeout(8000, () => { s.destroy(); resolve(data); });
  });
  assert.match(reply, /^HTTP\/1\.1 403 /);
  assert.match(reply, /not allowed/);
  assert.ok(Date.now() - t0 < 8000, 'answered and closed without the body');
});

test('client allowlist: only listed addresses may call the data plane', async () => {
  let r = await putSecurity({ ipBlocklist: null, ipAllowlist: { client: ['127.0.0.1', '127.0.0.4/31'] } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await chat('127.0.0.1')).status, 200);
  assert.equal((await chat('127.0.0.5')).status, 200);
  r = await chat('127.0.0.3');
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /127\.0\.0\.3 is not allowed/);
  // The blocklist beats the allowlist.
  r = await putSecurity({ ipBlocklist: { client: ['127.0.0.5'] } });
  assert.equal((await chat('127.0.0.5')).status, 403);
  assert.equal((await chat('127.0.0.4')).status, 200);
  await putSecurity({ ipAllowlist: null, ipBlocklist: null });
  assert.equal((await chat('127.0.0.3')).status, 200);
});

test('management allowlist: other addresses get 403 even with a session; data plane open', async () => {
  let r = await putSecurity({ ipAllowlist: { management: ['127.0.0.1'] } });
  assert.equal(r.status, 200, r.text);
  r = await admin('GET', '/api/providers', undefined, '127.0.0.2');
  assert.equal(r.status, 403);
  assert.equal(r.json.error.type, 'permission_error');
  assert.equal(r.json.error.code, 'ip_blocked');
  assert.match(r.json.error.message, /management API/);
  r = await call('POST', '/api/auth/login', { from: '127.0.0.2', body: { password: 'test-password' } });
  assert.equal(r.status, 403, 'the login is management too');
  assert.equal((await call('GET', '/nowhere', { from: '127.0.0.2' })).status, 403);
  assert.equal((await call('GET', '/healthz', { from: '127.0.0.2' })).status, 200);
  assert.equal((await chat('127.0.0.2')).status, 200);
  assert.equal((await admin('GET', '/api/providers')).status, 200);
  r = await putSecurity({ ipAllowlist: null });
  assert.equal((await admin('GET', '/api/providers', undefined, '127.0.0.2')).status, 200);
});

test('temporary bans: everything refused with Retry-After until the ban expires', async () => {
  let r = await admin('POST', '/api/security/ban', { ip: '127.0.0.6', seconds: 1 });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ip, '127.0.0.6');
  assert.equal(r.json.seconds, 1);
  assert.match(r.json.expiresAt, /^\d{4}-\d\d-\d\dT/);

  r = await chat('127.0.0.6');
  assert.equal(r.status, 403);
  assert.match(r.json.error.message, /127\.0\.0\.6 is temporarily banned/);
  assert.equal(r.headers['retry-after'], '1');
  r = await admin('GET', '/api/providers', undefined, '127.0.0.6');
  assert.equal(r.status, 403);
  assert.equal(r.json.error.code, 'ip_banned');
  assert.equal((await chat('127.0.0.7')).status, 200);

  r = await admin('GET', '/api/security/bans');
  assert.deepEqual(r.json.bans.map((b) => b.ip), ['127.0.0.6']);

  await new Promise((res) => setTimeout(res, 1200));
  assert.equal((await chat('127.0.0.6')).status, 200, 'the ban expired');
  assert.deepEqual((await admin('GET', '/api/security/bans')).json.bans, []);
});

test('bans: CIDR, lifting, validation, never the caller', async () => {
  let r = await admin('POST', '/api/security/ban', { ip: '127.0.0.9/30' });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.ip, '127.0.0.8/30');
  assert.equal(r.json.seconds, 3600);
  assert.equal((await chat('127.0.0.10')).status, 403);
  r = await admin('DELETE', `/api/security/ban/${encodeURIComponent('127.0.0.8/30')}`);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(r.json, { ip: '127.0.0.8/30', unbanned: true });
  assert.equal((await chat('127.0.0.10')).status, 200);
  assert.equal((await admin('DELETE', '/api/security/ban/127.0.0.8%2F30')).status, 404);
  assert.equal((await admin('DELETE', '/api/security/ban/not-an-ip')).status, 400);

  for (const [body, msg] of [
    [{ ip: 'garbage' }, /ip: must be an IP address/],
    [{}, /ip: must be/],
    [{ ip: '127.0.0.9', seconds: 0 }, /seconds: must be an integer/],
    [{ ip: '127.0.0.9', seconds: '60' }, /seconds: must be an integer/],
    [{ ip: '127.0.0.1' }, /would ban your own address/],
    [{ ip: '127.0.0.0/8' }, /would ban your own address/],
  ]) {
    r = await admin('POST', '/api/security/ban', body);
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.json.error.message, msg);
  }
});
