#!/usr/bin/env node
// mock.mjs — an OpenAI-compatible upstream for tests and benchmarks (node:http only).
//
// Library:  const mock = await startMock({ port: 0 });  mock.url, mock.port, mock.records,
//           mock.connections, mock.reset(), mock.waitFor(pred, ms), await mock.close()
// CLI:      node tests/mock/mock.mjs [--port N] [--host 127.0.0.1] [--max-records N]
//           prints the port (one line on stdout), then serves until SIGINT/SIGTERM.
//
// Routes
//   POST /v1/chat/completions, POST /chat/completions   chat (stream or not)
//   GET  /v1/models, GET /models                        a few models
//   GET  /__mock/records                                {connections, records}
//   POST /__mock/reset                                  clears records and the connection count
// Chat and model routes need `Authorization: Bearer <non-empty>` (or exactly the `apiKey`
// option when one is given), else 401 in OpenAI's error shape. Every request is recorded,
// answered or not.
//
// Replies are deterministic:
//   text    = "mock reply to: " + <text of the last user message> (string content, or the
//             concatenated text parts of an array content)
//   deltas  = the text split before each space ("mock", " reply", " to:", …); their
//             concatenation is the text exactly
//   usage   = prompt_tokens: whitespace-separated words over all messages' text (min 1),
//             completion_tokens: number of deltas, total_tokens: the sum
//   model   = echoed from the request
//
// Fault injection. The fault spec is the `x-mock-fault` request header when present, otherwise
// the request's model name (the gateway relays the model, so e2e tests use the model). Tokens
// are searched anywhere in the spec, so "mock-status-500", "status-500" and
// "gpt-x-slow-first-byte-200-drip-20" all work. Several tokens may be combined where it makes
// sense (slow-first-byte with anything; the others pick one reply mode, first match below wins):
//   status-<code>[-retry-<s>]  answer <code> with an OpenAI error body (record.responseBody);
//                              with -retry-<s>, a `Retry-After: <s>` header
//   hang                       accept the request, never answer (closed by close() or the client)
//   reset-mid-stream           send the head and a few chunks (stream) or half the JSON
//                              (non-stream), then destroy the socket
//   big-stream-<MB>            stream <MB> MiB of content (4 KiB deltas) as fast as the socket
//                              takes it, waiting for 'drain' when res.write returns false;
//                              non-stream: one JSON reply with <MB> MiB of content
//   drip-<ms>[-n<count>]       stream one token every <ms> ms, <count> tokens (default 200);
//                              non-stream: the same reply after <count>*<ms> ms
//   slow-first-byte-<ms>       wait <ms> before sending the response head
//
// A record (one per request):
//   { seq, conn, method, url, headers, body (parsed JSON | null), bodyText (when not JSON),
//     fault, status, stream, receivedAt, headersSentAt, endedAt, closedEarlyAt,
//     contentBytesPlanned, contentBytesWritten, writesBlocked, blocked, blockedAt,
//     responseBody }
//   destroyedByMock is set (a time) when the mock itself cut the connection (reset, close()).
//   Times are epoch ms with sub-ms precision (performance.timeOrigin + performance.now()), so
//   they compare with Date.now() in the same process. closedEarlyAt is set when the client
//   closed the connection before the response ended. blocked is true while the mock is waiting
//   for 'drain'. conn is the 1-based number of the TCP connection the request came on.
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';

const now = () => performance.timeOrigin + performance.now();
const MAX_BODY = 64 * 1024 * 1024;
const BIG_DELTA = 4096;
const DEFAULT_DRIP_TOKENS = 200;

export const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'o3-mini', 'text-embedding-3-small'];

function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

/** The reply text the mock gives for a chat body. */
export function mockReplyText(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  let last = '';
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i] && msgs[i].role === 'user') {
      last = contentText(msgs[i].content);
      break;
    }
  }
  return `mock reply to: ${last}`;
}

/** The text split into stream deltas (each delta but the first starts with its space). */
export function mockDeltas(text) {
  const out = [];
  let start = 0;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === ' ' && text[i - 1] !== ' ') {
      out.push(text.slice(start, i));
      start = i;
    }
  }
  out.push(text.slice(start));
  return out.filter((d) => d.length > 0);
}

/** The usage the mock reports for a chat body. */
export function mockUsage(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  let words = 0;
  for (const m of msgs) {
    const t = contentText(m?.content).trim();
    if (t) words += t.split(/\s+/).length;
  }
  const prompt = Math.max(1, words);
  const completion = mockDeltas(mockReplyText(body)).length;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}

const ERROR_TYPES = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_denied',
  404: 'invalid_request_error',
  429: 'rate_limit_exceeded',
};

