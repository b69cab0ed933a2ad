// anthropic.mjs — the mock's Anthropic Messages API (POST …/messages, …/messages/count_tokens).
// Auth: `x-api-key` or `Authorization: Bearer`, plus an `anthropic-version` header (any value).
// Validation follows what api.anthropic.com rejects with 400: missing max_tokens, unknown
// top-level fields ("Extra inputs are not permitted"), roles other than user/assistant (a
// `system` role is allowed when anthropic-beta has mid-conversation-system), two consecutive
// messages with the same role, empty text blocks or empty content, tool_use without a
// tool_result in the next message, tool_result answering no tool_use of the previous message,
// thinking blocks whose signature the mock did not issue, thinking budget < 1024 or >= max_tokens,
// and — with thinking on — a final assistant tool_use message that does not start with thinking.
import {
  countWords,
  mockDeltas,
  planReply,
  argPieces,
  signThinking,
  isObj,
  need,
  unknownKeys,
} from './common.mjs';

const PARAMS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'metadata', 'stop_sequences', 'stream',
  'temperature', 'top_p', 'top_k', 'tools', 'tool_choice', 'thinking', 'service_tier', 'container',
  'mcp_servers', 'context_management', 'output_config', 'output_format',
]);
const COUNT_PARAMS = new Set([
  'model', 'messages', 'system', 'tools', 'tool_choice', 'thinking', 'mcp_servers',
  'context_management', 'output_config', 'output_format',
]);
const BLOCKS = new Set([
  'text', 'image', 'document', 'search_result', 'tool_use', 'tool_result', 'thinking',
  'redacted_thinking', 'server_tool_use', 'web_search_tool_result', 'container_upload',
]);

const ERROR_TYPES = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
};

export function anthropicError(status, message) {
  return {
    type: 'error',
    error: { type: ERROR_TYPES[status] || (status >= 500 ? 'api_error' : 'invalid_request_error'), message },
    request_id: 'req_mock',
  };
}

function auth(req, apiKey) {
  const x = req.headers['x-api-key'];
  const h = req.headers.authorization;
  const key =
    typeof x === 'string' && x.trim() !== ''
      ? x.trim()
      : typeof h === 'string' && h.startsWith('Bearer ')
        ? h.slice(7).trim()
        : '';
  if (key === '' || (apiKey !== null && key !== apiKey)) {
    return [401, anthropicError(401, 'invalid x-api-key')];
  }
  if (typeof req.headers['anthropic-version'] !== 'string' || req.headers['anthropic-version'] === '') {
    return [400, anthropicError(400, 'anthropic-version: header is required')];
  }
  return null;
}

const blockText = (b) => (b && b.type === 'text' && typeof b.text === 'string' ? b.text : '');

/** Text of a tool_result's content (string, or its text blocks). */
function resultText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) return content.map(blockText).join('');
  return '';
}

function validateText(text, p) {
  need(typeof text === 'string', `${p}.text: Field required`);
  need(text.trim() !== '', `messages: text content blocks must contain non-whitespace text`, p);
}

