/* proxyproto.h — the PROXY protocol (haproxy doc/proxy-protocol.txt),
 * versions 1 (text) and 2 (binary): build a header to send a backend the
 * real client address, and parse one a trusted load balancer sends us. */
#ifndef PMX_PROXYPROTO_H
#define PMX_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define PROXY_V1_MAX 107 /* the longest v1 line, CRLF included */
#define PROXY_HEADER_MAX 232 /* v2 with IPv6 addresses and some TLVs */

/*
 * Write the header telling that `client` connected to `local` into buf.
 * version 1 or 2. Returns its length, or -1 (unknown family: v1 then says
 * "PROXY UNKNOWN", v2 "LOCAL" — still a valid header).
 */
int proxy_header_build(int version, const struct sockaddr *client,
		       const struct sockaddr *local, uint8_t *buf,
		       size_t len);

enum proxy_parse {
	PROXY_INVALID = -1,
	PROXY_NEED_MORE = 0,
	PROXY_DONE = 1,
};

/*
 * Parse a v1 or v2 header at the start of data. On PROXY_DONE *consumed
 * is its length and *client / *local hold the addresses it carries (their
 * family is AF_UNSPEC for "UNKNOWN" / LOCAL: keep the socket's own).
 */
enum proxy_parse proxy_header_parse(const uint8_t *data, size_t len,
				    size_t *consumed,
				    struct sockaddr_storage *client,
				    struct sockaddr_storage *local);

#endif
