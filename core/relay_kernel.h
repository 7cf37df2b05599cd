/* relay_kernel.h — the eBPF program behind `relay: kernel`: loading it
 * once per process (at start-up, before privileges are dropped), its two
 * maps, and the pairs of slots connections take in them.
 *
 * The program (core/bpf/relay.bpf.c, compiled with clang's bpf target and
 * embedded in the binary) is a stream verdict program attached to a
 * SOCKMAP: a connection's client socket sits at slot 2k, its server at
 * 2k+1, and what one receives is redirected to the other's send side by
 * the kernel, without waking PortMux. A HASH map keyed by socket cookie
 * gives each socket its peer's slot and counts the bytes redirected.
 *
 * What a connection does with it (when to go in, EOF, close) is
 * conn_kernel.c's business. Thread-safe: every worker shares the maps. */
#ifndef PMX_RELAY_KERNEL_H
#define PMX_RELAY_KERNEL_H

#include <stddef.h>
#include <stdint.h>

struct config;

/* Does the configuration ask for `relay: kernel` anywhere (PORTMUX or a
 * route)? Read from the tree, like config_wants_transparent. */
int relay_kernel_wanted(const struct config *cfg);

/* cfg wants the kernel relay and it is not loaded yet: load it, for
 * cfg->max_connections connections at most (capped). A failure is logged
 * once per process (why, and that splice/copy is used instead). Called
 * from the main thread: at start-up, before the privilege drop, and after
 * a reload. */
void relay_kernel_prepare(const struct config *cfg);

/* Is the program loaded (an acquire load: any thread)? */
int relay_kernel_ready(void);

/* Close the program and its maps (every relayed socket leaves the map). At
 * exit, once the workers are gone. */
void relay_kernel_unload(void);

/* A free pair k (slots 2k and 2k+1), or -1 when all are taken. Taking
 * and giving back a pair sets each socket's share of the queue budget
 * for the connections in (relay_kernel_queue_share). */
long relay_kernel_pair_get(void);
void relay_kernel_pair_put(long k);

/* The most the kernel may queue for one socket, redirected from its peer,
 * while `connections` are in the kernel relay: a power of two between
 * 16 KiB and 64 MiB, so that two per connection stay within 256 MiB
 * (relay_kernel.c says why). */
uint64_t relay_kernel_queue_share(long connections);

/* What the program reads as that bound now (from its map: 0 if it is not
 * loaded or has no bound to set). */
uint64_t relay_kernel_queue_max(void);

/* Map entries. 0, or -1 with errno. `base`: the peer socket's bytes
 * acked plus its send queue now (what user space wrote to it). */
int relay_kernel_peer_set(uint64_t cookie, uint32_t peer_slot,
			  uint64_t base);
/* What the program did with one socket's bytes. */
struct relay_kernel_counts {
	int user;        /* passes them up now (no peer yet, or the peer's
			    reader fell behind) */
	int broken;      /* bytes the kernel handed over twice could not be
			    cut: the stream cannot go on */
	uint64_t bytes;  /* redirected to the peer */
	uint64_t passed; /* passed up to user space */
	uint64_t repeated; /* handed over by the kernel a second time: cut */
};
int relay_kernel_peer_get(uint64_t cookie, struct relay_kernel_counts *out);
/* Every byte passed up, `passed` of them, was read and sent on: the
 * program may redirect again (if nothing more was passed up meanwhile). */
int relay_kernel_resume(uint64_t cookie, uint64_t passed);
/* Both of the socket's entries. */
int relay_kernel_peer_del(uint64_t cookie);
int relay_kernel_sock_set(uint32_t slot, int fd);
int relay_kernel_sock_del(uint32_t slot);

#endif
