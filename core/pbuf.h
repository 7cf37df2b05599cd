/* pbuf.h — byte buffers a connection keeps: the probe buffer (what the
 * client sent while detectors decide, replayed to the backend) and the
 * bytes a side could not take yet.
 *
 * Ownership: a pbuf has one owner at a time — a connection's `probe`, a
 * side's `out`, or a cache — and goes back with pbuf_put(), which keeps it
 * in the cache or frees it. Nothing else frees a pbuf. */
#ifndef PMX_PBUF_H
#define PMX_PBUF_H

#include <stddef.h>
#include <stdint.h>

struct pbuf {
	uint32_t off, len, cap; /* bytes [off, len) wait; cap is the size */
	uint8_t data[];
};

/* An empty buffer of `cap` bytes, from malloc; NULL when out of memory. */
struct pbuf *pbuf_new(uint32_t cap);
/* A full buffer holding a copy of data[0..len); NULL when out of memory. */
struct pbuf *pbuf_copy(const void *data, size_t len);

#define PBUF_CACHE_MAX 64

/*
 * Free buffers of one size kept for the next connections (a malloc and
 * free of 16 KiB per connection made glibc trim the heap each time). One
 * per event loop. The cached size follows what is asked: the first get of
 * another size (probe_buffer changed by a reload) frees every buffer of
 * the old one, so none stays stuck.
 */
struct pbuf_cache {
	uint32_t cap; /* size of the cached buffers */
	size_t n;
	struct pbuf *bufs[PBUF_CACHE_MAX];
};

/* An empty buffer of `cap` bytes, from the cache when it has one. */
struct pbuf *pbuf_get(struct pbuf_cache *cache, uint32_t cap);
/* Give a buffer back (NULL is fine): cached when it has the cached size
 * and there is room, else freed. */
void pbuf_put(struct pbuf_cache *cache, struct pbuf *b);
/* Free every cached buffer. */
void pbuf_cache_clear(struct pbuf_cache *cache);

#endif
