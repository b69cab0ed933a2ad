// Combos, custom models and settings through the management API, and what they change on the
// data plane: /v1/models lists combos (owned_by "combo") and custom models; a combo, a wildcard
// alias and a fallback chain route a chat and fall over to the next target.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock, cookie;
const api = (method, path, body, raw) => fetch(`${gw.url}${path}`, {
  method,
  headers: { 'content-type': 'application/json', cookie },
  body: raw ?? (body && JSON.stringify(body)),
});

async function expectStatus(res, status) {
  const text = await res.text();
  assert.equal(res.status, status, text);
  return text ? JSON.parse(text) : null;
}

async function chat(model) {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'combo test' }] }),
  });
  return { status: r.status, headers: r.headers, body: await r.json() };
}

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  cookie = await gw.login();
  for (const provider of ['openai', 'deepseek', 'groq']) {
    await expectStatus(await api('POST', '/api/providers', {
      provider, name: provider, apiKey: `sk-${provider}`,
      providerSpecificData: { baseUrl: `${mock.url}/v1` },
    }), 201);
  }
});

after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

test('combo CRUD: create, list, update, delete', async () => {
  const created = await expectStatus(await api('POST', '/api/combos', {
    name: 'coding', models: ['openai/gpt-4o', { model: 'ds/deepseek-chat', weight: 30 }],
  }), 201);
  assert.match(created.id, /^[0-9a-f-]{36}$/);
  assert.equal(created.name, 'coding');
  assert.deepEqual(created.models, ['openai/gpt-4o', { model: 'ds/deepseek-chat', weight: 30 }]);
  assert.equal(created.strategy, 'priority');
  assert.deepEqual(created.config, {});
  assert.equal(typeof created.createdAt, 'string');
  assert.equal(typeof created.updatedAt, 'string');

  const { combos } = await expectStatus(await api('GET', '/api/combos'), 200);
  assert.deepEqual(combos.map((c) => c.name), ['coding']);

  let c = await expectStatus(await api('PUT', `/api/combos/${created.id}`, { strategy: 'round-robin' }), 200);
  assert.equal(c.strategy, 'round-robin');
  assert.deepEqual(c.models, created.models);
  assert.equal(c.createdAt, created.createdAt);
  c = await expectStatus(await api('PATCH', `/api/combos/${created.id}`, {
    name: 'coding-2', config: { stickyRoundRobinLimit: 1 },
  }), 200);
  assert.equal(c.name, 'coding-2');
  assert.deepEqual(c.config, { stickyRoundRobinLimit: 1 });

  await expectStatus(await api('DELETE', `/api/combos/${created.id}`), 200);
  await expectStatus(await api('DELETE', `/api/combos/${created.id}`), 404);
  await expectStatus(await api('PUT', `/api/combos/${created.id}`, { strategy: 'random' }), 404);
  assert.deepEqual((await expectStatus(await api('GET', '/api/combos'), 200)).combos, []);

  const anon = await fetch(`${gw.url}/api/combos`);
  assert.equal(anon.status, 401);
});

