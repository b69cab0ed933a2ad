// /api/db-backups through the real binary: the export is a consistent SQLite file taken while
// requests are served; the full export is a .tar.gz whose JSON holds no credential; an
// export → import round trip restores providers (with their api keys), combos, API keys and
// settings in place, with a pre-import backup; a corrupt file, a non-SQLite file, a database
// missing tables, a newer schema and a 101 MB upload are each refused with 400 and nothing is
// lost (requests still route with the old configuration); a file sealed by another install
// comes back without its provider secrets, and the reply says how many.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

const T = { timeout: 120000 };
const UPSTREAM_KEY = 'sk-upstream-openai-secret';
const MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

let gw, mock, cookie, clientKey, keyId, exported, tmp;

const api = (method, p, body, headers = {}) => fetch(`${gw.url}${p}`, {
  method,
  headers: { 'content-type': 'application/json', cookie, ...headers },
  body: body === undefined ? undefined : JSON.stringify(body),
});

async function json(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return text ? JSON.parse(text) : null;
}

const importRaw = (buf, headers = {}) => fetch(`${gw.url}/api/db-backups/import`, {
  method: 'POST',
  headers: { 'content-type': 'application/octet-stream', cookie, ...headers },
  body: buf,
});

function importMultipart(buf, field = 'file', filename = 'backup.sqlite') {
  const form = new FormData();
  form.append('note', 'restoring');
  form.append(field, new Blob([buf], { type: 'application/vnd.sqlite3' }), filename);
  return fetch(`${gw.url}/api/db-backups/import`, { method: 'POST', headers: { cookie }, body: form });
}

