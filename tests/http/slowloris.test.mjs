// Slow-client probes (the "Slowloris" table of /work/shared/reference/http-stack.md) with short
// deadlines set through the environment: a header deadline that trickling cannot extend, an idle
// timeout, and a minimum body rate. Timing bounds carry ≥ 1 s of margin: the binary runs under ASan.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import {
  RawConn, assertAlive, assertCleanShutdown, assertClosed, assertStatus, missingDate, req,
  seenResponses, show, sleep,
} from './lib.mjs';

const T = { timeout: 60000 };
const CHAT = '/v1/chat/completions';
const ENV = {
  OMNIROUTE_HEADER_TIMEOUT_MS: '1000',
  OMNIROUTE_IDLE_TIMEOUT_MS: '1000',
  OMNIROUTE_BODY_MIN_RATE: '100',
  OMNIROUTE_BODY_RATE_WINDOW_MS: '1000',
};

// Writes `bytes` one at a time every `everyMs` until the server replies or hangs up (or the bytes
// run out), then waits up to `waitMs` for the close.
async function trickle(c, bytes, everyMs, waitMs) {
  for (let i = 0; i < bytes.length; i++) {
    if (c.closed || c.responses.length) break;
    c.write(bytes.subarray(i, i + 1));
    await c.waitFor((x) => x.closed || x.responses.length > 0, everyMs);
  }
  await c.waitResponses(1, waitMs);
  if (!c.closed) await c.waitClosed(waitMs);
}

describe('slowloris (header 1 s, idle 1 s, body ≥ 100 B/s over 1 s)', () => {
  let gw;
  before(async () => { gw = await startGateway({ env: ENV }); });
  after(async () => { if (gw) await gw.stop(); });

  test('connect and send nothing → closed within ~1–2 s', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.waitClosed(6000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertClosed(r, 'silent connection');
    assert.ok(r.closedAtMs <= 3000, `silent connection: closed too late; ${show(r)}`);
    assert.ok(r.closedAtMs >= 500, `silent connection: closed before any timeout could fire; ${show(r)}`);
    await assertAlive(gw);
  });

  test('partial header then silence → 408 then close', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Partial: ');
    await c.waitResponses(1, 6000);
    if (!c.closed) await c.waitClosed(3000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 408, 'partial header');
    assertClosed(r, 'partial header');
    assert.ok(r.closedAtMs <= 3000, `partial header: closed too late; ${show(r)}`);
    await assertAlive(gw);
  });

  test('header trickled 1 byte / 200 ms → 408 within ~1.5 s (header deadline, not idle)', T, async (t) => {
    // Long enough that finishing it would take ~20 s: only a header deadline can stop it early.
    const bytes = Buffer.from(req('GET', '/healthz', { 'X-Slow': 'x'.repeat(60) }), 'latin1');
    const c = await RawConn.open(gw.port);
    await trickle(c, bytes, 200, 3000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 408, 'trickled header');
    assertClosed(r, 'trickled header');
    assert.ok(r.closedAtMs <= 2500, `trickled header: the header deadline did not fire in time; ${show(r)}`);
    await assertAlive(gw);
  });

  test('body trickled 1 byte/s with Content-Length 1000 → 408 + close within a few seconds', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.write(req('POST', CHAT, { 'Content-Type': 'application/json', 'Content-Length': 1000 }));
    await trickle(c, Buffer.from('{'.padEnd(1000, ' '), 'latin1'), 1000, 3000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 408, 'body at 1 B/s');
    assertClosed(r, 'body at 1 B/s');
    assert.ok(r.closedAtMs <= 5000, `body at 1 B/s: closed too late; ${show(r)}`);
    await assertAlive(gw);
  });

  test('body trickled 1 byte / 300 ms (never idle for 1 s) → 408 + close: minimum rate, not idle', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.write(req('POST', CHAT, { 'Content-Type': 'application/json', 'Content-Length': 1000 }));
    await trickle(c, Buffer.from('{'.padEnd(1000, ' '), 'latin1'), 300, 3000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 408, 'body at ~3 B/s');
    assertClosed(r, 'body at ~3 B/s');
    assert.ok(r.closedAtMs <= 5000, `body at ~3 B/s: the minimum body rate did not fire in time; ${show(r)}`);
    await assertAlive(gw);
  });

  test('a fast client is unaffected: 500 KB body at full speed → 400 (bad JSON), not 408', T, async (t) => {
    const body = `{"model": "x", "messages": [${' '.repeat(500 * 1024)}`;
    const c = await RawConn.open(gw.port);
    await c.write(req('POST', CHAT, { 'Content-Type': 'application/json', 'Content-Length': body.length }, body));
    await c.waitResponses(1, 10000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 400, 'fast 500 KB body');
  });

  test('keep-alive connection idle after a reply → closed by the idle timeout', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.write(req('GET', '/healthz'));
    await c.waitResponses(1, 8000);
    const t0 = c.elapsed;
    await c.waitClosed(6000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assertStatus(r, 200, 'request before idling');
    assertClosed(r, 'idle keep-alive connection');
    assert.ok(r.closedAtMs - t0 <= 3500, `idle keep-alive: closed ${r.closedAtMs - t0} ms after the reply; ${show(r)}`);
  });

  test('a second request sent slowly on a kept-alive connection gets its own header deadline → 408', T, async (t) => {
    const c = await RawConn.open(gw.port);
    await c.write(req('GET', '/healthz'));
    await c.waitResponses(1, 8000);
    const bytes = Buffer.from(req('GET', '/healthz', { 'X-Slow': 'x'.repeat(60) }), 'latin1');
    const t0 = c.elapsed;
    for (let i = 0; i < bytes.length && !c.closed && c.finalResponses.length < 2; i++) {
      c.write(bytes.subarray(i, i + 1));
      await c.waitFor((x) => x.closed || x.finalResponses.length > 1, 200);
    }
    await c.waitResponses(2, 3000);
    if (!c.closed) await c.waitClosed(3000);
    const r = c.snapshot();
    c.destroy();
    t.diagnostic(show(r));
    assert.deepEqual(r.final.map((x) => x.status), [200, 408], `slow second request; ${show(r)}`);
    assertClosed(r, 'slow second request');
    assert.ok(r.closedAtMs - t0 <= 2500, `slow second request: closed ${r.closedAtMs - t0} ms after it began; ${show(r)}`);
  });

  test('every reply in this file carried a valid Date header', T, () => {
    const bad = missingDate(seenResponses);
    assert.ok(bad.length === 0, `replies without a valid Date: ${bad.join("; ")}`);
  });

  test('server alive after all probes; SIGTERM → exit 0 (sanitizers clean)', T, async (t) => {
    await sleep(100);
    const g = gw;
    gw = null;
    await assertCleanShutdown(g);
  });
});
