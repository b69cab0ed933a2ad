// admin.mjs — the management API as e2e tests drive it: a JSON caller bound to one gateway and
// its session cookie, and the provider-node set-up that gives a test its own routable prefix.
import assert from 'node:assert/strict';

/** A caller for gw's management API: api(method, path, body?) → {status, json (or null), text}. */
export function adminApi(gw, cookie) {
  return async (method, p, body) => {
    const res = await fetch(`${gw.url}${p}`, {
      method,
      headers: { 'content-type': 'application/json', cookie },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
      json = JSON.parse(text);
    } catch {
      /* not JSON */
    }
    return { status: res.status, json, text };
  };
}

/**
 * Adds a provider node (body: {name, prefix, baseUrl, type?, apiType?}) and one connection to it
 * holding apiKey; models "<prefix>/<model>" then route there. Returns {node, connection}.
 */
export async function addNode(api, body, { apiKey = 'sk-node', defaultModel } = {}) {
  const n = await api('POST', '/api/provider-nodes', body);
  assert.equal(n.status, 201, n.text);
  const { node } = n.json;
  const conn = { provider: node.providerId, name: body.name, apiKey };
  if (defaultModel !== undefined) conn.defaultModel = defaultModel;
  const c = await api('POST', '/api/providers', conn);
  assert.equal(c.status, 201, c.text);
  return { node, connection: c.json.connection };
}