function validate(body, req, { count = false } = {}) {
  const bad = unknownKeys(body, count ? COUNT_PARAMS : PARAMS);
  need(bad.length === 0, `${bad[0]}: Extra inputs are not permitted`, bad[0]);
  need(typeof body.model === 'string' && body.model !== '', 'model: Field required');
  if (!count) {
    need(body.max_tokens !== undefined, 'max_tokens: Field required');
    need(Number.isInteger(body.max_tokens) && body.max_tokens >= 1, 'max_tokens: Input should be a valid integer >= 1');
  }
  if (body.system !== undefined) {
    if (Array.isArray(body.system)) {
      body.system.forEach((b, i) => {
        need(isObj(b) && b.type === 'text', `system.${i}.type: Input should be 'text'`);
        validateText(b.text, `system.${i}`);
      });
    } else need(typeof body.system === 'string', 'system: Input should be a valid string or list');
  }
  if (body.temperature !== undefined) {
    need(typeof body.temperature === 'number' && body.temperature >= 0 && body.temperature <= 1, 'temperature: range: 0..1');
  }
  if (body.stop_sequences !== undefined) {
    need(Array.isArray(body.stop_sequences) && body.stop_sequences.every((s) => typeof s === 'string' && s.trim() !== ''),
      'stop_sequences: each element must contain non-whitespace');
  }
  const thinkingOn = isObj(body.thinking) && (body.thinking.type === 'enabled' || body.thinking.type === 'adaptive');
  if (body.thinking !== undefined) {
    need(isObj(body.thinking) && ['enabled', 'disabled', 'adaptive'].includes(body.thinking.type), 'thinking.type: Input should be enabled, disabled or adaptive');
    if (body.thinking.type === 'enabled') {
      const b = body.thinking.budget_tokens;
      need(Number.isInteger(b) && b >= 1024, 'thinking.enabled.budget_tokens: Input should be greater than or equal to 1024');
      if (!count) need(b < body.max_tokens, '`max_tokens` must be greater than `thinking.budget_tokens`');
    }
  }
  const tools = body.tools;
  if (tools !== undefined) {
    need(Array.isArray(tools), 'tools: Input should be a valid list');
    tools.forEach((t, i) => {
      need(isObj(t), `tools.${i}: Input should be an object`);
      if (t.type !== undefined && t.type !== 'custom') return; // server tools
      need(typeof t.name === 'string' && /^[a-zA-Z0-9_-]{1,128}$/.test(t.name), `tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,128}$'`);
      need(isObj(t.input_schema), `tools.${i}.custom.input_schema: Field required`);
      need(t.input_schema.type === 'object', `tools.${i}.custom.input_schema.type: Input should be 'object'`);
      const extra = unknownKeys(t, new Set(['name', 'description', 'input_schema', 'type', 'cache_control', 'strict', 'input_examples', 'defer_loading']));
      need(extra.length === 0, `tools.${i}.custom.${extra[0]}: Extra inputs are not permitted`);
    });
  }
  if (body.tool_choice !== undefined) {
    need(isObj(body.tool_choice) && ['auto', 'any', 'tool', 'none'].includes(body.tool_choice.type), "tool_choice: Input tag does not match any of the expected tags: 'auto', 'any', 'tool', 'none'");
  }

  const msgs = body.messages;
  need(Array.isArray(msgs), 'messages: Field required');
  need(msgs.length > 0, 'messages: at least one message is required');
  const allowSystem = String(req.headers['anthropic-beta'] || '').includes('mid-conversation-system');
  let prevRole = null;
  let prevToolUses = new Set();
  msgs.forEach((m, i) => {
    const p = `messages.${i}`;
    need(isObj(m), `${p}: Input should be an object`);
    need(m.role === 'user' || m.role === 'assistant' || (allowSystem && m.role === 'system'), `${p}.role: Input should be 'user' or 'assistant'`);
    const extra = unknownKeys(m, new Set(['role', 'content']));
    need(extra.length === 0, `${p}.${extra[0]}: Extra inputs are not permitted`);
    if (m.role !== 'system') {
      need(m.role !== prevRole, `messages: roles must alternate between "user" and "assistant", but found multiple "${m.role}" roles in a row`);
    }
    const isFinalAssistant = i === msgs.length - 1 && m.role === 'assistant';
    let blocks;
    if (typeof m.content === 'string') {
      need(m.content !== '' || isFinalAssistant, `${p}: all messages must have non-empty content except for the optional final assistant message`);
      blocks = m.content === '' ? [] : [{ type: 'text', text: m.content }];
    } else {
      need(Array.isArray(m.content), `${p}.content: Input should be a valid list`);
      need(m.content.length > 0 || isFinalAssistant, `${p}: all messages must have non-empty content except for the optional final assistant message`);
      blocks = m.content;
    }
    const results = new Set();
    const uses = new Set();
    blocks.forEach((b, j) => {
      const q = `${p}.content.${j}`;
      need(isObj(b) && BLOCKS.has(b.type), `${q}: Input tag '${b?.type}' found using 'type' does not match any of the expected tags`);
      if (b.type === 'text') validateText(b.text, q);
      if (b.type === 'tool_use') {
        need(m.role === 'assistant', `${q}: tool_use blocks are only allowed in assistant messages`);
        need(typeof b.id === 'string' && b.id !== '' && typeof b.name === 'string', `${q}.tool_use: id and name are required`);
        need(isObj(b.input), `${q}.tool_use.input: Input should be a valid dictionary`);
        uses.add(b.id);
      }
      if (b.type === 'tool_result') {
        need(m.role === 'user', `${q}: tool_result blocks are only allowed in user messages`);
        need(
          prevToolUses.has(b.tool_use_id),
          `messages.${i}.content.${j}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${b.tool_use_id}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`,
        );
        if (Array.isArray(b.content)) {
          b.content.forEach((c, k) => {
            need(isObj(c) && ['text', 'image', 'document', 'search_result'].includes(c.type), `${q}.content.${k}: invalid block`);
            if (c.type === 'text') validateText(c.text, `${q}.content.${k}`);
          });
        } else if (b.content !== undefined) need(typeof b.content === 'string', `${q}.content: Input should be a valid string or list`);
        results.add(b.tool_use_id);
      }
      if (b.type === 'thinking') {
        need(m.role === 'assistant', `${q}: thinking blocks are only allowed in assistant messages`);
        need(typeof b.thinking === 'string' && typeof b.signature === 'string', `${q}.thinking: thinking and signature are required`);
        need(b.signature === signThinking(b.thinking), `${q}: Invalid \`signature\` in \`thinking\` block`);
      }
    });
    if (prevToolUses.size > 0) {
      const missing = [...prevToolUses].filter((id) => !results.has(id));
      need(
        missing.length === 0,
        `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`,
      );
    }
    if (uses.size > 0 && i === msgs.length - 1) {
      // A final assistant message with tool_use cannot be continued: there is nothing to answer.
      need(false, `${p}: the final assistant message cannot end with tool_use blocks`);
    }
    prevToolUses = uses;
    if (m.role !== 'system') prevRole = m.role;
  });
  if (thinkingOn) {
    for (let i = msgs.length - 1; i >= 0; i--) {
      const m = msgs[i];
      if (m.role !== 'assistant') continue;
      const blocks = Array.isArray(m.content) ? m.content : [];
      if (blocks.some((b) => b?.type === 'tool_use')) {
        need(
          blocks[0]?.type === 'thinking' || blocks[0]?.type === 'redacted_thinking',
          `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${blocks[0]?.type}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`,
        );
      }
      break;
    }
  }
}

