/* siphash.c — SipHash-2-4: two compression rounds per 8-byte word, four
 * finalization rounds. */
#include "siphash.h"

#include <errno.h>
#include <sys/random.h>

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

/* Little-endian 64-bit word of `n` (at most 8) bytes. */
static uint64_t
le64(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* One SipRound on the state v[0..3]. */
static void
sipround(uint64_t v[4])
{
	v[0] += v[1];
	v[1] = ROTL(v[1], 13) ^ v[0];
	v[0] = ROTL(v[0], 32);
	v[2] += v[3];
	v[3] = ROTL(v[3], 16) ^ v[2];
	v[0] += v[3];
	v[3] = ROTL(v[3], 21) ^ v[0];
	v[2] += v[1];
	v[1] = ROTL(v[1], 17) ^ v[2];
	v[2] = ROTL(v[2], 32);
}

/* Absorb message word m: c = 2 rounds. */
static void
compress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
}

uint64_t
siphash24(const uint8_t key[SIPHASH_KEY_SIZE], const void *in, size_t len)
{
	const uint8_t *p = in;
	uint64_t k0 = le64(key, 8), k1 = le64(key + 8, 8);
	/* "somepseudorandomlygeneratedbytes" */
	uint64_t v[4] = {
		k0 ^ 0x736f6d6570736575ull,
		k1 ^ 0x646f72616e646f6dull,
		k0 ^ 0x6c7967656e657261ull,
		k1 ^ 0x7465646279746573ull,
	};
	size_t left = len;

	for (; left >= 8; p += 8, left -= 8)
		compress(v, le64(p, 8));
	/* The last word: the remaining bytes, the length's low byte on top. */
	compress(v, le64(p, left) | (uint64_t)(len & 0xff) << 56);
	v[2] ^= 0xff; /* d = 4 finalization rounds */
	for (int i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

int
siphash_key_random(uint8_t key[SIPHASH_KEY_SIZE])
{
	size_t got = 0;

	/* Blocks only until the kernel's pool is first initialised. */
	while (got < SIPHASH_KEY_SIZE) {
		ssize_t n = getrandom(key + got, SIPHASH_KEY_SIZE - got, 0);

		if (n < 0 && errno != EINTR)
			return -1;
		if (n > 0)
			got += (size_t)n;
	}
	return 0;
}
