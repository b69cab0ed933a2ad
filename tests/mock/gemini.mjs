// gemini.mjs — the mock's Gemini API (POST …/models/{model}:generateContent,
// :streamGenerateContent (?alt=sse → SSE with \r\n\r\n frames; without → a JSON array written
// progressively), :countTokens; GET …/models). Auth: `x-goog-api-key` or `?key=`.
// Validation follows what generativelanguage.googleapis.com rejects with 400: unknown fields
// anywhere ("Invalid JSON payload received. Unknown name …: Cannot find field.") — including a
// `model` in the body and JSON-Schema keywords (additionalProperties, $schema, const…) inside a
// functionDeclaration's `parameters` (parametersJsonSchema takes any JSON Schema) — roles other
// than user/model, two adjacent contents with the same role, parts with no data, functionCall in
// a user turn or functionResponse in a model turn, a function-response turn whose part count
// differs from the function-call turn before it, a thoughtSignature the mock did not issue, and
// for models named gemini-3*, a functionCall of the current turn without a thoughtSignature.
// With thinkingConfig.includeThoughts (or a gemini-3 model) the reply starts with a thought part
// and functionCall parts carry a thoughtSignature.
import {
  mockDeltas,
  planReply,
  signFunctionCall,
  SKIP_SIGNATURE,
  isObj,
  need,
  unknownKeys,
} from './common.mjs';

export const GEMINI_MODELS = ['gemini-2.5-flash', 'gemini-2.5-pro', 'gemini-3-pro-preview'];

