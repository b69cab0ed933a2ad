#!/usr/bin/env node
// proxies.mjs — loopback outbound proxies for tests (node:net/http only), each keeping a log of
// what went through it.
//
//   const hp = await startHttpProxy({ auth: { username, password } });   // auth optional
//   const tp = await startHttpProxy({ tls: { key, cert } });  // an "https" proxy: the client
//                                     // speaks TLS to the proxy itself, then CONNECT or forward
//   const sp = await startSocks5Proxy({ auth: { username, password } }); // auth optional
//   p.url ("http://127.0.0.1:<port>" / "https://…" / "socks5://127.0.0.1:<port>"), p.host, p.port,
//   p.log (array of entries), p.requests, p.reset(), await p.close()
//
// p.requests has one entry per HTTP request that went through, tunnels included: a tunnel
// (CONNECT, SOCKS5) is opened once and reused by the client for many requests, so for plain
// http:// targets the request lines crossing it are counted too ({via: 'forward' | 'connect' |
// 'socks5', target, method, path, at}). TLS inside a tunnel is opaque: only its tunnel shows.
//
// HTTP proxy: CONNECT host:port tunnels (what curl uses for https:// targets, and for http://
// ones only when told to tunnel), and absolute-URI requests ("POST http://host:port/path")
// forwarded to the origin (what curl sends for http:// targets). With auth, a missing or wrong
// Proxy-Authorization (Basic) gets 407 and the entry says so.
// Log entry: { kind: 'forward' | 'connect', method, target ("host:port"), path (forward only),
//              user (decoded Basic user or null), denied (true when 407), at (epoch ms) }
//
// SOCKS5 proxy (RFC 1928, CONNECT only): methods "no auth" or username/password (RFC 1929)
// when auth is set. Address types IPv4, domain name and IPv6 are accepted; the entry records
// which one the client sent, so a test can tell that names were resolved by the proxy
// (socks5h) rather than by the client.
// Log entry: { kind: 'socks5', atyp: 'ipv4' | 'domain' | 'ipv6', target ("host:port"),
//              user, denied, at } (a refused login logs atyp and target null, denied true)
//
// CLI: node tests/mock/proxies.mjs [http|socks5] prints the port and serves until killed.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { pathToFileURL } from 'node:url';

function listen(server) {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve(server.address().port));
  });
}

// Tracks sockets so close() ends tunnels that would otherwise keep the server open.
function trackSockets(server) {
  const socks = new Set();
  server.on('connection', (s) => {
    socks.add(s);
    s.on('close', () => socks.delete(s));
  });
  return socks;
}

function closeAll(server, socks, extra) {
  for (const s of socks) s.destroy();
  for (const s of extra) s.destroy();
  return new Promise((resolve) => server.close(() => resolve()));
}

// Counts the HTTP/1.x request lines a client sends through a tunnel (plain http:// only).
// Returns the feed function (also attached to sock's 'data'), for bytes that came before.
const REQUEST_LINE = /(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS) (\/\S*) HTTP\/1\.[01]\r\n/g;
function watchRequests(sock, requests, via, target) {
  let tail = '';
  const feed = (d) => {
    const text = tail + d.toString('latin1');
    for (const m of text.matchAll(REQUEST_LINE)) {
      // a match that ends inside the kept tail was counted with the previous chunk
      if (m.index + m[0].length > tail.length) requests.push({ via, target, method: m[1], path: m[2], at: Date.now() });
    }
    tail = text.slice(-256);
  };
  sock.on('data', feed);
  return feed;
}

function basicUser(header, auth) {
  if (!header || !/^basic /i.test(header)) return { user: null, ok: !auth };
  const [user, ...rest] = Buffer.from(header.slice(6).trim(), 'base64').toString().split(':');
  const pass = rest.join(':');
  return { user, ok: !auth || (user === auth.username && pass === auth.password) };
}

// Names are resolved here, by the proxy (that is the point of socks5h); "localhost" is pinned to
// the IPv4 loopback the mocks listen on, whatever order the resolver would give.
const resolveHost = (h) => (h === 'localhost' ? '127.0.0.1' : h);

function splitHostPort(s) {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) || /^([^:]+):(\d+)$/.exec(s);
  return m ? { host: m[1], port: Number(m[2]) } : null;
}

export async function startHttpProxy({ auth, tls } = {}) {
  const log = [];
  const requests = [];
  const upstreams = new Set();
  const serve = (req, res) => {
    const { user, ok } = basicUser(req.headers['proxy-authorization'], auth);
    let target;
    try {
      target = new URL(req.url);
    } catch {
      res.writeHead(400).end('absolute URI expected');
      return;
    }
    const entry = {
      kind: 'forward', method: req.method, target: target.host, path: target.pathname + target.search,
      user, denied: !ok, at: Date.now(),
    };
    log.push(entry);
    if (!ok) {
      res.writeHead(407, { 'proxy-authenticate': 'Basic realm="test"' }).end();
      return;
    }
    requests.push({ via: 'forward', target: entry.target, method: req.method, path: entry.path, at: entry.at });
    const headers = { ...req.headers };
    delete headers['proxy-authorization'];
    delete headers['proxy-connection'];
    const up = http.request({
      host: resolveHost(target.hostname.replace(/^\[|\]$/g, '')), port: target.port || 80, method: req.method,
      path: target.pathname + target.search, headers,
    }, (ur) => {
      res.writeHead(ur.statusCode, ur.headers);
      ur.pipe(res);
    });
    upstreams.add(up);
    up.on('close', () => upstreams.delete(up));
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
  const server = tls ? https.createServer({ key: tls.key, cert: tls.cert }, serve) : http.createServer(serve);
  const tunnels = new Set();
  server.on('connect', (req, client, head) => {
    const { user, ok } = basicUser(req.headers['proxy-authorization'], auth);
    const entry = { kind: 'connect', method: 'CONNECT', target: req.url, user, denied: !ok, at: Date.now() };
    log.push(entry);
    const hp = splitHostPort(req.url);
    if (!ok || !hp) {
      client.end(ok ? 'HTTP/1.1 400 Bad Request\r\n\r\n'
        : 'HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm="test"\r\n\r\n');
      return;
    }
    const up = net.connect(hp.port, resolveHost(hp.host), () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      const feed = watchRequests(client, requests, 'connect', req.url);
      if (head?.length) {
        feed(head);
        up.write(head);
      }
      up.pipe(client);
      client.pipe(up);
    });
    tunnels.add(up);
    up.on('close', () => { tunnels.delete(up); client.destroy(); });
    up.on('error', () => client.destroy());
    client.on('error', () => up.destroy());
    client.on('close', () => up.destroy());
  });
  const socks = trackSockets(server);
  const port = await listen(server);
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, host: '127.0.0.1', port, log, requests,
    reset() { log.length = 0; requests.length = 0; },
    close() { return closeAll(server, socks, [...tunnels, ...upstreams]); },
  };
}

