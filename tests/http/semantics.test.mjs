// HTTP/1.1 semantics our layer owns (llhttp only parses): pipelining order, keep-alive and close
// rules, Host check, version handling, 100-continue, chunked request bodies, the Date header and a
// configurable body cap. Raw sockets throughout, so the bytes on the wire are exactly ours.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import {
  RawConn, assertAlive, assertCleanShutdown, assertClosed, assertOnlyOneReply, assertStatus,
  missingDate, probe, req, runProbe, seenResponses, show, sleep,
} from './lib.mjs';

const T = { timeout: 60000 };
const CHAT = '/v1/chat/completions';
const JSON_CT = { 'Content-Type': 'application/json' };
const BAD_JSON = '{"model": "x", "messages": [';

function chunked(body, size) {
  let s = '';
  for (let i = 0; i < body.length; i += size) {
    const part = body.slice(i, i + size);
    s += `${Buffer.byteLength(part, 'latin1').toString(16)}\r\n${part}\r\n`;
  }
  return `${s}0\r\n\r\n`;
}

// A 400 for a bad body must be the JSON error shape, which also proves the route read the body.
function assertJsonError(res, what) {
  assert.match(res.headers['content-type'] || '', /application\/json/, `${what}: content-type of ${res.statusLine}`);
  let j;
  try { j = JSON.parse(res.text); } catch { assert.fail(`${what}: body is not JSON: ${JSON.stringify(res.text)}`); }
  assert.ok(j && typeof j.error === 'object' && j.error !== null, `${what}: no error object in ${res.text}`);
}

