/*
 * ssh.so — recognises an SSH client by its identification string
 * (RFC 4253 §4.2): "SSH-protoversion-softwareversion[ SP comments] CR LF".
 * A client never sends other lines before it (only a server may), so the
 * string starts at byte 0. We match as soon as the protocol version and the
 * first character of the software version are in: OpenSSH sends the whole
 * line at once, and a trickling client is not made to wait.
 */
#include <portmux/detector.h>
#include <string.h>

#define SSH_LINE_MAX 255

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section;
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

/* Printable US-ASCII other than space and '-' (softwareversion chars). */
static int
sw_char(uint8_t c)
{
	return c > 0x20 && c < 0x7f && c != '-';
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	static const char magic[] = "SSH-";
	const uint8_t *p = in->data;
	size_t len = in->len < SSH_LINE_MAX ? in->len : SSH_LINE_MAX;
	size_t i, major_at, dots = 0;

	(void)instance;
	(void)out;
	/* "SSH-" */
	for (i = 0; i < 4; i++) {
		if (i >= len)
			return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
		if (p[i] != (uint8_t)magic[i])
			return PMX_NO_MATCH;
	}
	/* protoversion: "2.0", "1.99", "1.5": digit '.' digits, then '-' */
	major_at = i;
	for (; i < len && p[i] != '-'; i++) {
		if (p[i] == '.') {
			if (i == major_at || ++dots > 1)
				return PMX_NO_MATCH;
		} else if (p[i] < '0' || p[i] > '9' || i - major_at > 5) {
			return PMX_NO_MATCH;
		}
	}
	if (i < len) {
		if (dots != 1 || p[i - 1] == '.' ||
		    (p[major_at] != '1' && p[major_at] != '2') ||
		    p[major_at + 1] != '.')
			return PMX_NO_MATCH;
		i++; /* '-' */
	}
	if (i >= len) /* version or its '-' not complete yet */
		return in->final || in->len >= SSH_LINE_MAX ? PMX_NO_MATCH
							    : PMX_NEED_MORE;
	/* softwareversion: at least one printable non-space character. */
	if (!sw_char(p[i]))
		return PMX_NO_MATCH;
	return PMX_MATCH; /* key "" = the SSH section's default route */
}

static const struct pmx_detector ssh_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "ssh",
	.version = "1.0",
	.description = "SSH identification string (RFC 4253)",
	.section = "SSH",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES | PMX_DF_ON_TIMEOUT,
	.create = create,
	.probe = probe,
	.destroy = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &ssh_detector;
}