test('combo validation: 400 naming the field, duplicates, cycles and depth', async () => {
  await expectStatus(await api('POST', '/api/combos', { name: 'base', models: ['openai/x'] }), 201);
  const bad = [
    [{ name: 'base', models: ['openai/y'] }, /name: a combo named 'base' already exists/],
    [{ name: 'has space', models: [] }, /^name: /],
    [{ name: 'x'.repeat(101), models: [] }, /^name: /],
    [{ models: ['openai/x'] }, /^name: /],
    [{ name: 'n1', models: ['openai/x'], strategy: 'auto' }, /^strategy: must be one of/],
    [{ name: 'n2', models: [''] }, /^models\[0\]: /],
    [{ name: 'n3', models: ['openai/x', { model: 'a/b', weight: 101 }] }, /^models\[1\]\.weight: /],
    [{ name: 'n4', models: [{ weight: 5 }] }, /^models\[0\]\.model: /],
    [{ name: 'n5', models: ['nope'] }, /^models\[0\]: 'nope' is neither/],
    [{ name: 'n6', models: 'openai/x' }, /^models: /],
    [{ name: 'n7', models: [], config: 5 }, /^config: /],
    [{ name: 'n8', models: [], config: { stickyRoundRobinLimit: -1 } }, /^config\.stickyRoundRobinLimit: /],
    [{ name: 'self', models: ['openai/x', 'self'] }, /cycle self → self/],
  ];
  for (const [body, re] of bad) {
    const r = await expectStatus(await api('POST', '/api/combos', body), 400);
    assert.match(r.error.message, re, JSON.stringify(body));
  }
  const notJson = await api('POST', '/api/combos', null, '{"name":');
  assert.equal(notJson.status, 400);

  // b → a; then a → b closes a cycle.
  const a = await expectStatus(await api('POST', '/api/combos', { name: 'a', models: ['openai/x'] }), 201);
  await expectStatus(await api('POST', '/api/combos', { name: 'b', models: ['combo/a'] }), 201);
  let r = await expectStatus(await api('PUT', `/api/combos/${a.id}`, { models: ['openai/x', 'b'] }), 400);
  assert.match(r.error.message, /cycle a → b → a/);

  // Four levels are allowed; a fifth is not.
  await expectStatus(await api('POST', '/api/combos', { name: 'l4', models: ['openai/x'] }), 201);
  await expectStatus(await api('POST', '/api/combos', { name: 'l3', models: ['l4'] }), 201);
  await expectStatus(await api('POST', '/api/combos', { name: 'l2', models: ['l3'] }), 201);
  await expectStatus(await api('POST', '/api/combos', { name: 'l1', models: ['l2'] }), 201);
  r = await expectStatus(await api('POST', '/api/combos', { name: 'l0', models: ['l1'] }), 400);
  assert.match(r.error.message, /deeper than 4 levels: l0 → l1 → l2 → l3 → l4/);

  const { combos } = await expectStatus(await api('GET', '/api/combos'), 200);
  assert.deepEqual(combos.map((c) => c.name), ['base', 'a', 'b', 'l4', 'l3', 'l2', 'l1']);
  assert.deepEqual(combos.find((c) => c.name === 'a').models, ['openai/x']); // the refused write left it
});

test('custom models: add, list, delete; /v1/models lists them and combos', async () => {
  let r = await expectStatus(await api('POST', '/api/provider-models', {
    provider: 'openai', modelId: 'gpt-custom-1', modelName: 'My GPT',
  }), 201);
  assert.deepEqual(r.model, { provider: 'openai', modelId: 'gpt-custom-1', modelName: 'My GPT' });
  r = await expectStatus(await api('POST', '/api/provider-models', {
    provider: 'openai', modelId: 'gpt-custom-1', modelName: 'Renamed',
  }), 200);
  assert.equal(r.model.modelName, 'Renamed');
  r = await expectStatus(await api('POST', '/api/provider-models', { provider: 'ds', modelId: 'ds-custom' }), 201);
  assert.deepEqual(r.model, { provider: 'deepseek', modelId: 'ds-custom', modelName: 'ds-custom' });
  await expectStatus(await api('POST', '/api/provider-models', { provider: 'mistral', modelId: 'hidden-1' }), 201);
  r = await expectStatus(await api('POST', '/api/provider-models', { provider: 'nope', modelId: 'x' }), 400);
  assert.match(r.error.message, /^provider: /);
  r = await expectStatus(await api('POST', '/api/provider-models', { provider: 'openai' }), 400);
  assert.match(r.error.message, /^modelId: /);

  r = await expectStatus(await api('GET', '/api/provider-models?provider=openai'), 200);
  assert.deepEqual(r.models, [{ provider: 'openai', modelId: 'gpt-custom-1', modelName: 'Renamed' }]);
  r = await expectStatus(await api('GET', '/api/provider-models?provider=ds'), 200);
  assert.deepEqual(r.models.map((m) => m.modelId), ['ds-custom']);
  r = await expectStatus(await api('GET', '/api/provider-models'), 200);
  assert.equal(r.models.length, 3);

  const { data } = await (await fetch(`${gw.url}/v1/models`)).json();
  const byId = Object.fromEntries(data.map((m) => [m.id, m]));
  assert.equal(byId['openai/gpt-custom-1']?.owned_by, 'openai');
  assert.equal(byId['ds/ds-custom']?.owned_by, 'deepseek');
  assert.equal(byId['mistral/hidden-1'], undefined); // no active mistral connection
  assert.equal(byId.base?.owned_by, 'combo');
  assert.equal(byId.l1?.owned_by, 'combo');
  assert.equal(byId.base.object, 'model');

  await expectStatus(await api('DELETE', '/api/provider-models?provider=openai&model=gpt-custom-1'), 200);
  await expectStatus(await api('DELETE', '/api/provider-models?provider=openai&model=gpt-custom-1'), 404);
  await expectStatus(await api('DELETE', '/api/provider-models?provider=openai'), 400);
  await expectStatus(await api('DELETE', '/api/provider-models?provider=mistral&model=hidden%2D1'), 200);
  r = await expectStatus(await api('GET', '/api/provider-models'), 200);
  assert.deepEqual(r.models.map((m) => m.modelId), ['ds-custom']);
});

