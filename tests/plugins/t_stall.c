/*
 * t_stall — a broken detector, for the watchdog's test: it says it never
 * blocks (no PMX_DF_BLOCKING), yet on bytes starting with "STALL" it
 * sleeps 3 seconds on the worker's loop, which stops turning. Anything
 * else: NO_MATCH at once. No section of its own.
 */
#include <portmux/detector.h>
#include <string.h>
#include <time.h>

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
	struct timespec ts = {3, 0};

	(void)i;
	(void)o;
	if (in->len >= 5 && memcmp(in->data, "STALL", 5) == 0)
		while (nanosleep(&ts, &ts) != 0)
			;
	return PMX_NO_MATCH;
}

static void
destroy(void *i)
{
	(void)i;
}

static const struct pmx_detector d = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(d),
	.name = "t_stall",
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
