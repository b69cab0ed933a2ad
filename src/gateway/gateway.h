/*
 * gateway.h — the data plane: client API handlers (/v1/...).
 *
 * Handlers run on the request's worker thread and own the request until they end it. Each
 * request acquires one configuration snapshot for its whole life.
 */
#ifndef OR_GATEWAY_GATEWAY_H
#define OR_GATEWAY_GATEWAY_H

#include "gateway/app.h"

void or_gw_chat_completions(or_http_req *req, or_app *app, const or_route_params *p);
/* /v1/providers/{provider}/chat/completions: the model pinned to one provider. */
void or_gw_pinned_chat(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_messages(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_count_tokens(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_responses(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_responses_get(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_gemini(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_models(or_http_req *req, or_app *app, const or_route_params *p);
void or_gw_gemini_models(or_http_req *req, or_app *app, const or_route_params *p);

#endif
