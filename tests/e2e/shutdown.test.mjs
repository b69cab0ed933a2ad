// Graceful shutdown: SIGTERM stops accepting, lets in-flight streams finish within the grace
// period, cuts them (cancelling their upstream transfers) past it, and exits 0 (ASan clean).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

async function setup(env = {}) {
  const mock = await startMock();
  const gw = await startGateway({ env });
  const cookie = await gw.login();
  const res = await fetch(`${gw.url}/api/providers`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie },
    body: JSON.stringify({ provider: 'openai', name: 'mock', apiKey: 'sk-x',
      providerSpecificData: { baseUrl: `${mock.url}/v1` } }),
  });
  assert.equal(res.status, 201);
  return { mock, gw };
}

async function readStream(url, model) {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, stream: true, messages: [{ role: 'user', content: 'hi' }] }),
  });
  assert.equal(res.status, 200);
  let text = '';
  const dec = new TextDecoder();
  try {
    for await (const chunk of res.body) text += dec.decode(chunk, { stream: true });
  } catch (e) {
    text += `\n<<read error: ${e.message}>>`;
  }
  return text;
}

async function until(pred, ms = 5000) {
  const t0 = Date.now();
  for (;;) {
    const v = pred();
    if (v) return v;
    if (Date.now() - t0 > ms) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

function canConnect(port) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

test('SIGTERM lets an in-flight stream finish, refuses new connections, exits 0', async () => {
  const { mock, gw } = await setup();
  try {
    const streaming = readStream(gw.url, 'openai/mock-drip-50-n30'); // ~1.5 s of tokens
    await until(() => mock.records.some((r) => r.stream));
    await new Promise((r) => setTimeout(r, 200));
    const stopped = gw.stop({ keepData: true });
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(await canConnect(gw.port), false, 'the listener is closed while draining');
    const text = await streaming;
    assert.match(text, /data: \[DONE\]/, 'the stream ran to its end');
    assert.doesNotMatch(text, /"error"/);
    const { code } = await stopped;
    assert.equal(code, 0);
  } finally {
    await gw.stop();
    await mock.close();
  }
});

test('past the grace period the stream is cut, its upstream transfer cancelled, and the exit is prompt', async () => {
  const { mock, gw } = await setup({ OMNIROUTE_SHUTDOWN_GRACE_MS: '500' });
  try {
    const streaming = readStream(gw.url, 'openai/mock-drip-100-n200'); // 20 s if left alone
    await until(() => mock.records.some((r) => r.stream));
    await new Promise((r) => setTimeout(r, 200));
    const t0 = Date.now();
    const { code } = await gw.stop({ keepData: true });
    const elapsed = Date.now() - t0;
    assert.equal(code, 0);
    assert.ok(elapsed < 5000, `exited ${elapsed} ms after SIGTERM`);
    const text = await streaming;
    assert.doesNotMatch(text, /mock reply to: hi$/, 'the answer was not completed');
    const rec = await until(() => mock.records.find((r) => r.stream && r.closedEarlyAt), 3000);
    assert.ok(rec, 'the upstream transfer was cancelled');
  } finally {
    await gw.stop();
    await mock.close();
  }
});
