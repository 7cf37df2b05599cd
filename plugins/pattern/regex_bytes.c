/*
 * regex_bytes.c — \xHH in a PATTERN regex.
 *
 * POSIX regular expressions have no way to write a byte by its value, and
 * YAML's "\x80" is the character U+0080 (two bytes in UTF-8), so a rule
 * writes binary bytes as \xHH and we put the byte itself in the pattern
 * handed to regcomp(), which runs in the C locale: one byte, one
 * character. Outside a bracket expression a byte that is special in an
 * ERE is escaped (\x2e is a dot, not any character); inside one it is
 * put as it is, so [\x00-\x1f] is a range of bytes ([\x01-\x1f]: NUL
 * cannot be written) and \x5d or \x2d there mean what ] and - mean.
 */
#include <stdio.h>
#include <string.h>

#include "rules.h"

static int
hex_value(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Append one byte; -1 when out is full. */
static int
put(char *out, size_t outlen, size_t *o, char c)
{
	if (*o + 1 >= outlen)
		return -1;
	out[(*o)++] = c;
	return 0;
}

/* Length of a "[:class:]", "[.x.]" or "[=x=]" at in (inside brackets),
 * or 0. */
static size_t
bracket_term(const char *in)
{
	const char *end;
	char close[3] = {0, ']', 0};

	if (in[0] != '[' || (in[1] != ':' && in[1] != '.' && in[1] != '='))
		return 0;
	close[0] = in[1];
	end = strstr(in + 2, close);
	return end ? (size_t)(end + 2 - in) : 0;
}

int
regex_translate(const char *in, char *out, size_t outlen, char *err,
		size_t errlen)
{
	size_t o = 0, i = 0;
	int bracket = 0; /* inside [...]: 1 just after '[' (or "[^") */

	while (in[i]) {
		size_t term = bracket ? bracket_term(in + i) : 0;
		int hi, lo;

		if (term > 0) { /* copied whole: its ']' ends nothing */
			for (size_t k = 0; k < term; k++)
				if (put(out, outlen, &o, in[i + k]) < 0)
					goto full;
			i += term;
			bracket = 2;
			continue;
		}
		if (in[i] != '\\') {
			if (!bracket && in[i] == '[') {
				bracket = 1;
				if (in[i + 1] == '^') {
					if (put(out, outlen, &o, in[i++]) < 0)
						goto full;
				}
			} else if (bracket == 2 && in[i] == ']') {
				bracket = 0;
			} else if (bracket) {
				bracket = 2; /* a leading ']' is a member */
			}
			if (put(out, outlen, &o, in[i++]) < 0)
				goto full;
			continue;
		}
		/* A backslash: in brackets an ordinary character, unless it
		 * starts \xHH. */
		if (in[i + 1] == 'x') {
			hi = hex_value(in[i + 2]);
			lo = hi < 0 ? -1 : hex_value(in[i + 3]);
			if (lo < 0) {
				snprintf(err, errlen,
					 "\\x needs two hex digits (at "
					 "character %zu)",
					 i + 1);
				return -1;
			}
			if (hi == 0 && lo == 0) {
				snprintf(err, errlen,
					 "\\x00 cannot be in a regex (use a "
					 "hex rule for NUL bytes)");
				return -1;
			}
			char b = (char)(hi << 4 | lo);
			if (!bracket && strchr(".[]\\()*+?{}|^$", b) &&
			    put(out, outlen, &o, '\\') < 0)
				goto full;
			if (put(out, outlen, &o, b) < 0)
				goto full;
			if (bracket)
				bracket = 2;
			i += 4;
			continue;
		}
		if (bracket) {
			bracket = 2;
			if (put(out, outlen, &o, in[i++]) < 0)
				goto full;
			continue;
		}
		if (in[i + 1] >= '1' && in[i + 1] <= '9') {
			snprintf(err, errlen,
				 "back-references (\\%c) are not supported: "
				 "they can take exponential time",
				 in[i + 1]);
			return -1;
		}
		if (in[i + 1] == '\0') {
			snprintf(err, errlen, "the regex ends with a lone \\");
			return -1;
		}
		if (put(out, outlen, &o, in[i]) < 0 ||
		    put(out, outlen, &o, in[i + 1]) < 0)
			goto full;
		i += 2;
	}
	out[o] = '\0';
	return 0;
full:
	snprintf(err, errlen, "the regex is too long");
	return -1;
}
