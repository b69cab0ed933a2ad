// Raw-socket helpers for the HTTP/1.1 regression suite. The layer under test is our own framing on
// top of llhttp, so these helpers deliberately avoid node's http client: they write exact bytes on a
// fresh TCP connection and record what came back (every response, parsed leniently), whether and
// when the server closed the connection, and any socket error. Assertion messages print that record
// so a failure says what the server actually did, not only what was expected.
import assert from 'node:assert/strict';
import net from 'node:net';

export const CRLF = '\r\n';

// Every final response seen in this process (one test file = one process), so a file can end with
// a single "every reply carried a Date header" check over all its probes.
export const seenResponses = [];

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export { sleep };

// Parses as many complete HTTP/1.x responses as `buf` holds. A response without a length is
// complete only once the server closed. `closed` tells whether the byte stream has ended.
export function parseResponses(buf, closed) {
  const out = [];
  let off = 0;
  while (off < buf.length) {
    const headEnd = buf.indexOf('\r\n\r\n', off, 'latin1');
    if (headEnd < 0) break;
    const head = buf.subarray(off, headEnd).toString('latin1');
    const lines = head.split('\r\n');
    const statusLine = lines[0];
    const m = /^(HTTP\/\d\.\d) (\d{3})(?: (.*))?$/.exec(statusLine);
    const headers = {};
    const rawHeaders = [];
    for (const line of lines.slice(1)) {
      const i = line.indexOf(':');
      if (i < 0) continue;
      const k = line.slice(0, i).trim().toLowerCase();
      const v = line.slice(i + 1).trim();
      rawHeaders.push([k, v]);
      headers[k] = k in headers ? `${headers[k]}, ${v}` : v;
    }
    const status = m ? Number(m[2]) : NaN;
    const res = { statusLine, version: m ? m[1] : null, status, headers, rawHeaders, body: null };
    let p = headEnd + 4;
    if ((status >= 100 && status < 200) || status === 204 || status === 304) {
      res.body = Buffer.alloc(0);
    } else if (/chunked/i.test(headers['transfer-encoding'] || '')) {
      const parts = [];
      let done = false;
      for (;;) {
        const le = buf.indexOf('\r\n', p, 'latin1');
        if (le < 0) break;
        const size = parseInt(buf.subarray(p, le).toString('latin1').split(';')[0], 16);
        if (Number.isNaN(size)) { done = true; p = buf.length; break; }
        if (size === 0) {
          // Optional trailers, then the empty line.
          if (buf.subarray(le + 2, le + 4).toString('latin1') === '\r\n') {
            p = le + 4;
          } else {
            const te = buf.indexOf('\r\n\r\n', le + 2, 'latin1');
            if (te < 0) break;
            p = te + 4;
          }
          done = true;
          break;
        }
        if (le + 2 + size + 2 > buf.length) break;
        parts.push(buf.subarray(le + 2, le + 2 + size));
        p = le + 2 + size + 2;
      }
      if (!done) {
        if (!closed) break;
        res.truncated = true;
        p = buf.length;
      }
      res.body = Buffer.concat(parts);
    } else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isFinite(n) || p + n > buf.length) {
        if (!closed) break;
        res.body = buf.subarray(p);
        res.truncated = true;
        p = buf.length;
      } else {
        res.body = buf.subarray(p, p + n);
        p += n;
      }
    } else {
      if (!closed) break;
      res.body = buf.subarray(p);
      p = buf.length;
    }
    res.text = res.body.toString('utf8');
    out.push(res);
    off = p;
  }
  return { responses: out, rest: buf.subarray(off) };
}

// One raw client connection. Data, close and errors are recorded; nothing throws.
export class RawConn {
  static open(port, host = '127.0.0.1') {
    return new Promise((resolve, reject) => {
      const c = new RawConn();
      const s = net.connect({ port, host });
      c.sock = s;
      s.setNoDelay(true);
      s.once('connect', () => { c.t0 = Date.now(); resolve(c); });
      s.once('error', (e) => { if (c.t0 === undefined) reject(e); });
      s.on('data', (d) => { c.chunks.push(d); c.wake(); });
      s.on('end', () => { c.ended = true; c.markClosed('fin'); });
      s.on('error', (e) => { c.errors.push(e.code || e.message); c.markClosed(e.code || 'error'); });
      s.on('close', () => c.markClosed('close'));
    });
  }

  constructor() {
    this.chunks = [];
    this.errors = [];
    this.closed = false;
    this.closedHow = null;
    this.closedAtMs = null;
    this.waiters = [];
    this.t0 = undefined;
  }

  markClosed(how) {
    if (this.closed) return;
    // A local destroy() after a test is not the server closing.
    if (how === 'close' && this.localClose) return;
    this.closed = true;
    this.closedHow = how;
    this.closedAtMs = Date.now() - this.t0;
    this.wake();
  }

  wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  get buf() { return Buffer.concat(this.chunks); }
  get elapsed() { return Date.now() - this.t0; }
  get responses() { return parseResponses(this.buf, this.closed).responses; }
  get finalResponses() { return this.responses.filter((r) => !(r.status >= 100 && r.status < 200)); }

