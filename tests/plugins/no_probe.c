/* A descriptor without probe(). */
#include <portmux/detector.h>
#include <stdio.h>
static int create(const struct pmx_host *h, const struct pmx_node *s, void **i, char *e, size_t n)
{ (void)h; (void)s; (void)e; (void)n; *i = NULL; return 0; }
static enum pmx_verdict probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{ (void)i; (void)in; (void)o; return PMX_NO_MATCH; }
static const struct pmx_detector d = { .abi_version = PMX_DETECTOR_ABI_VERSION, .struct_size = sizeof(d),
	.name = "no_probe", .flags = PMX_DF_TCP, .create = create, .probe = NULL };
PMX_EXPORT const struct pmx_detector *pmx_detector_entry(void) { (void)probe; return &d; }
