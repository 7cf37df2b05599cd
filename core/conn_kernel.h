/* conn_kernel.h — a relaying connection handed to the kernel relay
 * (`relay: kernel`, relay_kernel.h): its two sockets in the eBPF sockmap,
 * the kernel moving the bytes both ways, PortMux waking only for EOF,
 * errors and its timers.
 *
 * Going in. Once the connection relays, the probe bytes are flushed,
 * nothing is pending either way and neither socket holds unread bytes or
 * an EOF, both sockets go into the map (the client first). Otherwise it
 * stays in user space, trying again after later events (a few times).
 * If client bytes arrive in the moment between the two insertions, the
 * program keeps them (and all later client bytes) for user space, in
 * order: that direction is then relayed here by copy, the other one by
 * the kernel.
 *
 * EOF. A socket's FIN is seen in its TCP state, never by reading (a read
 * would take bytes the kernel is about to redirect). The FIN is passed on
 * with shutdown(SHUT_WR) only once every byte redirected from that socket
 * is in the other socket's send queue: the program counts what it
 * redirects, and the other socket's bytes acked plus its send queue tell
 * what reached it. Until then a short timer (the connection's one timer,
 * unused while relaying) looks again.
 *
 * A side relayed by copy for a while (the program passed its bytes up:
 * backpressure) ends only once every byte passed up was read: some may
 * still be in the kernel's backlog when the FIN shows. Bytes the kernel
 * hands over twice (a retransmission overlapping what came before) are
 * cut by the program, which keeps each socket's next sequence number;
 * where it cannot cut them the connection ends with an error (EPROTO)
 * rather than pass them on.
 *
 * A side that reads as ready with nothing queued (bytes passed up still
 * on their way count as unread for TCP) looks again on the timer, backing
 * off, instead of spinning. While a side goes by copy the timer also
 * looks, every 0.1 s, at how much the kernel holds passed up and unread:
 * past 256 MiB the connection is closed (kernel_queue_full) — a client
 * that never reads would otherwise make it hold without limit.
 *
 * Timeouts. The idle sweep asks conn_kernel_moved() before closing a
 * connection in the kernel relay: bytes that moved count as activity.
 *
 * Ownership: the connection owns its `struct kpair` (conn.h `kernel`);
 * conn_kernel_end(), called by conn_close(), frees it and takes the
 * sockets out of the map before they are closed. */
#ifndef PMX_CONN_KERNEL_H
#define PMX_CONN_KERNEL_H

#include "conn.h"

/* At relay_start: c's zerocopy and whether it will try the kernel relay,
 * from its route's `relay` (else PORTMUX's) and priority. */
void conn_relay_mode(struct conn *c);

/* After a user-space relay event while c->kernel_try: go into the kernel
 * relay if this is the moment. May close c. */
void conn_kernel_try(struct conn *c);

/* A socket of c (in the kernel relay) is ready. May close c. */
void conn_kernel_event(struct conn *c, struct side *self, int revents);

/* c's timer fired while it waits for redirected bytes to land before
 * passing a FIN on. May close c. */
void conn_kernel_timer(struct conn *c);

/* Did bytes move through c since the last call (or since it went in)? */
int conn_kernel_moved(struct conn *c);

/* Closing c: add the bytes the kernel moved to each side's count, take
 * the sockets out of the map, free c->kernel. */
void conn_kernel_end(struct conn *c);

#endif