async function chat(model = 'coding') {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${clientKey}` },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'backup test' }] }),
  });
  return { status: r.status, body: await r.json() };
}

// The configuration as the management API shows it, for before/after comparisons.
async function config() {
  const { connections } = await json(await api('GET', '/api/providers'), 200);
  const { combos } = await json(await api('GET', '/api/combos'), 200);
  const { keys } = await json(await api('GET', '/api/keys'), 200);
  const settings = await json(await api('GET', '/api/settings'), 200);
  return {
    providers: connections.map((c) => `${c.provider}:${c.name}:${c.hasApiKey}`).sort(),
    combos: combos.map((c) => `${c.name}:${JSON.stringify(c.models)}`).sort(),
    keys: keys.map((k) => `${k.id}:${k.name}:${k.isActive}`).sort(),
    sticky: settings.stickyRoundRobinLimit,
  };
}

async function routesWithOldConfig() {
  mock.reset();
  const r = await chat();
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.match(r.body.choices[0].message.content, /mock reply to: backup test/);
  assert.equal(mock.records.at(-1).headers.authorization, `Bearer ${UPSTREAM_KEY}`);
}

function sqlite(file, sql) {
  return execFileSync('sqlite3', [file, sql], { encoding: 'utf8' });
}

// Minimal ustar reader: [{name, size, data}].
function untar(buf) {
  const out = [];
  for (let off = 0; off + 512 <= buf.length;) {
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) break;
    const name = h.subarray(0, 100).toString('latin1').replace(/\0.*$/s, '');
    const size = parseInt(h.subarray(124, 136).toString('latin1').replace(/\0.*$/s, ''), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
    assert.equal(parseInt(h.subarray(148, 156).toString('latin1'), 8), sum, `checksum of ${name}`);
    out.push({ name, size, data: buf.subarray(off + 512, off + 512 + size) });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}

before(async () => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'omniroute-backups-'));
  mock = await startMock();
  gw = await startGateway({ env: { REQUIRE_API_KEY: 'true' } });
  cookie = await gw.login();
  for (const [provider, name, apiKey] of [['openai', 'main', UPSTREAM_KEY], ['groq', 'spare', 'sk-groq-secret']]) {
    await json(await api('POST', '/api/providers', {
      provider, name, apiKey, providerSpecificData: { baseUrl: `${mock.url}/v1` },
    }), 201);
  }
  await json(await api('POST', '/api/combos', { name: 'coding', models: ['openai/gpt-4o'] }), 201);
  await json(await api('PUT', '/api/settings', { stickyRoundRobinLimit: 7 }), 200);
  const k = await json(await api('POST', '/api/keys', { name: 'ci' }), 201);
  clientKey = k.key;
  keyId = k.id;
  await routesWithOldConfig();
});

after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  rmSync(tmp, { recursive: true, force: true });
  assert.equal(code, 0);
});

test('export: a consistent .sqlite taken while requests are served', T, async () => {
  const busy = Array.from({ length: 20 }, () => chat());
  const res = await api('GET', '/api/db-backups/export');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/vnd.sqlite3');
  assert.match(res.headers.get('content-disposition'),
    /^attachment; filename="omniroute-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.sqlite"$/);
  exported = Buffer.from(await res.arrayBuffer());
  for (const r of await Promise.all(busy)) assert.equal(r.status, 200);
  assert.ok(exported.subarray(0, 16).equals(MAGIC));
  assert.equal(exported[18], 1, 'a standalone rollback-journal file, not WAL');
  const file = path.join(tmp, 'export.sqlite');
  writeFileSync(file, exported);
  assert.equal(sqlite(file, 'PRAGMA integrity_check').trim(), 'ok');
  assert.equal(sqlite(file, 'SELECT COUNT(*) FROM provider_connections').trim(), '2');
  // Secrets stay sealed in the file; the client key exists only as its hash.
  assert.ok(!exported.includes(UPSTREAM_KEY));
  assert.ok(!exported.includes(clientKey));
  // Nothing is left behind in the data dir.
  const left = readdirSync(path.join(gw.dataDir, 'backups')).filter((f) => f.startsWith('.'));
  assert.deepEqual(left, []);

  const anon = await fetch(`${gw.url}/api/db-backups/export`);
  assert.equal(anon.status, 401);
});

test('exportAll: a .tar.gz with the database and readable JSON without credentials', T, async () => {
  const res = await api('GET', '/api/db-backups/exportAll');
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-type'), 'application/gzip');
  assert.match(res.headers.get('content-disposition'), /filename="omniroute-full-backup-.*\.tar\.gz"/);
  const tar = gunzipSync(Buffer.from(await res.arrayBuffer()));
  assert.equal(tar.length % 10240, 0);
  const files = Object.fromEntries(untar(tar).map((e) => [e.name, e]));
  assert.deepEqual(Object.keys(files), ['storage.sqlite', 'settings.json', 'combos.json',
    'providers.json', 'provider-nodes.json', 'custom-models.json', 'api-keys.json', 'metadata.json']);
  assert.ok(files['storage.sqlite'].data.subarray(0, 16).equals(MAGIC));
  const doc = (n) => JSON.parse(files[n].data.toString('utf8'));
  assert.equal(doc('settings.json').stickyRoundRobinLimit, 7);
  assert.equal(doc('settings.json').passwordHash, undefined);
  assert.deepEqual(doc('combos.json').map((c) => c.name), ['coding']);
  const providers = doc('providers.json');
  assert.deepEqual(providers.map((p) => p.name).sort(), ['main', 'spare']);
  assert.ok(providers.every((p) => p.hasApiKey === true && p.apiKey === undefined));
  const keys = doc('api-keys.json');
  assert.deepEqual(keys.map((k) => [k.id, k.name]), [[keyId, 'ci']]);
  assert.equal(keys[0].hash, undefined);
  const manifest = doc('metadata.json');
  assert.equal(manifest.format, 'omniroute-full-backup');
  assert.equal(manifest.connections, 2);
  assert.deepEqual(manifest.files.map((f) => f.name), Object.keys(files).slice(1, -1));
  const all = tar.toString('latin1');
  for (const secret of [UPSTREAM_KEY, 'sk-groq-secret', clientKey]) assert.ok(!all.includes(secret));
});

test('round trip: import restores providers, combos, keys and settings in place', T, async () => {
  const before = await config();
  // Change everything the export holds.
  const { connections } = await json(await api('GET', '/api/providers'), 200);
  for (const c of connections) await json(await api('DELETE', `/api/providers/${c.id}`), 200);
  const { combos } = await json(await api('GET', '/api/combos'), 200);
  for (const c of combos) await json(await api('DELETE', `/api/combos/${c.id}`), 200);
  await json(await api('DELETE', `/api/keys/${keyId}`), 200);
  await json(await api('PUT', '/api/settings', { stickyRoundRobinLimit: 1 }), 200);
  await json(await api('POST', '/api/providers', { provider: 'mistral', name: 'later', apiKey: 'sk-later' }), 201);
  assert.equal((await chat()).status, 401); // the key is gone
  const changed = await config();
  assert.notDeepEqual(changed, before);

  const r = await json(await importMultipart(exported), 200);
  assert.equal(r.imported, true);
  assert.equal(r.connections, 2);
  assert.equal(r.secretsUnreadable, 0);
  assert.match(r.backup, /^pre-import-.*\.sqlite$/);
  assert.deepEqual(await config(), before);
  await routesWithOldConfig(); // the key, the combo and the provider's secret are back

  // The automatic backup holds what was live just before the import.
  const pre = path.join(gw.dataDir, 'backups', r.backup);
  assert.ok(existsSync(pre));
  assert.equal(sqlite(pre, 'SELECT name FROM provider_connections').trim(), 'later');

  // A raw body works too, and a second import keeps the first backup.
  const r2 = await json(await importRaw(exported), 200);
  assert.notEqual(r2.backup, r.backup);
  assert.ok(existsSync(pre));
  assert.deepEqual(await config(), before);
});

test('bad files → 400 with the reason, and nothing is lost', T, async () => {
  const before = await config();
  const file = path.join(tmp, 'work.sqlite');
  const variant = (sql) => {
    writeFileSync(file, exported);
    sqlite(file, sql);
    return readFileSync(file);
  };
  const corrupt = Buffer.from(exported);
  corrupt.fill(0x5a, 4096, 8192);
  const noise = Buffer.alloc(64 * 1024, 0).map((_, i) => (i * 7919) % 251);
  const big = Buffer.alloc(101 * 1024 * 1024);
  MAGIC.copy(big);
  const cases = [
    ['corrupt', () => importMultipart(corrupt), /integrity check failed|not a readable SQLite database/],
    ['not SQLite', () => importMultipart(noise), /not a SQLite database: the header is wrong/],
    ['missing tables', () => importRaw(variant('DROP TABLE usage; DROP TABLE provider_connections')),
      /not an OmniRoute database: table provider_connections is missing/],
    ['newer schema', () => importRaw(variant('INSERT INTO schema_migrations VALUES(9999, 0)')),
      /schema version 9999 is newer than this version's/],
    ['101 MB raw', () => importRaw(big), /larger than the 100 MB limit/],
    ['101 MB multipart', () => importMultipart(big), /larger than the 100 MB limit/],
    ['just over 100 MB', () => importRaw(big.subarray(0, 100 * 1024 * 1024 + 1)), /larger than 100 MB/],
    ['empty', () => importRaw(Buffer.alloc(0)), /no file/],
    ['no file field', () => importMultipart(exported, 'other'), /no part named file/],
    ['text file', () => importRaw(Buffer.from('hello'), { 'content-type': 'text/plain' }), /too small/],
  ];
  const backups = () => readdirSync(path.join(gw.dataDir, 'backups')).length;
  const count = backups();
  for (const [what, send, reason] of cases) {
    let res;
    try {
      res = await send();
    } catch (e) {
      assert.fail(`${what}: the request failed: ${e.cause?.code ?? e.message}`);
    }
    const body = await json(res, 400);
    assert.match(body.error.message, reason, what);
    assert.equal(body.error.type, 'invalid_request_error');
    await routesWithOldConfig();
  }
  assert.deepEqual(await config(), before);
  assert.equal(backups(), count, 'a refused file leaves no backup and no temporary file');

  // Anonymous imports never get the raised cap or the import.
  const anon = await fetch(`${gw.url}/api/db-backups/import`, { method: 'POST', body: exported });
  assert.equal(anon.status, 401);
  await routesWithOldConfig();
});

test('a file from another install: connections come back without their api keys', T, async () => {
  const other = await startGateway({ env: { STORAGE_ENCRYPTION_KEY: 'another install, another key' } });
  try {
    const c2 = await other.login();
    const res = await fetch(`${other.url}/api/providers`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: c2 },
      body: JSON.stringify({ provider: 'openai', name: 'theirs', apiKey: 'sk-their-secret',
        providerSpecificData: { baseUrl: `${mock.url}/v1` } }),
    });
    assert.equal(res.status, 201);
    const theirs = Buffer.from(await (await fetch(`${other.url}/api/db-backups/export`, { headers: { cookie: c2 } })).arrayBuffer());
    const r = await json(await importMultipart(theirs), 200);
    assert.equal(r.connections, 1);
    assert.equal(r.secretsUnreadable, 1);
    assert.match(r.warning, /STORAGE_ENCRYPTION_KEY/);
    const { connections } = await json(await api('GET', '/api/providers'), 200);
    assert.deepEqual(connections.map((c) => [c.name, c.hasApiKey]), [['theirs', false]]);
  } finally {
    assert.equal((await other.stop()).code, 0);
  }
  // Put ours back for whatever runs next.
  await json(await importRaw(exported), 200);
  await routesWithOldConfig();
});
