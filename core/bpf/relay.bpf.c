/* relay.bpf.c — the kernel relay's stream verdict program (relay: kernel).
 *
 * Built with clang's bpf target, embedded in the binary and loaded at
 * start-up by core/relay_kernel.c. Each relayed socket is in `pmx_socks`
 * (a SOCKMAP: a connection's client at slot 2k, its server at 2k+1) and
 * has an entry in `pmx_peers` keyed by its socket cookie: the slot of its
 * peer and the bytes redirected to it. The program runs on every skb a
 * socket of the map receives and redirects it to the peer's send side.
 *
 * When the peer is not in the map yet (the two sockets go in one after the
 * other), the bytes are passed up to the socket's own reader instead of
 * dropped, and the socket's entry is marked `user`: from then on all of its
 * bytes go to user space, in order, and PortMux relays that direction
 * itself. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct pmx_peer {
	__u32 slot;  /* the peer's slot in pmx_socks */
	__u32 user;  /* 1: this socket's bytes are relayed by user space */
	__u64 bytes; /* bytes redirected to the peer */
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

SEC("sk_skb/stream_verdict")
int pmx_verdict(struct __sk_buff *skb)
{
	__u64 cookie = bpf_get_socket_cookie(skb);
	struct pmx_peer *p = bpf_map_lookup_elem(&pmx_peers, &cookie);
	__u32 len = skb->len;

	/* A FIN comes as an skb without bytes: the kernel would fail to send
	 * it on (a send of nothing reads as a broken pipe) and a reader
	 * could take it for the end. TCP has seen the FIN already: drop it.
	 * PortMux passes the FIN on itself, once the bytes have landed. */
	if (len == 0)
		return SK_DROP;
	if (p == 0 || p->user)
		return SK_PASS;
	if (bpf_sk_redirect_map(skb, &pmx_socks, p->slot, 0) != SK_PASS) {
		/* No peer yet: keep this side's bytes for user space. */
		p->user = 1;
		return SK_PASS;
	}
	__sync_fetch_and_add(&p->bytes, len);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