describe('HTTP/1.1 semantics', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await gw.stop(); });

  describe('pipelining', () => {
    test('3 pipelined GET /healthz → 3×200 in order on one connection', T, async () => {
      const one = req('GET', '/healthz');
      const { r, checkAlive } = await runProbe(gw, one + one + one, { expect: 3 });
      assert.deepEqual(r.final.map((x) => x.status), [200, 200, 200], `3 pipelined GETs; ${show(r)}`);
      assert.ok(!r.closed, `3 pipelined GETs: connection should stay open; ${show(r)}`);
      checkAlive();
    });

    test('GET, POST with bad JSON body (Content-Length), GET → 200, 400, 200 in order', T, async () => {
      const bytes = req('GET', '/healthz')
        + req('POST', CHAT, { ...JSON_CT, 'Content-Length': BAD_JSON.length }, BAD_JSON)
        + req('GET', '/healthz');
      const { r, checkAlive } = await runProbe(gw, bytes, { expect: 3 });
      assert.deepEqual(r.final.map((x) => x.status), [200, 400, 200], `pipelined mix; ${show(r)}`);
      assertJsonError(r.final[1], 'pipelined POST');
      checkAlive();
    });

    test('GET, POST with chunked bad JSON, GET → 200, 400, 200 in order', T, async () => {
      const bytes = req('GET', '/healthz')
        + req('POST', CHAT, { ...JSON_CT, 'Transfer-Encoding': 'chunked' }, chunked(BAD_JSON, 7))
        + req('GET', '/healthz');
      const { r, checkAlive } = await runProbe(gw, bytes, { expect: 3 });
      assert.deepEqual(r.final.map((x) => x.status), [200, 400, 200], `pipelined chunked mix; ${show(r)}`);
      checkAlive();
    });

    test('3 pipelined requests split into 5-byte writes → 3 replies in order', T, async () => {
      const bytes = Buffer.from(req('GET', '/healthz')
        + req('POST', CHAT, { ...JSON_CT, 'Content-Length': BAD_JSON.length }, BAD_JSON)
        + req('GET', '/healthz'), 'latin1');
      const c = await RawConn.open(gw.port);
      for (let i = 0; i < bytes.length; i += 5) {
        await c.write(bytes.subarray(i, i + 5));
        await sleep(2);
      }
      await c.waitResponses(3, 8000);
      const r = c.snapshot();
      c.destroy();
      assert.deepEqual(r.final.map((x) => x.status), [200, 400, 200], `split pipeline; ${show(r)}`);
      await assertAlive(gw);
    });
  });

  describe('keep-alive and close', () => {
    test('two sequential requests on one connection are both answered', T, async () => {
      const c = await RawConn.open(gw.port);
      await c.write(req('GET', '/healthz'));
      await c.waitResponses(1, 8000);
      const first = c.snapshot();
      assert.equal(first.final[0]?.status, 200, `first request; ${show(first)}`);
      assert.ok(!first.closed, `connection closed after the first reply; ${show(first)}`);
      await sleep(200);
      await c.write(req('GET', '/healthz'));
      await c.waitResponses(2, 8000);
      const r = c.snapshot();
      c.destroy();
      assert.deepEqual(r.final.map((x) => x.status), [200, 200], `keep-alive; ${show(r)}`);
    });

    test('HTTP/1.1 `Connection: close` → reply then close', T, async () => {
      const r = await probe(gw.port, req('GET', '/healthz', { Connection: 'close' }), { closeWaitMs: 3000 });
      assertStatus(r, 200, 'Connection: close');
      assertClosed(r, 'Connection: close');
    });

    test('HTTP/1.0 request → HTTP/1.1 reply, then close', T, async () => {
      const { r, checkAlive } = await runProbe(gw, 'GET /healthz HTTP/1.0\r\n\r\n', { closeWaitMs: 3000 });
      assertStatus(r, 200, 'HTTP/1.0');
      assert.equal(r.final[0].version, 'HTTP/1.1', `HTTP/1.0: reply version; ${show(r)}`);
      assertClosed(r, 'HTTP/1.0 without keep-alive');
      checkAlive();
    });

    test('HTTP/1.0 with `Connection: keep-alive` → stays open, second request answered', T, async () => {
      const one = 'GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n';
      const c = await RawConn.open(gw.port);
      await c.write(one);
      await c.waitResponses(1, 8000);
      await c.waitClosed(1000);
      const first = c.snapshot();
      assertStatus(first, 200, 'HTTP/1.0 keep-alive');
      assert.ok(!first.closed, `HTTP/1.0 keep-alive: server closed; ${show(first)}`);
      await c.write(one);
      await c.waitResponses(2, 8000);
      const r = c.snapshot();
      c.destroy();
      assert.deepEqual(r.final.map((x) => x.status), [200, 200], `HTTP/1.0 keep-alive, 2nd request; ${show(r)}`);
    });
  });

  describe('request line and Host', () => {
    test('HTTP/1.1 without Host → 400', T, async () => {
      const { r, checkAlive } = await runProbe(gw, 'GET /healthz HTTP/1.1\r\n\r\n');
      assertStatus(r, 400, 'no Host');
      checkAlive();
    });

    for (const v of ['2.0', '3.0']) {
      test(`HTTP/${v} request line → 505`, T, async () => {
        const { r, checkAlive } = await runProbe(gw, `GET /healthz HTTP/${v}\r\nHost: localhost\r\n\r\n`);
        assertStatus(r, 505, `HTTP/${v}`);
        checkAlive();
      });
    }
  });

  describe('100-continue', () => {
    test('POST with Expect: 100-continue → 100 before the body, then the final reply', T, async () => {
      const c = await RawConn.open(gw.port);
      await c.write(req('POST', CHAT,
        { ...JSON_CT, 'Content-Length': BAD_JSON.length, Expect: '100-continue' }));
      await c.waitFor((x) => x.closed || x.responses.length >= 1, 5000);
      const before100 = c.snapshot();
      if (!(before100.responses[0]?.status === 100)) {
        c.destroy();
        assert.fail(`expected HTTP/1.1 100 Continue before sending the body; ${show(before100)}`
          + ` after ${before100.elapsedMs} ms`);
      }
      assert.match(before100.responses[0].statusLine, /^HTTP\/1\.1 100 /, 'interim status line');
      await c.write(BAD_JSON);
      await c.waitResponses(1, 8000);
      const r = c.snapshot();
      c.destroy();
      assert.deepEqual(r.statuses, [100, 400], `100-continue then final reply; ${show(r)}`);
      assertJsonError(r.final[0], 'final reply after 100-continue');
    });

    test('Expect: 100-continue with a too-large Content-Length → 413 directly, no 100', T, async () => {
      const { r, checkAlive } = await runProbe(gw, req('POST', CHAT,
        { ...JSON_CT, 'Content-Length': 40 * 1024 * 1024, Expect: '100-continue' }));
      assert.equal(r.responses[0]?.status, 413, `expected 413 as the first thing sent; ${show(r)}`);
      assert.ok(!r.statuses.includes(100), `a 100 Continue was sent for a body that will be refused; ${show(r)}`);
      checkAlive();
    });
  });

  describe('chunked request bodies', () => {
    test('chunked bad JSON to POST /v1/chat/completions → 400 JSON error', T, async () => {
      const { r, checkAlive } = await runProbe(gw,
        req('POST', CHAT, { ...JSON_CT, 'Transfer-Encoding': 'chunked' }, chunked(BAD_JSON, 5)));
      assertStatus(r, 400, 'chunked bad JSON');
      assertJsonError(r.final[0], 'chunked bad JSON');
      checkAlive();
    });

    test('chunked body with chunk extensions, trickled in pieces → 400 JSON error', T, async () => {
      const c = await RawConn.open(gw.port);
      await c.write(req('POST', CHAT, { ...JSON_CT, 'Transfer-Encoding': 'chunked' }));
      for (let i = 0; i < BAD_JSON.length; i += 6) {
        const part = BAD_JSON.slice(i, i + 6);
        await c.write(`${part.length.toString(16)};ext=1\r\n${part}\r\n`);
        await sleep(30);
      }
      await c.write('0\r\n\r\n');
      await c.waitResponses(1, 8000);
      const r = c.snapshot();
      c.destroy();
      assertStatus(r, 400, 'trickled chunked bad JSON');
      assertJsonError(r.final[0], 'trickled chunked bad JSON');
    });
  });

  describe('Date header', () => {
    test('200, 404, 400, 431, 413, 505 replies all carry a valid Date', T, async () => {
      const probes = [
        req('GET', '/healthz'),
        req('GET', '/no-such-path-for-probe'),
        'GET /healthz HTTP/1.1\r\n\r\n',
        req('GET', '/healthz', { 'X-Big': 'a'.repeat(100 * 1024) }),
        req('POST', CHAT, { ...JSON_CT, 'Content-Length': 40 * 1024 * 1024 }),
        'GET /healthz HTTP/2.0\r\nHost: localhost\r\n\r\n',
        'GARBAGE\r\n\r\n',
      ];
      const bad = [];
      for (const p of probes) {
        const r = await probe(gw.port, p, { closeWaitMs: 0 });
        if (!r.final.length) bad.push(`no reply to ${JSON.stringify(p.slice(0, 40))}`);
        bad.push(...missingDate(r.final));
      }
      assert.ok(bad.length === 0, `replies without a valid Date: ${bad.join("; ")}`);
    });
  });

  test('every reply in this file carried a valid Date header', T, () => {
    const bad = missingDate(seenResponses);
    assert.ok(bad.length === 0, `replies without a valid Date: ${bad.join("; ")}`);
  });

  test('server alive after all probes; SIGTERM → exit 0 (sanitizers clean)', T, async () => {
    const g = gw;
    gw = null;
    await assertCleanShutdown(g);
  });
});

