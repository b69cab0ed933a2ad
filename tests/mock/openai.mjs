// openai.mjs — the mock's OpenAI Chat Completions API (POST …/chat/completions).
// Validation follows what api.openai.com rejects with 400: unknown top-level parameters, a
// `tool` message that answers no earlier tool_call, an assistant tool_calls message whose ids
// get no tool message, Responses-style parts (`input_text`) or tools (no `function` object).
import {
  contentText,
  countWords,
  mockDeltas,
  planReply,
  argPieces,
  isObj,
  Invalid,
  need,
  unknownKeys,
} from './common.mjs';

const PARAMS = new Set([
  'model', 'messages', 'audio', 'frequency_penalty', 'function_call', 'functions', 'logit_bias',
  'logprobs', 'max_completion_tokens', 'max_tokens', 'metadata', 'modalities', 'n',
  'parallel_tool_calls', 'prediction', 'presence_penalty', 'prompt_cache_key',
  'prompt_cache_retention', 'reasoning_effort', 'response_format', 'safety_identifier', 'seed',
  'service_tier', 'stop', 'store', 'stream', 'stream_options', 'temperature', 'tool_choice', 'tools',
  'top_logprobs', 'top_p', 'user', 'verbosity', 'web_search_options',
]);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool', 'function']);
const USER_PARTS = new Set(['text', 'image_url', 'input_audio', 'file']);
const ASSISTANT_PARTS = new Set(['text', 'refusal']);

const ERROR_TYPES = {
  400: 'invalid_request_error',
  401: 'invalid_request_error',
  403: 'permission_denied',
  404: 'invalid_request_error',
  429: 'rate_limit_exceeded',
};

/** The OpenAI error body for an injected status (also used by the Responses API). */
export function mockErrorBody(status) {
  return {
    error: {
      message: `mock injected status ${status}`,
      type: ERROR_TYPES[status] || (status >= 500 ? 'server_error' : 'invalid_request_error'),
      param: null,
      code: `mock_status_${status}`,
    },
  };
}

export function openaiError(message, { type = 'invalid_request_error', param = null, code = null } = {}) {
  return { error: { message, type, param, code } };
}

/** Bearer auth shared by the OpenAI-family APIs: null when fine, else [status, body]. */
export function bearerAuth(req, apiKey) {
  const h = req.headers.authorization;
  const key = typeof h === 'string' && h.startsWith('Bearer ') ? h.slice(7).trim() : '';
  if (key !== '' && (apiKey === null || key === apiKey)) return null;
  return [
    401,
    openaiError('Incorrect API key provided (mock).', { code: 'invalid_api_key' }),
  ];
}

function validate(body) {
  const bad = unknownKeys(body, PARAMS);
  need(bad.length === 0, `Unrecognized request argument supplied: ${bad[0]}`, bad[0]);
  need(typeof body.model === 'string' && body.model !== '', "Missing required parameter: 'model'.", 'model');
  const msgs = body.messages;
  need(Array.isArray(msgs) && msgs.length > 0, "Invalid 'messages': empty array or missing.", 'messages');
  const pending = new Set(); // tool_call ids awaiting a tool message
  let inToolBlock = false; // only tool messages since the last assistant tool_calls message
  msgs.forEach((m, i) => {
    const p = `messages[${i}]`;
    need(isObj(m) && ROLES.has(m.role), `Invalid value for '${p}.role'.`, `${p}.role`);
    if (m.role !== 'tool' && pending.size > 0) {
      throw invalidPending(pending);
    }
    if (m.role !== 'tool') inToolBlock = false;
    const c = m.content;
    if (Array.isArray(c)) {
      const allowed = m.role === 'assistant' ? ASSISTANT_PARTS : USER_PARTS;
      c.forEach((part, j) => {
        need(
          isObj(part) && allowed.has(part.type),
          `Invalid value: '${part?.type}'. Supported values are: ${[...allowed].map((t) => `'${t}'`).join(', ')}.`,
          `${p}.content[${j}].type`,
        );
        if (part.type === 'text') need(typeof part.text === 'string', `Missing '${p}.content[${j}].text'.`);
      });
    } else {
      need(
        typeof c === 'string' || (c === null && m.role === 'assistant') || (c === undefined && m.role === 'assistant'),
        `Invalid type for '${p}.content'.`,
        `${p}.content`,
      );
    }
    if (m.role === 'assistant' && m.tool_calls !== undefined) {
      need(Array.isArray(m.tool_calls) && m.tool_calls.length > 0, `Invalid '${p}.tool_calls'.`);
      m.tool_calls.forEach((tc, j) => {
        const q = `${p}.tool_calls[${j}]`;
        need(isObj(tc) && typeof tc.id === 'string' && tc.id !== '', `Missing '${q}.id'.`, `${q}.id`);
        need(tc.type === 'function', `Invalid '${q}.type'.`, `${q}.type`);
        need(isObj(tc.function) && typeof tc.function.name === 'string', `Missing '${q}.function.name'.`);
        need(typeof tc.function.arguments === 'string', `Invalid type for '${q}.function.arguments': expected a string.`);
        pending.add(tc.id);
      });
      inToolBlock = true;
    }
    if (m.role === 'tool') {
      need(
        inToolBlock && typeof m.tool_call_id === 'string',
        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
        `${p}.role`,
      );
      need(pending.has(m.tool_call_id), `Invalid parameter: 'tool_call_id' of '${m.tool_call_id}' not found in 'tool_calls' of previous message.`, `${p}.tool_call_id`);
      pending.delete(m.tool_call_id);
    }
  });
  if (pending.size > 0) throw invalidPending(pending);
  if (body.tools !== undefined) {
    need(Array.isArray(body.tools), "Invalid type for 'tools'.", 'tools');
    body.tools.forEach((t, i) => {
      need(isObj(t) && t.type === 'function', `Invalid value for 'tools[${i}].type'.`, `tools[${i}].type`);
      need(isObj(t.function), `Missing required parameter: 'tools[${i}].function'.`, `tools[${i}].function`);
      need(typeof t.function.name === 'string' && /^[a-zA-Z0-9_-]{1,64}$/.test(t.function.name), `Invalid 'tools[${i}].function.name'.`);
      if (t.function.parameters !== undefined) need(isObj(t.function.parameters), `Invalid 'tools[${i}].function.parameters'.`);
    });
  }
  if (body.stream_options !== undefined) need(body.stream === true, "The 'stream_options' parameter is only allowed when 'stream' is enabled.", 'stream_options');
}

