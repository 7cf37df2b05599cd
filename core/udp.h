/* udp.h — UDP on the listening addresses: the first datagram of each new
 * client address is shown to the UDP-capable detectors; a match opens a
 * flow (a socket connected to the backend) and datagrams are relayed both
 * ways until the flow has been idle for udp_timeout. The flow table has a
 * size limit; when full, the least recently active flow makes room. */
#ifndef PMX_UDP_H
#define PMX_UDP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>

#include "activation.h"
#include "addr.h"
#include "log.h"

struct worker;
struct udp_flow;

struct udp_listener {
	ev_io io;
	int fd;
	struct worker *w;
	struct addr addr;
	char text[ADDR_TEXT_MAX];
	struct udp_flow **buckets; /* hash of client address -> flow */
	size_t nbuckets;
	size_t nflows;    /* connected flows: udp_max_flows bounds them */
	size_t ndeciding; /* flows whose first datagram is being judged */
	struct udp_flow *lru_head, *lru_tail; /* most recent first */
	ev_timer sweep;
	struct log_ratelimit drop_rl;
};

/* Open UDP sockets on every TCP listen address of w (if the generation
 * wants UDP), with SO_REUSEPORT when `shared` (several workers: the
 * kernel keeps each client address on one socket). With sockets from
 * systemd (`act`), worker 0 alone reads its UDP ones, so all of a client's
 * datagrams meet one flow table. -1 with err. */
int udp_start(struct worker *w, int shared, const struct activation *act,
	      char *err, size_t errlen);
void udp_stop(struct worker *w);

#endif
