/* or_json_loadb against jansson's json_loadb: every case is parsed by both (and by the portable
 * string scanner, compiled in here renamed, since the library builds the SSE2 one on x86-64)
 * and must be accepted by all or rejected by all, with json_equal trees; then the branches
 * whose result jansson alone would not show (types, texts, limits) are checked directly. */
#define OR_JSON_PORTABLE 1
#define or_json_loadb or_json_loadb_portable
#include "../../src/core/json_parse.c"
#undef or_json_loadb

#include "check.h"

json_t *or_json_loadb(const char *buf, size_t len, size_t flags, json_error_t *err);

static const size_t flag_sets[] = {0, JSON_DECODE_ANY, JSON_DECODE_ANY | JSON_ALLOW_NUL,
                                   JSON_REJECT_DUPLICATES | JSON_DECODE_ANY};

/* 1 when every parser accepts with equal trees, 0 when every one rejects, -1 on disagreement. */
static int agree_n(const char *s, size_t n, size_t flags)
{
    json_error_t e1, e2, e3;
    json_t *a = json_loadb(s, n, flags, &e1);
    json_t *b = or_json_loadb(s, n, flags, &e2);
    json_t *c = or_json_loadb_portable(s, n, flags, &e3);
    int r = (!a == !b && !a == !c) ? (a != NULL) : -1;
    if (r == 1 && (!json_equal(a, b) || !json_equal(a, c)))
        r = -1;
    if (r < 0)
        fprintf(stderr, "disagree (flags %zu, jansson %s): %.*s\n", flags, a ? "accepts" : e1.text,
                (int)(n > 200 ? 200 : n), s);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    return r;
}

/* The case under every flag set; returns what jansson said with flags (for expectations). */
static int same(const char *s, size_t flags)
{
    for (size_t k = 0; k < sizeof flag_sets / sizeof flag_sets[0]; k++)
        CHECK(agree_n(s, strlen(s), flag_sets[k]) >= 0);
    return agree_n(s, strlen(s), flags);
}

static void differential(void)
{
    static const char *const ok[] = {
        "{}",
        "[]",
        " { } ",
        "\t[\r\n]\n",
        "{\"a\":1}",
        "[1,2,3]",
        "[true,false,null]",
        "{\"a\":{\"b\":[{\"c\":\"d\"}]},\"e\":[]}",
        "[\"\"]",
        "[\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"]",
        "[\"\\u0041\\u00e9\\u20ac\\ud83d\\ude00\"]",
        "[\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"]",
        "[0,-0,1,-1,10,1.5,-1.5,1e5,1E5,1e+5,1e-5,-0.0,0.5e-10,123456789012345678]",
        "[9223372036854775807,-9223372036854775808]",
        "[1e-400]",
        "[1.7976931348623157e308]",
        "{\"a\":1,\"b\":2,\"a\":3}",
        "[[[[[]]]],{}]",
        "[{},{\"\":\"\"}]",
        "{\"\\u0061b\":\"x\\ny\",\"k\":[\"\\ud800\\udc00\"]}",
    };
    for (size_t k = 0; k < sizeof ok / sizeof ok[0]; k++)
        CHECK(same(ok[k], 0) == 1);
    static const char *const bad[] = {
        "",
        " ",
        "[",
        "]",
        "{",
        "}",
        "[1,]",
        "[,1]",
        "{\"a\":1,}",
        "{\"a\"}",
        "{\"a\" 1}",
        "{1:2}",
        "[1 2]",
        "[01]",
        "[-01]",
        "[1.]",
        "[.5]",
        "[1e]",
        "[1e+]",
        "[-]",
        "[+1]",
        "[0x10]",
        "[tru]",
        "[truex]",
        "[nul]",
        "[True]",
        "[NaN]",
        "[Infinity]",
        "[\"abc]",
        "[\"\\x\"]",
        "[\"\\u12\"]",
        "[\"\\u12g4\"]",
        "[\"\\ud800\"]",
        "[\"\\udc00\"]",
        "[\"\\ud800\\u0041\"]",
        "[\"\\ud800\\n\"]",
        "[\"\\ud800\\ud800\"]",
        "[\"\\ud800\\u\"]",
        "[\"a\tb\"]",
        "[\"a\nb\"]",
        "[\"\x7f\x1f\"]",
        "[\"\xc0\xaf\"]",
        "[\"\xc1\xbf\"]",
        "[\"\xe0\x80\xaf\"]",
        "[\"\xed\xa0\x80\"]",
        "[\"\xf4\x90\x80\x80\"]",
        "[\"\xf5\x80\x80\x80\"]",
        "[\"\x80\"]",
        "[\"\xc3\"]",
        "[\"\xe2\x82\"]",
        "[\"\xe2\x82\x41\"]",
        "[1]x",
        "[1] [2]",
        "{}{}",
        "[1e400]",
        "[-1e400]",
        "[9223372036854775808]",
        "[-9223372036854775809]",
        "[99999999999999999999999]",
        "\xef\xbb\xbf[]",
        "[\"\\",
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        CHECK(same(bad[k], 0) == 0);
    /* Scalars at the top only with JSON_DECODE_ANY. */
    CHECK(same("1", 0) == 0 && same("1", JSON_DECODE_ANY) == 1);
    CHECK(same(" \"s\" ", JSON_DECODE_ANY) == 1 && same("null", JSON_DECODE_ANY) == 1);
    CHECK(same("-5e3", JSON_DECODE_ANY) == 1 && same("1 2", JSON_DECODE_ANY) == 0);
    /* A raw NUL byte is never accepted, inside a string or out. */
    CHECK(agree_n("[\"a\0b\"]", 7, JSON_DECODE_ANY | JSON_ALLOW_NUL) == 0);
    CHECK(agree_n("[1]\0", 4, 0) == 0);
    /* ... except one right after a number or literal, which jansson's lexer drops when it puts
     * back its look-ahead byte; accepted the same way here. */
    CHECK(agree_n("[1\0]", 4, 0) == 1 && agree_n("[true\0,2.5\0]", 12, 0) == 1);
    CHECK(agree_n("7\0", 2, JSON_DECODE_ANY) == 1 && agree_n("[1\0\0]", 5, 0) == 0);
    CHECK(agree_n("[\"a\"\0]", 5, 0) == 0 && agree_n("[[]\0]", 5, 0) == 0);
}

