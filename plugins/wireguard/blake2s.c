/* blake2s.c — BLAKE2s after RFC 7693 §3 (compression F, mixing G) and
 * Appendix D's parameters, written for a message held whole in memory. */
#include "blake2s.h"

#include <string.h>

#define BLOCK 64
#define ROUNDS 10

/* The initialisation vector: SHA-256's (RFC 7693 §2.6). */
static const uint32_t iv[8] = {
	0x6a09e667u, 0xbb67ae85u, 0x3c6ef372u, 0xa54ff53au,
	0x510e527fu, 0x9b05688cu, 0x1f83d9abu, 0x5be0cd19u,
};

/* The message word permutations of each round (RFC 7693 §2.7). */
static const uint8_t sigma[ROUNDS][16] = {
	{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
	{14, 10, 4, 8, 9, 15, 13, 6, 1, 12, 0, 2, 11, 7, 5, 3},
	{11, 8, 12, 0, 5, 2, 15, 13, 10, 14, 3, 6, 7, 1, 9, 4},
	{7, 9, 3, 1, 13, 12, 11, 14, 2, 6, 5, 10, 4, 0, 15, 8},
	{9, 0, 5, 7, 2, 4, 10, 15, 14, 1, 11, 12, 6, 8, 3, 13},
	{2, 12, 6, 10, 0, 11, 8, 3, 4, 13, 7, 5, 15, 14, 1, 9},
	{12, 5, 1, 15, 14, 13, 4, 10, 0, 7, 6, 3, 9, 2, 8, 11},
	{13, 11, 7, 14, 12, 1, 3, 9, 5, 0, 15, 4, 8, 6, 2, 10},
	{6, 15, 14, 9, 11, 3, 0, 8, 12, 2, 13, 7, 1, 4, 10, 5},
	{10, 2, 8, 4, 7, 6, 1, 5, 15, 11, 9, 14, 3, 12, 13, 0},
};

static uint32_t
rotr(uint32_t x, unsigned n)
{
	return x >> n | x << (32 - n);
}

static uint32_t
le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* G: mixes two message words into four state words (§3.1; R1..R4 of
 * BLAKE2s are 16, 12, 8, 7). */
static void
mix(uint32_t v[16], int a, int b, int c, int d, uint32_t x, uint32_t y)
{
	v[a] = v[a] + v[b] + x;
	v[d] = rotr(v[d] ^ v[a], 16);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 12);
	v[a] = v[a] + v[b] + y;
	v[d] = rotr(v[d] ^ v[a], 8);
	v[c] = v[c] + v[d];
	v[b] = rotr(v[b] ^ v[c], 7);
}

/* F: one 64-byte block into h; t = bytes so far, including this block. */
static void
compress(uint32_t h[8], const uint8_t block[BLOCK], uint64_t t, int last)
{
	uint32_t v[16], m[16];

	for (int i = 0; i < 16; i++)
		m[i] = le32(block + 4 * i);
	for (int i = 0; i < 8; i++) {
		v[i] = h[i];
		v[i + 8] = iv[i];
	}
	v[12] ^= (uint32_t)t;
	v[13] ^= (uint32_t)(t >> 32);
	if (last)
		v[14] = ~v[14];
	for (int r = 0; r < ROUNDS; r++) {
		const uint8_t *s = sigma[r];

		mix(v, 0, 4, 8, 12, m[s[0]], m[s[1]]);
		mix(v, 1, 5, 9, 13, m[s[2]], m[s[3]]);
		mix(v, 2, 6, 10, 14, m[s[4]], m[s[5]]);
		mix(v, 3, 7, 11, 15, m[s[6]], m[s[7]]);
		mix(v, 0, 5, 10, 15, m[s[8]], m[s[9]]);
		mix(v, 1, 6, 11, 12, m[s[10]], m[s[11]]);
		mix(v, 2, 7, 8, 13, m[s[12]], m[s[13]]);
		mix(v, 3, 4, 9, 14, m[s[14]], m[s[15]]);
	}
	for (int i = 0; i < 8; i++)
		h[i] ^= v[i] ^ v[i + 8];
}

void
blake2s(uint8_t *out, size_t outlen, const uint8_t *key, size_t keylen,
	const uint8_t *msg, size_t len)
{
	uint32_t h[8];
	uint8_t block[BLOCK];
	uint64_t t = 0;

	memcpy(h, iv, sizeof(h));
	/* Parameter block: digest length, key length, fanout 1, depth 1. */
	h[0] ^= 0x01010000u ^ (uint32_t)keylen << 8 ^ (uint32_t)outlen;
	if (keylen > 0) {
		/* The key, padded to a block, is the first block; it is the
		 * last one only for an empty message. */
		memset(block, 0, sizeof(block));
		memcpy(block, key, keylen);
		t = BLOCK;
		compress(h, block, t, len == 0);
	}
	/* Every full block but the last; the last (1..64 bytes) padded.
	 * An unkeyed empty message is one empty last block. */
	while (len > BLOCK) {
		t += BLOCK;
		compress(h, msg, t, 0);
		msg += BLOCK;
		len -= BLOCK;
	}
	if (len > 0 || keylen == 0) {
		memset(block, 0, sizeof(block));
		memcpy(block, msg, len);
		t += len;
		compress(h, block, t, 1);
	}
	for (size_t i = 0; i < outlen; i++)
		out[i] = (uint8_t)(h[i / 4] >> (8 * (i % 4)));
}
