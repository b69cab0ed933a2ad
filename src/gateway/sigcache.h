/*
 * sigcache.h — Gemini thought signatures kept by tool-call id, so clients of formats that
 * cannot carry them (OpenAI chat, Anthropic, Responses) still send Gemini each call's real
 * signature on the next turn instead of a placeholder.
 *
 * Gemini 3 rejects a history whose function calls lost their thoughtSignature, and the
 * original's most reported translation bug was losing them on parallel tool calls. The relay
 * stores every signature a Gemini provider returns (keyed by the call id the client sees) and
 * fills them back into the IR before building the next Gemini request. Entries live an hour;
 * the cache is bounded. Process-wide, thread-safe.
 */
#ifndef OR_GATEWAY_SIGCACHE_H
#define OR_GATEWAY_SIGCACHE_H

#include <jansson.h>

void or_sigcache_put(const char *call_id, const char *signature);
/* Fills `signature` on every tool_call part of the IR request that has none but is cached. */
void or_sigcache_fill(json_t *ir);
/* Stores the signatures of the tool_call parts of an IR response. */
void or_sigcache_take_response(const json_t *ir);
void or_sigcache_clear(void); /* shutdown and tests */

#endif
