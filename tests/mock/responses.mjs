// responses.mjs — the mock's OpenAI Responses API (POST …/responses). Auth: Bearer.
// Validation follows what api.openai.com rejects with 400: unknown top-level parameters, content
// parts of type `text` (must be input_text / output_text…), input_text in an assistant message,
// item ids with the wrong prefix (function_call → fc…, message → msg…, reasoning → rs…), a
// function_call_output whose call_id matches no function_call in the input, reasoning items
// whose encrypted_content the mock did not issue, chat-style tools ({type, function:{…}}),
// max_output_tokens below 16.
// Reasoning: with `reasoning` (effort not "none") the reply starts with a reasoning item; its
// summary text is present when reasoning.summary is set, and its encrypted_content when
// include has "reasoning.encrypted_content".
import {
  contentText,
  mockDeltas,
  planReply,
  argPieces,
  encryptReasoning,
  decryptReasoning,
  isObj,
  need,
  unknownKeys,
} from './common.mjs';
import { bearerAuth, mockErrorBody, openaiError } from './openai.mjs';

const PARAMS = new Set([
  'model', 'input', 'instructions', 'tools', 'tool_choice', 'parallel_tool_calls', 'max_output_tokens',
  'max_tool_calls', 'temperature', 'top_p', 'top_logprobs', 'stream', 'stream_options', 'store',
  'include', 'reasoning', 'text', 'metadata', 'previous_response_id', 'conversation', 'truncation',
  'user', 'service_tier', 'background', 'prompt', 'prompt_cache_key', 'prompt_cache_retention',
  'safety_identifier', 'context_management', 'client_metadata',
]);
const INPUT_PARTS = new Set(['input_text', 'input_image', 'input_file', 'input_audio']);
const OUTPUT_PARTS = new Set(['output_text', 'refusal']);
const ROLES = new Set(['user', 'assistant', 'system', 'developer']);
const ITEMS = new Set([
  'message', 'function_call', 'function_call_output', 'reasoning', 'item_reference',
  'custom_tool_call', 'custom_tool_call_output', 'web_search_call', 'file_search_call',
  'local_shell_call', 'local_shell_call_output', 'compaction',
]);
const BUILTIN_TOOLS = new Set([
  'web_search', 'web_search_preview', 'file_search', 'code_interpreter', 'image_generation',
  'computer_use_preview', 'local_shell', 'shell', 'mcp', 'custom', 'apply_patch', 'namespace',
]);

const partTypesMsg = "Invalid value: 'text'. Supported values are: 'input_text', 'input_image', 'output_text', 'refusal', 'input_file', 'computer_screenshot', and 'summary_text'.";

