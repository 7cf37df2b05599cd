/*
 * protect.h — Initial packet protection (RFC 9001 §5; RFC 9369 §3.3): the
 * keys every observer can derive from a client's first Destination
 * Connection ID and the version's public salt, header protection removed,
 * the payload decrypted and authenticated. The only part of PortMux that
 * uses libcrypto (OpenSSL 3).
 */
#ifndef PMX_QUIC_PROTECT_H
#define PMX_QUIC_PROTECT_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h"

/* The algorithms, fetched once (quic_crypto_new) and shared by every
 * probe: read-only, so several threads may use them at once. */
struct quic_crypto;

/* NULL when libcrypto does not offer them (a message in err). */
struct quic_crypto *quic_crypto_new(char *err, size_t errlen);
void quic_crypto_free(struct quic_crypto *c);

/* A client's Initial packet keys. */
struct quic_keys {
	uint8_t key[16]; /* AEAD_AES_128_GCM */
	uint8_t iv[12];
	uint8_t hp[16];  /* AES-128-ECB header protection */
};

/* The client Initial keys of a connection whose first Destination
 * Connection ID is dcid: 0, or -1 when libcrypto failed. */
int quic_keys_derive(const struct quic_crypto *c,
		     const struct quic_version *v, const uint8_t *dcid,
		     size_t dcid_len, struct quic_keys *k);

/* An Initial packet opened. */
struct quic_opened {
	uint64_t pn;            /* its full packet number */
	const uint8_t *payload; /* its frames: in the caller's buffer */
	size_t len;
};

/*
 * Remove the header protection of packet p (its header `h`) and decrypt
 * its payload with k into buf (at least h->len bytes: the unprotected
 * header, then the plaintext). `largest` is the largest packet number
 * opened before in this space (-1: none). 1 when it authenticates and its
 * reserved bits are zero, with *out filled; 0 otherwise.
 */
int quic_open(const struct quic_crypto *c, const struct quic_keys *k,
	      const uint8_t *p, const struct quic_long *h, int64_t largest,
	      uint8_t *buf, struct quic_opened *out);

#endif
