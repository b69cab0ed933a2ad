#!/usr/bin/env node
// mock.mjs — a fake upstream for tests and benchmarks that speaks four provider APIs (node:http,
// or node:https in TLS mode): OpenAI Chat Completions, Anthropic Messages, Gemini
// generateContent and OpenAI Responses.
//
// Library:  const mock = await startMock({ port: 0 });  mock.url, mock.port, mock.records,
//           mock.connections, mock.reset(), mock.waitFor(pred, ms), await mock.close(),
//           mock.setFault(key, spec | null), mock.clearFaults()
// CLI:      node tests/mock/mock.mjs [--port N] [--host 127.0.0.1] [--max-records N]
//           [--tls-key key.pem --tls-cert cert.pem]
//           prints the port (one line on stdout), then serves until SIGINT/SIGTERM.
//
// TLS mode: startMock({ tls: { key, cert } }) (PEM strings) serves the very same routes over
// https; mock.url is then "https://host:port". A test can see the client's TLS side:
//   mock.tlsSessions  one entry per completed handshake, in order:
//                     { conn, servername (SNI sent by the client, null for none), protocol
//                       ('TLSv1.3'…), alpn (negotiated, or null), resumed, at, closedAt }
//                     (closedAt stays null while the connection is open)
//   mock.tlsErrors    one entry per failed handshake: { conn, code, message, at } — e.g. the
//                     client refusing the certificate (an alert such as "unknown ca")
//   mock.waitForSession(pred, ms) resolves with the first session entry matching pred.
// mock.connections still counts TCP connections (failed handshakes included), so "many
// requests, few sessions" shows keep-alive reuse. reset() clears both logs too.
//
// Routes (matched on the path's end, so any prefix works as a connection's baseUrl)
//   POST …/chat/completions              OpenAI chat (openai.mjs)        Bearer
//   POST …/messages                      Anthropic Messages (anthropic.mjs) x-api-key or Bearer,
//   POST …/messages/count_tokens           and anthropic-version
//   POST …/responses                     OpenAI Responses (responses.mjs) Bearer
//   POST …/models/{model}:generateContent  Gemini (gemini.mjs)            x-goog-api-key or ?key=
//        …/models/{model}:streamGenerateContent[?alt=sse], …:countTokens   ({model} may be %2F-encoded)
//   GET  /v1/models, /models             OpenAI model list                Bearer
//   GET  …/v1beta/models                 Gemini model list
//   GET  /anthropic/v1/models            Anthropic model list
//   GET  …/responses + Upgrade: websocket  426 (as api.openai.com answers Codex's WebSocket try)
//   HEAD /                               200
//   GET  /__mock/records                 {connections, records}
//   POST /__mock/reset                   clears records and the connection count
//   POST /__mock/fault {key, spec}       sets (spec null: clears) the fault of one credential
// Suggested baseUrls: openai `${url}/v1`, anthropic `${url}/anthropic/v1`, gemini
// `${url}/gemini/v1beta`, openai-responses `${url}/v1`.
// Auth failures answer 401 (Gemini: 403) in the API's own error shape, and so do bad JSON and
// validation failures (400; see each API module's header for what it rejects). Every request
// is recorded, answered or not.
//
// Replies are deterministic (common.mjs has the rules): "mock reply to: <last user text>", a
// call of the first tool with {"city":"Paris"} when the request has tools and ends with a user
// message, "tool said: <result>" after a tool result, and a thinking block when asked. Stream
// text deltas are the text split before each space ("mock", " reply", " to:", …).
//
// Fault injection. The fault spec is the `x-mock-fault` request header when present, otherwise
// the fault set for the request's credential (setFault: Bearer token, x-api-key,
// x-goog-api-key or ?key=; lets a test fail one account of several and heal it later),
// otherwise the request's model name (body.model, or the model in a Gemini path; the gateway
// relays the model, so e2e tests use the model). Tokens are searched anywhere in the spec, so
// "mock-status-500", "status-500" and "gpt-x-slow-first-byte-200-drip-20" all work. Several
// tokens may be combined where it makes sense (slow-first-byte with anything; the others pick
// one reply mode, first match below wins). Faults work on every API, errors in its own shape:
//   status-<code>[-retry-<s>]  answer <code> with the API's error body (record.responseBody);
//                              with -retry-<s>, a `Retry-After: <s>` header (Gemini also
//                              a RetryInfo detail)
//   hang                       accept the request, never answer (closed by close() or the client)
//   reset-mid-stream           send the head and a few events (stream) or half the JSON
//   reset-after-<n>            as reset-mid-stream, but the stream is cut after exactly <n> text
//                              deltas (0: after the role chunk, before the first token)
//                              (non-stream), then destroy the socket
//   big-stream-<MB>            stream <MB> MiB of text (4 KiB deltas) as fast as the socket
//                              takes it, waiting for 'drain' when res.write returns false;
//                              non-stream: one JSON reply with <MB> MiB of text. With the
//                              token "numbered" too (big-stream-2-numbered), the text is
//                              numberedContent(0, <MB> MiB) instead of a repeated unit, so a
//                              test can tell a lost, repeated or reordered piece
//   drip-<ms>[-n<count>]       stream one token every <ms> ms, <count> tokens (default 200):
//                              "tok0", " tok1", …; non-stream: the normal reply after
//                              <count>*<ms> ms
//   slow-first-byte-<ms>       wait <ms> before sending the response head
//   one-write                  (with a normal stream) send the whole stream in one write, so
//                              the client most likely reads every event in one buffer
//
// A record (one per request):
//   { seq, conn, method, url, path, query, headers, body (parsed JSON | null), bodyText (when not
//     JSON), api ('openai' | 'anthropic' | 'gemini' | 'responses' | null), model, invalid (the
//     validation message when the mock answered 400), reply ({text, tool, thinking, usage} the
//     mock planned; usage is {input, output, thoughts}), fault, status, stream, receivedAt,
//     headersSentAt, endedAt, closedEarlyAt, contentBytesPlanned, contentBytesWritten,
//     writesBlocked, blocked, blockedAt, responseBody }
//   destroyedByMock is set (a time) when the mock itself cut the connection (reset, close()).
//   Times are epoch ms with sub-ms precision (performance.timeOrigin + performance.now()), so
//   they compare with Date.now() in the same process. closedEarlyAt is set when the client
//   closed the connection before the response ended. blocked is true while the mock is waiting
//   for 'drain'. conn is the 1-based number of the TCP connection the request came on.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import {
  now,
  MAX_BODY,
  BIG_DELTA,
  planReply,
  mockDeltas,
  parseFault,
  bigContent,
  numberedContent,
  isObj,
  Invalid,
} from './common.mjs';
import { openaiChat, openaiError, bearerAuth, mockErrorBody, mockReplyText, mockUsage } from './openai.mjs';
import { anthropicMessages, anthropicCountTokens, anthropicReplyText, anthropicError } from './anthropic.mjs';
import { geminiApi, geminiReplyText, geminiResultText, GEMINI_MODELS } from './gemini.mjs';
import { openaiResponses, responsesReplyText } from './responses.mjs';
export * from './common.mjs';
export {
  mockErrorBody,
  mockReplyText,
  mockUsage,
  anthropicCountTokens,
  anthropicReplyText,
  anthropicError,
  geminiReplyText,
  geminiResultText,
  responsesReplyText,
};

