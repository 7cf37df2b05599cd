/* relay.bpf.c — the kernel relay's stream verdict program (relay: kernel).
 *
 * Built with clang's bpf target, embedded in the binary and loaded at
 * start-up by core/relay_kernel.c. Each relayed socket is in `pmx_socks`
 * (a SOCKMAP: a connection's client at slot 2k, its server at 2k+1) and
 * has an entry in `pmx_peers` keyed by its socket cookie: the slot of its
 * peer and counters. The program runs on every skb a socket of the map
 * receives and redirects it to the peer's send side.
 *
 * Bytes it does not redirect are passed up to the socket's own reader
 * (never dropped), and so are all that follow (`user`, in order): PortMux
 * relays them by copy. That happens when
 *  - the peer is not in the map yet (the two sockets go in one after the
 *    other);
 *  - the peer's reader falls behind: the kernel queues redirected bytes
 *    for the peer's socket without a limit of its own, so past
 *    pmx_queue_max bytes waiting for room in it, this side's bytes wait in
 *    its own receive buffer instead — TCP's window then stops the sender,
 *    as with a user-space relay (backpressure).
 * Once PortMux has read and sent on every byte passed up, it writes their
 * count in `pmx_resume`; the next skb finds the count unchanged (nothing
 * was passed up since) and redirecting resumes, in order.
 *
 * Bytes are handed over once. The kernel gives the program whole skbs of
 * the receive queue, and an skb there may begin with bytes the socket had
 * already received: a retransmitted segment that overlaps what came before
 * is queued untrimmed (readers normally skip the overlap by its sequence
 * number; the sockmap's reader does not). Seen here with Linux 6.18 in
 * a few runs in a hundred of t_bulk's 100 MB each way under load (64 KiB
 * sent twice), and in one run in three through a loopback that drops
 * packets (t_kernel_relay_loss). So the program remembers where each
 * socket's stream stands (`next_seq`) and cuts what an skb repeats before
 * anything else. */
#include <linux/bpf.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

/* Redirected bytes not yet taken by the peer's socket, at most. PortMux
 * writes it through the .data section, which it maps: each socket's share
 * of the process's budget for the connections in the kernel relay now
 * (relay_kernel.c). This start value holds only if it cannot. */
__u64 pmx_queue_max = 4u << 20;

/* The fields read of the kernel's struct tcp_sock and struct sk_buff
 * (CO-RE: libbpf finds them in the running kernel's BTF). */
struct tcp_sock {
	__u32 copied_seq;
	__u32 write_seq;
	__u32 snd_una;
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

struct sk_buff {
	char cb[48]; /* TCP's control block: the first field is the skb's
			starting sequence number */
} __attribute__((preserve_access_index));

/* The most one sk_skb_adjust_room call cuts, and the most calls for one
 * skb: 2 MiB (an skb of the receive queue grows beyond a segment as TCP
 * coalesces segments into it; 895 KiB repeated at once were seen). */
#define CUT_STEP 4095
#define CUT_CALLS 512

struct pmx_peer {
	__u32 slot;   /* the peer's slot in pmx_socks */
	__u32 user;   /* 1: this socket's bytes are passed up */
	__u64 bytes;  /* bytes redirected to the peer */
	__u64 base;   /* the peer's bytes_acked + send queue when it went in
			 (user space's upper bound) */
	__u64 passed; /* bytes passed up */
	__u64 repeated; /* bytes the kernel handed over a second time, cut */
	__u32 next_seq; /* the sequence number of the next new byte */
	__u32 seq_known; /* next_seq is set (at the first skb) */
	__u32 broken;    /* repeated bytes could not be cut: PortMux ends
			    the connection */
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2); /* the loader sets the real size */
	__type(key, __u32);
	__type(value, __u64);
} pmx_socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2); /* the loader sets the real size */
	__type(key, __u64);
	__type(value, struct pmx_peer);
} pmx_peers SEC(".maps");

/* Written by user space only: `passed` as it was when PortMux had sent
 * all of those bytes on (the program resumes redirecting if it still is). */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 2); /* the loader sets the real size */
	__type(key, __u64);
	__type(value, __u64);
} pmx_resume SEC(".maps");

/* Has the peer's socket taken all but pmx_queue_max of what was redirected
 * to it (bytes written into it: acked plus still in its send queue)? */
