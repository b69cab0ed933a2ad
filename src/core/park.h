/*
 * park.h — marking memory that is kept for reuse as off limits until it is taken again.
 *
 * Hot objects (a finished HTTP request, a relay, an upstream request) are recycled per worker
 * instead of freed: a use after "free" would then go unnoticed. Under AddressSanitizer a
 * parked object is poisoned, so such a use is still reported; otherwise these cost nothing.
 * Header only; any thread (the caller owns the memory).
 */
#ifndef OR_CORE_PARK_H
#define OR_CORE_PARK_H

#if defined(__SANITIZE_ADDRESS__)
#define OR_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define OR_ASAN 1
#endif
#endif

#ifdef OR_ASAN
#include <sanitizer/asan_interface.h>
#define OR_PARK(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define OR_UNPARK(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define OR_PARK(p, n) ((void)(p), (void)(n))
#define OR_UNPARK(p, n) ((void)(p), (void)(n))
#endif

#endif
