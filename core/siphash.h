/* siphash.h — SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
 * short-input PRF", 2012): a hash keyed with 128 secret bits. Without the
 * key nobody can choose inputs that collide, so a flood of chosen source
 * addresses cannot be steered into one bucket of a hash table. */
#ifndef PMX_SIPHASH_H
#define PMX_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_SIZE 16

/* The 64-bit SipHash-2-4 of `len` bytes at `in` under `key` (16 bytes,
 * read as two little-endian words, as in the paper). */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_SIZE], const void *in,
		   size_t len);

/* A fresh random key from getrandom(): 0, or -1 (errno set). */
int siphash_key_random(uint8_t key[SIPHASH_KEY_SIZE]);

#endif
