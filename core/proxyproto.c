/* proxyproto.c — PROXY protocol v1 and v2. */
#include "proxyproto.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const uint8_t v2_sig[12] = {0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d,
				   0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a};

/* ---- building ---- */

static int
build_v1(const struct sockaddr *c, const struct sockaddr *l, uint8_t *buf,
	 size_t len)
{
	char cip[INET6_ADDRSTRLEN], lip[INET6_ADDRSTRLEN];
	int n;

	if (c->sa_family != l->sa_family ||
	    (c->sa_family != AF_INET && c->sa_family != AF_INET6)) {
		n = snprintf((char *)buf, len, "PROXY UNKNOWN\r\n");
	} else if (c->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)c;
		const struct sockaddr_in *b = (const void *)l;
		inet_ntop(AF_INET, &a->sin_addr, cip, sizeof(cip));
		inet_ntop(AF_INET, &b->sin_addr, lip, sizeof(lip));
		n = snprintf((char *)buf, len, "PROXY TCP4 %s %s %u %u\r\n",
			     cip, lip, ntohs(a->sin_port), ntohs(b->sin_port));
	} else {
		const struct sockaddr_in6 *a = (const void *)c,
					  *b = (const void *)l;
		inet_ntop(AF_INET6, &a->sin6_addr, cip, sizeof(cip));
		inet_ntop(AF_INET6, &b->sin6_addr, lip, sizeof(lip));
		n = snprintf((char *)buf, len, "PROXY TCP6 %s %s %u %u\r\n",
			     cip, lip, ntohs(a->sin6_port),
			     ntohs(b->sin6_port));
	}
	return n > 0 && (size_t)n < len ? n : -1;
}

static int
build_v2(const struct sockaddr *c, const struct sockaddr *l, uint8_t *buf,
	 size_t len)
{
	uint16_t alen;

	if (len < 16 + 36)
		return -1;
	memcpy(buf, v2_sig, 12);
	buf[12] = 0x21; /* version 2, PROXY */
	if (c->sa_family == AF_INET && l->sa_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)c;
		const struct sockaddr_in *b = (const void *)l;
		buf[13] = 0x11; /* TCP over IPv4 */
		alen = 12;
		memcpy(buf + 16, &a->sin_addr, 4);
		memcpy(buf + 20, &b->sin_addr, 4);
		memcpy(buf + 24, &a->sin_port, 2);
		memcpy(buf + 26, &b->sin_port, 2);
	} else if (c->sa_family == AF_INET6 && l->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)c,
					  *b = (const void *)l;
		buf[13] = 0x21; /* TCP over IPv6 */
		alen = 36;
		memcpy(buf + 16, &a->sin6_addr, 16);
		memcpy(buf + 32, &b->sin6_addr, 16);
		memcpy(buf + 48, &a->sin6_port, 2);
		memcpy(buf + 50, &b->sin6_port, 2);
	} else {
		buf[12] = 0x20; /* LOCAL: no addresses */
		buf[13] = 0x00;
		alen = 0;
	}
	buf[14] = (uint8_t)(alen >> 8);
	buf[15] = (uint8_t)alen;
	return 16 + alen;
}

int
proxy_header_build(int version, const struct sockaddr *client,
		   const struct sockaddr *local, uint8_t *buf, size_t len)
{
	return version == 2 ? build_v2(client, local, buf, len)
			    : build_v1(client, local, buf, len);
}

/* ---- parsing ---- */

static int
set_addr(struct sockaddr_storage *ss, int family, const char *ip,
	 const char *port)
{
	char *end;
	long p = strtol(port, &end, 10);

	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535 ||
	    (port[0] == '0' && port[1] != '\0'))
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)ss;
		if (inet_pton(AF_INET, ip, &sin->sin_addr) != 1)
			return -1;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)p);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
		if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) != 1)
			return -1;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)p);
	}
	return 0;
}

static enum proxy_parse
parse_v1(const uint8_t *data, size_t len, size_t *consumed,
	 struct sockaddr_storage *client, struct sockaddr_storage *local)
{
	char line[PROXY_V1_MAX + 1], *f[6], *tok, *save = NULL;
	const uint8_t *crlf;
	size_t n;
	int nf = 0, family;

