// Dashboard auth through the real binary: the session cookie's flags, the login lockout (counted
// per client address: the TCP peer, or the last X-Forwarded-For entry only when
// OMNIROUTE_TRUST_PROXY=1), session expiry and forgery, the requireLogin setting, and the
// password change (the old password and every older session stop working).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import http from 'node:http';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { startGateway } from '../lib/gateway.mjs';

const T = { timeout: 60000 };
const PASSWORD = 'test-password'; // tests/lib/gateway.mjs sets INITIAL_PASSWORD to this
let gw; // behind a "proxy": OMNIROUTE_TRUST_PROXY=1
let direct; // no proxy trust, AUTH_COOKIE_SECURE=true

before(async () => {
  gw = await startGateway({ env: { OMNIROUTE_TRUST_PROXY: '1' } });
  direct = await startGateway({ env: { AUTH_COOKIE_SECURE: 'true' } });
});
after(async () => {
  for (const g of [gw, direct]) {
    if (!g) continue;
    const { code } = await g.stop();
    assert.equal(code, 0);
  }
});

// A raw request, so the test can choose the source address (127.0.0.0/8 is all loopback).
function request(g, method, p, { body, headers = {}, localAddress } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = http.request({
      host: '127.0.0.1',
      port: g.port,
      method,
      path: p,
      localAddress,
      agent: false,
      headers: { 'content-type': 'application/json', ...(data ? { 'content-length': Buffer.byteLength(data) } : {}), ...headers },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString();
        let json = null;
        try { json = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
        resolve({ status: res.statusCode, headers: res.headers, text, json });
      });
    });
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

const login = (g, password, opts = {}) => request(g, 'POST', '/api/auth/login', { body: { password }, ...opts });
const cookieOf = (r) => (r.headers['set-cookie'] || [])[0] || '';

