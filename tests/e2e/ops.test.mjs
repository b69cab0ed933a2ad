// Operations against the real binary: GET /metrics parsed by a strict parser of the Prometheus
// text format (0.0.4) and seen to move with traffic; the structured access log; request logs
// with secrets redacted (headers, body members, query) and pagination; the model catalog's
// shape and types; the `omniroute` CLI (providers, keys, backup) on a data dir that a gateway
// then serves.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

const BIN = process.env.OMNIROUTE_BIN || path.resolve('../build/omniroute');
const SECRETS = ['sk-client-secret-123', 'xk-header-secret-456', 'sk-body-secret-789',
  'body-password-000', 'AIza-query-secret-111'];

let gw, mock, cookie;
const api = (method, p, body) => fetch(`${gw.url}${p}`, {
  method,
  headers: { 'content-type': 'application/json', cookie },
  body: body && JSON.stringify(body),
});

async function json(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return JSON.parse(text);
}

// ---- a strict parser of the Prometheus text exposition format 0.0.4 ----

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s) {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${s}`);
  return Number(s);
}

function parseLabels(s, at) {
  // s starts after '{'; returns [labels, index after '}']
  const labels = {};
  let i = at;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error('label without =');
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`bad label name ${name}`);
    if (name in labels) throw new Error(`label ${name} twice`);
    if (s[eq + 1] !== '"') throw new Error('label value not quoted');
    let v = '';
    i = eq + 2;
    for (;;) {
      const ch = s[i++];
      if (ch === undefined) throw new Error('unterminated label value');
      if (ch === '"') break;
      if (ch === '\\') {
        const e = s[i++];
        if (e === 'n') v += '\n';
        else if (e === '\\' || e === '"') v += e;
        else throw new Error(`bad escape \\${e}`);
      } else v += ch;
    }
    labels[name] = v;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error('expected , or }');
  }
  return [labels, i + 1];
}

export function parseProm(text) {
  if (!text.endsWith('\n')) throw new Error('does not end with a newline');
  const types = new Map();
  const samples = [];
  const seen = new Set();
  const done = new Set(); // families whose samples ended (a family's samples are contiguous)
  let current = null;
  const lines = text.slice(0, -1).split('\n');
  lines.forEach((line, n) => {
    const where = `line ${n + 1}: ${line}`;
    if (line === '') throw new Error(`${where}: empty line`);
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) return; // a plain comment
      const [, kind, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`${where}: bad name`);
      if (kind === 'HELP') {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad HELP escape`);
      } else {
        if (!TYPES.has(rest)) throw new Error(`${where}: bad TYPE`);
        if (types.has(name)) throw new Error(`${where}: TYPE twice`);
        if (seen.has(`family:${name}`)) throw new Error(`${where}: TYPE after samples`);
        types.set(name, rest);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
    if (!m) throw new Error(`${where}: bad metric name`);
    const name = m[1];
    let labels = {};
    let i = name.length;
    if (line[i] === '{') [labels, i] = parseLabels(line, i + 1);
    if (line[i] !== ' ') throw new Error(`${where}: expected a space`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`${where}: trailing text`);
    const value = parseValue(parts[0]);
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`${where}: bad timestamp`);
    let family = name;
    if (!types.has(name)) {
      const h = /^(.*)_(bucket|sum|count)$/.exec(name);
      if (!h || types.get(h[1]) !== 'histogram') throw new Error(`${where}: sample without TYPE`);
      family = h[1];
    }
    if (family !== current) {
      if (done.has(family)) throw new Error(`${where}: samples of ${family} not contiguous`);
      if (current) done.add(current);
      current = family;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`${where}: duplicate series`);
    seen.add(key);
    seen.add(`family:${family}`);
    if (types.get(family) === 'counter' && !(value >= 0)) throw new Error(`${where}: negative counter`);
    samples.push({ name, labels, value, family, line: n + 1 });
  });
  checkHistograms(samples, types);
  return { types, samples };
}

