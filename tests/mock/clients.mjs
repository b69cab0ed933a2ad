// clients.mjs — drives the four official client SDKs the same way for tests: a plain text turn
// and a tool round trip (call → tool result → final text), stream or not. Used against the mock
// directly (tests/e2e/mock.test.mjs proves the mock speaks each API as the SDKs expect) and
// through the gateway (tests/e2e/formats_matrix.test.mjs and the per-SDK files).
//
//   const c = makeClient('anthropic', baseUrl, apiKey)      // 'chat' | 'responses' | 'anthropic' | 'gemini'
//   const r = await runText(c, { model, prompt, stream })   // { text, finish, raw }
//   const t = await runToolRoundTrip(c, { model, prompt, stream, result })
//            // { call: {id, name, args}, text, first, second }
// Base URLs: chat/responses → "<root>/v1"; anthropic → "<root>" (the SDK adds /v1/messages);
// gemini → "<root>" (the SDK adds /v1beta/models/…).
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, Type } from '@google/genai';

export const CLIENT_KINDS = ['chat', 'responses', 'anthropic', 'gemini'];
export const TOOL_RESULT = 'Sunny, 21C';

const WEATHER_SCHEMA = {
  type: 'object',
  properties: { city: { type: 'string', description: 'City name' } },
  required: ['city'],
  additionalProperties: false,
};
const DESCRIPTION = 'Get the current weather for a city';

export function makeClient(kind, baseUrl, apiKey = 'sk-client', opts = {}) {
  const timeout = opts.timeout ?? 20000;
  let sdk;
  if (kind === 'chat' || kind === 'responses') {
    sdk = new OpenAI({ baseURL: baseUrl, apiKey, maxRetries: 0, timeout });
  } else if (kind === 'anthropic') {
    sdk = new Anthropic({ baseURL: baseUrl, apiKey, maxRetries: 0, timeout, ...(opts.anthropic || {}) });
  } else if (kind === 'gemini') {
    // @google/genai 3.x defaults to apiVersion "v1"; Gemini CLI and older SDKs use "v1beta".
    sdk = new GoogleGenAI({ apiKey, httpOptions: { baseUrl, timeout, apiVersion: 'v1beta', ...(opts.gemini || {}) } });
  } else throw new Error(`unknown client kind ${kind}`);
  return { kind, sdk };
}

// ---- OpenAI chat ----------------------------------------------------------------------------

async function chatTurn(sdk, params, stream) {
  if (!stream) {
    const r = await sdk.chat.completions.create(params);
    const m = r.choices[0].message;
    const tc = m.tool_calls?.[0];
    return {
      text: m.content ?? '',
      finish: r.choices[0].finish_reason,
      call: tc ? { id: tc.id, name: tc.function.name, arguments: tc.function.arguments } : null,
      usage: r.usage,
      raw: r,
    };
  }
  const s = await sdk.chat.completions.create({ ...params, stream: true, stream_options: { include_usage: true } });
  let text = '';
  let finish = null;
  let usage = null;
  const calls = [];
  const chunks = [];
  let deltas = 0;
  for await (const c of s) {
    chunks.push(c);
    if (c.usage) usage = c.usage;
    const ch = c.choices[0];
    if (!ch) continue;
    if (ch.delta?.content) {
      text += ch.delta.content;
      deltas++;
    }
    for (const tc of ch.delta?.tool_calls || []) {
      const k = tc.index ?? 0;
      calls[k] ??= { id: '', name: '', arguments: '' };
      if (tc.id) calls[k].id = tc.id;
      if (tc.function?.name) calls[k].name += tc.function.name;
      if (tc.function?.arguments) calls[k].arguments += tc.function.arguments;
    }
    if (ch.finish_reason) finish = ch.finish_reason;
  }
  return { text, finish, call: calls[0] ?? null, usage, deltas, raw: chunks };
}

const chatTools = [
  { type: 'function', function: { name: 'get_weather', description: DESCRIPTION, parameters: WEATHER_SCHEMA } },
];

// ---- OpenAI Responses -----------------------------------------------------------------------