function validate(body) {
  const bad = unknownKeys(body, PARAMS);
  need(bad.length === 0, `Unknown parameter: '${bad[0]}'.`, bad[0]);
  need(typeof body.model === 'string' && body.model !== '', "Missing required parameter: 'model'.", 'model');
  if (body.max_output_tokens !== undefined && body.max_output_tokens !== null) {
    need(Number.isInteger(body.max_output_tokens) && body.max_output_tokens >= 16,
      `Invalid 'max_output_tokens': integer below minimum value. Expected a value >= 16, but got ${body.max_output_tokens} instead.`, 'max_output_tokens');
  }
  if (body.instructions !== undefined && body.instructions !== null) need(typeof body.instructions === 'string', "Invalid type for 'instructions'.", 'instructions');
  const input = body.input;
  if (Array.isArray(input)) {
    const calls = new Set();
    input.forEach((it, i) => {
      const p = `input[${i}]`;
      need(isObj(it), `Invalid type for '${p}'.`, p);
      const type = it.type ?? (it.role !== undefined ? 'message' : undefined);
      need(ITEMS.has(type), `Invalid value: '${it.type}'. Value must be one of the input item types.`, `${p}.type`);
      if (type === 'message') {
        need(ROLES.has(it.role), `Invalid value: '${it.role}'. Supported values are: 'assistant', 'system', 'developer', and 'user'.`, `${p}.role`);
        if (it.id !== undefined) need(typeof it.id === 'string' && it.id.startsWith('msg'), `Invalid '${p}.id': '${it.id}'. Expected an ID that begins with 'msg'.`, `${p}.id`);
        if (Array.isArray(it.content)) {
          it.content.forEach((c, j) => {
            const q = `${p}.content[${j}]`;
            need(isObj(c), `Invalid type for '${q}'.`, q);
            need(c.type !== 'text', partTypesMsg, `${q}.type`);
            if (it.role === 'assistant') {
              need(OUTPUT_PARTS.has(c.type), `Invalid value: '${c.type}'. Supported values are: 'output_text' and 'refusal'.`, `${q}.type`);
            } else {
              need(INPUT_PARTS.has(c.type), `Invalid value: '${c.type}'. Supported values are: 'input_text', 'input_image', 'input_file', and 'input_audio'.`, `${q}.type`);
            }
            if (c.type === 'input_text' || c.type === 'output_text') need(typeof c.text === 'string', `Missing required parameter: '${q}.text'.`, `${q}.text`);
          });
        } else need(typeof it.content === 'string', `Invalid type for '${p}.content': expected a string or an array.`, `${p}.content`);
      } else if (type === 'function_call') {
        if (it.id !== undefined) need(typeof it.id === 'string' && it.id.startsWith('fc'), `Invalid '${p}.id': '${it.id}'. Expected an ID that begins with 'fc'.`, `${p}.id`);
        need(typeof it.call_id === 'string' && it.call_id !== '', `Missing required parameter: '${p}.call_id'.`, `${p}.call_id`);
        need(typeof it.name === 'string' && it.name !== '', `Missing required parameter: '${p}.name'.`, `${p}.name`);
        need(typeof it.arguments === 'string', `Invalid type for '${p}.arguments': expected a string.`, `${p}.arguments`);
        calls.add(it.call_id);
      } else if (type === 'function_call_output') {
        if (it.id !== undefined) need(typeof it.id === 'string' && it.id.startsWith('fc'), `Invalid '${p}.id': '${it.id}'. Expected an ID that begins with 'fc'.`, `${p}.id`);
        need(typeof it.call_id === 'string', `Missing required parameter: '${p}.call_id'.`, `${p}.call_id`);
        need(typeof it.output === 'string' || Array.isArray(it.output), `Invalid type for '${p}.output'.`, `${p}.output`);
        need(calls.has(it.call_id), `No tool call found for function call output with call_id ${it.call_id}.`, 'input');
      } else if (type === 'reasoning') {
        need(typeof it.id === 'string' && it.id.startsWith('rs'), `Invalid '${p}.id': '${it.id}'. Expected an ID that begins with 'rs'.`, `${p}.id`);
        need(Array.isArray(it.summary), `Missing required parameter: '${p}.summary'.`, `${p}.summary`);
        if (it.encrypted_content !== undefined && it.encrypted_content !== null) {
          need(decryptReasoning(it.encrypted_content) !== null, `The encrypted content for item ${it.id} could not be verified.`, `${p}.encrypted_content`);
        }
      }
    });
  } else {
    need(typeof input === 'string', "Invalid type for 'input': expected a string or an array of input items.", 'input');
  }
  if (body.tools !== undefined) {
    need(Array.isArray(body.tools), "Invalid type for 'tools'.", 'tools');
    body.tools.forEach((t, i) => {
      need(isObj(t), `Invalid type for 'tools[${i}]'.`, `tools[${i}]`);
      if (t.type === 'function') {
        need(typeof t.name === 'string' && t.name !== '', `Missing required parameter: 'tools[${i}].name'.`, `tools[${i}].name`);
        need(t.function === undefined, `Unknown parameter: 'tools[${i}].function'.`, `tools[${i}].function`);
        if (t.parameters !== undefined && t.parameters !== null) need(isObj(t.parameters), `Invalid type for 'tools[${i}].parameters'.`);
      } else need(BUILTIN_TOOLS.has(t.type), `Invalid value: '${t.type}'. Supported values are: 'function', … .`, `tools[${i}].type`);
    });
  }
  if (body.reasoning !== undefined && body.reasoning !== null) {
    need(isObj(body.reasoning), "Invalid type for 'reasoning'.", 'reasoning');
    const e = body.reasoning.effort;
    need(e === undefined || e === null || ['none', 'minimal', 'low', 'medium', 'high', 'xhigh'].includes(e), `Invalid value: '${e}'.`, 'reasoning.effort');
    const s = body.reasoning.summary;
    need(s === undefined || s === null || ['auto', 'concise', 'detailed'].includes(s), `Invalid value: '${s}'.`, 'reasoning.summary');
  }
}

