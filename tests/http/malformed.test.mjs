// Malformed-request probes against the real binary (the "Malformed requests" table of
// /work/shared/reference/http-stack.md, plus our own stricter rules). Each probe: a fresh TCP
// connection, raw bytes, the reply and whether the server hung up; then GET /healthz on a new
// connection must still be 200. The file ends by checking that SIGTERM gives exit code 0.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import {
  assertCleanShutdown, assertClosed, assertOnlyOneReply, assertStatus, missingDate, req, runProbe,
  seenResponses, show,
} from './lib.mjs';

const T = { timeout: 60000 };
const CHAT = '/v1/chat/completions';

describe('malformed requests', () => {
  let gw;
  before(async () => { gw = await startGateway(); });
  after(async () => { if (gw) await gw.stop(); });

  // Runs one probe and checks status, close and liveness. `close: true` requires the server to
  // hang up; `single: true` requires that nothing after the rejected request was answered.
  async function check(what, bytes, { status, close = false, single = false, expect = 1 } = {}) {
    const { r, checkAlive } = await runProbe(gw, bytes, { expect });
    assertStatus(r, status, what);
    if (single) assertOnlyOneReply(r, what);
    if (close) assertClosed(r, what);
    checkAlive();
    return r;
  }

  describe('size limits', () => {
    test('100 KB header → 431 + close', T, async () => {
      await check('100 KB header',
        req('GET', '/healthz', { 'X-Big': 'a'.repeat(100 * 1024) }), { status: 431, close: true });
    });

    test('1 MB header → 431 + close', T, async () => {
      await check('1 MB header',
        req('GET', '/healthz', { 'X-Big': 'a'.repeat(1024 * 1024) }), { status: 431, close: true });
    });

    test('100 KB spread over many headers → 431 + close', T, async () => {
      const h = {};
      for (let i = 0; i < 1000; i++) h[`X-Many-${i}`] = 'v'.repeat(100);
      await check('1000 headers of 100 bytes', req('GET', '/healthz', h), { status: 431, close: true });
    });

    test('500 small headers (under the 64 KiB cap) → 200', T, async () => {
      const h = {};
      for (let i = 0; i < 500; i++) h[`X-Header-${i}`] = `value-${i}`;
      await check('500 headers', req('GET', '/healthz', h), { status: 200 });
    });

    test('64 KB URL → 414 + close', T, async () => {
      await check('64 KB URL', req('GET', `/healthz?q=${'a'.repeat(64 * 1024)}`), { status: 414, close: true });
    });
  });

  describe('chunked framing', () => {
    // GET /healthz answers 200 whatever the body, so a layer that accepted the bad framing shows up
    // as a 200 rather than hiding behind a route's own 400.
    const TE = { 'Transfer-Encoding': 'chunked' };

    test('bad chunk size `zz` → 400 + close', T, async () => {
      await check('chunk size zz', req('GET', '/healthz', TE, 'zz\r\nhello\r\n0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });

    test('chunk size overflow → 400 + close', T, async () => {
      await check('chunk size overflow',
        req('GET', '/healthz', TE, 'ffffffffffffffffffffffff\r\nhello\r\n0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });

    test('chunk data followed by `XX` instead of CRLF → 400 + close', T, async () => {
      await check('chunk data then XX', req('GET', '/healthz', TE, '5\r\nhelloXX0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });

    test('same, on a POST route → 400 + close', T, async () => {
      await check('chunk data then XX (POST)',
        req('POST', CHAT, { 'Content-Type': 'application/json', ...TE }, '2\r\n{}XX0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });
  });

  describe('request smuggling (CL/TE)', () => {
    test('CL + TE with a smuggled GET behind the 0 chunk → one 400 + close', T, async () => {
      const smuggled = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n';
      const body = `0\r\n\r\n${smuggled}`;
      const r = await check('CL+TE smuggling',
        req('POST', CHAT, { 'Content-Type': 'application/json', 'Content-Length': body.length,
          'Transfer-Encoding': 'chunked' }, body),
        { status: 400, close: true, single: true, expect: 2 });
      assert.ok(!r.statuses.includes(200), `the smuggled GET /healthz was answered; ${show(r)}`);
    });

    test('CL + TE, nothing smuggled → 400 + close', T, async () => {
      await check('CL+TE',
        req('GET', '/healthz', { 'Content-Length': 5, 'Transfer-Encoding': 'chunked' }, '0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });

    test('TE then CL order → 400 + close', T, async () => {
      await check('TE+CL',
        req('GET', '/healthz', { 'Transfer-Encoding': 'chunked', 'Content-Length': 5 }, '0\r\n\r\n'),
        { status: 400, close: true, single: true });
    });

    test('`Transfer-Encoding : chunked` (space before colon) + CL → 400', T, async () => {
      const bytes = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding : chunked\r\n'
        + 'Content-Length: 5\r\n\r\n0\r\n\r\n';
      await check('TE with space before colon', bytes, { status: 400, single: true });
    });

    test('TE gzip + CL → 400 or 501 + close', T, async () => {
      await check('TE gzip + CL',
        req('GET', '/healthz', { 'Transfer-Encoding': 'gzip', 'Content-Length': 5 }, 'hello'),
        { status: [400, 501], close: true, single: true });
    });

    test('two different Content-Length values (7 and 8) → 400 + close', T, async () => {
      const bytes = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nContent-Length: 7\r\n'
        + 'Content-Length: 8\r\n\r\n12345678';
      await check('duplicate CL', bytes, { status: 400, close: true, single: true });
    });
  });

  describe('body limit', () => {
    test('Content-Length 40 MB to a POST route → 413 + close, body never sent', T, async () => {
      await check('CL 40 MB',
        req('POST', CHAT, { 'Content-Type': 'application/json', 'Content-Length': 40 * 1024 * 1024 }),
        { status: 413, close: true, single: true });
    });
  });

  describe('garbage', () => {
    test('valid request then \\0\\1\\xffGARBAGE → 200 then 400 + close', T, async () => {
      const bytes = Buffer.concat([
        Buffer.from(req('GET', '/healthz'), 'latin1'),
        Buffer.from([0, 1, 0xff]),
        Buffer.from('GARBAGE', 'latin1'),
      ]);
      const { r, checkAlive } = await runProbe(gw, bytes, { expect: 2 });
      assert.deepEqual(r.final.map((x) => x.status), [200, 400],
        `valid + garbage: expected 200 then 400; ${show(r)}`);
      assertClosed(r, 'valid + garbage');
      checkAlive();
    });

    test('`GARBAGE` request line → 400 + close', T, async () => {
      await check('GARBAGE line', 'GARBAGE\r\n\r\n', { status: 400, close: true, single: true });
    });

    test('NUL byte in a header value → 400', T, async () => {
      await check('NUL in header value', req('GET', '/healthz', { 'X-Nul': 'a\0b' }),
        { status: 400, single: true });
    });

    test('bare LF line endings → 400', T, async () => {
      await check('bare LF', 'GET /healthz HTTP/1.1\nHost: localhost\n\n', { status: 400, single: true });
    });

    test('obs-fold (header continuation line) → 400', T, async () => {
      const bytes = 'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Folded: a\r\n b\r\n\r\n';
      await check('obs-fold', bytes, { status: 400, single: true });
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
