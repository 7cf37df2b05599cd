/* relay.c — buffer-mode relay. */
#include "relay.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Reads per event and direction: one fast pair must not starve others. */
#define RELAY_BUDGET 16

int
relay_flush(struct side *dst)
{
	struct pbuf *b = dst->out;

	while (b != NULL && b->off < b->len) {
		ssize_t n = send(dst->fd, b->data + b->off, b->len - b->off,
				 MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		b->off += (uint32_t)n;
	}
	free(b);
	dst->out = NULL;
	return 0;
}

static int
keep_rest(struct side *dst, const uint8_t *data, size_t len)
{
	struct pbuf *b = malloc(sizeof(*b) + len);

	if (b == NULL) {
		errno = ENOMEM;
		return -1;
	}
	b->off = 0;
	b->len = b->cap = (uint32_t)len;
	memcpy(b->data, data, len);
	dst->out = b;
	return 0;
}

int
relay_pump(struct worker *w, struct side *src, struct side *dst, int *which)
{
	for (int i = 0; i < RELAY_BUDGET; i++) {
		ssize_t n = recv(src->fd, w->scratch, w->scratch_size, 0);
		ssize_t sent;

		if (n == 0) {
			src->eof = 1;
			return 0;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			*which = 0;
			return -1;
		}
		src->bytes += (uint64_t)n;
		sent = send(dst->fd, w->scratch, (size_t)n, MSG_NOSIGNAL);
		if (sent < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				*which = 1;
				return -1;
			}
			sent = 0;
		}
		if (sent < n) {
			*which = 1;
			return keep_rest(dst, w->scratch + sent,
					 (size_t)(n - sent));
		}
		/* A short read means the socket is drained: skip the recv
		 * that would only say EAGAIN. */
		if ((size_t)n < w->scratch_size)
			return 0;
	}
	return 0;
}