function checkHistograms(samples, types) {
  const groups = new Map(); // family + labels without le → samples in order
  for (const s of samples) {
    if (types.get(s.family) !== 'histogram') continue;
    const { le, ...rest } = s.labels;
    const id = `${s.family}${JSON.stringify(Object.entries(rest).sort())}`;
    if (!groups.has(id)) groups.set(id, []);
    groups.get(id).push(s);
  }
  for (const [id, g] of groups) {
    const buckets = g.filter((s) => s.name.endsWith('_bucket'));
    const sum = g.filter((s) => s.name.endsWith('_sum'));
    const count = g.filter((s) => s.name.endsWith('_count'));
    if (!buckets.length || sum.length !== 1 || count.length !== 1) throw new Error(`${id}: needs buckets, one _sum, one _count`);
    let prevLe = -Infinity;
    let prev = 0;
    for (const b of buckets) {
      if (b.labels.le === undefined) throw new Error(`${id}: bucket without le`);
      const le = parseValue(b.labels.le);
      if (!(le > prevLe)) throw new Error(`${id}: le not increasing`);
      if (b.value < prev) throw new Error(`${id}: buckets not cumulative`);
      prevLe = le;
      prev = b.value;
    }
    if (buckets.at(-1).labels.le !== '+Inf') throw new Error(`${id}: last bucket is not +Inf`);
    if (count[0].value !== prev) throw new Error(`${id}: _count != +Inf bucket`);
    const lastBucketLine = buckets.at(-1).line;
    if (!(sum[0].line > lastBucketLine && count[0].line > lastBucketLine)) throw new Error(`${id}: _sum/_count before buckets`);
  }
}

