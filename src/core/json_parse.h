/*
 * json_parse.h — JSON text to a jansson tree, without jansson's per-byte lexer.
 *
 * jansson's json_loadb reads its input through a per-byte callback (about 190 instructions a
 * byte), which made decoding every upstream stream event the main cost of translated
 * streaming. or_json_loadb walks the buffer directly (plain string runs sixteen bytes at a
 * time) and builds the same tree with jansson's own constructors, so callers keep jansson's
 * ownership rules: the caller owns the returned reference and json_decref's it. Pure
 * function, any thread; the input is only read.
 */
#ifndef OR_CORE_JSON_PARSE_H
#define OR_CORE_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* A drop-in for json_loadb: it accepts exactly the texts jansson accepts and returns an equal
 * tree (json_equal), with the same integer/real split, \u handling, duplicate-key rule and
 * depth limit (JSON_PARSER_MAX_DEPTH). Flags handled here: JSON_REJECT_DUPLICATES,
 * JSON_DECODE_ANY, JSON_ALLOW_NUL; any other flag is passed to json_loadb itself. On error
 * returns NULL and, when err is not NULL, fills it (the text says what and err->position
 * where; numeric overflow says "too big" or "overflow", as jansson's does). */
json_t *or_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

#endif
