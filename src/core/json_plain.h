/*
 * json_plain.h — the string-byte scan shared by the JSON validator (json_scan.c) and the
 * parser (json_parse.c): how many bytes from s[i] on are plain string bytes (not a control
 * character, '"', '\\' or non-ASCII), the bytes a JSON string holds most of the time.
 *
 * SSE2 sixteen at a time where the target has it; else eight at a time in a 64-bit word.
 * Defining OR_JSON_PORTABLE before including this selects the word version anywhere, which the
 * tests do so that it keeps running on x86-64. Internal to core/; pure, any thread.
 */
#ifndef OR_CORE_JSON_PLAIN_H
#define OR_CORE_JSON_PLAIN_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__) && !defined(OR_JSON_PORTABLE)
#include <emmintrin.h>

/* Compared as signed bytes, everything below 0x20 and everything from 0x80 up is less than
 * 0x20: one comparison flags the control and the non-ASCII bytes. */
static inline size_t or_json_plain_run(const unsigned char *s, size_t i, size_t len)
{
    const __m128i space = _mm_set1_epi8(0x20), quote = _mm_set1_epi8('"'),
                  bslash = _mm_set1_epi8('\\');
    size_t start = i;
    for (; len - i >= 16; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i stop =
            _mm_or_si128(_mm_cmplt_epi8(x, space),
                         _mm_or_si128(_mm_cmpeq_epi8(x, quote), _mm_cmpeq_epi8(x, bslash)));
        unsigned mask = (unsigned)_mm_movemask_epi8(stop);
        if (mask)
            return i - start + (size_t)__builtin_ctz(mask);
    }
    return i - start;
}
#else
/* Stops at the first word holding a byte that is not plain (the caller walks it byte by
 * byte). Once every byte is below 0x80, a byte-wise subtraction leaves some high bit set
 * exactly when some byte is below the subtrahend, and x ^ c has a zero byte exactly where x
 * has c. */
static inline size_t or_json_plain_run(const unsigned char *s, size_t i, size_t len)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t start = i;
    for (; len - i >= 8; i += 8) {
        uint64_t x;
        memcpy(&x, s + i, 8);
        uint64_t q = x ^ (ones * '"'), b = x ^ (ones * '\\');
        if (((x | (x - ones * 0x20) | (q - ones) | (b - ones)) & highs) != 0)
            break;
    }
    return i - start;
}
#endif

#endif