	n = len < PROXY_V1_MAX ? len : PROXY_V1_MAX;
	crlf = memchr(data, '\r', n);
	if (memchr(data, '\n', crlf ? (size_t)(crlf - data) : n) != NULL)
		return PROXY_INVALID; /* a bare LF: the line must end CRLF */
	if (crlf == NULL)
		return len >= PROXY_V1_MAX ? PROXY_INVALID : PROXY_NEED_MORE;
	n = (size_t)(crlf - data);
	if (n + 1 >= len)
		return PROXY_NEED_MORE;
	if (crlf[1] != '\n')
		return PROXY_INVALID;
	memcpy(line, data, n);
	line[n] = '\0';
	for (tok = strtok_r(line, " ", &save); tok && nf < 6;
	     tok = strtok_r(NULL, " ", &save))
		f[nf++] = tok;
	*consumed = n + 2;
	memset(client, 0, sizeof(*client));
	memset(local, 0, sizeof(*local));
	if (nf >= 2 && strcmp(f[1], "UNKNOWN") == 0)
		return PROXY_DONE; /* addresses unknown: keep the socket's */
	if (nf != 6 || tok != NULL) /* fewer or more than 6 fields */
		return PROXY_INVALID;
	if (strcmp(f[1], "TCP4") == 0)
		family = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		family = AF_INET6;
	else
		return PROXY_INVALID;
	if (set_addr(client, family, f[2], f[4]) < 0 ||
	    set_addr(local, family, f[3], f[5]) < 0)
		return PROXY_INVALID;
	return PROXY_DONE;
}

static enum proxy_parse
parse_v2(const uint8_t *data, size_t len, size_t *consumed,
	 struct sockaddr_storage *client, struct sockaddr_storage *local)
{
	size_t alen;

	if (len < 16)
		return PROXY_NEED_MORE;
	if ((data[12] & 0xf0) != 0x20 || (data[12] & 0x0f) > 1)
		return PROXY_INVALID;
	alen = (size_t)data[14] << 8 | data[15];
	if (16 + alen > PROXY_HEADER_MAX + 512)
		return PROXY_INVALID;
	if (len < 16 + alen)
		return PROXY_NEED_MORE;
	*consumed = 16 + alen;
	memset(client, 0, sizeof(*client));
	memset(local, 0, sizeof(*local));
	if ((data[12] & 0x0f) == 0) /* LOCAL: a health check, no client */
		return PROXY_DONE;
	switch (data[13]) {
	case 0x11: { /* TCP over IPv4 */
		struct sockaddr_in *c = (struct sockaddr_in *)client;
		struct sockaddr_in *l = (struct sockaddr_in *)local;
		if (alen < 12)
			return PROXY_INVALID;
		c->sin_family = l->sin_family = AF_INET;
		memcpy(&c->sin_addr, data + 16, 4);
		memcpy(&l->sin_addr, data + 20, 4);
		memcpy(&c->sin_port, data + 24, 2);
		memcpy(&l->sin_port, data + 26, 2);
		return PROXY_DONE;
	}
	case 0x21: { /* TCP over IPv6 */
		struct sockaddr_in6 *c = (struct sockaddr_in6 *)client;
		struct sockaddr_in6 *l = (struct sockaddr_in6 *)local;
		if (alen < 36)
			return PROXY_INVALID;
		c->sin6_family = l->sin6_family = AF_INET6;
		memcpy(&c->sin6_addr, data + 16, 16);
		memcpy(&l->sin6_addr, data + 32, 16);
		memcpy(&c->sin6_port, data + 48, 2);
		memcpy(&l->sin6_port, data + 50, 2);
		return PROXY_DONE;
	}
	default: /* UNSPEC or another transport: keep the socket's */
		return PROXY_DONE;
	}
}

enum proxy_parse
proxy_header_parse(const uint8_t *data, size_t len, size_t *consumed,
		   struct sockaddr_storage *client,
		   struct sockaddr_storage *local)
{
	static const char v1[] = "PROXY ";
	size_t n;

	/* Which version: decided by the first bytes, a prefix waits. */
	n = len < 12 ? len : 12;
	if (memcmp(data, v2_sig, n) == 0)
		return n < 12 ? PROXY_NEED_MORE
			      : parse_v2(data, len, consumed, client, local);
	n = len < 6 ? len : 6;
	if (memcmp(data, v1, n) == 0)
		return n < 6 ? PROXY_NEED_MORE
			     : parse_v1(data, len, consumed, client, local);
	return PROXY_INVALID;
}
