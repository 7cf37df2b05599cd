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
 *    for the peer's socket without a limit of its own, so past QUEUE_MAX
 *    bytes waiting for room in it, this side's bytes wait in its own
 *    receive buffer instead — TCP's window then stops the sender, as with
 *    a user-space relay (backpressure).
 * Once PortMux has read and sent on every byte passed up, it writes their
 * count in `pmx_resume`; the next skb finds the count unchanged (nothing
 * was passed up since) and redirecting resumes, in order. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

/* Redirected bytes not yet taken by the peer's socket, at most. */
#define QUEUE_MAX (4u << 20)

/* The fields read of the kernel's struct tcp_sock (CO-RE: libbpf finds
 * them in the running kernel's BTF). */
struct tcp_sock {
	__u32 write_seq;
	__u32 snd_una;
	__u64 bytes_acked;
} __attribute__((preserve_access_index));

struct pmx_peer {
	__u32 slot;   /* the peer's slot in pmx_socks */
	__u32 user;   /* 1: this socket's bytes are passed up */
	__u64 bytes;  /* bytes redirected to the peer */
	__u64 base;   /* the peer's bytes_acked + send queue when it went in
			 (user space's upper bound) */
	__u64 passed; /* bytes passed up */
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

/* Has the peer's socket taken all but QUEUE_MAX of what was redirected
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
	return written + QUEUE_MAX >= p->base + p->bytes + p->passed;
}

SEC("sk_skb/stream_verdict")
int pmx_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct pmx_peer *p = bpf_map_lookup_elem(&pmx_peers, &cookie);
	__u32 len = skb->len;
	struct bpf_sock *sk;
	int ok;

	/* A FIN comes as an skb without bytes: the kernel would fail to send
	 * it on (a send of nothing reads as a broken pipe) and a reader
	 * could take it for the end. TCP has seen the FIN already: drop it.
	 * PortMux passes the FIN on itself, once the bytes have landed. */
	if (len == 0)
		return SK_DROP;
	if (p == 0)
		return SK_PASS;
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
