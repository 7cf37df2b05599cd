/*
 * logtext.c — text from a script, made fit for one log line. Compiled
 * into python.so and into portmux-python.
 */
#include "logtext.h"

void
log_clean(char *dst, size_t cap, const char *s, size_t n)
{
	size_t i;

	if (cap == 0)
		return;
	if (n >= cap) {
		n = cap - 1;
		/* Do not end inside a UTF-8 sequence. */
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		dst[i] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	dst[i] = '\0';
}
