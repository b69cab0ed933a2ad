// common.mjs — what the mock's four provider APIs share: the deterministic reply plan, token
// counting, deltas, signatures, the fault grammar. No I/O here; mock.mjs owns the server.
//
// The reply plan. Each API module turns its request body into a neutral "turn":
//   { lastKind: 'user' | 'tool' | 'other', userText, toolResults: [text…], tools: [name…],
//     toolChoice: 'auto' | 'none' | 'required' | {name}, thinking: bool, promptTexts: [text…] }
// and planReply(turn) decides what the mock answers:
//   * last message is a tool result        → text "tool said: <result texts joined by ' | '>"
//   * last message is a user message, the request has tools and tool_choice is not none
//                                          → one call of the first tool (or the forced one)
//                                            with arguments TOOL_ARGS = {"city":"Paris"}
//   * otherwise                            → text "mock reply to: <text of the last user message>"
//   * thinking asked for                   → first a thinking block with text
//                                            "mock thinking about: <the same subject>"
// Usage: input = whitespace-separated words over promptTexts (min 1); output = number of
// deltas of the text + of the thinking text (+ the deltas of "<name> <args>" for a tool call).
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';

export const now = () => performance.timeOrigin + performance.now();
export const MAX_BODY = 64 * 1024 * 1024;
export const BIG_DELTA = 4096;
export const DEFAULT_DRIP_TOKENS = 200;
export const TOOL_ARGS = Object.freeze({ city: 'Paris' });
export const SKIP_SIGNATURE = 'skip_thought_signature_validator';

/** Text of an OpenAI-style content: a string, or the concatenated `text` of array parts. */
export function contentText(content) {
  if (typeof content === 'string') return content;
  if (Array.isArray(content)) {
    return content.map((p) => (p && typeof p.text === 'string' ? p.text : '')).join('');
  }
  return '';
}

/** The text split into stream deltas (each delta but the first starts with its space). */
export function mockDeltas(text) {
  const out = [];
  let start = 0;
  for (let i = 1; i < text.length; i++) {
    if (text[i] === ' ' && text[i - 1] !== ' ') {
      out.push(text.slice(start, i));
      start = i;
    }
  }
  out.push(text.slice(start));
  return out.filter((d) => d.length > 0);
}

/** Whitespace-separated words over several texts, at least 1. */
export function countWords(texts) {
  let words = 0;
  for (const t0 of texts) {
    const t = typeof t0 === 'string' ? t0.trim() : '';
    if (t) words += t.split(/\s+/).length;
  }
  return Math.max(1, words);
}

/** The reply the mock gives for a turn (see the header). */
export function planReply(turn) {
  const plan = { thinking: null, text: null, tool: null, usage: null };
  let subject;
  if (turn.lastKind === 'tool') {
    subject = turn.toolResults.join(' | ');
    plan.text = `tool said: ${subject}`;
  } else if (turn.lastKind === 'user' && turn.tools.length > 0 && turn.toolChoice !== 'none') {
    const forced = typeof turn.toolChoice === 'object' && turn.toolChoice ? turn.toolChoice.name : null;
    const name = forced && turn.tools.includes(forced) ? forced : turn.tools[0];
    plan.tool = { name, args: { ...TOOL_ARGS }, argsJson: JSON.stringify(TOOL_ARGS) };
    subject = turn.userText;
  } else {
    subject = turn.userText;
    plan.text = `mock reply to: ${turn.userText}`;
  }
  if (turn.thinking) plan.thinking = { text: `mock thinking about: ${subject}` };
  const thoughts = plan.thinking ? mockDeltas(plan.thinking.text).length : 0;
  let output = thoughts;
  if (plan.text !== null) output += mockDeltas(plan.text).length;
  if (plan.tool) output += mockDeltas(`${plan.tool.name} ${plan.tool.argsJson}`).length;
  plan.usage = { input: countWords(turn.promptTexts), output, thoughts };
  return plan;
}

/** Splits tool-call arguments JSON into a few stream pieces (concatenation is the input). */
export function argPieces(json) {
  if (json.length < 4) return [json];
  const a = Math.floor(json.length / 3);
  const b = Math.floor((2 * json.length) / 3);
  return [json.slice(0, a), json.slice(a, b), json.slice(b)];
}