function systemTexts(system) {
  if (typeof system === 'string') return [system];
  if (Array.isArray(system)) return system.map(blockText);
  return [];
}

function turn(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages.filter((m) => m?.role !== 'system') : [];
  const blocksOf = (m) => (typeof m?.content === 'string' ? [{ type: 'text', text: m.content }] : Array.isArray(m?.content) ? m.content : []);
  let userText = '';
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i].role !== 'user') continue;
    const bs = blocksOf(msgs[i]).filter((b) => b?.type === 'text');
    if (bs.length === 0 && blocksOf(msgs[i]).some((b) => b?.type === 'tool_result')) continue;
    userText = bs.map(blockText).join('');
    break;
  }
  const last = msgs.at(-1);
  const lastBlocks = blocksOf(last);
  const results = last?.role === 'user' ? lastBlocks.filter((b) => b?.type === 'tool_result') : [];
  const tools = Array.isArray(body?.tools) ? body.tools.filter((t) => t && (t.type === undefined || t.type === 'custom') && t.name).map((t) => t.name) : [];
  let toolChoice = 'auto';
  const tc = body?.tool_choice;
  if (tc?.type === 'none') toolChoice = 'none';
  else if (tc?.type === 'any') toolChoice = 'required';
  else if (tc?.type === 'tool') toolChoice = { name: tc.name };
  const promptTexts = [...systemTexts(body?.system)];
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    for (const b of blocksOf(m)) {
      if (b?.type === 'text') promptTexts.push(b.text);
      else if (b?.type === 'tool_result') promptTexts.push(resultText(b.content));
    }
  }
  return {
    lastKind: results.length > 0 ? 'tool' : last?.role === 'user' ? 'user' : 'other',
    userText,
    toolResults: results.map((b) => resultText(b.content)),
    tools,
    toolChoice,
    thinking: body?.thinking?.type === 'enabled' || body?.thinking?.type === 'adaptive',
    promptTexts,
  };
}

