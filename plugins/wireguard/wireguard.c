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
 * claimed; a client that hears nothing back starts a new handshake (after
 * KEEPALIVE_TIMEOUT + REKEY_TIMEOUT, 15 s), and that initiation opens a
 * new flow.
 *
 * Routing by server: mac1 = MAC(HASH("mac1----" || the responder's static
 * public key), the message up to mac1), where HASH is BLAKE2s-256 and MAC
 * keyed BLAKE2s-128 (the paper, §5.4.4). A route whose name is a server's
 * public key in hex (64 digits) is taken by the initiations whose mac1
 * that key verifies: the client proves which server it is talking to,
 * without anything secret. Several WireGuard servers then share one port,
 * each client reaching its own.
 *
 * Result: key = the hex public key of the configured server whose mac1
 * matches, else "" (the section's default route).
 */
#include <portmux/detector.h>

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "blake2s.h"

#define MSG_INITIATION 1
#define INITIATION_LEN 148
#define MAC1_AT 116 /* type 4, index 4, ephemeral 32, static 48, time 28 */
#define MAC_LEN 16
#define KEY_LEN 32
#define KEY_HEX (2 * KEY_LEN)

struct server {
	char hex[KEY_HEX + 1];   /* its route name, lower case */
	uint8_t mac1_key[32];    /* HASH("mac1----" || public key) */
};

/* Read-only after create(); freed by destroy(). */
struct wg {
	size_t nservers;
	struct server servers[];
};

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* A route name that is a public key: 64 hex digits. */
static int
parse_key(const char *name, struct server *s)
{
	uint8_t pub[KEY_LEN + 8];

	if (strlen(name) != KEY_HEX)
		return -1;
	memcpy(pub, "mac1----", 8);
	for (size_t i = 0; i < KEY_LEN; i++) {
		int hi = hex_digit(name[2 * i]);
		int lo = hex_digit(name[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		pub[8 + i] = (uint8_t)(hi << 4 | lo);
	}
	for (size_t i = 0; i < KEY_HEX; i++)
		s->hex[i] = (char)(name[i] | 0x20); /* lower case */
	s->hex[KEY_HEX] = '\0';
	blake2s(s->mac1_key, sizeof(s->mac1_key), NULL, 0, pub, sizeof(pub));
	return 0;
}

/* The route table is the core's; its names are ours to check: `default`
 * or a server's public key. Anything else no client could match. */
static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	size_t n = host->node_size(section);
	struct wg *w = calloc(1, sizeof(*w) + n * sizeof(w->servers[0]));

	if (w == NULL)
		return host->node_error(section, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *k = host->node_key(section, i);
		const char *name = host->node_scalar(k);

		if (name != NULL && strcasecmp(name, "default") == 0)
			continue;
		if (name == NULL || parse_key(name, &w->servers[w->nservers])) {
			free(w);
			return host->node_error(k, err, errlen,
						"WIREGUARD: route '%s' is "
						"neither default nor a "
						"server's public key in hex "
						"(64 digits)",
						name ? name : "");
		}
		w->nservers++;
	}
	*instance = w;
	return 0;
}

static void
destroy(void *instance)
{
	free(instance);
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
	const struct wg *w = instance;
	const uint8_t *p = in->data;
	uint8_t mac[MAC_LEN];

	if (in->transport != PMX_TRANSPORT_UDP || in->len != INITIATION_LEN)
		return PMX_NO_MATCH;
	if (p[0] != MSG_INITIATION || p[1] != 0 || p[2] != 0 || p[3] != 0 ||
	    !mac1_set(p))
		return PMX_NO_MATCH;
	for (size_t i = 0; w != NULL && i < w->nservers; i++) {
		blake2s(mac, sizeof(mac), w->servers[i].mac1_key,
			sizeof(w->servers[i].mac1_key), p, MAC1_AT);
		if (memcmp(mac, p + MAC1_AT, MAC_LEN) == 0) {
			pmx_result_set(out->key, w->servers[i].hex, KEY_HEX);
			break;
		}
	}
	return PMX_MATCH;
}

static const struct pmx_detector wireguard_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "wireguard",
	.version = "1.0",
	.description = "WireGuard handshake initiation (UDP), routed by the "
		       "server public key its mac1 proves",
	.section = "WIREGUARD",
	.flags = PMX_DF_UDP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = destroy,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &wireguard_detector;
}