function invalidPending(pending) {
  return new Invalid(
    `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...pending].join(', ')}`,
    'messages',
  );
}

function turn(body) {
  const msgs = Array.isArray(body?.messages) ? body.messages : [];
  let userText = '';
  for (let i = msgs.length - 1; i >= 0; i--) {
    if (msgs[i] && msgs[i].role === 'user') {
      userText = contentText(msgs[i].content);
      break;
    }
  }
  const toolResults = [];
  for (let i = msgs.length - 1; i >= 0 && msgs[i]?.role === 'tool'; i--) {
    toolResults.unshift(contentText(msgs[i].content));
  }
  const last = msgs.at(-1);
  const lastKind = toolResults.length > 0 ? 'tool' : last?.role === 'user' ? 'user' : 'other';
  const tools = Array.isArray(body?.tools)
    ? body.tools.filter((t) => t?.type === 'function' && t.function?.name).map((t) => t.function.name)
    : [];
  let toolChoice = 'auto';
  const tc = body?.tool_choice;
  if (tc === 'none' || tc === 'required') toolChoice = tc;
  else if (isObj(tc) && tc.function?.name) toolChoice = { name: tc.function.name };
  return {
    lastKind,
    userText,
    toolResults,
    tools,
    toolChoice,
    thinking: false,
    promptTexts: msgs.map((m) => contentText(m?.content)),
  };
}

const usageOf = (u) => ({
  prompt_tokens: u.input,
  completion_tokens: u.output,
  total_tokens: u.input + u.output,
});

/** The text reply the mock gives for a chat body (null when it answers with a tool call). */
export function mockReplyText(body) {
  return planReply(turn(body)).text;
}

/** The usage the mock reports for a chat body. */
export function mockUsage(body) {
  return usageOf(planReply(turn(body)).usage);
}

function response(ctx, plan) {
  const message = { role: 'assistant', content: plan.text, refusal: null };
  if (plan.tool) {
    message.content = null;
    message.tool_calls = [
      {
        id: `call_mock_${ctx.seq}`,
        type: 'function',
        function: { name: plan.tool.name, arguments: plan.tool.argsJson },
      },
    ];
  }
  return {
    id: `chatcmpl-mock-${ctx.seq}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: plan.tool ? 'tool_calls' : 'stop' }],
    usage: usageOf(plan.usage),
    system_fingerprint: 'fp_mock',
  };
}

function encoder(ctx) {
  const includeUsage = ctx.body.stream_options?.include_usage === true;
  const base = {
    id: `chatcmpl-mock-${ctx.seq}`,
    object: 'chat.completion.chunk',
    created: Math.floor(Date.now() / 1000),
    model: ctx.model,
    system_fingerprint: 'fp_mock',
  };
  const u = includeUsage ? null : undefined;
  const frame = (choices, usage) => {
    const o = { ...base, choices };
    if (usage !== undefined) o.usage = usage;
    return `data: ${JSON.stringify(o)}\n\n`;
  };
  const choice = (delta, finish = null) => [{ index: 0, delta, logprobs: null, finish_reason: finish }];
  let sawTool = false;
  return {
    headers: { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' },
    start: () => frame(choice({ role: 'assistant', content: '', refusal: null }), u),
    thinking: () => '',
    textStart: () => '',
    text: (d) => frame(choice({ content: d }), u),
    textEnd: () => '',
    toolStart(tool) {
      sawTool = true;
      return frame(
        choice({
          tool_calls: [
            { index: 0, id: `call_mock_${ctx.seq}`, type: 'function', function: { name: tool.name, arguments: '' } },
          ],
        }),
        u,
      );
    },
    toolRest: (tool) =>
      argPieces(tool.argsJson)
        .map((a) => frame(choice({ tool_calls: [{ index: 0, function: { arguments: a } }] }), u))
        .join(''),
    finish(usage) {
      let s = frame(choice({}, sawTool ? 'tool_calls' : 'stop'), u);
      if (includeUsage) s += frame([], usageOf(usage));
      return `${s}data: [DONE]\n\n`;
    },
  };
}

export const openaiChat = {
  name: 'openai',
  auth: bearerAuth,
  validate,
  turn,
  errorBody: (status, message, param = null) =>
    message === undefined ? mockErrorBody(status) : openaiError(message, { param }),
  badJson: () => openaiError('We could not parse the JSON body of your request.'),
  response,
  encoder,
};

export { countWords, mockDeltas };