const STATUS = {
  400: 'INVALID_ARGUMENT',
  401: 'UNAUTHENTICATED',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  409: 'ABORTED',
  429: 'RESOURCE_EXHAUSTED',
  499: 'CANCELLED',
  500: 'INTERNAL',
  501: 'NOT_IMPLEMENTED',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

export function geminiError(code, message, details) {
  const error = { code, message, status: STATUS[code] || (code >= 500 ? 'INTERNAL' : 'FAILED_PRECONDITION') };
  if (details) error.details = details;
  return { error };
}

const TOP = new Set(['contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent']);
const GEN = new Set([
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', '_responseJsonSchema',
  'responseModalities', 'candidateCount', 'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed',
  'presencePenalty', 'frequencyPenalty', 'responseLogprobs', 'logprobs', 'enableEnhancedCivicAnswers',
  'speechConfig', 'thinkingConfig', 'mediaResolution', 'imageConfig',
]);
const THINKING = new Set(['includeThoughts', 'thinkingBudget', 'thinkingLevel']);
const CONTENT = new Set(['role', 'parts']);
const PART = new Set([
  'text', 'inlineData', 'functionCall', 'functionResponse', 'fileData', 'executableCode',
  'codeExecutionResult', 'thought', 'thoughtSignature', 'videoMetadata', 'partMetadata', 'mediaResolution',
]);
const DATA = ['text', 'inlineData', 'functionCall', 'functionResponse', 'fileData', 'executableCode', 'codeExecutionResult'];
const FCALL = new Set(['id', 'name', 'args']);
const FRESP = new Set(['id', 'name', 'response', 'parts', 'willContinue', 'scheduling']);
const TOOL = new Set(['functionDeclarations', 'googleSearch', 'googleSearchRetrieval', 'codeExecution', 'urlContext', 'computerUse', 'fileSearch', 'googleMaps']);
const FDECL = new Set(['name', 'description', 'behavior', 'parameters', 'parametersJsonSchema', 'response', 'responseJsonSchema']);
const SCHEMA = new Set([
  'type', 'format', 'title', 'description', 'nullable', 'enum', 'maxItems', 'minItems', 'properties',
  'required', 'minProperties', 'maxProperties', 'minLength', 'maxLength', 'pattern', 'example', 'anyOf',
  'propertyOrdering', 'default', 'items', 'minimum', 'maximum',
]);

const unknownName = (key, at) =>
  `Invalid JSON payload received. Unknown name "${key}"${at ? ` at '${at}'` : ''}: Cannot find field.`;

function noUnknown(obj, allowed, at) {
  const bad = unknownKeys(obj, allowed);
  need(bad.length === 0, unknownName(bad[0], at), at);
}

function validateSchema(s, at) {
  need(isObj(s), `Invalid value at '${at}': expected an object`);
  noUnknown(s, SCHEMA, at);
  if (isObj(s.properties)) {
    Object.entries(s.properties).forEach(([, v], i) => validateSchema(v, `${at}.properties[${i}].value`));
  }
  if (s.items !== undefined) validateSchema(s.items, `${at}.items`);
  if (Array.isArray(s.anyOf)) s.anyOf.forEach((v, i) => validateSchema(v, `${at}.any_of[${i}]`));
}

const isGemini3 = (model) => /gemini-3/.test(model || '');

function validate(body, req, ctx) {
  noUnknown(body, TOP, '');
  const contents = body.contents;
  need(Array.isArray(contents) && contents.length > 0, '* GenerateContentRequest.contents: contents is not specified');
  if (body.systemInstruction !== undefined) {
    need(isObj(body.systemInstruction), "Invalid value at 'system_instruction'");
    noUnknown(body.systemInstruction, CONTENT, 'system_instruction');
    need(Array.isArray(body.systemInstruction.parts), "Invalid value at 'system_instruction.parts'");
    body.systemInstruction.parts.forEach((p, i) => {
      need(isObj(p) && typeof p.text === 'string', `Invalid value at 'system_instruction.parts[${i}]'`);
      noUnknown(p, PART, `system_instruction.parts[${i}]`);
    });
  }
  if (body.generationConfig !== undefined) {
    need(isObj(body.generationConfig), "Invalid value at 'generation_config'");
    noUnknown(body.generationConfig, GEN, 'generation_config');
    const tc = body.generationConfig.thinkingConfig;
    if (tc !== undefined) {
      need(isObj(tc), "Invalid value at 'generation_config.thinking_config'");
      noUnknown(tc, THINKING, 'generation_config.thinking_config');
    }
  }
  let prevRole = null;
  let prevCalls = 0;
  let lastUserTextIndex = -1;
  contents.forEach((c, i) => {
    const at = `contents[${i}]`;
    need(isObj(c), `Invalid value at '${at}'`);
    noUnknown(c, CONTENT, at);
    const role = c.role === undefined ? 'user' : c.role;
    need(role === 'user' || role === 'model', `Please use a valid role: user, model.`, `${at}.role`);
    need(role !== prevRole, `Please ensure that multiturn requests alternate between user and model. (${at} repeats role "${role}")`);
    need(Array.isArray(c.parts) && c.parts.length > 0, `* GenerateContentRequest.${at}.parts: contents.parts must not be empty.`);
    let calls = 0;
    let responses = 0;
    let hasText = false;
    c.parts.forEach((p, j) => {
      const pat = `${at}.parts[${j}]`;
      need(isObj(p), `Invalid value at '${pat}'`);
      noUnknown(p, PART, pat);
      const data = DATA.filter((k) => p[k] !== undefined);
      need(data.length === 1 || (data.length === 0 && typeof p.thoughtSignature === 'string'),
        `* GenerateContentRequest.${pat}.data: required oneof field 'data' must have one initialized field`);
      if (p.text !== undefined) {
        need(typeof p.text === 'string', `Invalid value at '${pat}.text'`);
        need(p.text !== '' || p.thoughtSignature !== undefined, `* GenerateContentRequest.${pat}: Unable to submit request because it has an empty text parameter.`);
        if (role === 'user' && p.thought !== true) hasText = true;
      }
      if (p.thoughtSignature !== undefined) {
        need(typeof p.thoughtSignature === 'string', `Invalid value at '${pat}.thought_signature'`);
        if (p.functionCall) {
          need(
            p.thoughtSignature === SKIP_SIGNATURE || p.thoughtSignature === signFunctionCall(p.functionCall.name),
            `Corrupted thought signature. (${pat})`,
          );
        }
      }
      if (p.functionCall !== undefined) {
        need(role === 'model', `Please ensure that function call turn comes immediately after a user turn or after a function response turn. (${pat} is in a user turn)`);
        need(isObj(p.functionCall), `Invalid value at '${pat}.function_call'`);
        noUnknown(p.functionCall, FCALL, `${pat}.function_call`);
        need(typeof p.functionCall.name === 'string' && p.functionCall.name !== '', `* GenerateContentRequest.${pat}.function_call.name: Name cannot be empty.`);
        if (p.functionCall.args !== undefined) need(isObj(p.functionCall.args), `Invalid value at '${pat}.function_call.args' (type.googleapis.com/google.protobuf.Struct)`);
        calls++;
      }
      if (p.functionResponse !== undefined) {
        need(role === 'user', `Please ensure that function response turn comes immediately after a function call turn. (${pat} is in a model turn)`);
        need(isObj(p.functionResponse), `Invalid value at '${pat}.function_response'`);
        noUnknown(p.functionResponse, FRESP, `${pat}.function_response`);
        need(typeof p.functionResponse.name === 'string' && p.functionResponse.name !== '', `* GenerateContentRequest.${pat}.function_response.name: Name cannot be empty.`);
        need(isObj(p.functionResponse.response), `Invalid value at '${pat}.function_response.response' (type.googleapis.com/google.protobuf.Struct)`);
        responses++;
      }
    });
    if (responses > 0) {
      need(prevCalls > 0, `Please ensure that function response turn comes immediately after a function call turn.`);
      need(responses === prevCalls, `Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.`);
    }
    if (hasText) lastUserTextIndex = i;
    prevCalls = calls;
    prevRole = role;
  });
  if (isGemini3(ctx.model)) {
    // Gemini 3 checks the signatures of the current turn: everything after the last user text.
    contents.slice(lastUserTextIndex + 1).forEach((c, k) => {
      (c.parts || []).forEach((p, j) => {
        need(
          !p.functionCall || typeof p.thoughtSignature === 'string',
          `Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. Additional data, function call \`default_api:${p.functionCall?.name}\` , position ${lastUserTextIndex + 1 + k}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details. (contents[${lastUserTextIndex + 1 + k}].parts[${j}])`,
        );
      });
    });
  }
  if (body.tools !== undefined) {
    need(Array.isArray(body.tools), "Invalid value at 'tools'");
    body.tools.forEach((t, i) => {
      need(isObj(t), `Invalid value at 'tools[${i}]'`);
      noUnknown(t, TOOL, `tools[${i}]`);
      (t.functionDeclarations || []).forEach((f, j) => {
        const at = `tools[${i}].function_declarations[${j}]`;
        need(isObj(f), `Invalid value at '${at}'`);
        noUnknown(f, FDECL, at);
        need(typeof f.name === 'string' && /^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(f.name), `* GenerateContentRequest.${at}.name: Invalid function name.`);
        need(!(f.parameters !== undefined && f.parametersJsonSchema !== undefined), `* GenerateContentRequest.${at}: parameters and parameters_json_schema are mutually exclusive`);
        if (f.parameters !== undefined) validateSchema(f.parameters, `${at}.parameters`);
      });
    });
  }
}

/** The text of a functionResponse.response: a string value under output/result/content/text, else its JSON. */
export function geminiResultText(response) {
  if (typeof response === 'string') return response;
  if (isObj(response)) {
    for (const k of ['output', 'result', 'content', 'text']) {
      const v = response[k];
      if (typeof v === 'string') return v;
      if (Array.isArray(v) && v.every((x) => isObj(x) && typeof x.text === 'string')) return v.map((x) => x.text).join('');
    }
  }
  return JSON.stringify(response);
}

function turn(body, ctx) {
  const contents = Array.isArray(body?.contents) ? body.contents : [];
  const partsOf = (c) => (Array.isArray(c?.parts) ? c.parts : []);
  const roleOf = (c) => c?.role ?? 'user';
  let userText = '';
  for (let i = contents.length - 1; i >= 0; i--) {
    if (roleOf(contents[i]) !== 'user') continue;
    const texts = partsOf(contents[i]).filter((p) => typeof p?.text === 'string' && p.thought !== true);
    if (texts.length === 0) continue;
    userText = texts.map((p) => p.text).join('');
    break;
  }
  const last = contents.at(-1);
  const results = roleOf(last) === 'user' ? partsOf(last).filter((p) => p?.functionResponse) : [];
  const tools = [];
  for (const t of Array.isArray(body?.tools) ? body.tools : []) {
    for (const f of Array.isArray(t?.functionDeclarations) ? t.functionDeclarations : []) if (f?.name) tools.push(f.name);
  }
  const fcc = body?.toolConfig?.functionCallingConfig;
  let toolChoice = 'auto';
  if (fcc?.mode === 'NONE') toolChoice = 'none';
  else if (fcc?.mode === 'ANY') toolChoice = Array.isArray(fcc.allowedFunctionNames) && fcc.allowedFunctionNames.length ? { name: fcc.allowedFunctionNames[0] } : 'required';
  const promptTexts = [];
  for (const p of partsOf(body?.systemInstruction)) if (typeof p?.text === 'string') promptTexts.push(p.text);
  for (const c of contents) {
    for (const p of partsOf(c)) {
      if (typeof p?.text === 'string' && p.thought !== true) promptTexts.push(p.text);
      else if (p?.functionResponse) promptTexts.push(geminiResultText(p.functionResponse.response));
    }
  }
  return {
    lastKind: results.length > 0 ? 'tool' : roleOf(last) === 'user' ? 'user' : 'other',
    userText,
    toolResults: results.map((p) => geminiResultText(p.functionResponse.response)),
    tools,
    toolChoice,
    thinking: body?.generationConfig?.thinkingConfig?.includeThoughts === true,
    signCalls: body?.generationConfig?.thinkingConfig?.includeThoughts === true || isGemini3(ctx?.model),
    promptTexts,
  };
}

const usageOf = (u, done = true) => {
  const o = { promptTokenCount: u.input };
  if (done) {
    o.candidatesTokenCount = u.output - (u.thoughts || 0);
    o.totalTokenCount = u.input + u.output;
    if (u.thoughts) o.thoughtsTokenCount = u.thoughts;
  } else o.totalTokenCount = u.input;
  o.promptTokensDetails = [{ modality: 'TEXT', tokenCount: u.input }];
  return o;
};

function callPart(plan, signCalls) {
  const p = { functionCall: { name: plan.tool.name, args: plan.tool.args } };
  if (signCalls) p.thoughtSignature = signFunctionCall(plan.tool.name);
  return p;
}

function response(ctx, plan) {
  const parts = [];
  if (plan.thinking) parts.push({ text: plan.thinking.text, thought: true });
  if (plan.text !== null) parts.push({ text: plan.text });
  if (plan.tool) parts.push(callPart(plan, ctx.turn.signCalls));
  return {
    candidates: [{ content: { parts, role: 'model' }, finishReason: 'STOP', index: 0 }],
    usageMetadata: usageOf(plan.usage),
    modelVersion: ctx.model,
    responseId: `mockresp${ctx.seq}`,
  };
}

function encoder(ctx, plan) {
  const sse = ctx.query.get('alt') === 'sse';
  let first = true;
  const chunk = (parts, { finish = false, usage = plan.usage } = {}) => {
    const cand = { content: { parts, role: 'model' }, index: 0 };
    if (finish) cand.finishReason = 'STOP';
    const o = {
      candidates: [cand],
      usageMetadata: usageOf(usage, finish),
      modelVersion: ctx.model,
      responseId: `mockresp${ctx.seq}`,
    };
    const json = JSON.stringify(o);
    if (sse) return `data: ${json}\r\n\r\n`;
    const s = (first ? '[' : ',\r\n') + json;
    first = false;
    return s;
  };
  return {
    headers: sse
      ? { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' }
      : { 'content-type': 'application/json; charset=UTF-8' },
    start: () => '',
    thinking: (t) => mockDeltas(t.text).map((d) => chunk([{ text: d, thought: true }])).join(''),
    textStart: () => '',
    text: (d) => chunk([{ text: d }]),
    textEnd: () => '',
    toolStart: (tool) => chunk([callPart({ tool }, ctx.turn.signCalls)]),
    toolRest: () => '',
    // The last chunk carries finishReason and the full usage, with an empty text part as the
    // real API often sends.
    finish: (usage) => chunk([{ text: '' }], { finish: true, usage }) + (sse ? '' : ']'),
  };
}

/** The reply text the mock gives for a Gemini body (null for a function call). */
export function geminiReplyText(body) {
  return planReply(turn(body)).text;
}

export const geminiApi = {
  name: 'gemini',
  auth(req, apiKey, query) {
    const h = req.headers['x-goog-api-key'];
    const key = typeof h === 'string' && h.trim() !== '' ? h.trim() : (query.get('key') || '').trim();
    if (key === '') {
      return [403, geminiError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.")];
    }
    if (apiKey !== null && key !== apiKey) {
      return [400, geminiError(400, 'API key not valid. Please pass a valid API key.', [
        { '@type': 'type.googleapis.com/google.rpc.ErrorInfo', reason: 'API_KEY_INVALID', domain: 'googleapis.com' },
      ])];
    }
    return null;
  },
  validate,
  turn,
  errorBody(status, message, _param, retryAfter) {
    const details = retryAfter !== undefined ? [{ '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: `${retryAfter}s` }] : undefined;
    return geminiError(status, message ?? `mock injected status ${status}`, details);
  },
  badJson: () => geminiError(400, 'Invalid JSON payload received. Unexpected token.'),
  response,
  encoder,
};
