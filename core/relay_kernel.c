/* relay_kernel.c — loading the kernel relay's eBPF program, its maps, and
 * the slot pairs (relay_kernel.h). */
#include "relay_kernel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "yaml_tree.h"

/* The compiled program (build/core/relay_bpf_obj.c, made by the Makefile
 * from core/bpf/relay.bpf.c). */
extern const unsigned char pmx_relay_bpf_obj[];
extern const unsigned int pmx_relay_bpf_obj_len;

/* Pairs at most, whatever max_connections says: 64 Ki pairs cost the
 * kernel about 1 MiB of SOCKMAP and the hash map's entries as used.
 * Connections beyond it relay in user space. */
#define PAIRS_MAX 65536

/* What the kernel may hold redirected for the relay's sockets, all
 * connections together: its queue for a socket is counted by no socket
 * buffer, so PortMux bounds it. Each socket gets a share (its peer's reader
 * falling behind, the program passes its bytes up beyond it): the budget
 * over two sockets per connection in the kernel relay, a power of two,
 * QUEUE_MAX at most (one or two bulk connections: 64 MiB each) and
 * QUEUE_MIN at least (from 8,192 connections on: then nearly every byte
 * that waits goes by copy). On a full stream the kernel's queue runs ahead
 * of the peer's socket by tens of MiB, as its work queue waits for a CPU;
 * past the share the program passes bytes up and PortMux copies them. In
 * bench/bulktune.sh (CONTENDER=portmux-kernel, 6 rounds) one stream went
 * 0.66x direct with 4 MiB for each socket, 0.70x with 32 MiB, 0.75x with
 * 64 MiB; 128 MiB and more were slower. -D builds others. */
#ifndef QUEUE_BUDGET
#define QUEUE_BUDGET (256ull << 20)
#endif
#ifndef QUEUE_MAX
#define QUEUE_MAX (64ull << 20)
#endif
#define QUEUE_MIN (16ull << 10)

/* Must match struct pmx_peer in core/bpf/relay.bpf.c. */
struct peer_value {
	uint32_t slot;
	uint32_t user;
	uint64_t bytes;
	uint64_t base;
	uint64_t passed;
	uint64_t repeated;
	uint32_t next_seq;
	uint32_t seq_known;
	uint32_t broken;
	uint32_t pad;
};

/* The process's one program and maps, and the free pairs. Owned here:
 * set once by relay_kernel_prepare (main thread), freed by
 * relay_kernel_unload; `ready` publishes them to the workers. */
static struct {
	struct bpf_object *obj;
	int socks_fd, peers_fd, resume_fd, prog_fd;
	int ready;  /* atomic */
	int failed; /* a load failed (and was logged): not tried again */
	pthread_mutex_t lock; /* the free stack and the share */
	long *free;           /* free pairs (a stack) */
	long nfree, npairs;
	/* The program's pmx_queue_max (its .data section, mapped here; NULL
	 * if it could not be: the program's start value holds). Written
	 * under `lock`; unmapped by close_all. */
	uint64_t *queue_max;
	size_t queue_map_len;
	int data_fd; /* the .data map (owned by obj) */
} rk = {.socks_fd = -1, .peers_fd = -1, .resume_fd = -1, .prog_fd = -1,
	.data_fd = -1, .lock = PTHREAD_MUTEX_INITIALIZER};

/* ---- does the configuration ask for it ---- */

static int
is_kernel(const struct pmx_node *n)
{
	const char *s = n ? node_scalar(n) : NULL;

	return s != NULL && strcmp(s, "kernel") == 0;
}

static int
map_wants(const struct pmx_node *b)
{
	return is_kernel(node_get(b, "relay"));
}

static int
target_wants(const struct target *t)
{
	return t->kind == TARGET_BACKEND && t->backend.relay == RELAY_KERNEL;
}

int
relay_kernel_wanted(const struct config *cfg)
{
	return cfg->relay == RELAY_KERNEL ||
	       config_any_backend(cfg, map_wants, target_wants);
}

/* ---- loading ---- */

/* libbpf's own messages: its warnings at debug level (the one warning
 * PortMux logs says what failed). */
static int
libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[512];
	size_t n;

	if (level == LIBBPF_DEBUG || log_get_level() < LOG_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	if (n > 0 && line[n - 1] == '\n')
		line[n - 1] = '\0';
	log_debug("libbpf: %s", line);
	return 0;
}

