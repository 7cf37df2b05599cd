/* blake2s.h — BLAKE2s (RFC 7693), plain and keyed, one call over a whole
 * message: what WireGuard's mac1 needs (HASH and MAC of the protocol). */
#ifndef PMX_WG_BLAKE2S_H
#define PMX_WG_BLAKE2S_H

#include <stddef.h>
#include <stdint.h>

#define BLAKE2S_OUT_MAX 32
#define BLAKE2S_KEY_MAX 32

/* out = BLAKE2s-(8*outlen)(key, msg); outlen 1..32, keylen 0..32 (0: not
 * keyed). */
void blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
	     const uint8_t *msg, size_t len);

#endif
