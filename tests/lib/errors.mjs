// errors.mjs — what every error the gateway gives an OpenAI-style client must look like.
import assert from 'node:assert/strict';

/** j is a parsed error body: {error: {message, type, code, …}}. */
export function assertOpenAIError(j) {
  assert.equal(typeof j?.error, 'object', `OpenAI error shape: ${JSON.stringify(j)}`);
  assert.equal(typeof j.error.message, 'string');
  assert.ok('type' in j.error, 'error.type');
  assert.ok('code' in j.error, 'error.code');
}
