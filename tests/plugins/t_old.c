/* A plugin built against the first layout of the descriptor: it ends at
 * destroy, before `reject`. It must load, and the core must not read the
 * fields it does not have. */
#include <portmux/detector.h>
#include <stddef.h>
static int create(const struct pmx_host *h, const struct pmx_node *s, void **i, char *e, size_t n)
{ (void)h; (void)s; (void)e; (void)n; *i = NULL; return 0; }
static enum pmx_verdict probe(void *i, const struct pmx_probe_input *in, struct pmx_probe_result *o)
{ (void)i; (void)o; return in->len > 0 && in->data[0] == 'O' ? PMX_MATCH : PMX_NO_MATCH; }
static const struct pmx_detector d = { .abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = offsetof(struct pmx_detector, reject),
	.name = "t_old", .flags = PMX_DF_TCP | PMX_DF_ROUTES, .create = create, .probe = probe };
PMX_EXPORT const struct pmx_detector *pmx_detector_entry(void) { return &d; }
