/* cidr.h — lists of addresses and ranges ("10.0.0.0/8", "fd00::/8",
 * "192.0.2.7"), IPv4 and IPv6: who may connect (allow / deny), which
 * balancers are trusted (accept_proxy). An IPv4 client on an IPv6 socket
 * (::ffff:a.b.c.d) is compared as IPv4. */
#ifndef PMX_CIDR_H
#define PMX_CIDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "yaml_tree.h"

struct cidr {
	int family;
	uint8_t addr[16];
	int bits;
};

/* Owned by its config or backend; freed with cidr_list_clear(). */
struct cidr_list {
	struct cidr *v;
	size_t n;
};

/* A YAML list of addresses or ranges; `what` names the key in messages.
 * 0, or -1 with a located message. */
int cidr_list_parse(const struct pmx_node *list, const char *what,
		    struct cidr_list *out, char *err, size_t errlen);
void cidr_list_clear(struct cidr_list *l);
/* Is `sa` (AF_INET or AF_INET6) in one of the list's ranges? */
int cidr_list_match(const struct cidr_list *l, const struct sockaddr *sa);
/* May `sa` pass: not in `deny`, and in `allow` when it has entries. */
int cidr_allowed(const struct cidr_list *allow, const struct cidr_list *deny,
		 const struct sockaddr *sa);

#endif
