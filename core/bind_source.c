/* bind_source.c — parsing and checking `source:` addresses, and binding a
 * backend socket to one (bind_source.h). */
#include "bind_source.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
bind_source(int fd, const struct addr *src)
{
	int one = 1;

	/* Without it bind() would take a port at once, unique for the
	 * address alone: one port range shared by every backend. */
	setsockopt(fd, SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, (const struct sockaddr *)&src->ss, src->len);
}

/* Can a socket of this host be bound to a? 0, or the errno. */
static int
bindable(const struct addr *a)
{
	int fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int rc = 0;

	if (fd < 0)
		return errno;
	if (bind_source(fd, a) < 0)
		rc = errno;
	close(fd);
	return rc;
}

/* 0.0.0.0 or :: */
static int
unspecified(const struct addr *a)
{
	const struct sockaddr_in *v4 = (const struct sockaddr_in *)&a->ss;
	const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&a->ss;

	if (a->ss.ss_family == AF_INET)
		return v4->sin_addr.s_addr == htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr);
}

static int
parse_one(const struct pmx_node *item, const char *what,
	  struct bind_sources *out, char *err, size_t errlen)
{
	const char *s = node_scalar(item);
	struct addr *a = &out->a[out->n];
	int rc;

	if (s == NULL || addr_from_literal(s, 0, a) < 0)
		return node_error(item, err, errlen,
				  "%s: expected an IP address of this host "
				  "(\"10.0.0.2\", \"2001:db8::2\"), found %s",
				  what, s ? s : node_kind_name(item));
	if (unspecified(a))
		return node_error(item, err, errlen,
				  "%s: %s means any address: leave source out "
				  "for the kernel's choice",
				  what, s);
	for (unsigned i = 0; i < out->n; i++)
		if (addr_same(&out->a[i], a))
			return node_error(item, err, errlen,
					  "%s: %s is listed twice", what, s);
	rc = bindable(a);
	if (rc != 0)
		return node_error(item, err, errlen,
				  "%s: cannot use %s as a source address "
				  "(%s)%s",
				  what, s, strerror(rc),
				  rc == EADDRNOTAVAIL
				      ? ": it is not an address of this "
					"host"
				      : "");
	out->n++;
	return 0;
}

int
bind_sources_parse(const struct pmx_node *node, const char *what,
		   struct bind_sources *out, char *err, size_t errlen)
{
	int seq = node_kind(node) == PMX_NODE_SEQ;
	size_t n = seq ? node_size(node) : 1;

	bind_sources_clear(out);
	if (seq && n == 0)
		return node_error(node, err, errlen,
				  "%s: expected an address or a list of "
				  "addresses, found an empty list",
				  what);
	if (n > BIND_SOURCES_MAX)
		return node_error(node, err, errlen,
				  "%s: at most %d addresses, found %zu", what,
				  BIND_SOURCES_MAX, n);
	out->a = calloc(n, sizeof(*out->a));
	if (out->a == NULL)
		return node_error(node, err, errlen, "out of memory");
	for (size_t i = 0; i < n; i++) {
		if (parse_one(seq ? node_at(node, i) : node, what, out, err,
			      errlen) < 0) {
			bind_sources_clear(out);
			return -1;
		}
	}
	return 0;
}

void
bind_sources_clear(struct bind_sources *s)
{
	free(s->a);
	s->a = NULL;
	s->n = 0;
}

int
bind_sources_has_family(const struct bind_sources *s, int family)
{
	for (unsigned i = 0; i < s->n; i++)
		if (s->a[i].ss.ss_family == family)
			return 1;
	return 0;
}
