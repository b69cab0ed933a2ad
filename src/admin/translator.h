/*
 * translator.h — the dashboard's translator API: detect a body's format, translate a request,
 * a response or an SSE transcript between any two formats, and send a body through the
 * gateway as if a client of its format had posted it.
 *
 * Handlers (or_route_fn), worker thread:
 *   POST /api/translator/detect    {body}                                     → {format}
 *   POST /api/translator/translate {sourceFormat, targetFormat, body, direction?}
 *        direction "request" (default) | "response" | "stream" (body: SSE text) → {result, ir}
 *   POST /api/translator/send      {model, body, format?}                      → the answer
 */
#ifndef OR_ADMIN_TRANSLATOR_H
#define OR_ADMIN_TRANSLATOR_H

#include "gateway/app.h"
#include "provider/provider.h"

#include <jansson.h>

/* The format a body looks like (the original's heuristics, §3 of the research notes). */
or_format or_translator_detect(const json_t *body);

void or_translator_detect_api(or_http_req *req, or_app *app, const or_route_params *p);
void or_translator_translate_api(or_http_req *req, or_app *app, const or_route_params *p);
void or_translator_send_api(or_http_req *req, or_app *app, const or_route_params *p);

#endif
