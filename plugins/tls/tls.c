/*
 * tls.so — recognises a TLS ClientHello and routes it by SNI.
 *
 * The ClientHello is reassembled across TLS records (a handshake message
 * may be fragmented over several, RFC 8446 §5.1) and TCP reads: a large
 * ClientHello, such as one carrying a post-quantum X25519MLKEM768 key
 * share, spans more than one segment and may be split over records by
 * middleboxes or stacks. An SSLv2-compatible ClientHello is TLS too, with
 * no SNI.
 *
 * Verdicts: NEED_MORE while the bytes are a valid prefix of a ClientHello;
 * NO_MATCH as soon as they cannot be one; MATCH once it is complete, or
 * with `final` (or a full probe buffer) on any valid prefix, routed by the
 * SNI if its extension had arrived.
 *
 * Result: key = the server_name host_name ("" when absent or not a
 * plausible DNS name: the section's "default" route); alpn = the offered
 * ALPN names, comma-separated in client order, GREASE dropped.
 *
 * ECH (RFC 9849): with an encrypted_client_hello extension the real
 * ClientHello is encrypted and the outer SNI we see is the client-facing
 * server's public_name. We route on it like any SNI (that server is the
 * one that can decrypt) and set PMX_RF_ECH. Note that browsers send a
 * GREASE ECH extension when they have no ECH config, which is by design
 * indistinguishable from real ECH: the flag means "ECH extension present",
 * not "this connection is using ECH".
 */
#include <portmux/detector.h>

#include "clienthello.h"

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section; /* a route table, parsed by the core */
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	struct ch_info info;
	/* A full buffer will not grow: decide now. */
	int final = in->final || (in->capacity > 0 && in->len >= in->capacity);
	enum ch_status s;

	(void)instance;
	if (in->transport != PMX_TRANSPORT_TCP)
		return PMX_NO_MATCH; /* DTLS and QUIC are other formats */
	if (in->len == 0)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	s = ch_parse(in->data, in->len, &info);
	return ch_answer(s, &info, final, out);
}

/*
 * A client PortMux cannot serve gets a fatal TLS alert rather than a bare
 * close: unrecognized_name (112, RFC 6066 §3) when no route takes its SNI,
 * internal_error (80) when its backend is down. The record version 0x0301
 * is what every TLS version accepts before the handshake.
 */
static size_t
reject(void *instance, int why, const struct pmx_probe_result *res,
       uint8_t *buf, size_t cap)
{
	const uint8_t alert[7] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02,
				  why == PMX_REJECT_NO_ROUTE ? 112 : 80};

	(void)instance;
	(void)res;
	if (cap < sizeof(alert))
		return 0;
	for (size_t i = 0; i < sizeof(alert); i++)
		buf[i] = alert[i];
	return sizeof(alert);
}

static const struct pmx_detector tls_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "tls",
	.version = "1.0",
	.description = "TLS ClientHello (SSL 3.0 to TLS 1.3, SSLv2-compatible "
		       "hello), routed by SNI, with ALPN",
	.section = "HTTPS",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
	.reject = reject,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &tls_detector;
}