function val(scrape, name, labels) {
  const hit = scrape.samples.find((s) => s.name === name &&
    Object.keys(s.labels).length === Object.keys(labels).length &&
    Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  return hit ? hit.value : 0;
}

async function scrape() {
  const res = await fetch(`${gw.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  return parseProm(await res.text());
}

async function chat(model, { stream = false, headers = {}, extra = {} } = {}) {
  const res = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model, stream, messages: [{ role: 'user', content: 'ops test' }], ...extra }),
  });
  const text = await res.text();
  return { status: res.status, id: res.headers.get('x-omniroute-request-id'), text };
}

before(async () => {
  mock = await startMock();
  gw = await startGateway({ env: { ENABLE_REQUEST_LOGS: 'true', OMNIROUTE_ACCESS_LOG: '1' } });
  cookie = await gw.login();
  await json(await api('POST', '/api/providers', {
    provider: 'openai', name: 'ops', apiKey: 'sk-provider-secret-999',
    providerSpecificData: { baseUrl: `${mock.url}/v1` },
  }), 201);
});

after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

test('the strict parser rejects what the format forbids', () => {
  const ok = '# TYPE a counter\na{x="1"} 1\n';
  assert.equal(parseProm(ok).samples.length, 1);
  for (const bad of [
    'a 1\n', // no TYPE
    '# TYPE a counter\na{x="1} 1\n', // unterminated
    '# TYPE a counter\na{x="\\t"} 1\n', // bad escape
    '# TYPE a counter\na 1', // no final newline
    '# TYPE a counter\na one\n',
    '# TYPE a counter\na 1\na 2\n', // duplicate
    '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', // no +Inf
    '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 1\n', // count mismatch
  ]) assert.throws(() => parseProm(bad), undefined, bad);
});

test('/metrics parses as Prometheus text and moves with requests', async () => {
  const before_ = await scrape();
  assert.equal(val(before_, 'omniroute_build_info', { version: before_.samples.find((s) => s.name === 'omniroute_build_info').labels.version }), 1);
  assert.ok(val(before_, 'process_resident_memory_bytes', {}) > 1e6);
  assert.ok(val(before_, 'omniroute_uptime_seconds', {}) >= 0);
  assert.equal(before_.types.get('omniroute_request_duration_seconds'), 'histogram');
  // a provider with an active connection has a breaker gauge even before any failure
  assert.equal(val(before_, 'omniroute_circuit_breaker_state', { provider: 'openai', state: 'closed' }), 1);

  const ep = '/v1/chat/completions';
  const ok = { endpoint: ep, provider: 'openai', model: 'gpt-4o-mini', status: '2xx' };
  const base = val(before_, 'omniroute_requests_total', ok);
  const inBase = val(before_, 'omniroute_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', type: 'input' });
  const latBase = val(before_, 'omniroute_request_duration_seconds_count', { provider: 'openai' });

  for (let i = 0; i < 3; i++) assert.equal((await chat('openai/gpt-4o-mini')).status, 200);
  assert.equal((await chat('openai/gpt-4o-mini', { stream: true, extra: { stream_options: { include_usage: true } } })).status, 200);
  assert.equal((await chat('nosuch/model-x')).status >= 400, true);
  const failed = await chat('openai/gpt-x-status-500');
  assert.equal(failed.status, 500);

  const after_ = await scrape();
  assert.equal(val(after_, 'omniroute_requests_total', ok) - base, 4);
  assert.equal(val(after_, 'omniroute_requests_total', { endpoint: ep, provider: 'openai', model: 'gpt-x-status-500', status: '5xx' }), 1);
  assert.ok(val(after_, 'omniroute_requests_total', { endpoint: ep, provider: '', model: 'nosuch/model-x', status: '4xx' }) >= 1);
  assert.ok(val(after_, 'omniroute_request_errors_total', { provider: 'openai', code: '500' }) >= 1);
  assert.ok(val(after_, 'omniroute_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', type: 'input' }) > inBase);
  assert.ok(val(after_, 'omniroute_tokens_total', { provider: 'openai', model: 'gpt-4o-mini', type: 'output' }) > 0);
  assert.equal(val(after_, 'omniroute_request_duration_seconds_count', { provider: 'openai' }) - latBase, 5);
  assert.ok(val(after_, 'omniroute_time_to_first_token_seconds_count', { provider: 'openai' }) >= 4);
  assert.ok(val(after_, 'omniroute_request_duration_seconds_sum', { provider: 'openai' }) > 0);
  // the failure counts in the breaker's window; one failure leaves it closed
  assert.ok(val(after_, 'omniroute_circuit_breaker_failures', { provider: 'openai' }) >= 1);
  assert.equal(val(after_, 'omniroute_circuit_breaker_state', { provider: 'openai', state: 'closed' }), 1);
  assert.equal(val(after_, 'omniroute_circuit_breaker_state', { provider: 'openai', state: 'open' }), 0);
});

test('the access log has one JSON line per relayed request', async () => {
  const r = await chat('openai/gpt-4o-mini');
  assert.equal(r.status, 200);
  let line;
  for (let i = 0; i < 50 && !line; i++) {
    line = gw.stderr().split('\n').find((l) => l.startsWith('{') && l.includes(r.id));
    if (!line) await new Promise((res) => setTimeout(res, 20));
  }
  assert.ok(line, 'access log line');
  const j = JSON.parse(line);
  assert.equal(j.request_id, r.id);
  assert.equal(j.method, 'POST');
  assert.equal(j.path, '/v1/chat/completions');
  assert.equal(j.status, 200);
  assert.equal(j.provider, 'openai');
  assert.equal(j.model, 'gpt-4o-mini');
  assert.equal(typeof j.latency_ms, 'number');
  assert.ok(j.bytes_in > 0);
  assert.ok(j.bytes_out > 0);
  assert.match(j.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
});

test('request logs: summaries with secrets redacted, newest first, paged', async () => {
  assert.equal((await fetch(`${gw.url}/api/usage/request-logs`)).status, 401);
  const r = await chat('openai/gpt-4o-mini', {
    headers: { authorization: `Bearer ${SECRETS[0]}`, 'x-api-key': SECRETS[1] },
    extra: { metadata: { apiKey: SECRETS[2], password: SECRETS[3], note: 'kept' } },
  });
  assert.equal(r.status, 200);
  // a Gemini client's ?key= (translated to the OpenAI provider)
  const g = await fetch(`${gw.url}/v1beta/models/openai%2Fgpt-4o-mini:generateContent?key=${SECRETS[4]}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: 'hi' }] }] }),
  });
  assert.equal(g.status, 200, await g.text());

  const page = await json(await api('GET', '/api/usage/request-logs?limit=5'), 200);
  assert.equal(page.enabled, true);
  assert.equal(page.limit, 5);
  assert.ok(page.total >= 2);
  assert.ok(page.logs.length >= 2 && page.logs.length <= 5);
  const text = JSON.stringify(page);
  for (const s of SECRETS) assert.ok(!text.includes(s), `secret ${s} leaked`);
  const e = page.logs.find((l) => l.requestId === r.id);
  assert.ok(e, 'the request is logged');
  assert.equal(e.method, 'POST');
  assert.equal(e.path, '/v1/chat/completions');
  assert.equal(e.status, 200);
  assert.equal(e.provider, 'openai');
  assert.equal(e.model, 'gpt-4o-mini');
  assert.equal(e.request.headers.authorization, '[REDACTED]');
  assert.equal(e.request.headers['x-api-key'], '[REDACTED]');
  assert.equal(e.request.headers['content-type'], 'application/json');
  assert.match(e.request.body, /"apiKey":"\[REDACTED\]"/);
  assert.match(e.request.body, /"note":"kept"/);
  assert.match(e.response.body, /mock reply to: ops test/);
  assert.ok(e.tokens.input > 0 && e.tokens.output > 0);
  assert.ok(e.latencyMs >= 0);
  const ge = page.logs.find((l) => l.path.startsWith('/v1beta/'));
  assert.equal(ge.query, 'key=[REDACTED]');
  // newest first, and pages do not overlap
  assert.ok(page.logs[0].id > page.logs[1].id);
  const p2 = await json(await api('GET', '/api/usage/request-logs?limit=1&offset=1'), 200);
  assert.equal(p2.logs.length, 1);
  assert.equal(p2.logs[0].id, page.logs[1].id);
  await json(await api('GET', '/api/usage/request-logs?limit=0'), 400);
  await json(await api('GET', '/api/usage/request-logs?limit=abc'), 400);
  await json(await api('GET', '/api/usage/request-logs?offset=-1'), 400);
  // nor is any secret in the log database on disk
  for (const f of readdirSync(gw.dataDir).filter((n) => n.startsWith('request-logs'))) {
    const bytes = readFileSync(path.join(gw.dataDir, f)).toString('latin1');
    for (const s of SECRETS) assert.ok(!bytes.includes(s), `${s} in ${f}`);
  }
});