/** The body the mock sends for an injected status. */
export function mockErrorBody(status) {
  return {
    error: {
      message: `mock injected status ${status}`,
      type: ERROR_TYPES[status] || (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: null,
      code: `mock_status_${status}`,
    },
  };
}

/** Parses a fault spec (model name or x-mock-fault header). */
export function parseFault(spec) {
  const f = {};
  if (typeof spec !== 'string' || spec === '') return f;
  let m;
  if ((m = /slow-first-byte-(\d+)/.exec(spec))) f.slowFirstByteMs = Number(m[1]);
  if ((m = /status-(\d{3})(?:-retry-(\d+))?/.exec(spec))) {
    f.status = Number(m[1]);
    if (m[2] !== undefined) f.retryAfter = Number(m[2]);
  } else if (/(?:^|-)hang(?:$|-)/.test(spec)) {
    f.hang = true;
  } else if (/reset-mid-stream/.test(spec)) {
    f.reset = true;
  } else if ((m = /big-stream-(\d+)/.exec(spec))) {
    f.bigMB = Number(m[1]);
  } else if ((m = /drip-(\d+)(?:-n(\d+))?/.exec(spec))) {
    f.dripMs = Number(m[1]);
    f.dripCount = m[2] !== undefined ? Number(m[2]) : DEFAULT_DRIP_TOKENS;
  }
  return f;
}

function sendJson(res, rec, status, obj, extraHeaders = {}) {
  const text = JSON.stringify(obj);
  rec.status = status;
  rec.responseBody = obj;
  rec.headersSentAt = now();
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

function authError(res, rec) {
  sendJson(res, rec, 401, {
    error: {
      message: 'Incorrect API key provided (mock).',
      type: 'invalid_request_error',
      param: null,
      code: 'invalid_api_key',
    },
  });
}

function waitDrain(res) {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

function chunkFrame(base, choices, usage) {
  const o = { ...base, choices };
  if (usage !== undefined) o.usage = usage;
  return `data: ${JSON.stringify(o)}\n\n`;
}

class Mock {
  constructor(opts) {
    this.apiKey = opts.apiKey || null;
    this.maxRecords = opts.maxRecords ?? Infinity;
    this.records = [];
    this.connections = 0;
    this.seq = 0;
    this.sockets = new Set();
    this.waiters = new Set();
  }

  reset() {
    this.records.length = 0;
    this.connections = 0;
  }

  push(rec) {
    if (this.maxRecords <= 0) return;
    if (this.records.length >= this.maxRecords) this.records.shift();
    this.records.push(rec);
  }

  changed() {
    for (const w of this.waiters) w();
  }

  // Resolves with the first record matching pred, re-checking whenever a record changes.
  waitFor(pred, timeoutMs = 5000) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const r = this.records.find(pred);
        if (r) {
          cleanup();
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`mock.waitFor: no matching record within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  handle(req, res) {
    const rec = {
      seq: ++this.seq,
      conn: req.socket._mockConn,
      method: req.method,
      url: req.url,
      headers: req.headers,
      body: null,
      fault: null,
      status: 0,
      stream: false,
      receivedAt: now(),
      headersSentAt: null,
      endedAt: null,
      closedEarlyAt: null,
    };
    this.push(rec);
    res.on('finish', () => {
      rec.endedAt = now();
      this.changed();
    });
    res.on('close', () => {
      if (!res.writableFinished && rec.closedEarlyAt === null && !rec.destroyedByMock) {
        rec.closedEarlyAt = now();
        this.changed();
      }
    });

    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on('end', () => {
      if (size > 0) {
        const text = Buffer.concat(chunks).toString('utf8');
        try {
          rec.body = JSON.parse(text);
        } catch {
          rec.bodyText = text.slice(0, 65536);
        }
      }
      this.changed();
      this.route(req, res, rec, size > 0 && rec.body === null);
    });
  }

  authorized(req) {
    const h = req.headers.authorization;
    if (typeof h !== 'string' || !h.startsWith('Bearer ')) return false;
    const key = h.slice(7).trim();
    if (key === '') return false;
    return this.apiKey === null || key === this.apiKey;
  }

  route(req, res, rec, badJson) {
    const path = req.url.split('?')[0];
    if (path === '/__mock/records' && req.method === 'GET') {
      return sendJson(res, rec, 200, {
        connections: this.connections,
        records: this.records.filter((r) => r !== rec),
      });
    }
    if (path === '/__mock/reset' && req.method === 'POST') {
      this.reset();
      return sendJson(res, rec, 200, { ok: true });
    }
    if ((path === '/v1/models' || path === '/models') && req.method === 'GET') {
      if (!this.authorized(req)) return authError(res, rec);
      const created = Math.floor(Date.now() / 1000);
      return sendJson(res, rec, 200, {
        object: 'list',
        data: MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'mock' })),
      });
    }
    if (path === '/v1/chat/completions' || path === '/chat/completions') {
      if (req.method !== 'POST') {
        return sendJson(res, rec, 405, {
          error: { message: 'Method not allowed', type: 'invalid_request_error', param: null, code: null },
        });
      }
      if (!this.authorized(req)) return authError(res, rec);
      if (badJson || rec.body === null || typeof rec.body !== 'object') {
        return sendJson(res, rec, 400, {
          error: {
            message: 'We could not parse the JSON body of your request.',
            type: 'invalid_request_error',
            param: null,
            code: null,
          },
        });
      }
      return this.chat(req, res, rec);
    }
    return sendJson(res, rec, 404, {
      error: {
        message: `Unknown route ${req.method} ${path}`,
        type: 'invalid_request_error',
        param: null,
        code: null,
      },
    });
  }

  chat(req, res, rec) {
    const body = rec.body;
    const headerSpec = req.headers['x-mock-fault'];
    const fault = parseFault(typeof headerSpec === 'string' ? headerSpec : body.model);
    rec.fault = fault;
    rec.stream = body.stream === true;
    const go = () => {
      if (rec.closedEarlyAt !== null) return;
      if (fault.status) {
        const extra = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
        return sendJson(res, rec, fault.status, mockErrorBody(fault.status), extra);
      }
      if (fault.hang) return;
      if (rec.stream) return this.stream(req, res, rec, fault);
      return this.nonStream(req, res, rec, fault);
    };
    if (fault.slowFirstByteMs) {
      const t = setTimeout(go, fault.slowFirstByteMs);
      res.on('close', () => clearTimeout(t));
    } else {
      go();
    }
  }

  completion(body, content, usage) {
    return {
      id: `chatcmpl-mock-${this.seq}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      choices: [
        {
          index: 0,
          message: { role: 'assistant', content, refusal: null },
          logprobs: null,
          finish_reason: 'stop',
        },
      ],
      usage,
      system_fingerprint: 'fp_mock',
    };
  }

  nonStream(req, res, rec, fault) {
    const body = rec.body;
    if (fault.bigMB !== undefined) {
      const n = fault.bigMB * 1024 * 1024;
      rec.contentBytesPlanned = n;
      const content = bigContent(n);
      const usage = {
        prompt_tokens: 1,
        completion_tokens: Math.ceil(n / 4),
        total_tokens: 1 + Math.ceil(n / 4),
      };
      const obj = this.completion(body, content, usage);
      const text = JSON.stringify(obj);
      rec.status = 200;
      rec.headersSentAt = now();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      rec.contentBytesWritten = n;
      res.end(text);
      return;
    }
    const obj = this.completion(body, mockReplyText(body), mockUsage(body));
    if (fault.reset) {
      const text = JSON.stringify(obj);
      rec.status = 200;
      rec.headersSentAt = now();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      res.write(text.slice(0, text.length >> 1));
      setTimeout(() => {
        rec.destroyedByMock = now();
        res.socket?.destroy();
      }, 20);
      return;
    }
    if (fault.dripMs !== undefined) {
      const t = setTimeout(() => sendJson(res, rec, 200, obj), fault.dripMs * fault.dripCount);
      res.on('close', () => clearTimeout(t));
      return;
    }
    sendJson(res, rec, 200, obj);
  }

  async stream(req, res, rec, fault) {
    const body = rec.body;
    const includeUsage = body.stream_options?.include_usage === true;
    const base = {
      id: `chatcmpl-mock-${this.seq}`,
      object: 'chat.completion.chunk',
      created: Math.floor(Date.now() / 1000),
      model: body.model,
      system_fingerprint: 'fp_mock',
    };
    const u = includeUsage ? null : undefined;
    rec.status = 200;
    rec.headersSentAt = now();
    rec.contentBytesWritten = 0;
    rec.writesBlocked = 0;
    rec.blocked = false;
    rec.blockedAt = null;
    res.writeHead(200, {
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
    });
    const alive = () => !res.destroyed && rec.closedEarlyAt === null;
    const write = async (s) => {
      if (!alive()) return false;
      if (!res.write(s)) {
        rec.writesBlocked++;
        rec.blocked = true;
        rec.blockedAt = now();
        this.changed();
        await waitDrain(res);
        rec.blocked = false;
      }
      return alive();
    };
    const delta = (content) =>
      chunkFrame(base, [{ index: 0, delta: { content }, logprobs: null, finish_reason: null }], u);
    const finish = async (usage) => {
      if (
        !(await write(chunkFrame(base, [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }], u)))
      )
        return;
      if (includeUsage && !(await write(chunkFrame(base, [], usage)))) return;
      if (alive()) res.end('data: [DONE]\n\n');
    };

    if (
      !(await write(
        chunkFrame(
          base,
          [
            {
              index: 0,
              delta: { role: 'assistant', content: '', refusal: null },
              logprobs: null,
              finish_reason: null,
            },
          ],
          u,
        ),
      ))
    )
      return;

    if (fault.bigMB !== undefined) {
      const total = fault.bigMB * 1024 * 1024;
      rec.contentBytesPlanned = total;
      const full = Buffer.from(delta(bigContent(BIG_DELTA)));
      let sent = 0;
      while (sent < total) {
        const n = Math.min(BIG_DELTA, total - sent);
        const frame = n === BIG_DELTA ? full : delta(bigContent(n));
        sent += n;
        rec.contentBytesWritten = sent;
        if (!(await write(frame))) return;
      }
      const ct = Math.ceil(total / 4);
      await finish({ prompt_tokens: 1, completion_tokens: ct, total_tokens: ct + 1 });
      return;
    }

    if (fault.dripMs !== undefined) {
      rec.contentBytesPlanned = 0;
      let i = 0;
      const tick = async () => {
        if (!alive()) return;
        if (i >= fault.dripCount) {
          await finish({
            prompt_tokens: 1,
            completion_tokens: fault.dripCount,
            total_tokens: fault.dripCount + 1,
          });
          return;
        }
        const tok = i === 0 ? 'tok0' : ` tok${i}`;
        i++;
        rec.contentBytesWritten += tok.length;
        if (!(await write(delta(tok)))) return;
        timer = setTimeout(tick, fault.dripMs);
      };
      let timer = setTimeout(tick, fault.dripMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }

    const text = mockReplyText(body);
    const parts = mockDeltas(text);
    rec.contentBytesPlanned = Buffer.byteLength(text);
    if (fault.reset) {
      for (const p of parts.slice(0, 3)) {
        if (!(await write(delta(p)))) return;
      }
      setTimeout(() => {
        rec.destroyedByMock = now();
        res.socket?.destroy();
      }, 20);
      return;
    }
    for (const p of parts) {
      rec.contentBytesWritten += Buffer.byteLength(p);
      if (!(await write(delta(p)))) return;
    }
    await finish(mockUsage(body));
  }
}

const bigCache = new Map();
function bigContent(n) {
  let s = bigCache.get(n);
  if (s === undefined) {
    const unit = 'abcdefghijklmnopqrstuvwxyz012345';
    s = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    if (n <= BIG_DELTA) bigCache.set(n, s);
  }
  return s;
}

/**
 * Starts the mock on loopback. Options: port (0 = free), host, apiKey (require exactly this
 * bearer), maxRecords (keep the last N; default unlimited).
 */
export async function startMock({ port = 0, host = '127.0.0.1', apiKey, maxRecords } = {}) {
  const mock = new Mock({ apiKey, maxRecords });
  const server = http.createServer(
    { keepAliveTimeout: 60000, requestTimeout: 0, headersTimeout: 60000, noDelay: true },
    (req, res) => mock.handle(req, res),
  );
  server.keepAliveTimeout = 60000;
  server.on('connection', (sock) => {
    sock.setNoDelay(true);
    sock._mockConn = ++mock.connections;
    mock.sockets.add(sock);
    sock.on('close', () => mock.sockets.delete(sock));
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    records: mock.records,
    get connections() {
      return mock.connections;
    },
    reset: () => mock.reset(),
    waitFor: (pred, ms) => mock.waitFor(pred, ms),
    server,
    close() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        for (const r of mock.records) if (!r.endedAt && !r.closedEarlyAt) r.destroyedByMock = now();
        for (const s of mock.sockets) s.destroy();
      });
    },
  };
}

async function main(argv) {
  const opt = { port: 0, host: '127.0.0.1', maxRecords: 1000 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opt.port = Number(argv[++i]);
    else if (a === '--host') opt.host = argv[++i];
    else if (a === '--max-records') opt.maxRecords = Number(argv[++i]);
    else if (a === '--api-key') opt.apiKey = argv[++i];
    else {
      process.stderr.write(`usage: mock.mjs [--port N] [--host H] [--max-records N] [--api-key K]\n`);
      process.exit(2);
    }
  }
  const m = await startMock(opt);
  process.stdout.write(`${m.port}\n`);
  const stop = () => m.close().then(() => process.exit(0));
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  main(process.argv.slice(2)).catch((e) => {
    process.stderr.write(`mock: ${e.stack || e}\n`);
    process.exit(1);
  });
}
