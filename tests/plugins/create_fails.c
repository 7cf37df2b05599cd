/* A plugin whose create() refuses. */
#include <portmux/detector.h>
#include <stdio.h>
static int create(const struct pmx_host *h, const struct pmx_node *s, void **i, char *e, size_t n)
{ (void)h; (void)s; (void)i; snprintf(e, n, "cannot open /nonexistent/key"); return -1; }
static enum pmx_verdict probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{ (void)i; (void)in; (void)o; return PMX_NO_MATCH; }
static const struct pmx_detector d = { .abi_version = PMX_DETECTOR_ABI_VERSION, .struct_size = sizeof(d),
	.name = "create_fails", .flags = PMX_DF_TCP, .create = create, .probe = probe };
PMX_EXPORT const struct pmx_detector *pmx_detector_entry(void) { return &d; }