async function responsesTurn(sdk, params, stream) {
  let resp;
  let events = null;
  let deltaText = '';
  let deltas = 0;
  if (!stream) {
    resp = await sdk.responses.create(params);
  } else {
    const s = await sdk.responses.create({ ...params, stream: true });
    events = [];
    for await (const e of s) {
      events.push(e);
      if (e.type === 'response.output_text.delta') {
        deltaText += e.delta;
        deltas++;
      }
      if (e.type === 'response.completed') resp = e.response;
      if (e.type === 'response.failed' || e.type === 'error') {
        const err = new Error(`stream ${e.type}: ${JSON.stringify(e).slice(0, 500)}`);
        err.event = e;
        throw err;
      }
    }
    if (!resp) throw new Error('Responses stream ended without response.completed');
  }
  const output = resp.output || [];
  const text = output
    .filter((o) => o.type === 'message')
    .flatMap((o) => o.content || [])
    .filter((c) => c.type === 'output_text')
    .map((c) => c.text)
    .join('');
  const fc = output.find((o) => o.type === 'function_call');
  return {
    text,
    deltaText,
    deltas,
    finish: resp.status,
    call: fc ? { id: fc.call_id, name: fc.name, arguments: fc.arguments, item: fc } : null,
    output,
    usage: resp.usage,
    raw: events ?? resp,
  };
}

const responsesTools = [
  { type: 'function', name: 'get_weather', description: DESCRIPTION, parameters: WEATHER_SCHEMA, strict: true },
];

// ---- Anthropic ------------------------------------------------------------------------------

async function anthropicTurn(sdk, params, stream) {
  let msg;
  let events = null;
  if (!stream) {
    msg = await sdk.messages.create(params);
  } else {
    const s = sdk.messages.stream(params);
    events = [];
    for await (const e of s) events.push(e);
    msg = await s.finalMessage();
  }
  const text = msg.content
    .filter((b) => b.type === 'text')
    .map((b) => b.text)
    .join('');
  const tu = msg.content.find((b) => b.type === 'tool_use');
  const deltas = (events || []).filter((e) => e.type === 'content_block_delta' && e.delta?.type === 'text_delta').length;
  return {
    text,
    deltas,
    finish: msg.stop_reason,
    call: tu ? { id: tu.id, name: tu.name, arguments: JSON.stringify(tu.input), input: tu.input } : null,
    content: msg.content,
    usage: msg.usage,
    raw: events ?? msg,
  };
}

const anthropicTools = [
  {
    name: 'get_weather',
    description: DESCRIPTION,
    input_schema: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'] },
  },
];

// ---- Gemini ---------------------------------------------------------------------------------

function geminiParts(resp) {
  return resp?.candidates?.[0]?.content?.parts || [];
}

async function geminiTurn(sdk, params, stream) {
  let parts = [];
  let finish = null;
  let usage = null;
  let chunks = null;
  let deltas = 0;
  if (!stream) {
    const r = await sdk.models.generateContent(params);
    parts = geminiParts(r);
    finish = r.candidates?.[0]?.finishReason ?? null;
    usage = r.usageMetadata ?? null;
    chunks = r;
  } else {
    const s = await sdk.models.generateContentStream(params);
    chunks = [];
    for await (const c of s) {
      chunks.push(c);
      parts.push(...geminiParts(c));
      if (geminiParts(c).some((p) => typeof p.text === 'string' && p.text !== '' && !p.thought)) deltas++;
      if (c.candidates?.[0]?.finishReason) finish = c.candidates[0].finishReason;
      if (c.usageMetadata) usage = c.usageMetadata;
    }
  }
  const text = parts
    .filter((p) => typeof p.text === 'string' && !p.thought)
    .map((p) => p.text)
    .join('');
  const fcPart = parts.find((p) => p.functionCall);
  // The model turn to send back as history: text merged, thoughts dropped, calls kept with their
  // thoughtSignature (what Gemini CLI does).
  const history = [];
  if (text) history.push({ text });
  for (const p of parts) if (p.functionCall) history.push(p);
  return {
    text,
    deltas,
    finish,
    call: fcPart
      ? {
          id: fcPart.functionCall.id,
          name: fcPart.functionCall.name,
          arguments: JSON.stringify(fcPart.functionCall.args ?? {}),
          signature: fcPart.thoughtSignature,
        }
      : null,
    thoughts: parts.filter((p) => p.thought).map((p) => p.text ?? '').join(''),
    parts,
    history,
    usage,
    raw: chunks,
  };
}

const geminiTools = [
  {
    functionDeclarations: [
      {
        name: 'get_weather',
        description: DESCRIPTION,
        parameters: { type: Type.OBJECT, properties: { city: { type: Type.STRING, description: 'City name' } }, required: ['city'] },
      },
    ],
  },
];

// ---- common entry points --------------------------------------------------------------------

