// Breaker state survives a restart: an open breaker is still open after SIGTERM + start on the
// same data dir, so a failing provider is not hammered again at boot.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { rmSync } from 'node:fs';
import { startGateway } from '../lib/gateway.mjs';
import { startMock } from '../mock/mock.mjs';

async function health(gw, cookie) {
  const r = await fetch(`${gw.url}/api/monitoring/health`, { headers: { cookie } });
  assert.equal(r.status, 200);
  return r.json();
}

test('an open breaker is still open after a restart', async () => {
  const mock = await startMock();
  let gw = await startGateway();
  const dataDir = gw.dataDir;
  try {
    let cookie = await gw.login();
    const r = await fetch(`${gw.url}/api/providers`, {
      method: 'POST', headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ provider: 'groq', name: 'g', apiKey: 'sk-g', providerSpecificData: { baseUrl: `${mock.url}/v1` } }),
    });
    assert.equal(r.status, 201);
    for (let i = 0; i < 12; i++) {
      const x = await fetch(`${gw.url}/v1/chat/completions`, {
        method: 'POST', headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'groq/mock-status-500', messages: [{ role: 'user', content: 'x' }] }),
      });
      await x.arrayBuffer();
    }
    assert.equal((await health(gw, cookie)).breakers.groq.state, 'OPEN');
    const { code } = await gw.stop({ keepData: true });
    assert.equal(code, 0);

    gw = await startGateway({ env: { DATA_DIR: dataDir } });
    cookie = await gw.login();
    assert.equal((await health(gw, cookie)).breakers.groq.state, 'OPEN');
    const before = mock.records.length;
    const y = await fetch(`${gw.url}/v1/chat/completions`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'groq/mock-status-500', messages: [{ role: 'user', content: 'x' }] }),
    });
    assert.equal(y.status, 503);
    assert.equal(mock.records.length, before, 'the open provider was not called');
  } finally {
    const { code } = await gw.stop({ keepData: true });
    rmSync(dataDir, { recursive: true, force: true });
    await mock.close();
    assert.equal(code, 0);
  }
});