static void
close_all(void)
{
	if (rk.queue_max != NULL)
		munmap(rk.queue_max, rk.queue_map_len);
	rk.queue_max = NULL;
	if (rk.obj != NULL)
		bpf_object__close(rk.obj); /* closes the map and program fds */
	rk.obj = NULL;
	rk.socks_fd = rk.peers_fd = rk.resume_fd = rk.prog_fd = -1;
	rk.data_fd = -1;
	free(rk.free);
	rk.free = NULL;
	rk.nfree = rk.npairs = 0;
}

uint64_t
relay_kernel_queue_share(long connections)
{
	uint64_t queues = 2 * (uint64_t)(connections > 1 ? connections : 1);
	uint64_t share = QUEUE_MAX;

	while (share > QUEUE_MIN && queues * share > QUEUE_BUDGET)
		share >>= 1;
	return share;
}

/* Write the share for the connections in now (rk.lock held). */
static void
share_out(void)
{
	long in = rk.npairs - rk.nfree;
	uint64_t share = relay_kernel_queue_share(in);

	if (rk.queue_max == NULL ||
	    __atomic_load_n(rk.queue_max, __ATOMIC_RELAXED) == share)
		return;
	__atomic_store_n(rk.queue_max, share, __ATOMIC_RELAXED);
	log_debug("relay: kernel: %ld connection(s) in, up to %llu KiB "
		  "queued for each socket",
		  in, (unsigned long long)(share >> 10));
}

/* Map the program's .data section (its one variable, pmx_queue_max), so
 * that a share is one store, not a system call. */
static void
map_queue_max(void)
{
	struct bpf_map *m;
	long page = sysconf(_SC_PAGESIZE);
	void *p;

	bpf_object__for_each_map(m, rk.obj)
	{
		const char *name = bpf_map__name(m);
		size_t n = strlen(name);

		if (n >= 5 && strcmp(name + n - 5, ".data") == 0)
			break;
	}
	if (m == NULL || bpf_map__value_size(m) != sizeof(uint64_t) ||
	    !(bpf_map__map_flags(m) & BPF_F_MMAPABLE) || page <= 0) {
		log_debug("relay: kernel: the program's queue bound cannot "
			  "be set: 4 MiB for each socket");
		return;
	}
	p = mmap(NULL, (size_t)page, PROT_READ | PROT_WRITE, MAP_SHARED,
		 bpf_map__fd(m), 0);
	if (p == MAP_FAILED) {
		log_debug("relay: kernel: cannot map the program's data: %s",
			  strerror(errno));
		return;
	}
	rk.queue_max = p;
	rk.queue_map_len = (size_t)page;
	rk.data_fd = bpf_map__fd(m);
	share_out();
}

/* Open, size, load and attach. 0, or -1 with a reason in err. */
static int
load(long pairs, char *err, size_t errlen)
{
	struct bpf_map *socks, *peers, *resume;
	struct bpf_program *prog;
	int rc;

	libbpf_set_print(libbpf_log);
	rk.obj = bpf_object__open_mem(pmx_relay_bpf_obj,
				      pmx_relay_bpf_obj_len, NULL);
	if (rk.obj == NULL) {
		snprintf(err, errlen, "cannot open the program: %s",
			 strerror(errno));
		return -1;
	}
	socks = bpf_object__find_map_by_name(rk.obj, "pmx_socks");
	peers = bpf_object__find_map_by_name(rk.obj, "pmx_peers");
	resume = bpf_object__find_map_by_name(rk.obj, "pmx_resume");
	prog = bpf_object__find_program_by_name(rk.obj, "pmx_verdict");
	if (socks == NULL || peers == NULL || resume == NULL ||
	    prog == NULL) {
		snprintf(err, errlen, "the embedded program is incomplete");
		return -1;
	}
	if (bpf_map__set_max_entries(socks, (uint32_t)pairs * 2) < 0 ||
	    bpf_map__set_max_entries(peers, (uint32_t)pairs * 2) < 0 ||
	    bpf_map__set_max_entries(resume, (uint32_t)pairs * 2) < 0 ||
	    bpf_map__set_map_flags(peers, BPF_F_NO_PREALLOC) < 0 ||
	    bpf_map__set_map_flags(resume, BPF_F_NO_PREALLOC) < 0) {
		snprintf(err, errlen, "cannot size the maps");
		return -1;
	}
	rc = bpf_object__load(rk.obj);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot load the program: %s (it needs root, or "
			 "CAP_BPF, CAP_PERFMON and CAP_NET_ADMIN, and a "
			 "kernel with sockmap and BTF)",
			 strerror(-rc));
		return -1;
	}
	rk.socks_fd = bpf_map__fd(socks);
	rk.peers_fd = bpf_map__fd(peers);
	rk.resume_fd = bpf_map__fd(resume);
	rk.prog_fd = bpf_program__fd(prog);
	if (bpf_prog_attach(rk.prog_fd, rk.socks_fd,
			    BPF_SK_SKB_STREAM_VERDICT, 0) < 0) {
		snprintf(err, errlen,
			 "cannot attach the stream verdict program: %s",
			 strerror(errno));
		return -1;
	}
	rk.free = malloc(sizeof(*rk.free) * (size_t)pairs);
	if (rk.free == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (long i = 0; i < pairs; i++)
		rk.free[i] = pairs - 1 - i; /* pair 0 on top */
	rk.nfree = rk.npairs = pairs;
	map_queue_max();
	return 0;
}