static int
peer_keeps_up(struct pmx_peer *p, struct bpf_sock *sk)
{
	struct tcp_sock *tp = bpf_skc_to_tcp_sock(sk);
	__u64 written;

	if (tp == 0)
		return 1;
	written = tp->bytes_acked + (__u32)(tp->write_seq - tp->snd_una);
	/* Everything of this side's that reached the peer: what user space
	 * wrote before, what was redirected, what was passed up (and sent
	 * on by user space, or waiting to be). */
	return written + *(volatile __u64 *)&pmx_queue_max >=
	       p->base + p->bytes + p->passed;
}

/* The sequence number of the skb's first byte (TCP_SKB_CB(skb)->seq). */
static __u32
skb_seq(struct __sk_buff *skb)
{
	__u32 seq = 0;

	bpf_probe_read_kernel(&seq, sizeof(seq),
			      (char *)skb + bpf_core_field_offset(
						    struct sk_buff, cb));
	return seq;
}

/* Where the socket's stream stood before its first skb came here: every
 * byte before was read by PortMux (it went in with nothing unread). */
static __u32
first_seq(struct __sk_buff *skb, __u32 seq)
{
	struct bpf_sock *sk = skb->sk;
	struct tcp_sock *tp;

	if (sk == 0)
		return seq;
	tp = bpf_skc_to_tcp_sock(sk);
	return tp ? tp->copied_seq : seq;
}

/*
 * Cut the bytes of skb that came here before: the new ones are left, or
 * none. Cutting them (rather than dropping the skb) keeps the socket's
 * count of bytes consumed right: the kernel adds what is left of an skb
 * it drops or redirects. The new length (0: all of it came before), or -1
 * if it could not be cut.
 */
static int
cut_repeat(struct __sk_buff *skb, struct pmx_peer *p)
{
	__u32 seq = skb_seq(skb), len = skb->len;
	__u32 old, left;

	if (!p->seq_known) {
		p->next_seq = first_seq(skb, seq);
		p->seq_known = 1;
	}
	old = p->next_seq - seq;
	if ((__s32)old <= 0) { /* nothing repeated (a gap cannot happen) */
		p->next_seq = seq + len;
		return (int)len;
	}
	if (old > len)
		old = len;
	/* The bytes to cut in the skb's linear part at once: each call then
	 * only moves its start (else each would copy the next 4 KiB there,
	 * growing it every time). A failure leaves that to the calls. */
	if (old > CUT_STEP)
		bpf_skb_pull_data(skb, old);
	left = old;
	for (int i = 0; i < CUT_CALLS && left > 0; i++) {
		__u32 step = left < CUT_STEP ? left : CUT_STEP;

		if (bpf_skb_adjust_room(skb, -(__s32)step, 0, 0) < 0)
			return -1;
		left -= step;
	}
	if (left > 0)
		return -1;
	__sync_fetch_and_add(&p->repeated, old);
	if (old < len)
		p->next_seq = seq + len;
	return (int)(len - old);
}

SEC("sk_skb/stream_verdict")
int pmx_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct pmx_peer *p = bpf_map_lookup_elem(&pmx_peers, &cookie);
	__u32 len = skb->len;
	struct bpf_sock *sk;
	int ok, n;

	/* A FIN comes as an skb without bytes: the kernel would fail to send
	 * it on (a send of nothing reads as a broken pipe) and a reader
	 * could take it for the end. TCP has seen the FIN already: drop it.
	 * PortMux passes the FIN on itself, once the bytes have landed. */
	if (len == 0)
		return SK_DROP;
	if (p == 0)
		return SK_PASS;
	n = cut_repeat(skb, p);
	if (n == 0)
		return SK_DROP; /* all of it came before (nothing left) */
	if (n < 0) {
		/* (never seen) Wake PortMux, which ends the connection. */
		p->broken = 1;
		return SK_PASS;
	}
	len = (__u32)n;
	if (p->user) {
		__u64 *mark = bpf_map_lookup_elem(&pmx_resume, &cookie);

		if (mark == 0 || *mark != p->passed)
			goto pass; /* user space has not caught up */
	}
	sk = bpf_map_lookup_elem(&pmx_socks, &p->slot);
	if (sk == 0)
		goto pause; /* no peer yet */
	ok = peer_keeps_up(p, sk);
	bpf_sk_release(sk);
	if (!ok ||
	    bpf_sk_redirect_map(skb, &pmx_socks, p->slot, 0) != SK_PASS)
		goto pause;
	p->user = 0;
	__sync_fetch_and_add(&p->bytes, len);
	return SK_PASS;
pause:
	p->user = 1;
pass:
	__sync_fetch_and_add(&p->passed, len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
