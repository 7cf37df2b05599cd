/*
 * t_prefix — a scriptable detector for the core's tests. Its section:
 *   match: "ABC"   bytes starting with it MATCH, a prefix of it NEED_MORE
 *   key: "x"       the route key it answers (default "")
 *   backend: "127.0.0.1:9"   an explicit backend (optional)
 * It counts its probe calls (for the "asked once" rule).
 */
#include <portmux/detector.h>
#include <stdlib.h>
#include <string.h>

struct inst {
	char match[64];
	char key[64];
	char backend[64];
	unsigned long calls;
};

static int
copy(const struct pmx_host *h, const struct pmx_node *s, const char *k,
     char *dst, size_t cap, char *err, size_t errlen)
{
	const struct pmx_node *v = h->node_get(s, k);
	if (v == NULL)
		return 0;
	if (h->node_scalar(v) == NULL)
		return h->node_error(v, err, errlen, "%s: expected a string", k);
	strncpy(dst, h->node_scalar(v), cap - 1);
	return 0;
}

static int
create(const struct pmx_host *h, const struct pmx_node *s, void **out,
       char *err, size_t errlen)
{
	struct inst *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return -1;
	for (size_t i = 0; i < h->node_size(s); i++) {
		const char *k = h->node_scalar(h->node_key(s, i));
		if (strcmp(k, "match") && strcmp(k, "key") && strcmp(k, "backend")) {
			free(in);
			return h->node_error(h->node_key(s, i), err, errlen,
					     "unknown key '%s'", k);
		}
	}
	if (copy(h, s, "match", in->match, sizeof(in->match), err, errlen) ||
	    copy(h, s, "key", in->key, sizeof(in->key), err, errlen) ||
	    copy(h, s, "backend", in->backend, sizeof(in->backend), err, errlen)) {
		free(in);
		return -1;
	}
	*out = in;
	return 0;
}

static enum pmx_verdict
probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{
	struct inst *t = i;
	size_t ml = strlen(t->match);
	size_t n = in->len < ml ? in->len : ml;

	__atomic_add_fetch(&t->calls, 1, __ATOMIC_RELAXED);
	if (memcmp(in->data, t->match, n) != 0)
		return PMX_NO_MATCH;
	if (in->len < ml)
		return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
	pmx_result_set(o->key, t->key, strlen(t->key));
	pmx_result_set(o->backend, t->backend, strlen(t->backend));
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
	.name = "t_prefix",
	.flags = PMX_DF_TCP | PMX_DF_UDP,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &d;
}

/* For tests: the number of probe calls an instance has seen. */
PMX_EXPORT unsigned long t_prefix_calls(void *i);
unsigned long
t_prefix_calls(void *i)
{
	return ((struct inst *)i)->calls;
}