test('model catalog: grouped by provider, typed, with the active flag', async () => {
  assert.equal((await fetch(`${gw.url}/api/models/catalog`)).status, 401);
  for (const modelId of ['text-embedding-3-small', 'dall-e-3', 'my-chat-model']) {
    const r = await api('POST', '/api/provider-models', { provider: 'openai', modelId });
    assert.ok(r.status === 201 || r.status === 200, await r.text());
  }
  const cat = await json(await api('GET', '/api/models/catalog'), 200);
  assert.ok(Array.isArray(cat.providers));
  const openai = cat.providers.find((p) => p.id === 'openai');
  assert.equal(openai.active, true);
  assert.equal(openai.connections, 1);
  const byId = Object.fromEntries(openai.models.map((m) => [m.id, m]));
  assert.deepEqual(byId['gpt-4o'], { id: 'gpt-4o', fullId: 'openai/gpt-4o', type: 'chat', source: 'builtin' });
  assert.equal(byId['text-embedding-3-small'].type, 'embedding');
  assert.equal(byId['text-embedding-3-small'].source, 'custom');
  assert.equal(byId['dall-e-3'].type, 'image');
  assert.equal(byId['my-chat-model'].type, 'chat');
  const anthropic = cat.providers.find((p) => p.id === 'anthropic');
  assert.equal(anthropic.active, false);
  assert.equal(anthropic.connections, 0);
  const ds = cat.providers.find((p) => p.id === 'deepseek');
  assert.equal(ds.models[0].fullId.startsWith('ds/'), true);
  const all = cat.providers.flatMap((p) => p.models);
  assert.equal(cat.counts.total, all.length);
  for (const t of ['chat', 'embedding', 'image']) assert.equal(cat.counts[t], all.filter((m) => m.type === t).length);
  for (const m of all) assert.ok(['chat', 'embedding', 'image'].includes(m.type));

  const emb = await json(await api('GET', '/api/models/catalog?type=embedding'), 200);
  assert.ok(emb.providers.flatMap((p) => p.models).every((m) => m.type === 'embedding'));
  assert.ok(emb.counts.embedding >= 1);
  const active = await json(await api('GET', '/api/models/catalog?active=true'), 200);
  assert.deepEqual(active.providers.map((p) => p.id), ['openai']);
  const one = await json(await api('GET', '/api/models/catalog?provider=ds'), 200);
  assert.deepEqual(one.providers.map((p) => p.id), ['deepseek']);
  await json(await api('GET', '/api/models/catalog?type=audio'), 400);
});

