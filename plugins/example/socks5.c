/*
 * socks5.so — an example third-party detector, built against the public
 * header alone (see Makefile here and docs/PLUGINS.md).
 *
 * It recognises a SOCKS5 client greeting (RFC 1928 §3): VER 0x05, NMETHODS
 * (1..255), then NMETHODS method codes. A route table section SOCKS5 picks
 * the backend ("default"). Enable it with
 *
 *   PORTMUX:
 *     plugin_dir: /usr/local/lib/portmux   # where socks5.so was installed
 *     detectors: [ssh, tls, socks5, http]
 *   SOCKS5:
 *     default: 1080
 */
#include <portmux/detector.h>

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section; /* the core reads the routes (PMX_DF_ROUTES) */
	(void)err;
	(void)errlen;
	*instance = NULL; /* nothing to keep */
	return 0;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	const uint8_t *p = in->data;
	size_t want;

	(void)instance;
	(void)out; /* key "": the section's default route */
	if (in->len >= 1 && p[0] != 0x05)
		return PMX_NO_MATCH;
	if (in->len >= 2 && p[1] == 0)
		return PMX_NO_MATCH; /* at least one method */
	want = in->len >= 2 ? 2 + (size_t)p[1] : 2;
	if (in->len < want)
		return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
	/* Codes 0x00-0x09 are IANA-assigned, 0x80-0xfe private; 0xff is
	 * "no acceptable method", never offered. */
	for (size_t i = 2; i < want; i++)
		if (p[i] == 0xff || (p[i] > 0x09 && p[i] < 0x80))
			return PMX_NO_MATCH;
	return PMX_MATCH;
}

static const struct pmx_detector socks5_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "socks5",
	.version = "1.0",
	.description = "SOCKS5 client greeting (RFC 1928), an example",
	.section = "SOCKS5",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &socks5_detector;
}
