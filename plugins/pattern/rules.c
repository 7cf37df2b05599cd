/* rules.c — the PATTERN section into rules, and one rule on bytes. */
#include "rules.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const rule_keys[] = {"name", "prefix", "hex", "offset",
					"regex", "need", "backend"};
#define NKEYS (sizeof(rule_keys) / sizeof(rule_keys[0]))

/* Edit distance of a and b (case-insensitive), a swap of neighbours
 * counting as one edit. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), rows[3][32];

	if (la >= 31 || lb >= 31)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t *two = rows[(i + 1) % 3], *prev = rows[(i + 2) % 3];
		size_t *cur = rows[i % 3];
		int ai = tolower((unsigned char)a[i - 1]);

		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			int bj = tolower((unsigned char)b[j - 1]);
			size_t best = prev[j - 1] + (ai != bj);

			if (prev[j] + 1 < best)
				best = prev[j] + 1;
			if (cur[j - 1] + 1 < best)
				best = cur[j - 1] + 1;
			if (i > 1 && j > 1 &&
			    ai == tolower((unsigned char)b[j - 2]) &&
			    bj == tolower((unsigned char)a[i - 2]) &&
			    two[j - 2] + 1 < best)
				best = two[j - 2] + 1;
			cur[j] = best;
		}
	}
	return rows[la % 3][lb];
}

/* ", did you mean 'need'?" for a misspelt rule key, else "". */
static const char *
near_key(const char *word, char *buf, size_t len)
{
	size_t best = 3;
	const char *pick = NULL;

	for (size_t k = 0; k < NKEYS; k++) {
		size_t d = distance(word, rule_keys[k]);

		if (d < best || (d == best && d <= strlen(word) / 3)) {
			best = d;
			pick = rule_keys[k];
		}
	}
	buf[0] = '\0';
	if (pick != NULL)
		snprintf(buf, len, ", did you mean '%s'?", pick);
	return buf;
}

/* "16 03 01", "16:03:01", "160301" into bytes. */
static int
parse_hex(const struct pmx_host *h, const struct pmx_node *v,
	  struct rule *r, char *err, size_t errlen)
{
	const char *s;
	int half = -1;

	if (h->node_string(v, &s, err, errlen) < 0)
		return -1;
	for (size_t i = 0; s[i]; i++) {
		int d = isxdigit((unsigned char)s[i])
				? (isdigit((unsigned char)s[i])
					   ? s[i] - '0'
					   : tolower((unsigned char)s[i]) -
						     'a' + 10)
				: -1;

		if (d < 0 && (s[i] == ' ' || s[i] == ':') && half < 0)
			continue;
		if (d < 0)
			return h->node_error(v, err, errlen,
					     "hex: '%c' (character %zu) is not "
					     "a hex digit, or splits a byte "
					     "(write bytes as \"16 03 01\")",
					     s[i], i + 1);
		if (half < 0) {
			half = d;
			continue;
		}
		if (r->nbytes == RULE_BYTES_MAX)
			return h->node_error(v, err, errlen,
					     "hex: more than %d bytes",
					     RULE_BYTES_MAX);
		r->bytes[r->nbytes++] = (uint8_t)(half << 4 | d);
		half = -1;
	}
	if (half >= 0)
		return h->node_error(v, err, errlen,
				     "hex: an odd number of hex digits");
	if (r->nbytes == 0)
		return h->node_error(v, err, errlen, "hex: no bytes");
	return 0;
}

static int
parse_prefix(const struct pmx_host *h, const struct pmx_node *v,
	     struct rule *r, char *err, size_t errlen)
{
	const char *s;

	if (h->node_string(v, &s, err, errlen) < 0)
		return -1;
	r->nbytes = strlen(s);
	if (r->nbytes == 0)
		return h->node_error(v, err, errlen, "prefix: empty");
	if (r->nbytes > RULE_BYTES_MAX)
		return h->node_error(v, err, errlen,
				     "prefix: more than %d bytes",
				     RULE_BYTES_MAX);
	memcpy(r->bytes, s, r->nbytes);
	return 0;
}

static int
parse_regex(const struct pmx_host *h, const struct pmx_node *v,
	    struct rules *all, struct rule *r, char *err, size_t errlen)
{
	const char *s;
	char pattern[4096], msg[256];
	locale_t was;
	int rc;

