/*
 * rules.h — the PATTERN section's rules: what each one matches, how many
 * bytes it needs before it decides, where it sends a client.
 *
 *   rules:
 *     - name: game            # optional; the route key in the log
 *       prefix: "GAME "       # these bytes (the text's UTF-8) ...
 *       offset: 0             # ... at this offset (default 0)
 *       backend: 7777
 *     - hex: "16 fe ff"       # the same, written in hex
 *       backend: "127.0.0.1:4433"
 *     - regex: "^HELLO [a-z]+\r\n"   # POSIX extended, over the first
 *       need: 32                     # `need` bytes
 *       backend: "[::1]:9000"
 */
#ifndef PMX_PATTERN_RULES_H
#define PMX_PATTERN_RULES_H

#include <locale.h>
#include <portmux/detector.h>
#include <regex.h>
#include <stddef.h>
#include <stdint.h>

#define RULE_BYTES_MAX 256   /* prefix / hex */
#define RULE_NAME_MAX 64
#define RULE_NEED_MAX (1 << 20) /* the largest probe_buffer */

enum rule_kind { RULE_BYTES, RULE_REGEX };

enum rule_verdict { RULE_NO, RULE_YES, RULE_WAIT };

struct rule {
	enum rule_kind kind;
	char name[RULE_NAME_MAX];
	uint8_t bytes[RULE_BYTES_MAX]; /* RULE_BYTES: at `offset` */
	size_t nbytes, offset;
	regex_t re;   /* RULE_REGEX: compiled in the C locale */
	int compiled; /* re holds something to regfree() */
	size_t need;  /* bytes before it decides (fewer when final) */
	char backend[PMX_BACKEND_MAX]; /* "address:port" */
};

/* Owns the rules (and their compiled expressions) and the C locale they
 * run in: rules_free() frees both. */
struct rules {
	struct rule *v;
	size_t n;
	locale_t c_locale;
};

/* The section (NULL: no rules) into *out. 0, or -1 with a located message
 * in err; *out must be freed with rules_free() either way. */
int rules_parse(const struct pmx_host *host, const struct pmx_node *section,
		struct rules *out, char *err, size_t errlen);
void rules_free(struct rules *r);

/* One rule on the bytes so far (`final`: no more will come). */
enum rule_verdict rule_check(const struct rules *all, const struct rule *r,
			     const uint8_t *p, size_t len, int final);

/*
 * A regex as written, with each \xHH made the byte it names, into out
 * (outlen bytes). 0, or -1 with why in err: \x00 (regcomp takes a C
 * string), a back-reference (\1..\9: exponential time on hostile bytes),
 * a short \x escape, or no room.
 */
int regex_translate(const char *in, char *out, size_t outlen, char *err,
		    size_t errlen);

#endif
