/*
 * t_host — reads its options through the host services appended to ABI 1
 * (node_long, node_string) and shows what it read. Its section:
 *   limit: 42      a whole number from 1 to 100 (default 1)
 *   word: "hello"  a string (default "none")
 * Every probe MATCHes with the key "WORD:LIMIT" (e.g. "hello:42"), so a
 * test can see that the values arrived.
 *
 * On an older core, whose host table ends before node_long/node_string
 * (struct_size says so), it does not call them: it falls back to the
 * services every ABI 1 core has — node_scalar() and its own strtol(), with
 * node_error() for located messages — and reads the same options with the
 * same rules. The tests check that path by handing create() a host whose
 * struct_size stops before node_long.
 */
#include <portmux/detector.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct inst {
	char key[PMX_KEY_MAX];
};

#define HAS(h, f) \
	((h)->struct_size >= offsetof(struct pmx_host, f) + sizeof((h)->f))

static int
read_long(const struct pmx_host *h, const struct pmx_node *v, long min,
	  long max, long *out, char *err, size_t errlen)
{
	const char *s;
	char *end;
	long n;

	if (HAS(h, node_long))
		return h->node_long(v, min, max, out, err, errlen);
	s = h->node_scalar(v);
	if (s == NULL)
		return h->node_error(v, err, errlen, "expected a number");
	n = strtol(s, &end, 10);
	if (end == s || *end != '\0' || n < min || n > max)
		return h->node_error(v, err, errlen,
				     "expected a whole number from %ld to %ld",
				     min, max);
	*out = n;
	return 0;
}

static int
read_string(const struct pmx_host *h, const struct pmx_node *v,
	    const char **out, char *err, size_t errlen)
{
	if (HAS(h, node_string))
		return h->node_string(v, out, err, errlen);
	*out = h->node_scalar(v);
	if (*out == NULL)
		return h->node_error(v, err, errlen, "expected a string");
	return 0;
}

static int
create(const struct pmx_host *h, const struct pmx_node *s, void **out,
       char *err, size_t errlen)
{
	const struct pmx_node *v;
	const char *word = "none";
	long limit = 1;
	struct inst *in;

	for (size_t i = 0; i < h->node_size(s); i++) {
		const char *k = h->node_scalar(h->node_key(s, i));
		if (strcmp(k, "limit") && strcmp(k, "word"))
			return h->node_error(h->node_key(s, i), err, errlen,
					     "unknown key '%s'", k);
	}
	if ((v = h->node_get(s, "limit")) != NULL &&
	    read_long(h, v, 1, 100, &limit, err, errlen) < 0)
		return -1;
	if ((v = h->node_get(s, "word")) != NULL &&
	    read_string(h, v, &word, err, errlen) < 0)
		return -1;
	in = calloc(1, sizeof(*in));
	if (in == NULL)
		return -1;
	/* word is the core's: copied, not kept. */
	snprintf(in->key, sizeof(in->key), "%s:%ld", word, limit);
	*out = in;
	return 0;
}

static enum pmx_verdict
probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{
	struct inst *t = i;

	(void)in;
	pmx_result_set(o->key, t->key, strlen(t->key));
	return PMX_MATCH;
}

static void
destroy(void *i)
{
	free(i);
}

static const struct pmx_detector d = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(d),
	.name = "t_host",
	.flags = PMX_DF_TCP,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &d;
}