export const MODELS = ['gpt-4o-mini', 'gpt-4o', 'gpt-4.1', 'o3-mini', 'text-embedding-3-small'];
export const ANTHROPIC_MODELS = ['claude-mock-sonnet', 'claude-mock-haiku', 'claude-mock-opus'];
export { GEMINI_MODELS };

/** The API modules by record.api name, for tests that want to re-run a validator on a record. */
export const APIS = {
  openai: openaiChat,
  anthropic: anthropicMessages,
  gemini: geminiApi,
  responses: openaiResponses,
};

const GEMINI_PATH = /\/models\/(.+):(generateContent|streamGenerateContent|countTokens)$/;

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

// The credential a request carries, whichever way its API sends it ('' if none).
function credential(req, query) {
  const a = req.headers.authorization;
  if (typeof a === 'string' && /^Bearer\s+/i.test(a)) return a.replace(/^Bearer\s+/i, '');
  return req.headers['x-api-key'] || req.headers['x-goog-api-key'] || query.get('key') || '';
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

class Mock {
  constructor(opts) {
    this.apiKey = opts.apiKey || null;
    this.maxRecords = opts.maxRecords ?? Infinity;
    this.records = [];
    this.connections = 0;
    this.seq = 0;
    this.sockets = new Set();
    this.waiters = new Set();
    this.keyFaults = new Map();
    this.tlsSessions = [];
    this.tlsErrors = [];
  }

  setFault(key, spec) {
    if (spec === null || spec === undefined || spec === '') this.keyFaults.delete(key);
    else this.keyFaults.set(key, spec);
  }

  reset() {
    this.records.length = 0;
    this.connections = 0;
    this.tlsSessions.length = 0;
    this.tlsErrors.length = 0;
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
    return this.waitIn(this.records, pred, timeoutMs, 'record');
  }

  // The same over any of the mock's logs (records, tlsSessions): all of them call changed().
  waitIn(list, pred, timeoutMs, what) {
    return new Promise((resolve, reject) => {
      const check = () => {
        const r = list.find(pred);
        if (r) {
          cleanup();
          resolve(r);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`mock.waitFor: no matching ${what} within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
      };
      this.waiters.add(check);
      check();
    });
  }

  newRecord(req) {
    const q = req.url.indexOf('?');
    const rec = {
      seq: ++this.seq,
      conn: req.socket._mockConn,
      method: req.method,
      url: req.url,
      path: q < 0 ? req.url : req.url.slice(0, q),
      query: q < 0 ? '' : req.url.slice(q + 1),
      headers: req.headers,
      body: null,
      api: null,
      model: null,
      invalid: null,
      reply: null,
      fault: null,
      status: 0,
      stream: false,
      receivedAt: now(),
      headersSentAt: null,
      endedAt: null,
      closedEarlyAt: null,
    };
    this.push(rec);
    return rec;
  }

  handle(req, res) {
    const rec = this.newRecord(req);
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

  // An HTTP upgrade (WebSocket) request: api.openai.com answers 426 on /v1/responses.
  upgrade(req, socket) {
    const rec = this.newRecord(req);
    const isResponses = rec.path.endsWith('/responses');
    const status = isResponses ? 426 : 404;
    const body = JSON.stringify(openaiError(isResponses ? 'Upgrade Required' : 'Not found'));
    rec.status = status;
    rec.headersSentAt = now();
    socket.end(
      `HTTP/1.1 ${status} ${isResponses ? 'Upgrade Required' : 'Not Found'}\r\ncontent-type: application/json\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
    rec.endedAt = now();
    this.changed();
  }

  route(req, res, rec, badJson) {
    const path = rec.path;
    const query = new URLSearchParams(rec.query);
    const m = req.method;
    if (path === '/__mock/records' && m === 'GET') {
      return sendJson(res, rec, 200, {
        connections: this.connections,
        records: this.records.filter((r) => r !== rec),
        ...(req.socket.encrypted ? { tlsSessions: this.tlsSessions, tlsErrors: this.tlsErrors } : {}),
      });
    }
    if (path === '/__mock/reset' && m === 'POST') {
      this.reset();
      return sendJson(res, rec, 200, { ok: true });
    }
    if (path === '/__mock/fault' && m === 'POST') {
      if (!isObj(rec.body) || typeof rec.body.key !== 'string') {
        return sendJson(res, rec, 400, openaiError('expected {key, spec}'));
      }
      this.setFault(rec.body.key, rec.body.spec ?? null);
      return sendJson(res, rec, 200, { ok: true });
    }
    if (path === '/' && (m === 'HEAD' || m === 'GET')) return sendJson(res, rec, 200, { ok: true });
    if ((path === '/v1/models' || path === '/models') && m === 'GET') {
      const e = bearerAuth(req, this.apiKey);
      if (e) return sendJson(res, rec, ...e);
      const created = Math.floor(Date.now() / 1000);
      return sendJson(res, rec, 200, {
        object: 'list',
        data: MODELS.map((id) => ({ id, object: 'model', created, owned_by: 'mock' })),
      });
    }
    if ((path.endsWith('/v1beta/models') || path.endsWith('/gemini/v1/models')) && m === 'GET') {
      const e = geminiApi.auth(req, this.apiKey, query);
      if (e) return sendJson(res, rec, ...e);
      return sendJson(res, rec, 200, {
        models: GEMINI_MODELS.map((id) => ({
          name: `models/${id}`,
          version: '001',
          displayName: id,
          inputTokenLimit: 1048576,
          outputTokenLimit: 65536,
          supportedGenerationMethods: ['generateContent', 'countTokens'],
          thinking: true,
        })),
      });
    }
    if (path.endsWith('/anthropic/v1/models') && m === 'GET') {
      const e = anthropicMessages.auth(req, this.apiKey);
      if (e) return sendJson(res, rec, ...e);
      const data = ANTHROPIC_MODELS.map((id) => ({
        type: 'model',
        id,
        display_name: id,
        created_at: '2025-09-29T00:00:00Z',
      }));
      return sendJson(res, rec, 200, { data, has_more: false, first_id: data[0].id, last_id: data.at(-1).id });
    }

    let api = null;
    let kind = 'chat';
    const ctx = { seq: rec.seq, query, createdAt: Date.now(), stream: false, model: null };
    let gm;
    if (path.endsWith('/chat/completions')) api = openaiChat;
    else if (path.endsWith('/messages/count_tokens')) {
      api = anthropicMessages;
      kind = 'count';
    } else if (path.endsWith('/messages')) api = anthropicMessages;
    else if (path.endsWith('/responses')) api = openaiResponses;
    else if ((gm = GEMINI_PATH.exec(path))) {
      api = geminiApi;
      try {
        ctx.model = decodeURIComponent(gm[1]);
      } catch {
        ctx.model = gm[1];
      }
      if (ctx.model.startsWith('models/')) ctx.model = ctx.model.slice(7);
      if (gm[2] === 'countTokens') kind = 'count';
      ctx.stream = gm[2] === 'streamGenerateContent';
    }
    if (api === null) {
      return sendJson(
        res,
        rec,
        404,
        openaiError(`Unknown route ${m} ${path}`),
      );
    }
    rec.api = api.name;
    if (m !== 'POST') {
      return sendJson(res, rec, 405, api.errorBody(405, 'Method not allowed'));
    }
    const authErr = api.auth(req, this.apiKey, query);
    if (authErr) return sendJson(res, rec, ...authErr);
    if (badJson || !isObj(rec.body)) return sendJson(res, rec, 400, api.badJson());
    const body = rec.body;
    if (api !== geminiApi) {
      ctx.model = body.model;
      ctx.stream = body.stream === true;
    }
    ctx.body = body;
    rec.model = ctx.model ?? null;
    rec.stream = ctx.stream;
    const headerSpec = req.headers['x-mock-fault'];
    const keySpec = this.keyFaults.size ? this.keyFaults.get(credential(req, query)) : undefined;
    const fault = parseFault(typeof headerSpec === 'string' ? headerSpec : (keySpec ?? ctx.model));
    rec.fault = fault;
    try {
      if (kind === 'count' && api === anthropicMessages) api.validate(body, req, { count: true });
      else api.validate(body, req, ctx);
    } catch (e) {
      if (!(e instanceof Invalid)) throw e;
      rec.invalid = e.message;
      return sendJson(res, rec, 400, api.errorBody(400, e.message, e.param));
    }
    ctx.turn = api.turn(body, ctx);
    if (kind === 'count') {
      const n = planReply(ctx.turn).usage.input;
      return sendJson(res, rec, 200, api === geminiApi ? { totalTokens: n } : anthropicCountTokens(body));
    }
    const plan = planReply(ctx.turn);
    rec.reply = {
      text: plan.text,
      tool: plan.tool ? { name: plan.tool.name, args: plan.tool.args } : null,
      thinking: plan.thinking ? plan.thinking.text : null,
      usage: plan.usage,
    };
    this.changed();
    this.serve(api, req, res, rec, ctx, fault, plan);
  }

  serve(api, req, res, rec, ctx, fault, plan) {
    const go = () => {
      if (rec.closedEarlyAt !== null) return;
      if (fault.status) {
        const extra = fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
        return sendJson(res, rec, fault.status, api.errorBody(fault.status, undefined, null, fault.retryAfter), extra);
      }
      if (fault.hang) return;
      if (rec.stream) return this.stream(api, res, rec, ctx, fault, plan);
      return this.nonStream(api, res, rec, ctx, fault, plan);
    };
    if (fault.slowFirstByteMs) {
      const t = setTimeout(go, fault.slowFirstByteMs);
      res.on('close', () => clearTimeout(t));
    } else {
      go();
    }
  }

  nonStream(api, res, rec, ctx, fault, plan) {
    if (fault.bigMB !== undefined) {
      const n = fault.bigMB * 1024 * 1024;
      rec.contentBytesPlanned = n;
      const big = {
        thinking: null,
        tool: null,
        text: fault.numbered ? numberedContent(0, n) : bigContent(n),
        usage: { input: 1, output: Math.ceil(n / 4), thoughts: 0 },
      };
      const text = JSON.stringify(api.response(ctx, big));
      rec.status = 200;
      rec.headersSentAt = now();
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
      rec.contentBytesWritten = n;
      res.end(text);
      return;
    }
    const obj = api.response(ctx, plan);
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

  async stream(api, res, rec, ctx, fault, plan) {
    const enc = api.encoder(ctx, plan);
    rec.status = 200;
    rec.headersSentAt = now();
    rec.contentBytesWritten = 0;
    rec.writesBlocked = 0;
    rec.blocked = false;
    rec.blockedAt = null;
    res.writeHead(200, enc.headers);
    const alive = () => !res.destroyed && rec.closedEarlyAt === null;
    let held = fault.oneWrite ? '' : null; /* one-write: everything goes out in finish */
    const write = async (s) => {
      if (!alive()) return false;
      if (s === '' || s === undefined) return true;
      if (held !== null) {
        held += s;
        return true;
      }
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
    const finish = async (usage) => {
      if (!(await write(enc.finish(usage)))) return;
      if (held !== null) {
        const all = held;
        held = null;
        if (!(await write(all))) return;
      }
      if (alive()) res.end();
    };
    const cut = () =>
      setTimeout(() => {
        rec.destroyedByMock = now();
        res.socket?.destroy();
      }, 20);

    if (!(await write(enc.start()))) return;

    if (fault.bigMB !== undefined) {
      const total = fault.bigMB * 1024 * 1024;
      rec.contentBytesPlanned = total;
      if (!(await write(enc.textStart()))) return;
      const piece = bigContent(BIG_DELTA);
      let sent = 0;
      while (sent < total) {
        const n = Math.min(BIG_DELTA, total - sent);
        let text;
        if (fault.numbered) text = numberedContent(sent, n);
        else text = n === BIG_DELTA ? piece : bigContent(n);
        sent += n;
        rec.contentBytesWritten = sent;
        if (!(await write(enc.text(text)))) return;
      }
      if (!(await write(enc.textEnd()))) return;
      const ct = Math.ceil(total / 4);
      await finish({ input: 1, output: ct, thoughts: 0 });
      return;
    }

    if (fault.dripMs !== undefined) {
      rec.contentBytesPlanned = 0;
      if (!(await write(enc.textStart()))) return;
      let i = 0;
      let timer;
      const tick = async () => {
        if (!alive()) return;
        if (i >= fault.dripCount) {
          if (!(await write(enc.textEnd()))) return;
          await finish({ input: 1, output: fault.dripCount, thoughts: 0 });
          return;
        }
        const tok = i === 0 ? 'tok0' : ` tok${i}`;
        i++;
        rec.contentBytesWritten += tok.length;
        if (!(await write(enc.text(tok)))) return;
        timer = setTimeout(tick, fault.dripMs);
      };
      timer = setTimeout(tick, fault.dripMs);
      res.on('close', () => clearTimeout(timer));
      return;
    }

    if (plan.thinking && !(await write(enc.thinking(plan.thinking)))) return;
    if (plan.text !== null) {
      const parts = mockDeltas(plan.text);
      rec.contentBytesPlanned = Buffer.byteLength(plan.text);
      if (!(await write(enc.textStart()))) return;
      if (fault.reset) {
        for (const p of parts.slice(0, fault.resetAfter ?? 3)) {
          if (!(await write(enc.text(p)))) return;
        }
        cut();
        return;
      }
      for (const p of parts) {
        rec.contentBytesWritten += Buffer.byteLength(p);
        if (!(await write(enc.text(p)))) return;
      }
      if (!(await write(enc.textEnd()))) return;
    }
    if (plan.tool) {
      if (!(await write(enc.toolStart(plan.tool)))) return;
      if (fault.reset) {
        cut();
        return;
      }
      if (!(await write(enc.toolRest(plan.tool)))) return;
    }
    await finish(plan.usage);
  }
}

const peerOf = (sock) => `${sock.remoteAddress}|${sock.remotePort}`;

// TLS mode: the TCP connection number carries over to the TLS socket (what requests see as
// req.socket), found by the peer address both share; handshakes are logged either way.
function watchTls(server, mock) {
  const connOf = new Map(); // peer → TCP connection number, while the TCP socket is open
  server.on('connection', (sock) => {
    const peer = peerOf(sock);
    connOf.set(peer, sock._mockConn);
    sock.on('close', () => connOf.delete(peer));
  });
  server.on('secureConnection', (ts) => {
    ts._mockConn = connOf.get(peerOf(ts)) ?? null;
    const entry = {
      conn: ts._mockConn,
      servername: ts.servername || null,
      protocol: ts.getProtocol(),
      alpn: ts.alpnProtocol || null,
      resumed: ts.isSessionReused(),
      at: now(),
      closedAt: null,
    };
    mock.tlsSessions.push(entry);
    ts.on('close', () => {
      entry.closedAt = now();
      mock.changed();
    });
    mock.changed();
  });
  server.on('tlsClientError', (err, ts) => {
    mock.tlsErrors.push({ conn: connOf.get(peerOf(ts)) ?? null, code: err.code ?? null, message: err.message, at: now() });
    mock.changed();
  });
}

/**
 * Starts the mock on loopback. Options: port (0 = free), host, apiKey (require exactly this
 * key), maxRecords (keep the last N; default unlimited), tls ({key, cert} PEM: serve https).
 */
export async function startMock({ port = 0, host = '127.0.0.1', apiKey, maxRecords, tls } = {}) {
  const mock = new Mock({ apiKey, maxRecords });
  const opts = { keepAliveTimeout: 60000, requestTimeout: 0, headersTimeout: 60000, noDelay: true };
  const handler = (req, res) => mock.handle(req, res);
  const server = tls
    ? https.createServer({ ...opts, key: tls.key, cert: tls.cert }, handler)
    : http.createServer(opts, handler);
  server.keepAliveTimeout = 60000;
  server.on('upgrade', (req, socket) => mock.upgrade(req, socket));
  server.on('connection', (sock) => {
    sock.setNoDelay(true);
    sock._mockConn = ++mock.connections;
    mock.sockets.add(sock);
    sock.on('close', () => mock.sockets.delete(sock));
  });
  if (tls) watchTls(server, mock);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const actual = server.address().port;
  return {
    url: `${tls ? 'https' : 'http'}://${host}:${actual}`,
    port: actual,
    records: mock.records,
    tlsSessions: mock.tlsSessions,
    tlsErrors: mock.tlsErrors,
    get connections() {
      return mock.connections;
    },
    reset: () => mock.reset(),
    setFault: (key, spec) => mock.setFault(key, spec),
    clearFaults: () => mock.keyFaults.clear(),
    waitFor: (pred, ms) => mock.waitFor(pred, ms),
    waitForSession: (pred, ms = 5000) => mock.waitIn(mock.tlsSessions, pred, ms, 'TLS session'),
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
  const tlsFiles = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--port') opt.port = Number(argv[++i]);
    else if (a === '--host') opt.host = argv[++i];
    else if (a === '--max-records') opt.maxRecords = Number(argv[++i]);
    else if (a === '--api-key') opt.apiKey = argv[++i];
    else if (a === '--tls-key') tlsFiles.key = argv[++i];
    else if (a === '--tls-cert') tlsFiles.cert = argv[++i];
    else {
      process.stderr.write(
        `usage: mock.mjs [--port N] [--host H] [--max-records N] [--api-key K] [--tls-key F --tls-cert F]\n`,
      );
      process.exit(2);
    }
  }
  if (tlsFiles.key || tlsFiles.cert) {
    opt.tls = { key: readFileSync(tlsFiles.key), cert: readFileSync(tlsFiles.cert) };
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
