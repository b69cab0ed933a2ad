// Acceptance of issue 4 (account selection): one provider with two connections (two accounts,
// each with its own key and mock path prefix, so the mock's record says which one served).
// The account strategy is switched with PUT /api/settings {fallbackStrategy,
// stickyRoundRobinLimit}; an account is made to fail (and healed) per key with mock.setFault.
//
//   fill-first (the default) stays on the first account until it fails, then on the second
//     while the first cools down;
//   p2c never picks the account that is in cooldown;
//   round-robin with sticky limit 3 splits 12 requests 6/6 in runs of 3.
//
// Tests run in file order on one gateway. Only order and counts are asserted, never timings.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startGateway } from '../lib/gateway.mjs';
import { adminApi } from '../lib/admin.mjs';
import { startMock, mockReplyText } from '../mock/mock.mjs';

const T = { timeout: 60000 };
const KEY_A = 'sk-acct-a';
const KEY_B = 'sk-acct-b';
const MODEL = 'openai/gpt-4o-mini';

let mock;
let gw;
let api; // the management API, once logged in
let client;
let stopped = null;
let seq = 0;

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'anything', maxRetries: 0, timeout: 30000 });
});

after(async () => {
  if (gw && stopped === null) await gw.stop();
  if (mock) await mock.close();
});

async function putSettings(patch) {
  const r = await api('PUT', '/api/settings', patch);
  assert.equal(r.status, 200, `PUT /api/settings ${JSON.stringify(patch)}: ${r.status} ${r.text}`);
  const g = await api('GET', '/api/settings');
  assert.equal(g.status, 200, g.text);
  for (const [k, v] of Object.entries(patch)) assert.deepEqual(g.json[k], v, `GET /api/settings .${k}`);
}

// Which account a record came from: the key it carried (and the path prefix it used).
function accountOf(r) {
  const byKey = { [`Bearer ${KEY_A}`]: 'A', [`Bearer ${KEY_B}`]: 'B' }[r.headers.authorization];
  const byPath = { a: 'A', b: 'B' }[r.path.split('/')[1]];
  assert.equal(byKey, byPath, `record key and prefix agree: ${r.headers.authorization} ${r.path}`);
  return byKey;
}

function recordsFor(marker) {
  return mock.records.filter(
    (r) => r.path.endsWith('/chat/completions') && r.body?.messages?.some((m) => m.content === marker),
  );
}

const hits = (acct) =>
  mock.records.filter((r) => r.path.endsWith('/chat/completions') && accountOf(r) === acct).length;

// One request; returns the accounts its upstream attempts went to, in order, with their status.
async function one(label, { stream = false } = {}) {
  const marker = `${label} #${++seq}`;
  const body = { model: MODEL, messages: [{ role: 'user', content: marker }] };
  let text = '';
  let headers;
  if (stream) {
    const { data, response } = await client.chat.completions.create({ ...body, stream: true }).withResponse();
    headers = response.headers;
    for await (const c of data) text += c.choices[0]?.delta?.content ?? '';
  } else {
    const { data, response } = await client.chat.completions.create(body).withResponse();
    headers = response.headers;
    text = data.choices[0].message.content;
  }
  assert.equal(text, mockReplyText(body), `${marker}: complete answer`);
  const rs = recordsFor(marker);
  const attempts = rs.map((r) => `${accountOf(r)}:${r.status}`);
  const h = headers.get('x-omniroute-fallback-attempts');
  assert.equal(Number(h), rs.length, `${marker}: X-OmniRoute-Fallback-Attempts "${h}" vs ${attempts}`);
  return { attempts, served: accountOf(rs.at(-1)) };
}

test('setup: two accounts of one provider (A priority 1, B priority 2)', T, async () => {
  api = adminApi(gw, await gw.login());
  for (const [name, key, prefix, priority] of [
    ['acct-a', KEY_A, 'a', 1],
    ['acct-b', KEY_B, 'b', 2],
  ]) {
    const r = await api('POST', '/api/providers', {
      provider: 'openai',
      name,
      apiKey: key,
      priority,
      providerSpecificData: { baseUrl: `${mock.url}/${prefix}/v1` },
    });
    assert.equal(r.status, 201, `POST /api/providers ${name}: ${r.text}`);
  }
  const g = await api('GET', '/api/settings');
  assert.equal(g.status, 200, g.text);
  const fs = g.json.fallbackStrategy;
  assert.ok(fs === undefined || fs === 'fill-first', `default account strategy: ${fs}`);
});

test('fill-first stays on the first account until it fails, then uses the second', T, async (t) => {
  // The default strategy first, then the same when set explicitly.
  for (let i = 0; i < 3; i++) assert.deepEqual((await one('ff default', { stream: i === 1 })).attempts, ['A:200']);
  await putSettings({ fallbackStrategy: 'fill-first' });
  for (let i = 0; i < 3; i++) assert.deepEqual((await one('ff', { stream: i === 2 })).attempts, ['A:200']);
  assert.equal(hits('B'), 0, 'B untouched while A is healthy');

  // A starts answering 429 with a long Retry-After: the request falls over to B invisibly…
  mock.setFault(KEY_A, 'status-429-retry-60');
  const failing = await one('ff fail');
  assert.deepEqual(failing.attempts, ['A:429', 'B:200'], 'the failing request tried A, then B');
  // …and the next ones go straight to B while A cools down.
  const a0 = hits('A');
  for (let i = 0; i < 5; i++) assert.deepEqual((await one('ff after', { stream: i % 2 === 0 })).attempts, ['B:200']);
  assert.equal(hits('A'), a0, 'A (in cooldown) is not asked again');
  t.diagnostic(`A ${hits('A')} requests, B ${hits('B')}`);
});