	if (h->node_string(v, &s, err, errlen) < 0)
		return -1;
	if (s[0] == '\0')
		return h->node_error(v, err, errlen, "regex: empty");
	if (regex_translate(s, pattern, sizeof(pattern), msg, sizeof(msg)) < 0)
		return h->node_error(v, err, errlen, "regex: %s", msg);
	/* Compiled in the C locale, whatever the process's (an embedded
	 * Python may have set LC_CTYPE): bytes, not UTF-8 characters. */
	was = uselocale(all->c_locale);
	rc = regcomp(&r->re, pattern, REG_EXTENDED | REG_NOSUB);
	uselocale(was);
	if (rc != 0) {
		regerror(rc, &r->re, msg, sizeof(msg));
		return h->node_error(v, err, errlen, "regex: %s", msg);
	}
	r->compiled = 1;
	r->kind = RULE_REGEX;
	return 0;
}

/* 7777, "127.0.0.1:7777", "[::1]:7777", "localhost:7777": addresses only
 * (a name would be resolved on the event loop). */
static int
parse_backend(const struct pmx_host *h, const struct pmx_node *v,
	      struct rule *r, char *err, size_t errlen)
{
	const char *s, *colon;
	char host[64], *end;
	unsigned char buf[16];
	long port;
	size_t n;

	if (h->node_string(v, &s, err, errlen) < 0)
		return -1;
	colon = strrchr(s, ':');
	port = strtol(colon ? colon + 1 : s, &end, 10);
	if (*end != '\0' || end == (colon ? colon + 1 : s) || port < 1 ||
	    port > 65535)
		goto bad;
	if (colon == NULL) {
		snprintf(r->backend, sizeof(r->backend), "127.0.0.1:%ld",
			 port);
		return 0;
	}
	n = (size_t)(colon - s);
	if (n >= sizeof(host))
		goto bad;
	memcpy(host, s, n);
	host[n] = '\0';
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, buf) != 1)
			goto bad;
	} else if (strcmp(host, "localhost") != 0 &&
		   inet_pton(AF_INET, host, buf) != 1) {
		goto bad;
	}
	snprintf(r->backend, sizeof(r->backend), "%s", s);
	return 0;
bad:
	return h->node_error(v, err, errlen,
			     "backend: expected a port or \"address:port\" "
			     "(an IP address, [IPv6] or localhost: no host "
			     "names), found '%s'",
			     s);
}

/* A count of bytes in [min, RULE_NEED_MAX]. */
static int
parse_count(const struct pmx_host *h, const struct pmx_node *v, long min,
	    size_t *out, char *err, size_t errlen)
{
	long n;

	if (h->node_long(v, min, RULE_NEED_MAX, &n, err, errlen) < 0)
		return -1;
	*out = (size_t)n;
	return 0;
}

static int
parse_name(const struct pmx_host *h, const struct pmx_node *v,
	   struct rule *r, char *err, size_t errlen)
{
	const char *s;

	if (h->node_string(v, &s, err, errlen) < 0)
		return -1;
	for (size_t i = 0; s[i]; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._-", s[i]))
			return h->node_error(v, err, errlen,
					     "name: use letters, digits, "
					     "'.', '_' and '-' only");
	if (s[0] == '\0' || strlen(s) >= RULE_NAME_MAX)
		return h->node_error(v, err, errlen,
				     "name: 1 to %d characters",
				     RULE_NAME_MAX - 1);
	snprintf(r->name, sizeof(r->name), "%s", s);
	return 0;
}

/* One item of `rules`. */
static int
parse_rule(const struct pmx_host *h, const struct pmx_node *item,
	   struct rules *all, struct rule *r, size_t index, char *err,
	   size_t errlen)
{
	const struct pmx_node *prefix = h->node_get(item, "prefix");
	const struct pmx_node *hex = h->node_get(item, "hex");
	const struct pmx_node *regex = h->node_get(item, "regex");
	const struct pmx_node *offset = h->node_get(item, "offset");
	const struct pmx_node *need = h->node_get(item, "need");
	const struct pmx_node *backend = h->node_get(item, "backend");
	char near[64];

	if (h->node_kind(item) != PMX_NODE_MAP)
		return h->node_error(item, err, errlen,
				     "PATTERN: each rule is a mapping (name, "
				     "prefix / hex / regex, offset, need, "
				     "backend)");
	for (size_t i = 0; i < h->node_size(item); i++) {
		const struct pmx_node *k = h->node_key(item, i);
		const char *key = h->node_scalar(k);
		size_t j = 0;

		while (j < NKEYS && strcmp(key, rule_keys[j]) != 0)
			j++;
		if (j == NKEYS)
			return h->node_error(k, err, errlen,
					     "PATTERN: unknown rule key "
					     "'%s'%s",
					     key,
					     near_key(key, near,
						      sizeof(near)));
	}
	if ((prefix != NULL) + (hex != NULL) + (regex != NULL) != 1)
		return h->node_error(item, err, errlen,
				     "PATTERN: a rule has exactly one of "
				     "prefix, hex or regex");
	if (backend == NULL)
		return h->node_error(item, err, errlen,
				     "PATTERN: the rule has no backend");
	snprintf(r->name, sizeof(r->name), "rule%zu", index + 1);
	if (h->node_get(item, "name") &&
	    parse_name(h, h->node_get(item, "name"), r, err, errlen) < 0)
		return -1;
	if (parse_backend(h, backend, r, err, errlen) < 0)
		return -1;
	if (regex != NULL) {
		if (offset != NULL)
			return h->node_error(offset, err, errlen,
					     "offset: for prefix and hex "
					     "rules (a regex says where with "
					     "^ and .{N})");
		if (need == NULL)
			return h->node_error(regex, err, errlen,
					     "PATTERN: a regex rule needs "
					     "`need`: how many bytes to read "
					     "before deciding");
		if (parse_regex(h, regex, all, r, err, errlen) < 0)
			return -1;
		return parse_count(h, need, 1, &r->need, err, errlen);
	}
	r->kind = RULE_BYTES;
	if ((prefix ? parse_prefix(h, prefix, r, err, errlen)
		    : parse_hex(h, hex, r, err, errlen)) < 0)
		return -1;
	if (offset != NULL &&
	    parse_count(h, offset, 0, &r->offset, err, errlen) < 0)
		return -1;
	r->need = r->offset + r->nbytes;
	if (need != NULL) {
		if (parse_count(h, need, 1, &r->need, err, errlen) < 0)
			return -1;
		if (r->need < r->offset + r->nbytes)
			return h->node_error(need, err, errlen,
					     "need: at least offset + the "
					     "bytes' length (%zu)",
					     r->offset + r->nbytes);
	}
	return 0;
}

int
rules_parse(const struct pmx_host *h, const struct pmx_node *section,
	    struct rules *out, char *err, size_t errlen)
{
	const struct pmx_node *list;
	size_t n;

