/*
 * h2.h — HTTP/2 with prior knowledge (RFC 9113 §3.3, §3.4): the client
 * preface and the frames that follow it, up to the first header block.
 */
#ifndef PMX_HTTP_H2_H
#define PMX_HTTP_H2_H

#include <portmux/detector.h>
#include <stddef.h>
#include <stdint.h>

enum h2_status {
	H2_NOT,     /* not the HTTP/2 client preface */
	H2_PREFACE, /* a proper prefix of the preface: wait (or HTTP/1) */
	H2_MORE,    /* HTTP/2; the authority is not known yet */
	H2_MATCH,   /* HTTP/2; key holds the route key ("" = default) */
};

/*
 * Look at the bytes of a connection. On H2_MATCH `key` holds the route
 * key; on H2_MORE it holds the best key known so far (a host header, or
 * ""), for a caller that must decide now. keycap is at least 1.
 */
enum h2_status h2_probe(const uint8_t *p, size_t len, char *key,
			size_t keycap);

#endif