test('p2c avoids the account in cooldown', T, async () => {
  // A is still cooling down from the 429 above (Retry-After 60 s) and still failing.
  await putSettings({ fallbackStrategy: 'p2c' });
  const a0 = hits('A');
  for (let i = 0; i < 10; i++) {
    const r = await one('p2c', { stream: i % 3 === 0 });
    assert.deepEqual(r.attempts, ['B:200'], `request ${i}: p2c picked the healthy account`);
  }
  assert.equal(hits('A'), a0, 'the account in cooldown was never asked');
});

// Beyond the acceptance list: with two equally healthy accounts the P2C score's recent-use terms
// (consecutive uses, last use; see the original's table) make the idle one win, so the load is
// shared — p2c must not degenerate into fill-first.
test('p2c shares the load when both accounts are healthy', T, async (t) => {
  mock.setFault(KEY_A, null);
  const r = await api('POST', '/api/resilience/reset', {});
  assert.ok(r.status === 200 || r.status === 204, `reset: ${r.status} ${r.text}`);
  const served = [];
  for (let i = 0; i < 20; i++) {
    const x = await one('p2c healthy');
    assert.equal(x.attempts.length, 1, `request ${i}: one attempt (${x.attempts})`);
    served.push(x.served);
  }
  t.diagnostic(`p2c served: ${served.join('')}`);
  const a = served.filter((s) => s === 'A').length;
  assert.ok(a >= 4 && a <= 16, `both accounts serve a share of 20 requests: ${served.join('')}`);
});

test('round-robin, sticky 3: 12 requests split 6/6 in runs of 3', T, async (t) => {
  mock.setFault(KEY_A, null);
  const r = await api('POST', '/api/resilience/reset', {});
  assert.ok(r.status === 200 || r.status === 204, `reset: ${r.status} ${r.text}`);
  await putSettings({ fallbackStrategy: 'round-robin', stickyRoundRobinLimit: 3 });
  const served = [];
  for (let i = 0; i < 12; i++) {
    const x = await one('rr', { stream: i % 2 === 1 });
    assert.equal(x.attempts.length, 1, `request ${i}: one attempt (${x.attempts})`);
    served.push(x.served);
  }
  const seqStr = served.join('');
  t.diagnostic(`round-robin served: ${seqStr}`);
  assert.equal(served.filter((s) => s === 'A').length, 6, `6 on A: ${seqStr}`);
  assert.equal(served.filter((s) => s === 'B').length, 6, `6 on B: ${seqStr}`);
  const runs = seqStr.match(/A+|B+/g).map((s) => s.length);
  assert.deepEqual(runs, [3, 3, 3, 3], `runs of 3: ${seqStr}`);
});

test('round-robin skips a failing account and comes back to it once healed', T, async (t) => {
  // A fails with Retry-After 2 s: every request still succeeds (on B), and A is not asked
  // again before its Retry-After is over.
  mock.setFault(KEY_A, 'status-429-retry-2');
  const t0 = Date.now();
  const served = [];
  while (Date.now() - t0 < 5000) {
    const x = await one('rr fail');
    assert.equal(x.served, 'B', `while A fails: ${x.attempts}`);
    served.push(x.attempts.join('+'));
    await new Promise((r) => setTimeout(r, 100));
  }
  t.diagnostic(`while A fails: ${served.join(' ')}`);
  const a429 = mock.records.filter((r) => r.body?.messages?.[0]?.content?.startsWith('rr fail') && accountOf(r) === 'A');
  const gaps = a429.slice(1).map((r, k) => r.receivedAt - a429[k].receivedAt);
  t.diagnostic(`A asked ${a429.length}x; gaps ${gaps.map((g) => g.toFixed(0))} ms`);
  assert.ok(a429.length >= 1, 'A was tried');
  for (const g of gaps) assert.ok(g >= 1950, `A retried after ${g.toFixed(0)} ms < Retry-After 2 s`);

  mock.setFault(KEY_A, null);
  await new Promise((r) => setTimeout(r, 3000)); // past the last Retry-After, with slack
  const after = [];
  for (let i = 0; i < 8; i++) after.push((await one('rr healed')).served);
  t.diagnostic(`after healing: ${after.join('')}`);
  assert.ok(after.includes('A'), `A serves again after its cooldown: ${after.join('')}`);
});

test('the gateway exits 0 on SIGTERM', T, async () => {
  stopped = await gw.stop();
  assert.deepEqual(stopped, { code: 0, sig: null }, `exit: ${JSON.stringify(stopped)}\n${gw.stderr().slice(-4000)}`);
});