test('a combo routes a chat and falls over to its next target', async () => {
  await expectStatus(await api('POST', '/api/combos', {
    name: 'fallover', models: ['groq/broken-status-500', 'openai/good-model'],
  }), 201);
  for (const model of ['fallover', 'combo/fallover']) {
    mock.reset();
    const { status, body } = await chat(model);
    assert.equal(status, 200, JSON.stringify(body));
    assert.equal(body.choices[0].message.content, 'mock reply to: combo test');
    const models = mock.records.map((rec) => rec.body?.model);
    assert.equal(models.at(-1), 'good-model');
  }
  const unknown = await chat('combo/missing');
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /missing/);
});

test('settings: defaults, round trip, validation; aliases and chains route', async () => {
  const defaults = await expectStatus(await api('GET', '/api/settings'), 200);
  assert.deepEqual(defaults, {
    requireLogin: true, fallbackStrategy: 'fill-first', stickyRoundRobinLimit: 3,
    wildcardAliases: [], fallbackChains: {}, requestRetry: 3, maxRetryIntervalSec: 30,
  });
  for (const secret of ['passwordHash', 'combos', 'providerNodes', 'customModels']) {
    assert.equal(secret in defaults, false, secret);
  }

  const update = {
    stickyRoundRobinLimit: 5,
    fallbackStrategy: 'p2c',
    wildcardAliases: [{ pattern: 'fast-*', target: 'fallover' }],
    fallbackChains: { 'ds/missing-status-404': ['openai/chain-target'] },
  };
  let s = await expectStatus(await api('PUT', '/api/settings', update), 200);
  assert.deepEqual(s, { ...defaults, ...update });
  assert.deepEqual(await expectStatus(await api('GET', '/api/settings'), 200), s);
  s = await expectStatus(await api('PATCH', '/api/settings', { stickyRoundRobinLimit: null, requestRetry: 0 }), 200);
  assert.equal(s.stickyRoundRobinLimit, 3);
  assert.equal(s.requestRetry, 0);
  assert.equal(s.fallbackStrategy, 'p2c');

  for (const [body, field] of [
    [{ theme: 'dark' }, 'theme'],
    [{ stickyRoundRobinLimit: '5' }, 'stickyRoundRobinLimit'],
    [{ stickyRoundRobinLimit: 1001 }, 'stickyRoundRobinLimit'],
    [{ fallbackStrategy: 'fastest' }, 'fallbackStrategy'],
    [{ requireLogin: 'no' }, 'requireLogin'],
    [{ wildcardAliases: [{ pattern: 'x' }] }, 'wildcardAliases\\[0\\]'],
    [{ fallbackChains: { m: 'a/b' } }, 'fallbackChains\\.m'],
    [{ requestRetry: 2, passwordHash: 'x' }, 'passwordHash'],
  ]) {
    const r = await expectStatus(await api('PUT', '/api/settings', body), 400);
    assert.match(r.error.message, new RegExp(`^${field}: `), JSON.stringify(body));
  }
  // A refused update changes nothing, not even its valid fields.
  assert.equal((await expectStatus(await api('GET', '/api/settings'), 200)).requestRetry, 0);

  mock.reset();
  let r = await chat('fast-anything');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(mock.records.at(-1).body.model, 'good-model');

  mock.reset();
  r = await chat('ds/missing-status-404');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(mock.records.map((rec) => rec.body?.model), ['missing-status-404', 'chain-target']);

  r = await chat('no-such-model');
  assert.equal(r.status, 400);
  assert.match(r.body.error.message, /no-such-model/);
  await expectStatus(await api('PUT', '/api/settings', {
    stickyRoundRobinLimit: null, fallbackStrategy: null, wildcardAliases: null, fallbackChains: null, requestRetry: null,
  }), 200);
  assert.deepEqual(await expectStatus(await api('GET', '/api/settings'), 200), defaults);
});