describe('configurable body cap (OMNIROUTE_MAX_BODY_MB=1)', () => {
  let gw;
  before(async () => { gw = await startGateway({ env: { OMNIROUTE_MAX_BODY_MB: '1' } }); });
  after(async () => { if (gw) await gw.stop(); });

  test('Content-Length 2 MB → 413 + close', T, async () => {
    const { r, checkAlive } = await runProbe(gw,
      req('POST', CHAT, { ...JSON_CT, 'Content-Length': 2 * 1024 * 1024 }));
    assertStatus(r, 413, 'CL 2 MB with a 1 MB cap');
    assertOnlyOneReply(r, 'CL 2 MB with a 1 MB cap');
    assertClosed(r, 'CL 2 MB with a 1 MB cap');
    checkAlive();
  });

  test('chunked body growing past 1 MB → 413 + close (counted while streaming)', T, async () => {
    const c = await RawConn.open(gw.port);
    await c.write(req('POST', CHAT, { ...JSON_CT, 'Transfer-Encoding': 'chunked' }));
    const piece = `${(64 * 1024).toString(16)}\r\n${'a'.repeat(64 * 1024)}\r\n`;
    // Up to 4 MB, stopping as soon as the server answers or hangs up.
    for (let i = 0; i < 64 && !c.closed && c.responses.length === 0; i++) {
      c.write(piece);
      await sleep(5);
    }
    await c.waitResponses(1, 8000);
    if (!c.closed) await c.waitClosed(3000);
    const r = c.snapshot();
    c.destroy();
    assertStatus(r, 413, 'chunked body over the cap');
    assertClosed(r, 'chunked body over the cap');
    await assertAlive(gw);
  });

  test('a 900 KB body is under the cap → read fully (400 for bad JSON, not 413)', T, async () => {
    const body = BAD_JSON + ' '.repeat(900 * 1024);
    const { r, checkAlive } = await runProbe(gw,
      req('POST', CHAT, { ...JSON_CT, 'Content-Length': body.length }, body), { timeoutMs: 15000 });
    assertStatus(r, 400, '900 KB body under a 1 MB cap');
    assertJsonError(r.final[0], '900 KB body under a 1 MB cap');
    checkAlive();
  });

  test('server alive after all probes; SIGTERM → exit 0 (sanitizers clean)', T, async () => {
    const g = gw;
    gw = null;
    await assertCleanShutdown(g);
  });
});