  // Writes without waiting for the kernel to take the bytes; a write after the server hung up is
  // recorded as an error, which is expected for probes the server must reject early.
  write(data) {
    if (this.sock.destroyed || this.sock.writableEnded) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.sock.write(data, (err) => resolve(!err));
    });
  }

  // Resolves true when pred() holds, false at the deadline. Re-checked on every data/close event.
  async waitFor(pred, timeoutMs) {
    const end = Date.now() + timeoutMs;
    for (;;) {
      if (pred(this)) return true;
      const left = end - Date.now();
      if (left <= 0) return false;
      await new Promise((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => { clearTimeout(t); resolve(); });
      });
    }
  }

  waitClosed(timeoutMs) { return this.waitFor((c) => c.closed, timeoutMs); }

  waitResponses(n, timeoutMs) {
    return this.waitFor((c) => c.closed || c.finalResponses.length >= n, timeoutMs);
  }

  // A frozen record of what happened, for assertions and messages.
  snapshot() {
    const responses = this.responses;
    for (const r of responses) if (r.status >= 200) seenResponses.push(r);
    return {
      responses,
      final: responses.filter((r) => !(r.status >= 100 && r.status < 200)),
      statuses: responses.map((r) => r.status),
      closed: this.closed,
      closedHow: this.closedHow,
      closedAtMs: this.closedAtMs,
      errors: [...this.errors],
      bytes: this.buf.length,
      elapsedMs: this.elapsed,
      rest: parseResponses(this.buf, this.closed).rest.toString('latin1').slice(0, 200),
    };
  }

  destroy() {
    this.localClose = true;
    this.sock.destroy();
  }
}

// Sends `data` (string → latin1 bytes, or Buffer) on a fresh connection and waits until the server
// closes, or until `expect` final responses arrived and then `closeWaitMs` more (to see whether it
// closes), or until `timeoutMs`. The connection is always torn down afterwards.
export async function probe(port, data, { expect = 1, timeoutMs = 6000, closeWaitMs = 1000 } = {}) {
  const c = await RawConn.open(port);
  c.write(typeof data === 'string' ? Buffer.from(data, 'latin1') : data);
  await c.waitResponses(expect, timeoutMs);
  if (!c.closed) await c.waitClosed(closeWaitMs);
  const snap = c.snapshot();
  c.destroy();
  return snap;
}

// Human-readable account of a probe, for assertion messages.
export function show(r) {
  const resp = r.responses
    .map((x) => `${x.statusLine}${x.headers.connection ? ` [connection: ${x.headers.connection}]` : ''}`
      + `${x.text ? ` body=${JSON.stringify(x.text.slice(0, 160))}` : ''}`)
    .join(' | ');
  const close = r.closed ? `closed by server (${r.closedHow}) at ${r.closedAtMs} ms` : 'connection left open';
  return `server replied: ${resp || '(nothing)'}; ${close}`
    + `${r.errors.length ? `; socket errors: ${r.errors.join(',')}` : ''}`
    + `${r.rest ? `; unparsed bytes: ${JSON.stringify(r.rest)}` : ''}`;
}

export function assertStatus(r, status, what) {
  const got = r.final[0] ? r.final[0].status : undefined;
  const ok = Array.isArray(status) ? status.includes(got) : got === status;
  assert.ok(ok, `${what}: expected ${[].concat(status).join(' or ')}; ${show(r)}`);
}

export function assertClosed(r, what) {
  assert.ok(r.closed, `${what}: expected the server to close the connection; ${show(r)}`);
}

export function assertOnlyOneReply(r, what) {
  assert.equal(r.final.length, 1, `${what}: expected exactly one reply; ${show(r)}`);
}

// A normal request on a fresh connection; throws with detail if the server is not answering.
export async function assertAlive(gw, what = 'after the probe') {
  if (gw.child.exitCode !== null || gw.child.signalCode !== null) {
    assert.fail(`${what}: omniroute exited (code ${gw.child.exitCode}, signal ${gw.child.signalCode});`
      + ` stderr tail:\n${gw.stderr().slice(-3000)}`);
  }
  let r;
  try {
    r = await probe(gw.port, `GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`,
      { timeoutMs: 8000, closeWaitMs: 0 });
  } catch (e) {
    assert.fail(`${what}: cannot connect for GET /healthz: ${e.message}`);
  }
  assert.ok(r.final[0] && r.final[0].status === 200, `${what}: GET /healthz should be 200; ${show(r)}`);
}

// The probe's result and the liveness check are both taken before asserting anything, so a probe
// that kills the server reports both facts.
export async function runProbe(gw, data, opts) {
  const r = await probe(gw.port, data, opts);
  let aliveErr = null;
  try { await assertAlive(gw); } catch (e) { aliveErr = e; }
  return { r, checkAlive() { if (aliveErr) throw aliveErr; } };
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

// Lists the final replies among `responses` without a valid, current Date header.
export function missingDate(responses) {
  const bad = [];
  for (const r of responses) {
    if (r.status < 200) continue;
    const d = r.headers.date;
    if (!d || !IMF_FIXDATE.test(d) || Math.abs(Date.parse(d) - Date.now()) > 10 * 60 * 1000) {
      bad.push(`${r.statusLine} (date: ${d === undefined ? 'missing' : JSON.stringify(d)})`);
    }
  }
  return bad;
}

// Ends a file: the server still answers, SIGTERM makes it exit 0 (ASan/UBSan clean), and every
// reply this file saw carried a Date header.
export async function assertCleanShutdown(gw) {
  await assertAlive(gw, 'after all probes');
  const { code, sig } = await gw.stop();
  const err = gw.stderr();
  assert.ok(!/AddressSanitizer|LeakSanitizer|runtime error:/.test(err),
    `sanitizer report in stderr:\n${err.slice(-4000)}`);
  assert.equal(sig, null, `omniroute died on signal ${sig}`);
  assert.equal(code, 0, `omniroute exited ${code} after SIGTERM; stderr tail:\n${err.slice(-3000)}`);
}

export function req(method, path, headers = {}, body = '') {
  let s = `${method} ${path} HTTP/1.1\r\n`;
  const h = { Host: 'localhost', ...headers };
  for (const [k, v] of Object.entries(h)) if (v !== null) s += `${k}: ${v}\r\n`;
  return `${s}\r\n${body}`;
}