/* Every special byte at every offset of strings up to 48 bytes long, so each one lands at each
 * place of a sixteen- (or eight-) byte block and in the byte-wise tail. */
static void block_edges(void)
{
    static const char *const specials[] = {"\"",   "\\n",  "\\u00e9",        "\xc3\xa9",
                                           "\x01", "\xff", "\\ud83d\\ude00", "\xf0\x9f\x98\x80",
                                           "\\"};
    char doc[128];
    for (size_t sp = 0; sp < sizeof specials / sizeof specials[0]; sp++) {
        for (size_t n = 0; n < 48; n++) {
            for (size_t at = 0; at <= n; at++) {
                size_t o = 0;
                doc[o++] = '[';
                doc[o++] = '"';
                for (size_t k = 0; k < n; k++) {
                    if (k == at) {
                        memcpy(doc + o, specials[sp], strlen(specials[sp]));
                        o += strlen(specials[sp]);
                    }
                    doc[o++] = (char)('a' + k % 26);
                }
                doc[o++] = '"';
                doc[o++] = ']';
                CHECK(agree_n(doc, o, 0) >= 0);
                CHECK(agree_n(doc, o - 2, 0) == 0); /* cut before the closing quote */
            }
        }
    }
}

static void types_and_values(void)
{
    const char *nums = "[1,1.0,1e2,-0,-9223372036854775808,9223372036854775807,-2.5]";
    json_t *j = or_json_loadb(nums, strlen(nums), 0, NULL);
    CHECK(j && json_array_size(j) == 7);
    CHECK(json_is_integer(json_array_get(j, 0)) && json_integer_value(json_array_get(j, 0)) == 1);
    CHECK(json_is_real(json_array_get(j, 1)) && json_real_value(json_array_get(j, 1)) == 1.0);
    CHECK(json_is_real(json_array_get(j, 2)) && json_real_value(json_array_get(j, 2)) == 100.0);
    CHECK(json_is_integer(json_array_get(j, 3)) && json_integer_value(json_array_get(j, 3)) == 0);
    CHECK(json_integer_value(json_array_get(j, 4)) == LLONG_MIN);
    CHECK(json_integer_value(json_array_get(j, 5)) == LLONG_MAX);
    CHECK(json_real_value(json_array_get(j, 6)) == -2.5);
    json_decref(j);

    j = or_json_loadb("{\"s\":\"\\ud83d\\ude00\\u00e9\\t\"}", 28, 0, NULL);
    CHECK_STR(json_string_value(json_object_get(j, "s")), "\xf0\x9f\x98\x80\xc3\xa9\t");
    json_decref(j);

    /* Last duplicate wins, unless duplicates are refused. */
    const char *dup = "{\"a\":1,\"a\":{\"b\":2}}";
    j = or_json_loadb(dup, strlen(dup), 0, NULL);
    CHECK(j && json_object_size(j) == 1 && json_is_object(json_object_get(j, "a")));
    json_decref(j);
    json_error_t err;
    CHECK(!or_json_loadb(dup, strlen(dup), JSON_REJECT_DUPLICATES, &err));
    CHECK(strstr(err.text, "duplicate") && json_error_code(&err) == json_error_duplicate_key);
    /* An escaped key is the same key. */
    CHECK(!or_json_loadb("{\"a\":1,\"\\u0061\":2}", 18, JSON_REJECT_DUPLICATES, NULL));
}