void
relay_kernel_prepare(const struct config *cfg)
{
	char err[256];
	long pairs = cfg->max_connections < PAIRS_MAX ? cfg->max_connections
						      : PAIRS_MAX;

	if (relay_kernel_ready() || rk.failed || !relay_kernel_wanted(cfg))
		return;
	if (load(pairs, err, sizeof(err)) < 0) {
		close_all();
		rk.failed = 1;
		log_warn("relay: kernel: %s; relaying with splice/copy "
			 "instead",
			 err);
		return;
	}
	log_info("relay: kernel: eBPF sockmap relay loaded (%ld "
		 "connections at most)",
		 pairs);
	__atomic_store_n(&rk.ready, 1, __ATOMIC_RELEASE);
}

int
relay_kernel_ready(void)
{
	return __atomic_load_n(&rk.ready, __ATOMIC_ACQUIRE);
}

void
relay_kernel_unload(void)
{
	__atomic_store_n(&rk.ready, 0, __ATOMIC_RELEASE);
	close_all();
}

/* ---- pairs and entries ---- */

long
relay_kernel_pair_get(void)
{
	long k = -1;

	pthread_mutex_lock(&rk.lock);
	if (rk.nfree > 0)
		k = rk.free[--rk.nfree];
	share_out();
	pthread_mutex_unlock(&rk.lock);
	return k;
}

void
relay_kernel_pair_put(long k)
{
	pthread_mutex_lock(&rk.lock);
	if (k >= 0 && k < rk.npairs && rk.nfree < rk.npairs)
		rk.free[rk.nfree++] = k;
	share_out();
	pthread_mutex_unlock(&rk.lock);
}

int
relay_kernel_peer_set(uint64_t cookie, uint32_t peer_slot, uint64_t base)
{
	struct peer_value v = {.slot = peer_slot, .base = base};

	return bpf_map_update_elem(rk.peers_fd, &cookie, &v, BPF_ANY);
}

int
relay_kernel_peer_get(uint64_t cookie, struct relay_kernel_counts *out)
{
	struct peer_value v;

	if (bpf_map_lookup_elem(rk.peers_fd, &cookie, &v) < 0)
		return -1;
	out->user = v.user != 0;
	out->bytes = v.bytes;
	out->passed = v.passed;
	out->repeated = v.repeated;
	out->broken = v.broken != 0;
	return 0;
}

int
relay_kernel_resume(uint64_t cookie, uint64_t passed)
{
	return bpf_map_update_elem(rk.resume_fd, &cookie, &passed, BPF_ANY);
}

int
relay_kernel_peer_del(uint64_t cookie)
{
	(void)bpf_map_delete_elem(rk.resume_fd, &cookie);
	return bpf_map_delete_elem(rk.peers_fd, &cookie);
}

int
relay_kernel_sock_set(uint32_t slot, int fd)
{
	uint64_t v = (uint64_t)fd;

	return bpf_map_update_elem(rk.socks_fd, &slot, &v, BPF_ANY);
}

int
relay_kernel_sock_del(uint32_t slot)
{
	return bpf_map_delete_elem(rk.socks_fd, &slot);
}

uint64_t
relay_kernel_queue_max(void)
{
	uint32_t zero = 0;
	uint64_t v = 0;

	if (rk.data_fd < 0 ||
	    bpf_map_lookup_elem(rk.data_fd, &zero, &v) < 0)
		return 0;
	return v;
}
