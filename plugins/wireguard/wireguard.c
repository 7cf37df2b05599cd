/*
 * wireguard.so — recognises the first datagram of a WireGuard client: the
 * handshake initiation (the WireGuard paper, §5.4.2; wireguard-go
 * device/noise-protocol.go, MessageInitiation):
 *
 *   type(1) = 1, reserved(3) = 0, sender index(4), ephemeral(32),
 *   encrypted static(32 + 16), encrypted timestamp(12 + 16), mac1(16),
 *   mac2(16)                                            = 148 bytes
 *
 * UDP only: WireGuard has no TCP transport, and a datagram arrives whole,
 * so the answer is always MATCH or NO_MATCH. The exact length and the
 * three reserved zero bytes are what wireguard-go and the kernel check
 * first; the fields after them are keys, ciphertext and MACs, random to
 * anyone without the keys. One more check costs nothing: mac1 is a MAC
 * over the message, all zero only in a blank or forged datagram.
 *
 * Only the initiation is claimed. A client that had a session through an
 * expired flow sends transport data (type 4) first; no detector can route
 * that (its receiver index names a session on one server), so it is not
 * claimed, and the client starts a new handshake after REKEY_TIMEOUT (5 s):
 * that initiation opens a new flow.
 *
 * Result: key "" (the section's default route).
 */
#include <portmux/detector.h>

#include <strings.h>

#define MSG_INITIATION 1
#define INITIATION_LEN 148
#define MAC1_AT 116 /* type 4, index 4, ephemeral 32, static 48, time 28 */
#define MAC_LEN 16

/* The route table is the core's; its names are ours to check: every
 * client routes to `default`, so any other route is a mistake. */
static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	size_t n = host->node_size(section);

	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = host->node_key(section, i);
		const char *name = host->node_scalar(k);

		if (name == NULL || strcasecmp(name, "default") != 0)
			return host->node_error(k, err, errlen,
						"WIREGUARD: no client can "
						"match route '%s': the only "
						"route is default",
						name ? name : "");
	}
	*instance = NULL; /* stateless */
	return 0;
}

static int
mac1_set(const uint8_t *msg)
{
	for (size_t i = MAC1_AT; i < MAC1_AT + MAC_LEN; i++)
		if (msg[i] != 0)
			return 1;
	return 0;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	const uint8_t *p = in->data;

	(void)instance;
	(void)out; /* key "": the section's default route */
	if (in->transport != PMX_TRANSPORT_UDP || in->len != INITIATION_LEN)
		return PMX_NO_MATCH;
	if (p[0] != MSG_INITIATION || p[1] != 0 || p[2] != 0 || p[3] != 0)
		return PMX_NO_MATCH;
	return mac1_set(p) ? PMX_MATCH : PMX_NO_MATCH;
}

static const struct pmx_detector wireguard_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "wireguard",
	.version = "1.0",
	.description = "WireGuard handshake initiation (UDP)",
	.section = "WIREGUARD",
	.flags = PMX_DF_UDP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &wireguard_detector;
}
