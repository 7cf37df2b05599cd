/* suggest.c — the nearest name to a misspelt one (suggest.h). */
#include "suggest.h"

#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SUGGEST_MAX_LEN 64 /* longer words get no suggestion */

static size_t
min3(size_t a, size_t b, size_t c)
{
	size_t m = a < b ? a : b;

	return m < c ? m : c;
}

/* Optimal string alignment distance, case-insensitive; SIZE_MAX when a
 * word is too long to be worth it. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t d[SUGGEST_MAX_LEN + 1][SUGGEST_MAX_LEN + 1];

	if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
		return SIZE_MAX;
	for (size_t i = 0; i <= la; i++)
		d[i][0] = i;
	for (size_t j = 0; j <= lb; j++)
		d[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		for (size_t j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]);
			int cb = tolower((unsigned char)b[j - 1]);
			size_t cost = ca != cb;

			d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1,
				       d[i - 1][j - 1] + cost);
			if (i > 1 && j > 1 &&
			    ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb &&
			    d[i - 2][j - 2] + 1 < d[i][j])
				d[i][j] = d[i - 2][j - 2] + 1;
		}
	}
	return d[la][lb];
}

const char *
suggest_nearest(const char *word, const void *base, size_t n, size_t stride)
{
	size_t len = strlen(word);
	size_t most = len <= 4 ? 1 : len <= 8 ? 2 : 3;
	size_t best_d = SIZE_MAX;
	const char *best = NULL;

	for (size_t i = 0; i < n; i++) {
		const char *name = *(const char *const *)(const void *)((
			const char *)base + i * stride);
		size_t dist;

		if (name == NULL)
			continue;
		dist = distance(word, name);
		if (dist <= most && dist < best_d) {
			best_d = dist;
			best = name;
		}
	}
	return best;
}

const char *
suggest_text(char *buf, size_t len, const char *word, const void *base,
	     size_t n, size_t stride)
{
	const char *near = suggest_nearest(word, base, n, stride);

	if (len == 0)
		return buf;
	if (near != NULL)
		snprintf(buf, len, ", did you mean '%s'?", near);
	else
		buf[0] = '\0';
	return buf;
}
