/*
 * t_block — a blocking detector with a route table, for the core's tests
 * of decide.c: PMX_DF_BLOCKING (so it runs on the probe pool), TCP and UDP,
 * its section T_BLOCK is a route table. It matches bytes that start with
 * 'B': the key is what follows up to a space (empty: the default route,
 * or "udp" for a datagram), and "B@host:port" answers an explicit backend.
 */
#include <portmux/detector.h>
#include <string.h>

static int
create(const struct pmx_host *h, const struct pmx_node *s, void **out,
       char *err, size_t errlen)
{
	(void)h;
	(void)s;
	(void)err;
	(void)errlen;
	*out = NULL;
	return 0;
}

static enum pmx_verdict
probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{
	const char *p = (const char *)in->data + 1;
	size_t n = 0;

	(void)i;
	if (in->len == 0)
		return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
	if (in->data[0] != 'B')
		return PMX_NO_MATCH;
	while (n < in->len - 1 && p[n] != ' ')
		n++;
	if (n > 0 && p[0] == '@')
		pmx_result_set(o->backend, p + 1, n - 1);
	else
		pmx_result_set(o->key, p, n);
	return PMX_MATCH;
}

static const struct pmx_detector d = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(d),
	.name = "t_block",
	.flags = PMX_DF_TCP | PMX_DF_UDP | PMX_DF_ROUTES | PMX_DF_BLOCKING,
	.create = create,
	.probe = probe,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &d;
}
