/*
 * t_gather — a detector that reads a UDP flow's datagrams
 * (PMX_DF_DATAGRAMS), for the core's tests. What the datagrams so far
 * spell, back to back:
 *   "G...!"   MATCH once a '!' has come (in any datagram);
 *   "G..."    NEED_MORE before that; on the final call NO_MATCH, but
 *             "GF..." (a flow the test wants decided on what it holds)
 *             MATCHes;
 *   else      NO_MATCH.
 * Its section is a route table (the "udp" route takes its matches). It
 * answers PMX_ERROR when the input's datagram boundaries are not
 * consistent (what a test would then see: no match), and counts its
 * calls and the datagrams it was last shown.
 */
#include <portmux/detector.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

struct inst {
	unsigned long calls;
	unsigned long shown; /* datagrams of the last call */
};

static int
create(const struct pmx_host *h, const struct pmx_node *s, void **out,
       char *err, size_t errlen)
{
	size_t need = offsetof(struct pmx_probe_input, datagrams) +
		      sizeof(size_t);

	(void)s;
	if (h->struct_size < offsetof(struct pmx_host, input_size) +
				     sizeof(h->input_size) ||
	    h->input_size < need)
		return h->node_error(NULL, err, errlen, "core too old");
	*out = calloc(1, sizeof(struct inst));
	return *out == NULL ? -1 : 0;
}

/* The boundaries: increasing, the last at len. */
static int
ends_ok(const struct pmx_probe_input *in)
{
	size_t at = 0;

	if (in->datagrams == 0 || in->datagram_end == NULL)
		return 0;
	for (size_t i = 0; i < in->datagrams; i++) {
		if (in->datagram_end[i] < at)
			return 0;
		at = in->datagram_end[i];
	}
	return at == in->len;
}

static enum pmx_verdict
probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{
	struct inst *t = i;

	(void)o;
	__atomic_add_fetch(&t->calls, 1, __ATOMIC_RELAXED);
	__atomic_store_n(&t->shown, in->datagrams, __ATOMIC_RELAXED);
	if (!ends_ok(in))
		return PMX_ERROR;
	if (in->len == 0 || in->data[0] != 'G')
		return PMX_NO_MATCH;
	if (memchr(in->data, '!', in->len) != NULL)
		return PMX_MATCH;
	if (!in->final)
		return PMX_NEED_MORE;
	return in->len >= 2 && in->data[1] == 'F' ? PMX_MATCH : PMX_NO_MATCH;
}

static void
destroy(void *i)
{
	free(i);
}

static const struct pmx_detector d = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(d),
	.name = "t_gather",
	.flags = PMX_DF_UDP | PMX_DF_DATAGRAMS | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &d;
}

/* For tests: the probe calls an instance has seen, and the datagrams it
 * was shown last. */
PMX_EXPORT unsigned long t_gather_calls(void *i);
unsigned long
t_gather_calls(void *i)
{
	return __atomic_load_n(&((struct inst *)i)->calls, __ATOMIC_RELAXED);
}

PMX_EXPORT unsigned long t_gather_shown(void *i);
unsigned long
t_gather_shown(void *i)
{
	return __atomic_load_n(&((struct inst *)i)->shown, __ATOMIC_RELAXED);
}
