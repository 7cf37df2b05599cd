/* addr.c — address text and resolution. */
#include "addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int
parse_port(const char *s, long *port, char *err, size_t errlen)
{
	char *end;
	long v;

	if (*s == '\0' || !isdigit((unsigned char)*s)) {
		snprintf(err, errlen, "bad port '%s'", s);
		return -1;
	}
	v = strtol(s, &end, 10);
	if (*end != '\0' || v < 1 || v > 65535) {
		snprintf(err, errlen, "port '%s' is out of range (1 to 65535)",
			 s);
		return -1;
	}
	*port = v;
	return 0;
}

static int
copy_host(const char *s, size_t n, char *host, size_t hostlen, char *err,
	  size_t errlen)
{
	if (n >= hostlen) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	memcpy(host, s, n);
	host[n] = '\0';
	return 0;
}

int
addr_split(const char *text, char *host, size_t hostlen, long *port,
	   char *err, size_t errlen)
{
	const char *colon;

	host[0] = '\0';
	*port = 0;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL) {
			snprintf(err, errlen, "missing ']' in '%s'", text);
			return -1;
		}
		if (copy_host(text + 1, (size_t)(close - text - 1), host,
			      hostlen, err, errlen) < 0)
			return -1;
		if (close[1] == '\0')
			return 0;
		if (close[1] != ':') {
			snprintf(err, errlen,
				 "unexpected text after ']' in '%s'", text);
			return -1;
		}
		return parse_port(close + 2, port, err, errlen);
	}
	colon = strchr(text, ':');
	if (colon != NULL && strchr(colon + 1, ':') != NULL)
		/* Several colons and no brackets: a bare IPv6 literal. */
		return copy_host(text, strlen(text), host, hostlen, err,
				 errlen);
	if (colon == NULL) {
		size_t i;
		for (i = 0; text[i] && isdigit((unsigned char)text[i]); i++)
			;
		if (text[i] == '\0' && i > 0)
			return parse_port(text, port, err, errlen);
		return copy_host(text, strlen(text), host, hostlen, err,
				 errlen);
	}
	if (copy_host(text, (size_t)(colon - text), host, hostlen, err,
		      errlen) < 0)
		return -1;
	return parse_port(colon + 1, port, err, errlen);
}

int
addr_from_literal(const char *host, uint16_t port, struct addr *out)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
		return 0;
	}
	return -1;
}

int
addr_resolve(const char *host, uint16_t port, struct addr *out, int max,
	     char *err, size_t errlen)
{
	struct addrinfo hints = {0}, *res = NULL, *ai;
	char service[8];
	int n = 0, rc;

	if (max > 0 && addr_from_literal(host, port, &out[0]) == 0)
		return 1;
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	snprintf(service, sizeof(service), "%u", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 gai_strerror(rc));
		return -1;
	}
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_addrlen > sizeof(out[n].ss))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		snprintf(err, errlen, "'%s' has no usable address", host);
		return -1;
	}
	return n;
}

int
addr_same(const struct addr *a, const struct addr *b)
{
	const struct sockaddr_in *a4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in *b4 = (const struct sockaddr_in *)&b->ss;
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)&a->ss;
	const struct sockaddr_in6 *b6 = (const struct sockaddr_in6 *)&b->ss;

	if (a->ss.ss_family != b->ss.ss_family)
		return 0;
	if (a->ss.ss_family == AF_INET)
		return a4->sin_port == b4->sin_port &&
		       a4->sin_addr.s_addr == b4->sin_addr.s_addr;
	if (a->ss.ss_family == AF_INET6)
		return a6->sin6_port == b6->sin6_port &&
		       a6->sin6_scope_id == b6->sin6_scope_id &&
		       memcmp(&a6->sin6_addr, &b6->sin6_addr,
			      sizeof(a6->sin6_addr)) == 0;
	return 0;
}

char *
addr_format(const struct sockaddr *sa, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];

	if (sa == NULL) {
		snprintf(buf, len, "-");
	} else if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)sa;
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const void *)sa;
		inet_ntop(AF_INET6, &sin6->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(sin6->sin6_port));
	} else {
		snprintf(buf, len, "unix");
	}
	return buf;
}
