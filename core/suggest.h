/* suggest.h — "did you mean": the configured name nearest to a misspelt
 * one, for error messages. */
#ifndef PMX_SUGGEST_H
#define PMX_SUGGEST_H

#include <stddef.h>

/*
 * Of the n names at `base` (each a `const char *` at the start of an
 * element `stride` bytes long, NULLs skipped), the one nearest to `word`
 * — at most one edit away for a word of up to 4 characters, two up to 8,
 * three beyond, counting case-insensitive insertions, deletions,
 * substitutions and swaps of neighbours — or NULL when none is that near.
 * Ties go to the first.
 */
const char *suggest_nearest(const char *word, const void *base, size_t n,
			    size_t stride);

/* ", did you mean 'NAME'?" into buf (size len) when a name is near, else
 * the empty string: for the end of a message. Returns buf. */
const char *suggest_text(char *buf, size_t len, const char *word,
			 const void *base, size_t n, size_t stride);

#endif
