/* pbuf.c — buffers and their per-loop cache. */
#include "pbuf.h"

#include <stdlib.h>
#include <string.h>

struct pbuf *
pbuf_new(uint32_t cap)
{
	struct pbuf *b = malloc(sizeof(*b) + cap);

	if (b == NULL)
		return NULL;
	b->off = b->len = 0;
	b->cap = cap;
	return b;
}

struct pbuf *
pbuf_copy(const void *data, size_t len)
{
	struct pbuf *b = pbuf_new((uint32_t)len);

	if (b == NULL)
		return NULL;
	memcpy(b->data, data, len);
	b->len = (uint32_t)len;
	return b;
}

void
pbuf_cache_clear(struct pbuf_cache *cache)
{
	while (cache->n > 0)
		free(cache->bufs[--cache->n]);
}

struct pbuf *
pbuf_get(struct pbuf_cache *cache, uint32_t cap)
{
	struct pbuf *b;

	if (cap != cache->cap) {
		/* The size changed (a reload): the old ones serve no one. */
		pbuf_cache_clear(cache);
		cache->cap = cap;
	}
	if (cache->n == 0)
		return pbuf_new(cap);
	b = cache->bufs[--cache->n];
	b->off = b->len = 0;
	return b;
}

void
pbuf_put(struct pbuf_cache *cache, struct pbuf *b)
{
	if (b == NULL)
		return;
	if (b->cap == cache->cap && cache->n < PBUF_CACHE_MAX)
		cache->bufs[cache->n++] = b;
	else
		free(b);
}