/** Options for thinking/reasoning, per client kind. */
export function thinkingParams(kind) {
  if (kind === 'anthropic') return { max_tokens: 4096, thinking: { type: 'enabled', budget_tokens: 1024 } };
  if (kind === 'gemini') return { config: { thinkingConfig: { includeThoughts: true } } };
  if (kind === 'responses') return { reasoning: { effort: 'low', summary: 'auto' }, include: ['reasoning.encrypted_content'] };
  return { reasoning_effort: 'low' };
}

function merge(a, b) {
  const out = { ...a };
  for (const [k, v] of Object.entries(b || {})) {
    out[k] = out[k] && typeof out[k] === 'object' && !Array.isArray(out[k]) && typeof v === 'object' ? { ...out[k], ...v } : v;
  }
  return out;
}

/** One user turn; returns {text, finish, call, usage, raw}. */
export async function runText(client, { model, prompt, stream = false, system, extra } = {}) {
  const { kind, sdk } = client;
  if (kind === 'chat') {
    const messages = system ? [{ role: 'system', content: system }, { role: 'user', content: prompt }] : [{ role: 'user', content: prompt }];
    return chatTurn(sdk, merge({ model, messages }, extra), stream);
  }
  if (kind === 'responses') {
    const p = { model, input: prompt };
    if (system) p.instructions = system;
    return responsesTurn(sdk, merge(p, extra), stream);
  }
  if (kind === 'anthropic') {
    const p = { model, max_tokens: 256, messages: [{ role: 'user', content: prompt }] };
    if (system) p.system = system;
    return anthropicTurn(sdk, merge(p, extra), stream);
  }
  const p = { model, contents: prompt };
  if (system) p.config = { systemInstruction: system };
  return geminiTurn(sdk, merge(p, extra), stream);
}

/**
 * The tool round trip: the prompt with a get_weather tool → a tool call; the call and `result`
 * sent back → the final text. Returns {call: {id, name, args}, text, first, second}.
 */
export async function runToolRoundTrip(client, { model, prompt, stream = false, result = TOOL_RESULT, extra } = {}) {
  const { kind, sdk } = client;
  let first;
  let second;
  if (kind === 'chat') {
    const messages = [{ role: 'user', content: prompt }];
    first = await chatTurn(sdk, merge({ model, messages, tools: chatTools }, extra), stream);
    if (!first.call) return { call: null, text: first.text, first };
    messages.push({
      role: 'assistant',
      content: null,
      tool_calls: [{ id: first.call.id, type: 'function', function: { name: first.call.name, arguments: first.call.arguments } }],
    });
    messages.push({ role: 'tool', tool_call_id: first.call.id, content: result });
    second = await chatTurn(sdk, merge({ model, messages, tools: chatTools }, extra), stream);
  } else if (kind === 'responses') {
    const input = [{ role: 'user', content: [{ type: 'input_text', text: prompt }] }];
    first = await responsesTurn(sdk, merge({ model, input, tools: responsesTools }, extra), stream);
    if (!first.call) return { call: null, text: first.text, first };
    input.push(...first.output.filter((o) => o.type === 'function_call' || o.type === 'reasoning'));
    input.push({ type: 'function_call_output', call_id: first.call.id, output: result });
    second = await responsesTurn(sdk, merge({ model, input, tools: responsesTools }, extra), stream);
  } else if (kind === 'anthropic') {
    const messages = [{ role: 'user', content: prompt }];
    first = await anthropicTurn(sdk, merge({ model, max_tokens: 256, messages, tools: anthropicTools }, extra), stream);
    if (!first.call) return { call: null, text: first.text, first };
    messages.push({ role: 'assistant', content: first.content });
    messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: first.call.id, content: result }] });
    second = await anthropicTurn(sdk, merge({ model, max_tokens: 256, messages, tools: anthropicTools }, extra), stream);
  } else {
    const contents = [{ role: 'user', parts: [{ text: prompt }] }];
    const config = merge({ tools: geminiTools }, extra?.config);
    first = await geminiTurn(sdk, { model, contents, config }, stream);
    if (!first.call) return { call: null, text: first.text, first };
    contents.push({ role: 'model', parts: first.history });
    const fr = { name: first.call.name, response: { output: result } };
    if (first.call.id) fr.id = first.call.id;
    contents.push({ role: 'user', parts: [{ functionResponse: fr }] });
    second = await geminiTurn(sdk, { model, contents, config }, stream);
  }
  let args;
  try {
    args = JSON.parse(first.call.arguments);
  } catch {
    args = first.call.arguments;
  }
  return { call: { ...first.call, args }, text: second.text, first, second };
}