// A byte reader over a socket: await need(n) resolves with exactly n bytes.
function reader(sock) {
  let buf = Buffer.alloc(0);
  let waiting = null;
  const kick = () => {
    if (waiting && buf.length >= waiting.n) {
      const out = buf.subarray(0, waiting.n);
      buf = buf.subarray(waiting.n);
      const w = waiting;
      waiting = null;
      w.resolve(out);
    }
  };
  const onData = (d) => { buf = Buffer.concat([buf, d]); kick(); };
  sock.on('data', onData);
  sock.on('close', () => waiting?.reject(new Error('closed')));
  return {
    need(n) { return new Promise((resolve, reject) => { waiting = { n, resolve, reject }; kick(); }); },
    detach() { sock.off('data', onData); return buf; },
  };
}

async function socksSession(client, auth, log, requests, tunnels) {
  const rd = reader(client);
  const [ver, nmethods] = await rd.need(2);
  if (ver !== 5) throw new Error('not socks5');
  const methods = [...(await rd.need(nmethods))];
  const want = auth ? 2 : 0;
  if (!methods.includes(want)) {
    client.end(Buffer.from([5, 0xff]));
    return;
  }
  client.write(Buffer.from([5, want]));
  let user = null;
  let denied = false;
  if (auth) {
    const [, ulen] = await rd.need(2);
    user = (await rd.need(ulen)).toString();
    const [plen] = await rd.need(1);
    const pass = (await rd.need(plen)).toString();
    denied = user !== auth.username || pass !== auth.password;
    client.write(Buffer.from([1, denied ? 1 : 0]));
    if (denied) { // the client hangs up now: log what is known
      log.push({ kind: 'socks5', atyp: null, target: null, user, denied, at: Date.now() });
      client.end();
      return;
    }
  }
  const [, cmd, , atyp] = await rd.need(4);
  let host;
  let kind;
  if (atyp === 1) {
    host = [...(await rd.need(4))].join('.');
    kind = 'ipv4';
  } else if (atyp === 3) {
    const [len] = await rd.need(1);
    host = (await rd.need(len)).toString();
    kind = 'domain';
  } else if (atyp === 4) {
    const b = await rd.need(16);
    host = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16)).join(':');
    kind = 'ipv6';
  } else {
    client.end(Buffer.from([5, 8, 0, 1, 0, 0, 0, 0, 0, 0]));
    return;
  }
  const port = (await rd.need(2)).readUInt16BE(0);
  log.push({ kind: 'socks5', atyp: kind, target: `${host}:${port}`, user, denied, at: Date.now() });
  if (cmd !== 1) {
    client.end(Buffer.from([5, 7, 0, 1, 0, 0, 0, 0, 0, 0]));
    return;
  }
  const up = net.connect(port, resolveHost(host), () => {
    client.write(Buffer.from([5, 0, 0, 1, 127, 0, 0, 1, 0, 0]));
    const rest = rd.detach();
    const target = `${host}:${port}`;
    const feed = watchRequests(client, requests, 'socks5', target);
    if (rest.length) {
      feed(rest);
      up.write(rest);
    }
    up.pipe(client);
    client.pipe(up);
  });
  tunnels.add(up);
  up.on('error', () => {
    if (!client.destroyed) client.end(Buffer.from([5, 5, 0, 1, 0, 0, 0, 0, 0, 0]));
  });
  up.on('close', () => { tunnels.delete(up); client.destroy(); });
  client.on('close', () => up.destroy());
}

export async function startSocks5Proxy({ auth } = {}) {
  const log = [];
  const requests = [];
  const tunnels = new Set();
  const server = net.createServer((client) => {
    client.on('error', () => {});
    socksSession(client, auth, log, requests, tunnels).catch(() => client.destroy());
  });
  const socks = trackSockets(server);
  const port = await listen(server);
  return {
    url: `socks5://127.0.0.1:${port}`, host: '127.0.0.1', port, log, requests,
    reset() { log.length = 0; requests.length = 0; },
    close() { return closeAll(server, socks, tunnels); },
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const kind = process.argv[2] ?? 'http';
  const p = kind === 'socks5' ? await startSocks5Proxy() : await startHttpProxy();
  console.log(p.port);
  const stop = async () => { await p.close(); process.exit(0); };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  setInterval(() => { while (p.log.length) console.error(JSON.stringify(p.log.shift())); }, 200);
}