test('login sets an HttpOnly, SameSite=Lax session cookie; Secure only with AUTH_COOKIE_SECURE', T, async () => {
  const r = await login(gw, PASSWORD);
  assert.equal(r.status, 200, r.text);
  const c = cookieOf(r);
  assert.match(c, /^auth_token=[\w-]+\.[\w-]+\.[\w-]+;/);
  assert.match(c, /; HttpOnly/);
  assert.match(c, /; SameSite=Lax/);
  assert.match(c, /; Path=\//);
  assert.match(c, /; Max-Age=86400/);
  assert.doesNotMatch(c, /Secure/);
  const s = await login(direct, PASSWORD);
  assert.equal(s.status, 200, s.text);
  assert.match(cookieOf(s), /; Secure/);
  const out = await request(gw, 'POST', '/api/auth/logout');
  assert.match(cookieOf(out), /^auth_token=; .*Max-Age=0/);
  // The secret that signs sessions was generated into the data dir, private.
  const f = path.join(gw.dataDir, 'jwt.secret');
  assert.equal(statSync(f).mode & 0o777, 0o600);
});

test('6 wrong passwords from one address → 429 + Retry-After; the right password still works from another (X-Forwarded-For, OMNIROUTE_TRUST_PROXY=1)', T, async () => {
  const from = (ip) => ({ headers: { 'x-forwarded-for': ip } });
  for (let i = 1; i <= 5; i++) {
    const r = await login(gw, `wrong-${i}`, from('203.0.113.7'));
    assert.equal(r.status, 401, `attempt ${i}: ${r.text}`);
  }
  const locked = await login(gw, 'wrong-6', from('203.0.113.7'));
  assert.equal(locked.status, 429, locked.text);
  const wait = Number(locked.headers['retry-after']);
  assert.ok(wait > 0 && wait <= 900, `Retry-After ${locked.headers['retry-after']}`);
  assert.equal(locked.json.error.type, 'rate_limit_error');
  // Locked means locked: the right password from there is refused too …
  assert.equal((await login(gw, PASSWORD, from('203.0.113.7'))).status, 429);
  // … and claiming another origin in front of the proxy's entry does not help (the last entry
  // is the one the proxy appended).
  assert.equal((await login(gw, PASSWORD, from('198.51.100.1, 203.0.113.7'))).status, 429);
  // Another client address logs in.
  const ok = await login(gw, PASSWORD, from('198.51.100.20'));
  assert.equal(ok.status, 200, ok.text);
  assert.match(cookieOf(ok), /^auth_token=/);
});

test('without OMNIROUTE_TRUST_PROXY the TCP peer counts and X-Forwarded-For is ignored', T, async () => {
  const a = { localAddress: '127.0.0.2' };
  for (let i = 1; i <= 5; i++) assert.equal((await login(direct, `nope-${i}`, a)).status, 401);
  assert.equal((await login(direct, 'nope-6', a)).status, 429);
  const spoof = await login(direct, PASSWORD, { ...a, headers: { 'x-forwarded-for': '192.0.2.1' } });
  assert.equal(spoof.status, 429, 'a forged X-Forwarded-For does not escape the lockout');
  assert.equal((await login(direct, PASSWORD, { localAddress: '127.0.0.3' })).status, 200);
});

function b64url(buf) {
  return Buffer.from(buf).toString('base64url');
}
function sign(keyHex, claims, header = { alg: 'HS256', typ: 'JWT' }) {
  const head = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const mac = crypto.createHmac('sha256', Buffer.from(keyHex, 'hex')).update(head).digest();
  return `${head}.${b64url(mac)}`;
}

test('sessions expire; forged, tampered and alg:none tokens are refused', T, async () => {
  const key = readFileSync(path.join(gw.dataDir, 'jwt.secret'), 'utf8').trim();
  const now = Math.floor(Date.now() / 1000);
  const get = (tok, how = 'cookie') => request(gw, 'GET', '/api/providers', {
    headers: how === 'cookie' ? { cookie: `auth_token=${tok}` } : { authorization: `Bearer ${tok}` },
  });
  const good = sign(key, { sub: 'admin', authenticated: true, iat: now, exp: now + 60 });
  assert.equal((await get(good)).status, 200);
  assert.equal((await get(good, 'bearer')).status, 200);
  const expired = sign(key, { sub: 'admin', authenticated: true, iat: now - 7200, exp: now - 1 });
  assert.equal((await get(expired)).status, 401);
  const forged = sign(crypto.randomBytes(32).toString('hex'), { sub: 'admin', authenticated: true, iat: now, exp: now + 60 });
  assert.equal((await get(forged)).status, 401);
  const [h, , s] = good.split('.');
  const tampered = `${h}.${b64url(JSON.stringify({ sub: 'admin', authenticated: true, iat: now, exp: now + 9e6 }))}.${s}`;
  assert.equal((await get(tampered)).status, 401);
  const none = `${b64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${b64url(JSON.stringify({ sub: 'admin', iat: now, exp: now + 60 }))}.`;
  assert.equal((await get(none)).status, 401);
  const notSession = sign(key, { sub: 'someone', iat: now, exp: now + 60 });
  assert.equal((await get(notSession)).status, 401);
});

test('requireLogin=false opens the management API; true closes it again', T, async () => {
  const cookie = cookieOf(await login(gw, PASSWORD)).split(';')[0];
  assert.equal((await request(gw, 'GET', '/api/providers')).status, 401);
  let r = await request(gw, 'PUT', '/api/settings', { body: { requireLogin: false }, headers: { cookie } });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.json.requireLogin, false);
  assert.equal((await request(gw, 'GET', '/api/providers')).status, 200);
  const st = await request(gw, 'GET', '/api/auth/status');
  assert.equal(st.json.authenticated, true);
  assert.equal(st.json.requireLogin, false);
  r = await request(gw, 'PUT', '/api/settings', { body: { requireLogin: true } });
  assert.equal(r.status, 200, r.text);
  assert.equal((await request(gw, 'GET', '/api/providers')).status, 401);
  const st2 = await request(gw, 'GET', '/api/auth/status');
  assert.deepEqual(st2.json, { authenticated: false, needsSetup: false, requireLogin: true });
});

test('password change: wrong current → 403, weak new → 400; afterwards the old password and older sessions fail', T, async () => {
  const old = cookieOf(await login(gw, PASSWORD)).split(';')[0];
  assert.equal((await request(gw, 'GET', '/api/providers', { headers: { cookie: old } })).status, 200);
  // Session times have one-second resolution: let this one be strictly older than the change.
  await new Promise((r) => setTimeout(r, 1100));
  const change = (body, headers = { cookie: old }) => request(gw, 'POST', '/api/auth/password', { body, headers });
  assert.equal((await change({ currentPassword: 'nope', newPassword: 'brand-new-pw' })).status, 403);
  assert.equal((await change({ currentPassword: PASSWORD, newPassword: 'ab' })).status, 400);
  assert.equal((await change({ newPassword: 'brand-new-pw' })).status, 400);
  assert.equal((await change({ currentPassword: PASSWORD, newPassword: 'brand-new-pw' }, {})).status, 401, 'needs a session');
  const ok = await change({ currentPassword: PASSWORD, newPassword: 'brand-new-pw' });
  assert.equal(ok.status, 200, ok.text);
  const fresh = cookieOf(ok).split(';')[0];
  assert.match(fresh, /^auth_token=/);
  assert.match(cookieOf(ok), /HttpOnly/);

  assert.equal((await request(gw, 'GET', '/api/providers', { headers: { cookie: old } })).status, 401, 'older session revoked');
  assert.equal((await request(gw, 'GET', '/api/providers', { headers: { cookie: fresh } })).status, 200);
  assert.equal((await login(gw, PASSWORD)).status, 401, 'old password refused');
  assert.equal((await login(gw, 'brand-new-pw')).status, 200);
});
