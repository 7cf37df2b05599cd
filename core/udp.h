/* udp.h — UDP on a listening address: the first datagram of each new
 * client address is shown to the UDP-capable detectors; a match opens a
 * flow (a socket connected to the backend) and datagrams are relayed both
 * ways until the flow has been idle for udp_timeout. The flow table has a
 * size limit; when full, the least recently active flow makes room.
 *
 * Ownership: a listener owns its socket (given to udp_listener_start) and
 * its flows; a flow owns its backend socket, its queued datagrams, its
 * explicit backend and a generation reference. flow_free() in udp.c is the
 * one place a flow ends. */
#ifndef PMX_UDP_H
#define PMX_UDP_H

#include <ev.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "addr.h"
#include "log.h"
#include "loop.h"
#include "siphash.h"

struct udp_flow;
TAILQ_HEAD(udp_lru, udp_flow);

struct udp_listener {
	ev_io io;
	int fd;
	struct loop_ctx *lc;
	struct addr addr;
	char text[ADDR_TEXT_MAX];
	/* Client address -> flow: a hash table sized for udp_max_flows when
	 * the listener starts (a reload keeps its size), keyed with random
	 * bits of its own. Owned: freed by udp_listener_stop. */
	struct udp_flow **buckets;
	size_t nbuckets;
	uint8_t hkey[SIPHASH_KEY_SIZE];
	size_t nflows;    /* connected flows: udp_max_flows bounds them */
	size_t ndeciding; /* flows whose first datagram is being judged */
	struct udp_lru lru; /* every flow, most recently active first */
	ev_timer sweep;
	struct log_ratelimit drop_rl;
};

/* Serve datagrams on `fd` (a bound, non-blocking UDP socket for `a`, which
 * the listener now owns) on lc's loop. 0, or -1 with errno (out of memory,
 * no random bytes for its hash key) and fd closed. */
int udp_listener_start(struct udp_listener *l, struct loop_ctx *lc, int fd,
		       const struct addr *a, const char *text);
/* End every flow, stop and close the socket. */
void udp_listener_stop(struct udp_listener *l);
/* The most flows in one bucket of l's table (for tests). */
size_t udp_listener_longest_chain(const struct udp_listener *l);

#endif
