/*
 * quic.so — recognises a QUIC client's first flight (RFC 9000, v1 and
 * RFC 9369's v2) on UDP and routes it by the SNI of its TLS ClientHello,
 * with the offered ALPN, like tls.so does for TCP.
 *
 * The Initial packets are protected with keys anyone can derive from the
 * client's Destination Connection ID and the version's public salt: the
 * header protection is removed and the payload decrypted and
 * authenticated (libcrypto, protect.c), so a match is a real Initial, not
 * bytes that look like one. The ClientHello is the CRYPTO stream of the
 * Initial packets, put together by offset (flight.c): browsers and curl
 * cut a large one — post-quantum key shares — over several packets and
 * datagrams, which is why quic.so reads datagrams (PMX_DF_DATAGRAMS): the
 * core holds a new flow's datagrams and shows it all of them, with their
 * boundaries, until the ClientHello is whole. The ClientHello itself is
 * parsed by tls.so's parser (plugins/tls/clienthello.c, one copy for
 * both), without TLS records.
 *
 * Verdicts: NO_MATCH as soon as the flow's first datagram is not a
 * client's Initial (a datagram of at least 1200 bytes, a long header of a
 * version we read, an Initial with a Destination Connection ID of at least
 * 8 bytes, which authenticates) or its CRYPTO stream cannot be a
 * ClientHello; NEED_MORE while that stream is a valid prefix of one (more
 * datagrams to come); MATCH once it is whole, or with `final` (or a full
 * buffer) on any valid prefix, routed by the SNI if its extension had
 * come. Later packets of the flow are not looked at: the core relays them
 * by the client's address and port, whatever their connection IDs.
 *
 * Result: key = the server_name host_name ("" without one: the section's
 * default route); alpn = the offered ALPN names (h3...), comma-separated
 * in client order; PMX_RF_ECH with an encrypted_client_hello extension.
 */
#include <portmux/detector.h>
#include <stddef.h>
#include <stdlib.h>

#include "../tls/clienthello.h"
#include "flight.h"
#include "protect.h"

struct quic {
	struct quic_crypto *crypto; /* owned: freed by destroy */
	int datagrams; /* the core says where each datagram ends */
};

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	struct quic *q = calloc(1, sizeof(*q));

	(void)section; /* a route table, parsed by the core */
	if (q == NULL)
		return -1;
	q->crypto = quic_crypto_new(err, errlen);
	if (q->crypto == NULL) {
		free(q);
		return -1;
	}
	/* An older core shows one datagram, final: it is still read. */
	q->datagrams =
		host->struct_size >= offsetof(struct pmx_host, input_size) +
					     sizeof(host->input_size) &&
		host->input_size >= offsetof(struct pmx_probe_input,
					     datagrams) +
					    sizeof(size_t);
	*instance = q;
	return 0;
}

static void
destroy(void *instance)
{
	struct quic *q = instance;

	quic_crypto_free(q->crypto);
	free(q);
}

/* Read the flight's datagrams (ends[0..count)) into f and parse the
 * ClientHello they carry so far. CH_INVALID when the first datagram is
 * not a client's Initial. */
static enum ch_status
read_flight(struct flight *f, const struct pmx_probe_input *in,
	    const size_t *ends, size_t count, struct ch_info *info)
{
	size_t start = 0;

	for (size_t i = 0; i < count; i++) {
		if (ends[i] < start || ends[i] > in->len)
			break; /* not from a core that keeps the ABI */
		if (flight_datagram(f, in->data + start, ends[i] - start,
				    i == 0) < 0)
			return CH_INVALID;
		start = ends[i];
	}
	return ch_parse_handshake(f->stream, flight_prefix(f), info);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	const struct quic *q = instance;
	/* A full buffer will not grow: decide now. */
	int final = in->final || (in->capacity > 0 && in->len >= in->capacity);
	size_t whole = in->len;
	const size_t *ends = &whole;
	size_t count = 1;
	struct flight f = {.crypto = q->crypto, .cap = in->len};
	struct ch_info info;
	enum ch_status s;
	uint8_t *mem;

	if (in->transport != PMX_TRANSPORT_UDP)
		return PMX_NO_MATCH;
	if (q->datagrams && in->datagrams > 0) {
		ends = in->datagram_end;
		count = in->datagrams;
	}
	if (ends[0] > in->len || !flight_starts(in->data, ends[0]))
		return PMX_NO_MATCH; /* most datagrams end here, cheaply */
	mem = calloc(1, 2 * f.cap + f.cap / 8 + 1);
	if (mem == NULL)
		return PMX_ERROR;
	f.scratch = mem;
	f.stream = mem + f.cap;
	f.have = mem + 2 * f.cap;
	s = read_flight(&f, in, ends, count, &info);
	free(mem);
	return ch_answer(s, &info, final, out);
}

static const struct pmx_detector quic_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "quic",
	.version = "1.0",
	.description = "QUIC v1/v2 client Initial (decrypted, ClientHello "
		       "reassembled across packets and datagrams), routed "
		       "by SNI, with ALPN",
	.section = "QUIC",
	.flags = PMX_DF_UDP | PMX_DF_DATAGRAMS | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = destroy,
	.reject = NULL,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &quic_detector;
}