	memset(out, 0, sizeof(*out));
	out->c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
	if (out->c_locale == (locale_t)0) {
		snprintf(err, errlen, "cannot make the C locale");
		return -1;
	}
	if (section == NULL)
		return 0;
	if (h->node_kind(section) != PMX_NODE_MAP)
		return h->node_error(section, err, errlen,
				     "PATTERN: expected a mapping with "
				     "`rules`");
	for (size_t i = 0; i < h->node_size(section); i++) {
		const char *key = h->node_scalar(h->node_key(section, i));

		if (strcmp(key, "rules") != 0)
			return h->node_error(h->node_key(section, i), err,
					     errlen,
					     "PATTERN: unknown key '%s' (the "
					     "section has one key: rules)",
					     key);
	}
	list = h->node_get(section, "rules");
	n = h->node_size(list);
	if (h->node_kind(list) != PMX_NODE_SEQ || n == 0)
		return h->node_error(list ? list : section, err, errlen,
				     "PATTERN: rules: expected a list of "
				     "rules");
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		out->n++; /* freed with the others, whatever happens */
		if (parse_rule(h, h->node_at(list, i), out, &out->v[i], i, err,
			       errlen) < 0)
			return -1;
	}
	return 0;
}

void
rules_free(struct rules *r)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].compiled)
			regfree(&r->v[i].re);
	free(r->v);
	if (r->c_locale != (locale_t)0)
		freelocale(r->c_locale);
	memset(r, 0, sizeof(*r));
}

enum rule_verdict
rule_check(const struct rules *all, const struct rule *r, const uint8_t *p,
	   size_t len, int final)
{
	regmatch_t window;
	locale_t was;
	char small[1024], *copy = small;
	size_t n;
	int rc;

	if (r->kind == RULE_BYTES) {
		size_t end = r->offset + r->nbytes;

		/* A byte that differs decides at once: bytes only grow. */
		for (size_t i = r->offset; i < end && i < len; i++)
			if (p[i] != r->bytes[i - r->offset])
				return RULE_NO;
		if (len < r->need)
			return final ? RULE_NO : RULE_WAIT;
		return RULE_YES;
	}
	if (len < r->need && !final)
		return RULE_WAIT;
	/* The first `need` bytes, NULs and all (glibc's REG_STARTEND), from
	 * a terminated copy: a sanitizer's regexec() reads up to a NUL
	 * whatever the flags say. */
	n = len < r->need ? len : r->need;
	if (n >= sizeof(small) && (copy = malloc(n + 1)) == NULL)
		return RULE_NO;
	memcpy(copy, p, n);
	copy[n] = '\0';
	window.rm_so = 0;
	window.rm_eo = (regoff_t)n;
	was = uselocale(all->c_locale);
	rc = regexec(&r->re, copy, 1, &window, REG_STARTEND);
	uselocale(was);
	if (copy != small)
		free(copy);
	return rc == 0 ? RULE_YES : RULE_NO;
}