const toolId = (ctx) => `toolu_mock_${ctx.seq}`;

function contentBlocks(ctx, plan) {
  const content = [];
  if (plan.thinking) {
    content.push({ type: 'thinking', thinking: plan.thinking.text, signature: signThinking(plan.thinking.text) });
  }
  if (plan.text !== null) content.push({ type: 'text', text: plan.text });
  if (plan.tool) content.push({ type: 'tool_use', id: toolId(ctx), name: plan.tool.name, input: plan.tool.args });
  return content;
}

const usageOf = (u) => ({
  input_tokens: u.input,
  cache_creation_input_tokens: 0,
  cache_read_input_tokens: 0,
  output_tokens: u.output,
  service_tier: 'standard',
});

function response(ctx, plan) {
  return {
    id: `msg_mock_${ctx.seq}`,
    type: 'message',
    role: 'assistant',
    model: ctx.model,
    content: contentBlocks(ctx, plan),
    stop_reason: plan.tool ? 'tool_use' : 'end_turn',
    stop_sequence: null,
    usage: usageOf(plan.usage),
  };
}

function encoder(ctx, plan) {
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`;
  let index = 0;
  let sawTool = false;
  return {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', 'request-id': 'req_mock' },
    start: () =>
      ev('message_start', {
        message: {
          id: `msg_mock_${ctx.seq}`,
          type: 'message',
          role: 'assistant',
          model: ctx.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          usage: { ...usageOf(plan.usage), output_tokens: 1 },
        },
      }) + ev('ping', {}),
    thinking(t) {
      const i = index++;
      return (
        ev('content_block_start', { index: i, content_block: { type: 'thinking', thinking: '', signature: '' } }) +
        mockDeltas(t.text).map((d) => ev('content_block_delta', { index: i, delta: { type: 'thinking_delta', thinking: d } })).join('') +
        ev('content_block_delta', { index: i, delta: { type: 'signature_delta', signature: signThinking(t.text) } }) +
        ev('content_block_stop', { index: i })
      );
    },
    textStart: () => ev('content_block_start', { index, content_block: { type: 'text', text: '' } }),
    text: (d) => ev('content_block_delta', { index, delta: { type: 'text_delta', text: d } }),
    textEnd: () => ev('content_block_stop', { index: index++ }),
    toolStart(tool) {
      sawTool = true;
      return ev('content_block_start', { index, content_block: { type: 'tool_use', id: toolId(ctx), name: tool.name, input: {} } });
    },
    toolRest(tool) {
      const i = index++;
      return (
        ['', ...argPieces(tool.argsJson)]
          .map((a) => ev('content_block_delta', { index: i, delta: { type: 'input_json_delta', partial_json: a } }))
          .join('') + ev('content_block_stop', { index: i })
      );
    },
    finish: (usage) =>
      ev('message_delta', {
        delta: { stop_reason: sawTool ? 'tool_use' : 'end_turn', stop_sequence: null },
        usage: { output_tokens: usage.output },
      }) + ev('message_stop', {}),
  };
}

/** The count_tokens answer: the same word count as the messages usage. */
export function anthropicCountTokens(body) {
  return { input_tokens: countWords(turn(body).promptTexts) };
}

/** The reply text the mock gives for an Anthropic body (null for a tool call). */
export function anthropicReplyText(body) {
  return planReply(turn(body)).text;
}

export const anthropicMessages = {
  name: 'anthropic',
  auth,
  validate,
  turn,
  errorBody: (status, message) => anthropicError(status, message ?? `mock injected status ${status}`),
  badJson: () => anthropicError(400, 'There was an issue with your request body: invalid JSON'),
  response,
  encoder,
};