const partsText = (c) =>
  typeof c === 'string' ? c : Array.isArray(c) ? c.map((p) => (typeof p?.text === 'string' ? p.text : '')).join('') : '';

function turn(body) {
  const items = typeof body?.input === 'string' ? [{ type: 'message', role: 'user', content: body.input }] : Array.isArray(body?.input) ? body.input : [];
  const typeOf = (it) => it?.type ?? (it?.role !== undefined ? 'message' : undefined);
  let userText = '';
  for (let i = items.length - 1; i >= 0; i--) {
    if (typeOf(items[i]) === 'message' && items[i].role === 'user') {
      userText = partsText(items[i].content);
      break;
    }
  }
  const results = [];
  for (let i = items.length - 1; i >= 0 && typeOf(items[i]) === 'function_call_output'; i--) results.unshift(partsText(items[i].output));
  const last = items.at(-1);
  const tools = Array.isArray(body?.tools) ? body.tools.filter((t) => t?.type === 'function' && t.name).map((t) => t.name) : [];
  let toolChoice = 'auto';
  const tc = body?.tool_choice;
  if (tc === 'none' || tc === 'required') toolChoice = tc;
  else if (isObj(tc) && tc.type === 'function' && tc.name) toolChoice = { name: tc.name };
  const promptTexts = typeof body?.instructions === 'string' ? [body.instructions] : [];
  for (const it of items) {
    if (typeOf(it) === 'message') promptTexts.push(partsText(it.content));
    else if (typeOf(it) === 'function_call_output') promptTexts.push(partsText(it.output));
  }
  const r = body?.reasoning;
  return {
    lastKind: results.length > 0 ? 'tool' : typeOf(last) === 'message' && last.role === 'user' ? 'user' : 'other',
    userText,
    toolResults: results,
    tools,
    toolChoice,
    thinking: isObj(r) && r.effort !== 'none' && (r.effort != null || r.summary != null),
    promptTexts,
  };
}

const usageOf = (u) => ({
  input_tokens: u.input,
  input_tokens_details: { cached_tokens: 0 },
  output_tokens: u.output,
  output_tokens_details: { reasoning_tokens: u.thoughts || 0 },
  total_tokens: u.input + u.output,
});

function baseResponse(ctx, status, output, usage) {
  const b = ctx.body;
  return {
    id: `resp_mock_${ctx.seq}`,
    object: 'response',
    created_at: Math.floor(ctx.createdAt / 1000),
    status,
    background: false,
    error: null,
    incomplete_details: null,
    instructions: b.instructions ?? null,
    max_output_tokens: b.max_output_tokens ?? null,
    model: ctx.model,
    output,
    parallel_tool_calls: b.parallel_tool_calls ?? true,
    previous_response_id: null,
    reasoning: { effort: b.reasoning?.effort ?? null, summary: b.reasoning?.summary ?? null },
    store: b.store ?? true,
    temperature: b.temperature ?? 1,
    text: b.text ?? { format: { type: 'text' } },
    tool_choice: b.tool_choice ?? 'auto',
    tools: b.tools ?? [],
    top_p: b.top_p ?? 1,
    truncation: 'disabled',
    usage: usage ? usageOf(usage) : null,
    user: null,
    metadata: b.metadata ?? {},
  };
}

const ids = (ctx) => ({
  rs: `rs_mock_${ctx.seq}`,
  msg: `msg_mock_${ctx.seq}`,
  fc: `fc_mock_${ctx.seq}`,
  call: `call_mock_${ctx.seq}`,
});

function reasoningItem(ctx, text) {
  const item = { id: ids(ctx).rs, type: 'reasoning', summary: [] };
  if (ctx.body.reasoning?.summary) item.summary = [{ type: 'summary_text', text }];
  if (Array.isArray(ctx.body.include) && ctx.body.include.includes('reasoning.encrypted_content')) {
    item.encrypted_content = encryptReasoning(text);
  }
  return item;
}

const messageItem = (ctx, text, status = 'completed') => ({
  id: ids(ctx).msg,
  type: 'message',
  status,
  content: text === null ? [] : [{ type: 'output_text', annotations: [], logprobs: [], text }],
  role: 'assistant',
});