function cli(args, { dataDir, input, env = {} } = {}) {
  const r = spawnSync(BIN, dataDir ? [...args, '--data-dir', dataDir] : args, {
    input,
    encoding: 'utf8',
    env: { ...process.env, ...env },
    timeout: 30000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

test('CLI: providers, keys and backup on a data dir, then served by the gateway', async () => {
  const help = cli(['--help']);
  assert.equal(help.code, 0);
  for (const c of ['providers add', 'providers list', 'keys create', 'backup --out']) assert.ok(help.out.includes(c), c);

  const dir = mkdtempSync(path.join(os.tmpdir(), 'omniroute-cli-'));
  const out = mkdtempSync(path.join(os.tmpdir(), 'omniroute-cli-out-'));
  try {
    let r = cli(['providers', 'add', '--provider', 'openai', '--name', 'cli-openai', '--api-key', 'sk-cli-secret-1',
      '--base-url', `${mock.url}/v1`], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    const created = JSON.parse(r.out).connection;
    assert.equal(created.provider, 'openai');
    assert.equal(created.name, 'cli-openai');
    assert.equal(created.hasApiKey, true);
    assert.ok(!r.out.includes('sk-cli-secret-1'));

    r = cli(['providers', 'add', '--provider', 'ds', '--name', 'from-stdin', '--api-key', '-'], { dataDir: dir, input: 'sk-stdin-2\n' });
    assert.equal(r.code, 0, r.err);
    assert.equal(JSON.parse(r.out).connection.provider, 'deepseek');

    r = cli(['providers', 'add', '--provider', 'nosuch', '--name', 'x'], { dataDir: dir });
    assert.equal(r.code, 1);
    assert.match(r.err, /nosuch/);
    r = cli(['providers', 'add', '--name', 'x'], { dataDir: dir });
    assert.equal(r.code, 2);
    assert.match(r.err, /--provider is required/);
    r = cli(['providers', 'remove'], { dataDir: dir });
    assert.equal(r.code, 2);

    r = cli(['providers', 'list', '--json'], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out).connections.map((c) => c.name).sort(), ['cli-openai', 'from-stdin']);
    r = cli(['providers', 'list'], { dataDir: dir });
    assert.match(r.out, /^ID\s+PROVIDER/);
    assert.match(r.out, /cli-openai/);

    r = cli(['keys', 'create', '--name', 'ci', '--admin'], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    const key = JSON.parse(r.out);
    assert.match(key.key, /^sk-[A-Za-z0-9]{46}$/);
    assert.equal(key.name, 'ci');
    r = cli(['keys', 'list'], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    assert.ok(r.out.includes('"ci"'));
    assert.ok(!r.out.includes(key.key));

    const file = path.join(out, 'backup.sqlite');
    r = cli(['backup', '--out', file], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    assert.equal(readFileSync(file).subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
    assert.ok(!readFileSync(file).toString('latin1').includes('sk-cli-secret-1'));
    r = cli(['backup', '--out', file], { dataDir: dir });
    assert.equal(r.code, 1);
    assert.match(r.err, /exists/);
    r = cli(['backup', '--out', file, '--force'], { dataDir: dir });
    assert.equal(r.code, 0, r.err);
    const sq = spawnSync('sqlite3', [file, 'PRAGMA integrity_check; SELECT count(*) FROM provider_connections;'], { encoding: 'utf8' });
    if (sq.status === 0) assert.deepEqual(sq.stdout.trim().split('\n'), ['ok', '2']);

    // a gateway on that data dir serves what the CLI set up: the connection routes, the key
    // opens the data plane (REQUIRE_API_KEY) and the management API (admin scope)
    const g2 = await startGateway({ env: { DATA_DIR: dir, REQUIRE_API_KEY: 'true' } });
    try {
      const list = await fetch(`${g2.url}/api/providers`, { headers: { authorization: `Bearer ${key.key}` } });
      assert.equal(list.status, 200);
      assert.deepEqual((await list.json()).connections.map((c) => c.name).sort(), ['cli-openai', 'from-stdin']);
      const denied = await fetch(`${g2.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
      });
      assert.equal(denied.status, 401);
      const res = await fetch(`${g2.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key.key}` },
        body: JSON.stringify({ model: 'openai/gpt-4o-mini', messages: [{ role: 'user', content: 'via cli' }] }),
      });
      assert.equal(res.status, 200, await res.clone().text());
      assert.match((await res.json()).choices[0].message.content, /mock reply to: via cli/);
    } finally {
      assert.equal((await g2.stop()).code, 0);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
    rmSync(out, { recursive: true, force: true });
  }
  assert.ok(!existsSync(dir));
});
