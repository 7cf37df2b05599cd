/* cidr.c — address range lists. */
#include "cidr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

/* "a.b.c.d[/n]" or "v6[/n]" into c; 0, or -1 when it is neither. */
static int
cidr_parse(const char *s, struct cidr *c)
{
	char ip[INET6_ADDRSTRLEN + 1];
	const char *slash = strchr(s, '/');
	size_t iplen = slash ? (size_t)(slash - s) : strlen(s);
	long bits = -1;

	if (iplen >= sizeof(ip))
		return -1;
	memcpy(ip, s, iplen);
	ip[iplen] = '\0';
	if (inet_pton(AF_INET, ip, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, ip, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	if (slash) {
		char *end;
		bits = strtol(slash + 1, &end, 10);
		if (*end || slash[1] == '\0' || bits < 0 ||
		    bits > (c->family == AF_INET ? 32 : 128))
			return -1;
	}
	c->bits = bits >= 0 ? (int)bits : (c->family == AF_INET ? 32 : 128);
	return 0;
}

int
cidr_list_parse(const struct pmx_node *list, const char *what,
		struct cidr_list *out, char *err, size_t errlen)
{
	size_t n = node_size(list);

	if (node_kind(list) != PMX_NODE_SEQ || n == 0)
		return node_error(list, err, errlen,
				  "%s: expected a list of addresses or ranges "
				  "(\"10.0.0.0/8\"), found %s",
				  what, node_kind_name(list));
	cidr_list_clear(out);
	out->v = calloc(n, sizeof(*out->v));
	if (out->v == NULL)
		return node_error(list, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const struct pmx_node *item = node_at(list, i);
		const char *s = node_scalar(item);

		if (s == NULL)
			return node_error(item, err, errlen,
					  "%s: expected an address", what);
		if (cidr_parse(s, &out->v[i]) < 0)
			return node_error(item, err, errlen,
					  "%s: '%s' is not an address or a "
					  "range like 10.0.0.0/8 or fd00::/8",
					  what, s);
		out->n++;
	}
	return 0;
}

void
cidr_list_clear(struct cidr_list *l)
{
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

int
cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa)
{
	const uint8_t *a;
	int family = sa->sa_family;

	if (family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)
					       (const void *)sa)
			    ->sin_addr;
	} else if (family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr;
		a = a6->s6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			a += 12; /* compared as IPv4 */
			family = AF_INET;
		}
	} else {
		return 0;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct cidr *c = &l->v[i];
		int full = c->bits / 8, rest = c->bits % 8;

		if (c->family != family || memcmp(a, c->addr, (size_t)full))
			continue;
		if (rest == 0 ||
		    ((a[full] ^ c->addr[full]) & (0xff << (8 - rest))) == 0)
			return 1;
	}
	return 0;
}

int
cidr_allowed(const struct cidr_list *allow, const struct cidr_list *deny,
	     const struct sockaddr *sa)
{
	if (cidr_list_match(deny, sa))
		return 0;
	return allow->n == 0 || cidr_list_match(allow, sa);
}