const callItem = (ctx, tool, status = 'completed', args = tool.argsJson) => ({
  id: ids(ctx).fc,
  type: 'function_call',
  status,
  arguments: args,
  call_id: ids(ctx).call,
  name: tool.name,
});

function response(ctx, plan) {
  const output = [];
  if (plan.thinking) output.push(reasoningItem(ctx, plan.thinking.text));
  if (plan.text !== null) output.push(messageItem(ctx, plan.text));
  if (plan.tool) output.push(callItem(ctx, plan.tool));
  return baseResponse(ctx, 'completed', output, plan.usage);
}

function encoder(ctx) {
  let seq = 0;
  const output = [];
  let text = '';
  const ev = (type, data) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
  return {
    headers: { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' },
    start: () =>
      ev('response.created', { response: baseResponse(ctx, 'in_progress', [], null) }) +
      ev('response.in_progress', { response: baseResponse(ctx, 'in_progress', [], null) }),
    thinking(t) {
      const oi = output.length;
      const done = reasoningItem(ctx, t.text);
      const itemId = done.id;
      let s = ev('response.output_item.added', { output_index: oi, item: { id: itemId, type: 'reasoning', summary: [] } });
      if (done.summary.length > 0) {
        const part = { type: 'summary_text', text: '' };
        s += ev('response.reasoning_summary_part.added', { item_id: itemId, output_index: oi, summary_index: 0, part });
        for (const d of mockDeltas(t.text)) {
          s += ev('response.reasoning_summary_text.delta', { item_id: itemId, output_index: oi, summary_index: 0, delta: d });
        }
        s += ev('response.reasoning_summary_text.done', { item_id: itemId, output_index: oi, summary_index: 0, text: t.text });
        s += ev('response.reasoning_summary_part.done', { item_id: itemId, output_index: oi, summary_index: 0, part: { type: 'summary_text', text: t.text } });
      }
      s += ev('response.output_item.done', { output_index: oi, item: done });
      output.push(done);
      return s;
    },
    textStart() {
      const oi = output.length;
      return (
        ev('response.output_item.added', { output_index: oi, item: messageItem(ctx, null, 'in_progress') }) +
        ev('response.content_part.added', { item_id: ids(ctx).msg, output_index: oi, content_index: 0, part: { type: 'output_text', annotations: [], logprobs: [], text: '' } })
      );
    },
    text(d) {
      text += d;
      return ev('response.output_text.delta', { item_id: ids(ctx).msg, output_index: output.length, content_index: 0, delta: d, logprobs: [] });
    },
    textEnd() {
      const oi = output.length;
      const item = messageItem(ctx, text);
      output.push(item);
      return (
        ev('response.output_text.done', { item_id: ids(ctx).msg, output_index: oi, content_index: 0, text, logprobs: [] }) +
        ev('response.content_part.done', { item_id: ids(ctx).msg, output_index: oi, content_index: 0, part: item.content[0] }) +
        ev('response.output_item.done', { output_index: oi, item })
      );
    },
    toolStart: (tool) => ev('response.output_item.added', { output_index: output.length, item: callItem(ctx, tool, 'in_progress', '') }),
    toolRest(tool) {
      const oi = output.length;
      const item = callItem(ctx, tool);
      output.push(item);
      return (
        argPieces(tool.argsJson).map((a) => ev('response.function_call_arguments.delta', { item_id: item.id, output_index: oi, delta: a })).join('') +
        ev('response.function_call_arguments.done', { item_id: item.id, output_index: oi, name: tool.name, arguments: tool.argsJson }) +
        ev('response.output_item.done', { output_index: oi, item })
      );
    },
    finish: (usage) => ev('response.completed', { response: baseResponse(ctx, 'completed', output, usage) }),
  };
}

/** The reply text the mock gives for a Responses body (null for a function call). */
export function responsesReplyText(body) {
  return planReply(turn(body)).text;
}

export const openaiResponses = {
  name: 'responses',
  auth: bearerAuth,
  validate,
  turn,
  errorBody: (status, message, param = null) =>
    message === undefined ? mockErrorBody(status) : openaiError(message, { param }),
  badJson: () => openaiError('We could not parse the JSON body of your request.'),
  response,
  encoder,
};

export { contentText };
