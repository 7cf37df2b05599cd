/* udp.h — UDP on a listening address: the first datagram of each new
 * client address is shown to the UDP-capable detectors — and its next
 * ones too, held meanwhile, while a detector that reads datagrams
 * (PMX_DF_DATAGRAMS) needs more, up to 16 of them, probe_buffer bytes and
 * probe_deadline; a match opens a flow (a socket connected to the
 * backend), what was held goes first, in order, and datagrams are relayed
 * both ways until the flow has been idle for udp_timeout.
 *
 * Source addresses may be forged, so every resource a datagram can make
 * PortMux spend is bounded: flows by udp_max_flows — when full, the least
 * recently active flow whose backend has not answered makes room, one
 * whose backend answered (established) is never pushed out, and with
 * every flow established a new client is dropped; flows per source by
 * udp_flows_per_source; bytes held for flows being decided by
 * udp_queue_bytes; flow sockets by a process-wide descriptor budget; hash
 * chains by a keyed hash; log lines by a once-a-second summary of drops.
 *
 * Ownership: a listener owns its socket (given to udp_listener_start), its
 * flows and its sources' counts; a flow owns its backend socket, its
 * queued datagrams, its explicit backend and a generation reference.
 * flow_free() in udp.c is the one place a flow ends. */
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
struct udp_source;
TAILQ_HEAD(udp_lru, udp_flow);

/* A flow's state, and the list of the listener it is on. */
enum udp_flow_state {
	UDP_DECIDING,    /* its first datagrams are being judged */
	UDP_CONNECTED,   /* it has a socket to its backend */
	UDP_ESTABLISHED, /* and the backend answered: never evicted */
	UDP_NSTATES,
};

/* What was dropped: datagrams, new clients, flows whose backend never
 * answered. Counted per listener and summed up in one line at most once a
 * second — never a line each: the source address of a datagram may be
 * forged, and there may be thousands. */
enum udp_drop {
	UDP_DROP_UNCLAIMED,   /* first datagrams no detector claimed */
	UDP_DROP_NO_ROUTE,    /* claimed, with no route for them */
	UDP_DROP_EVICTED,     /* flows pushed out before an answer */
	UDP_DROP_UNREACHABLE, /* flows whose backend failed before an answer */
	UDP_DROP_DENIED,      /* clients PORTMUX.allow / deny or their
				 route's turn away */
	/* a limit was reached (the summary is a warning then): */
	UDP_DROP_TABLE_FULL,  /* new clients: udp_max_flows flows, every one
				 established */
	UDP_DROP_SOURCE_CAP,  /* new clients from a source that has
				 udp_flows_per_source flows */
	UDP_DROP_QUEUE_FULL,  /* datagrams of a flow being decided beyond its
				 16, or beyond udp_queue_bytes */
	UDP_DROP_NO_ROOM,     /* new clients that found no room to wait for
				 a blocking detector (udp_max_flows waiting,
				 or udp_queue_bytes) and nobody else claimed */
	UDP_DROP_FD_BUDGET,   /* new flows without a descriptor: the UDP
				 budget (udp_set_fd_budget) spent, or none
				 left at all */
	UDP_NDROPS,
};

struct udp_listener {
	ev_io io;
	int fd;
	struct loop_ctx *lc;
	struct addr addr;
	char text[ADDR_TEXT_MAX];
	int bind_errno; /* bound by the worker before start: why it failed */
	/* Client address -> flow: a hash table sized for udp_max_flows when
	 * the listener starts (a reload keeps its size), keyed with random
	 * bits of its own. Owned: freed by udp_listener_stop. */
	struct udp_flow **buckets;
	struct udp_source **sources; /* flows per source, the same size,
					key and owner */
	size_t nbuckets;
	uint8_t hkey[SIPHASH_KEY_SIZE];
	size_t nflows;       /* connected flows, established or not:
				udp_max_flows bounds them */
	size_t nestablished; /* of those, established */
	size_t ndeciding;    /* flows whose first datagrams are being judged
				(waiting for more, or for a blocking
				detector): udp_max_flows bounds those that
				wait */
	size_t held; /* bytes those hold (their queues, the copies blocking
			detectors work on): udp_queue_bytes bounds them */
	/* The flows in each state, most recently active first: the idle
	 * sweep reads the tails, a new flow may push out the tail of
	 * UDP_CONNECTED only. Each flow is owned by the listener: flow_free
	 * in udp.c unlinks and frees it. */
	struct udp_lru lru[UDP_NSTATES];
	ev_timer sweep; /* idle flows, and the drops' summary: every second */
	unsigned long drops[UDP_NDROPS];   /* since the last summary */
	unsigned long long dropped[UDP_NDROPS]; /* since the start */
	ev_tstamp drops_since;
};

/* Serve datagrams on `fd` (a bound, non-blocking UDP socket for `a`, which
 * the listener now owns) on lc's loop. 0, or -1 with errno (out of memory,
 * no random bytes for its hash key) and fd closed. */
int udp_listener_start(struct udp_listener *l, struct loop_ctx *lc, int fd,
		       const struct addr *a, const char *text);
/* End every flow, stop and close the socket. */
void udp_listener_stop(struct udp_listener *l);
/*
 * Descriptors for flow sockets, across all workers: at most n (main sets
 * it from the fd limit, keeping what TCP needs; unlimited until then). A
 * new flow beyond it may take the descriptor of a flow that is not
 * established, else it is dropped. Any thread.
 */
void udp_set_fd_budget(long n);
/* Flow sockets open now, in every worker. */
long udp_fds_open(void);
/* The most flows in one bucket of l's table (for tests). */
size_t udp_listener_longest_chain(const struct udp_listener *l);

#endif