static void nul_bytes(void)
{
    json_error_t err;
    const char *s = "[\"a\\u0000b\"]";
    CHECK(!or_json_loadb(s, strlen(s), 0, &err));
    CHECK(json_error_code(&err) == json_error_null_character);
    json_t *j = or_json_loadb(s, strlen(s), JSON_ALLOW_NUL, NULL);
    CHECK(j && json_string_length(json_array_get(j, 0)) == 3);
    CHECK(j && memcmp(json_string_value(json_array_get(j, 0)), "a\0b", 3) == 0);
    json_decref(j);
    /* Never in a key, as in jansson. */
    s = "{\"a\\u0000\":1}";
    CHECK(!or_json_loadb(s, strlen(s), JSON_ALLOW_NUL, &err));
    CHECK(json_error_code(&err) == json_error_null_byte_in_key);
}

static void numbers_overflow(void)
{
    static const char *const cases[] = {"[9223372036854775808]", "[-9223372036854775809]",
                                        "[123456789012345678901234567890]", "[1e400]",
                                        "[-1.5e999]"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        json_error_t err;
        CHECK(!or_json_loadb(cases[k], strlen(cases[k]), 0, &err));
        CHECK(strstr(err.text, "too big") || strstr(err.text, "overflow"));
        CHECK(json_error_code(&err) == json_error_numeric_overflow);
    }
    /* A number longer than the inline copy still goes to strtod whole. */
    char big[200] = "[0.";
    memset(big + 3, '1', 150);
    strcpy(big + 153, "e-2]");
    CHECK(agree_n(big, strlen(big), 0) == 1);
}

static void nest(char *doc, size_t n, const char *inner, size_t *len)
{
    size_t o = 0, il = strlen(inner);
    for (size_t k = 0; k < n; k++)
        doc[o++] = '[';
    memcpy(doc + o, inner, il);
    o += il;
    for (size_t k = 0; k < n; k++)
        doc[o++] = ']';
    *len = o;
}

static void depth(void)
{
    static char doc[2 * 2100 + 32];
    size_t n;
    json_error_t err;
    nest(doc, 2048, "", &n); /* the innermost empty array is at depth 2048 */
    CHECK(agree_n(doc, n, 0) == 1);
    nest(doc, 2049, "", &n);
    CHECK(agree_n(doc, n, 0) == 0);
    CHECK(!or_json_loadb(doc, n, 0, &err) && json_error_code(&err) == json_error_stack_overflow);
    nest(doc, 2047, "1", &n); /* a scalar counts as a level too */
    CHECK(agree_n(doc, n, 0) == 1);
    nest(doc, 2048, "1", &n);
    CHECK(agree_n(doc, n, 0) == 0);
    /* Objects inside arrays, past the inline stack. */
    size_t o = 0;
    for (int k = 0; k < 300; k++)
        o += (size_t)sprintf(doc + o, "{\"k\":[");
    for (int k = 0; k < 300; k++)
        o += (size_t)sprintf(doc + o, "]}");
    CHECK(agree_n(doc, o, 0) == 1);
}

/* Escaped strings in a text longer than the inline scratch: a decoded key, then a decoded value
 * after it, in the allocated scratch. */
static void long_escaped(void)
{
    static char doc[4096];
    size_t o = 0;
    o += (size_t)sprintf(doc + o, "{\"\\u006b%0400d\":\"", 0);
    for (int k = 0; k < 100; k++)
        o += (size_t)sprintf(doc + o, "x\\n\\u00e9");
    o += (size_t)sprintf(doc + o, "\",\"\\u006b\":{\"\\u006c\":[\"\\t%0600d\"]}}", 0);
    CHECK(agree_n(doc, o, 0) == 1);
    CHECK(agree_n(doc, o, JSON_REJECT_DUPLICATES) == 1);
}

static void errors_and_flags(void)
{
    json_error_t err;
    CHECK(!or_json_loadb("[1,]", 4, 0, &err));
    CHECK(err.position == 3 && err.line == 1 && err.text[0] != '\0');
    CHECK(!or_json_loadb("{\n \"a\" 1}", 9, 0, &err));
    CHECK(err.line == 2 && err.column == 5);
    CHECK(!or_json_loadb("[1,", 3, 0, NULL)); /* err may be NULL */
    CHECK(!or_json_loadb(NULL, 0, 0, &err));
    CHECK(json_error_code(&err) == json_error_invalid_argument);
    CHECK(!or_json_loadb("7", 1, 0, &err) && strstr(err.text, "expected"));
    /* A flag this parser leaves to jansson still works. */
    json_t *j = or_json_loadb("[1] trailing", 12, JSON_DISABLE_EOF_CHECK, NULL);
    CHECK(j && json_array_size(j) == 1);
    json_decref(j);
    j = or_json_loadb("[1]", 3, 0, &err);
    CHECK(j && err.text[0] == '\0' && err.line == -1);
    json_decref(j);
}

int main(void)
{
    differential();
    block_edges();
    types_and_values();
    nul_bytes();
    numbers_overflow();
    depth();
    long_escaped();
    errors_and_flags();
    return check_done();
}