const digest = (s) => createHash('sha256').update(s).digest('base64');

/** The Anthropic thinking-block signature the mock issues (and checks on the way back). */
export const signThinking = (text) => `mocksig_${digest(`thinking:${text}`)}`;
/** The Gemini thoughtSignature the mock puts on a functionCall part. */
export const signFunctionCall = (name) => `mocksig_${digest(`fc:${name}`)}`;
/** Responses reasoning encrypted_content: opaque to clients, checked when sent back. */
export const encryptReasoning = (text) =>
  `mockenc_${Buffer.from(JSON.stringify({ v: 1, text })).toString('base64')}`;
export function decryptReasoning(s) {
  if (typeof s !== 'string' || !s.startsWith('mockenc_')) return null;
  try {
    const o = JSON.parse(Buffer.from(s.slice(8), 'base64').toString('utf8'));
    return o && o.v === 1 && typeof o.text === 'string' ? o.text : null;
  } catch {
    return null;
  }
}

/** Parses a fault spec (model name or x-mock-fault header). */
export function parseFault(spec) {
  const f = {};
  if (typeof spec !== 'string' || spec === '') return f;
  let m;
  if ((m = /slow-first-byte-(\d+)/.exec(spec))) f.slowFirstByteMs = Number(m[1]);
  if (/(?:^|-)one-write(?:$|-)/.test(spec)) f.oneWrite = true;
  if ((m = /status-(\d{3})(?:-retry-(\d+))?/.exec(spec))) {
    f.status = Number(m[1]);
    if (m[2] !== undefined) f.retryAfter = Number(m[2]);
  } else if (/(?:^|-)hang(?:$|-)/.test(spec)) {
    f.hang = true;
  } else if ((m = /reset-after-(\d+)/.exec(spec))) {
    f.reset = true;
    f.resetAfter = Number(m[1]);
  } else if (/reset-mid-stream/.test(spec)) {
    f.reset = true;
  } else if ((m = /big-stream-(\d+)/.exec(spec))) {
    f.bigMB = Number(m[1]);
    if (/(?:^|-)numbered(?:$|-)/.test(spec)) f.numbered = true;
  } else if ((m = /drip-(\d+)(?:-n(\d+))?/.exec(spec))) {
    f.dripMs = Number(m[1]);
    f.dripCount = m[2] !== undefined ? Number(m[2]) : DEFAULT_DRIP_TOKENS;
  }
  return f;
}

const bigCache = new Map();
/** n bytes of ASCII filler. */
export function bigContent(n) {
  let s = bigCache.get(n);
  if (s === undefined) {
    const unit = 'abcdefghijklmnopqrstuvwxyz012345';
    s = unit.repeat(Math.ceil(n / unit.length)).slice(0, n);
    if (n <= BIG_DELTA) bigCache.set(n, s);
  }
  return s;
}

const NUMBERED_UNIT = 8;
/**
 * Bytes [offset, offset + n) of the endless text "0000000.0000001.0000002." (8-byte units, the
 * counter wraps at 10^7): filler in which a lost, repeated or swapped piece of any size shows.
 */
export function numberedContent(offset, n) {
  if (n <= 0) return '';
  const first = Math.floor(offset / NUMBERED_UNIT);
  const last = Math.floor((offset + n - 1) / NUMBERED_UNIT);
  const units = [];
  for (let i = first; i <= last; i++) units.push(`${String(i % 1e7).padStart(7, '0')}.`);
  const skip = offset - first * NUMBERED_UNIT;
  return units.join('').slice(skip, skip + n);
}

export const isObj = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);

/** A validation failure: thrown by the API validators, caught by the server. */
export class Invalid extends Error {
  constructor(message, param = null) {
    super(message);
    this.param = param;
  }
}
export function need(cond, message, param) {
  if (!cond) throw new Invalid(message, param);
}

/** Keys of obj not in allowed (a Set). */
export const unknownKeys = (obj, allowed) => Object.keys(obj).filter((k) => !allowed.has(k));
