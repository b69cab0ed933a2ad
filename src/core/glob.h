/*
 * glob.h — '*' and '?' wildcard matching over whole strings (case-sensitive), the one matcher
 * behind model wildcard aliases and API keys' allowedModels. Pure; any thread.
 */
#ifndef OR_CORE_GLOB_H
#define OR_CORE_GLOB_H

#include <stdbool.h>

/* Iterative, one backtrack point (the last '*'): O(|pattern|·|name|) at worst, so a hostile
 * pattern cannot blow up. */
bool or_glob_match(const char *pattern, const char *name);

#endif
