// Provider nodes: custom OpenAI-compatible (chat and Responses) and Anthropic-compatible
// endpoints added at run time, addressed by their prefix.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { adminApi, addNode as addNodeWith } from '../lib/admin.mjs';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

let gw, mock, cookie;
const api = (method, path, body) => fetch(`${gw.url}${path}`, {
  method, headers: { 'content-type': 'application/json', cookie }, body: body && JSON.stringify(body),
});

before(async () => {
  mock = await startMock();
  gw = await startGateway();
  cookie = await gw.login();
});
after(async () => {
  const { code } = await gw.stop();
  await mock.close();
  assert.equal(code, 0);
});

async function addNode(body, apiKey = 'sk-node') {
  return (await addNodeWith(adminApi(gw, cookie), body, { apiKey, defaultModel: 'my-model' })).node;
}

async function chat(model) {
  const r = await fetch(`${gw.url}/v1/chat/completions`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ model, messages: [{ role: 'user', content: 'node test' }] }),
  });
  return { status: r.status, body: await r.json() };
}

test('an OpenAI-compatible node routes by its prefix, with its key', async () => {
  const node = await addNode({ name: 'Local vLLM', prefix: 'local', baseUrl: `${mock.url}/v1` });
  assert.match(node.providerId, /^openai-compatible-/);
  const { status, body } = await chat('local/qwen-coder');
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, 'mock reply to: node test');
  const rec = mock.records.at(-1);
  assert.equal(rec.api, 'openai');
  assert.equal(rec.body.model, 'qwen-coder');
  assert.equal(rec.headers.authorization, 'Bearer sk-node');
});

test('an Anthropic-compatible node speaks Messages upstream', async () => {
  await addNode({ name: 'Proxy', prefix: 'antproxy', type: 'anthropic-compatible', baseUrl: `${mock.url}/anthropic/v1` }, 'sk-ant-node');
  const { status, body } = await chat('antproxy/claude-x');
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, 'mock reply to: node test');
  const rec = mock.records.at(-1);
  assert.equal(rec.api, 'anthropic');
  assert.equal(rec.headers['x-api-key'], 'sk-ant-node');
});

test('a Responses node speaks the Responses API upstream', async () => {
  await addNode({ name: 'Resp', prefix: 'resp', apiType: 'responses', baseUrl: `${mock.url}/v1` });
  const { status, body } = await chat('resp/gpt-5');
  assert.equal(status, 200);
  assert.equal(body.choices[0].message.content, 'mock reply to: node test');
  assert.equal(mock.records.at(-1).api, 'responses');
});

test('nodes are listed, their default models appear in /v1/models, bad input is named', async () => {
  const list = await (await api('GET', '/api/provider-nodes')).json();
  assert.equal(list.nodes.length, 3);
  const models = await (await fetch(`${gw.url}/v1/models`)).json();
  assert.ok(models.data.some((m) => m.id === 'local/my-model'));
  for (const [body, field] of [
    [{ name: 'x', prefix: 'local', baseUrl: 'http://h/v1' }, 'prefix'],
    [{ name: 'x', prefix: 'openai', baseUrl: 'http://h/v1' }, 'prefix'],
    [{ name: 'x', prefix: 'ok', baseUrl: 'ftp://h' }, 'baseUrl'],
    [{ name: 'x', prefix: 'ok2', baseUrl: 'http://h', apiType: 'embeddingsx' }, 'apiType'],
    [{ prefix: 'ok3', baseUrl: 'http://h' }, 'name'],
  ]) {
    const r = await api('POST', '/api/provider-nodes', body);
    assert.ok(r.status === 400 || r.status === 409, `${JSON.stringify(body)} → ${r.status}`);
    assert.match((await r.json()).error.message, new RegExp(field));
  }
});

test('update and delete a node', async () => {
  const { nodes } = await (await api('GET', '/api/provider-nodes')).json();
  const local = nodes.find((n) => n.prefix === 'local');
  let r = await api('PUT', `/api/provider-nodes/${local.id}`, { name: 'Renamed' });
  assert.equal(r.status, 200);
  assert.equal((await r.json()).node.name, 'Renamed');
  r = await api('DELETE', `/api/provider-nodes/${local.id}`);
  assert.equal(r.status, 200);
  r = await api('DELETE', `/api/provider-nodes/${local.id}`);
  assert.equal(r.status, 404);
  const { status } = await chat('local/qwen-coder');
  assert.equal(status, 404);
});
