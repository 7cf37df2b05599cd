/*
 * portmux/detector.h — the PortMux detector plugin ABI.
 *
 * This header is all a third-party detector needs. A detector is a shared
 * object (`NAME.so`) that exports exactly one function, pmx_detector_entry(),
 * returning a pointer to a constant descriptor. The core loads only the
 * detectors a configuration enables, in the configured order, and asks each
 * one in turn about the bytes a client has sent so far.
 *
 * Rules every detector MUST follow:
 *  - No I/O, no blocking, no sockets: probe() is a function over bytes.
 *    (A detector that may take time, such as one running user code, sets
 *    PMX_DF_BLOCKING and the core calls it off the event loop.)
 *  - No pointer into the probe bytes or the config nodes is kept after the
 *    call that received them returns.
 *  - No globals: all state hangs off the instance returned by create(). An
 *    instance is read-only after create(), so probe() may run concurrently.
 *    Instances of different generations (the old and the new around a
 *    reload) live at the same time: create(), probe() and destroy() may
 *    run at once on different threads (see each callback below).
 *  - Nothing is allocated by the plugin for the core or freed across the
 *    boundary: results are written into caller-owned storage.
 *
 * ABI changelog (PMX_DETECTOR_ABI_VERSION):
 *  1 — first version: descriptor, host services, probe input/result.
 *      Appended since (check struct_size): descriptor `reject`; host
 *      `node_long`, `node_string`; host `input_size` with the probe
 *      input's `queued` and `deadline` (see pmx_host.input_size: the
 *      input has no size of its own, the host says how the core fills
 *      it); descriptor flag PMX_DF_DATAGRAMS with the probe input's
 *      `datagram_end` and `datagrams` (a UDP detector may see a flow's
 *      datagrams so far and wait for the next one).
 * Fields are only ever appended; `struct_size` tells which are present.
 */
#ifndef PORTMUX_DETECTOR_H
#define PORTMUX_DETECTOR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PMX_DETECTOR_ABI_VERSION 1u

/* The one symbol a plugin exports. */
#define PMX_ENTRY_SYMBOL "pmx_detector_entry"

#if defined(__GNUC__)
#define PMX_EXPORT __attribute__((visibility("default")))
#define PMX_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define PMX_EXPORT
#define PMX_PRINTF(fmt, args)
#endif

/*
 * Verdicts. Values are fixed and never renumbered. NO_MATCH is zero so that a
 * zeroed answer is the safe one.
 *   PMX_NO_MATCH  — these bytes are not this protocol (final for the
 *                   connection: the detector is not asked again).
 *   PMX_MATCH     — this protocol; the result says where it goes.
 *   PMX_NEED_MORE — cannot tell yet; ask again when more bytes arrive.
 *                   With `final` set it counts as NO_MATCH.
 *   PMX_ERROR     — the detector failed (e.g. user code raised); logged by
 *                   the detector, treated as NO_MATCH by the core.
 */
enum pmx_verdict {
	PMX_ERROR = -1,
	PMX_NO_MATCH = 0,
	PMX_MATCH = 1,
	PMX_NEED_MORE = 2,
};

enum pmx_transport {
	PMX_TRANSPORT_TCP = 0,
	PMX_TRANSPORT_UDP = 1,
};

/* Descriptor flags. */
#define PMX_DF_TCP (1u << 0)        /* probes TCP streams */
#define PMX_DF_UDP (1u << 1)        /* probes UDP datagrams */
#define PMX_DF_ROUTES (1u << 2)     /* its config section is a route table
				       (key -> backend) parsed by the core;
				       without it the section is the plugin's
				       own options */
#define PMX_DF_BLOCKING (1u << 3)   /* probe may take time: never call it on
				       the event loop */
#define PMX_DF_ON_TIMEOUT (1u << 4) /* its clients may wait for the server to
				       speak first: the default target for a
				       client that sends nothing */
#define PMX_DF_DATAGRAMS (1u << 5)  /* UDP: show it the datagrams of a new
				       flow so far, back to back (the
				       input's datagram_end says where each
				       ends), and ask again with the next
				       one while it answers NEED_MORE.
				       Without it a UDP detector sees the
				       first datagram alone, with `final`
				       set. Appended to ABI 1: an older core
				       ignores the flag (and does just
				       that) */

enum pmx_log_level {
	PMX_LOG_ERROR = 0,
	PMX_LOG_WARN = 1,
	PMX_LOG_INFO = 2,
	PMX_LOG_DEBUG = 3,
};

/* A node of the configuration tree: opaque, valid only during create(). */
struct pmx_node;

enum pmx_node_kind {
	PMX_NODE_NONE = 0, /* NULL node or YAML null */
	PMX_NODE_SCALAR = 1,
	PMX_NODE_MAP = 2,
	PMX_NODE_SEQ = 3,
};

/*
 * Services the core offers a detector. Passed to create(); the pointer stays
 * valid for the life of the instance, so a plugin may keep it for log().
 * Every accessor accepts a NULL node and then answers "absent".
 */
struct pmx_host {
	uint32_t abi_version; /* PMX_DETECTOR_ABI_VERSION of the core */
	uint32_t struct_size; /* sizeof(struct pmx_host) as the core built it */

	/* Log one line, prefixed by the core with the detector's name. Safe
	 * from any thread. */
	void (*log)(const struct pmx_host *host, int level, const char *fmt,
		    ...) PMX_PRINTF(3, 4);

	/* Name of this detector instance (config name; usually the plugin
	 * name). */
	const char *instance_name;

	enum pmx_node_kind (*node_kind)(const struct pmx_node *node);
	/* Text of a scalar node; NULL for anything else. */
	const char *(*node_scalar)(const struct pmx_node *node);
	/* Number of entries of a map or items of a sequence; 0 otherwise. */
	size_t (*node_size)(const struct pmx_node *node);
	/* Key node of map entry i (a scalar). */
	const struct pmx_node *(*node_key)(const struct pmx_node *node,
					   size_t i);
	/* Value of map entry i, or item i of a sequence. */
	const struct pmx_node *(*node_at)(const struct pmx_node *node,
					  size_t i);
	/* Value of a map entry by key (exact, case-sensitive); NULL if
	 * absent. */
	const struct pmx_node *(*node_get)(const struct pmx_node *node,
					   const char *key);
	/*
	 * Format "FILE:LINE:COL: message" about `node` into err (errlen bytes,
	 * always NUL-terminated) and return -1, so that create() can
	 * `return host->node_error(node, err, errlen, "...")`.
	 */
	int (*node_error)(const struct pmx_node *node, char *err,
			  size_t errlen, const char *fmt, ...) PMX_PRINTF(4, 5);
	/* Typed reads. Return 0 and store the value, or -1 with a located
	 * message in err (wrong type, out of range). */
	int (*node_double)(const struct pmx_node *node, double min, double max,
			   double *out, char *err, size_t errlen);
	int (*node_bool)(const struct pmx_node *node, int *out, char *err,
			 size_t errlen);
	/* Directory of the configuration file (for relative paths). */
	const char *config_dir;

	/*
	 * Appended to ABI 1: an older core's host ends before them. A plugin
	 * that must also run on such a core checks, before using either,
	 *   host->struct_size >= offsetof(struct pmx_host, node_long) +
	 *                        sizeof(host->node_long)
	 * (and the same with node_string), and otherwise reads the value
	 * with node_scalar() and reports errors with node_error().
	 */
	/* An integer in [min, max]. Returns 0 and stores it, or -1 with a
	 * located message in err (not a scalar, not a whole number, out of
	 * range). */
	int (*node_long)(const struct pmx_node *node, long min, long max,
			 long *out, char *err, size_t errlen);
	/* The text of a scalar (numbers are strings too). Returns 0 and
	 * stores a pointer valid only during create(), or -1 with a located
	 * message in err (a mapping, a list, a null, or no node at all). */
	int (*node_string)(const struct pmx_node *node, const char **out,
			   char *err, size_t errlen);

	/*
	 * Appended to ABI 1: sizeof(struct pmx_probe_input) as this core
	 * fills it. The input is built by the core and carries no size of
	 * its own (an older core's input simply ends before the newer
	 * fields, and reading past it is undefined), so this is how a
	 * plugin learns which input fields it may read: field `f` of the
	 * input is present when
	 *   host->struct_size >= offsetof(struct pmx_host, input_size) +
	 *                        sizeof(host->input_size) &&
	 *   host->input_size >= offsetof(struct pmx_probe_input, f) +
	 *                       sizeof(((struct pmx_probe_input *)0)->f)
	 * Check once in create() and keep the answer in the instance (the
	 * same core calls probe() for the instance's whole life).
	 */
	uint32_t input_size;
};

/* What a probe sees. Borrowed for the duration of the call only. */
struct pmx_probe_input {
	const uint8_t *data; /* bytes received so far (TCP) or datagrams
				(UDP: see datagram_end) */
	size_t len;
	size_t capacity;     /* probe buffer size; len == capacity: full */
	int final;           /* last call for this connection: answer MATCH
				or NO_MATCH (NEED_MORE counts as NO_MATCH) */
	enum pmx_transport transport;
	const struct sockaddr *peer; /* client address */
	socklen_t peer_len;
	const struct sockaddr *local; /* address the client connected to */
	socklen_t local_len;

	/* Appended to ABI 1: read them only when the host's input_size
	 * covers them (see pmx_host.input_size). CLOCK_MONOTONIC seconds;
	 * 0 when not given. */
	double queued;   /* a PMX_DF_BLOCKING detector: when the core queued
			    this call for a probe thread (the time since was
			    spent waiting); 0: called at once */
	double deadline; /* the answer is needed by then: after it the core
			    decides without this detector and ignores its
			    answer (the connection's probe_deadline) */

	/* Appended to ABI 1 as well (read them when input_size covers
	 * them). UDP: `data` holds `datagrams` whole datagrams of the flow
	 * in the order they came, back to back; datagram i ends at
	 * datagram_end[i] (the first starts at 0, the last ends at len).
	 * A PMX_DF_DATAGRAMS detector sees every datagram held so far
	 * (`final` once no more will be: the flow holds its limit of
	 * datagrams or bytes, or its probe_deadline passed); any other
	 * sees the first alone, `final`. TCP: NULL and 0. */
	const size_t *datagram_end;
	size_t datagrams;
};

#define PMX_KEY_MAX 256      /* a DNS name is at most 253 bytes */
#define PMX_ALPN_MAX 256
#define PMX_BACKEND_MAX 288  /* "[v6 literal]:port" or "name:port" */

/* Why PortMux cannot serve a client a detector matched (see `reject`). */
enum pmx_reject_reason {
	PMX_REJECT_NO_ROUTE = 1,     /* no route for its key, no fallback */
	PMX_REJECT_BACKEND_DOWN = 2, /* its backend could not be reached */
};

/* Result flags. */
/* TLS: an encrypted_client_hello extension is present. Browsers also send
 * a GREASE one when they have no ECH config, indistinguishable on purpose:
 * informational only, not a reason to route differently. */
#define PMX_RF_ECH (1u << 0)

/*
 * What a MATCH answers. Caller-owned, zeroed by the core before each call.
 * Use pmx_result_set() to fill the strings (bounded, always terminated).
 */
struct pmx_probe_result {
	/* Route key in this detector's section: a Host, an SNI, "tcp"...
	 * Empty means the section's "default" route. The core normalises it
	 * (case, trailing dot, ":port", [brackets]). */
	char key[PMX_KEY_MAX];
	/* Secondary key: comma-separated ALPN protocols offered, if any. */
	char alpn[PMX_ALPN_MAX];
	/* Explicit backend "host:port" (e.g. from a user rule); overrides the
	 * route table when not empty. */
	char backend[PMX_BACKEND_MAX];
	uint32_t flags;
};

/*
 * The descriptor. Fields are in a fixed order and only ever appended to.
 */
struct pmx_detector {
	uint32_t abi_version; /* PMX_DETECTOR_ABI_VERSION it was built for */
	uint32_t struct_size; /* sizeof(struct pmx_detector) as built */
	const char *name;     /* [a-z0-9_]+, equal to the file name (NAME.so) */
	const char *version;  /* the plugin's own version */
	const char *description;
	/* Config section it reads (e.g. "HTTPS"); NULL = upper-cased name. */
	const char *section;
	uint32_t flags; /* PMX_DF_* */

	/*
	 * Make an instance from the detector's config section (NULL when the
	 * section is absent). On success store it in *instance and return 0.
	 * On bad configuration write a message (use host->node_error for a
	 * location) into err and return -1. REQUIRED.
	 *
	 * Called once per configured instance, one after another in the
	 * configured order (never two create() at once): on the main thread
	 * at start-up (and by `portmux -t`), and on a reload's build thread
	 * after SIGHUP; never on an event loop (so it may read the files its
	 * options name). While a reload's create() runs, the running
	 * generation's instances, of this same plugin too, are being probed
	 * and older ones destroyed on other threads: keep every bit of state
	 * in the instance, none in globals.
	 */
	int (*create)(const struct pmx_host *host,
		      const struct pmx_node *section, void **instance,
		      char *err, size_t errlen);

	/*
	 * Decide about the bytes so far. MUST NOT block (unless
	 * PMX_DF_BLOCKING), do I/O, or keep pointers into `in`. On MATCH fill
	 * `out`. REQUIRED.
	 *
	 * Called on the worker threads' event loops; with several workers
	 * (`workers: auto`) several calls on the same instance run at once.
	 * A PMX_DF_BLOCKING detector is called instead on the probe-pool
	 * threads, never on an event loop, again several at once. So the
	 * instance is read-only here (or uses atomics / its own locks).
	 */
	enum pmx_verdict (*probe)(void *instance,
				  const struct pmx_probe_input *in,
				  struct pmx_probe_result *out);

	/*
	 * Free an instance. May be NULL. Called once for every successful
	 * create(), after every probe() and reject() on that instance has
	 * returned, on whichever thread drops the last reference to its
	 * generation: a worker's event-loop thread (the last connection of
	 * an old generation closed), the main thread (reload, shutdown,
	 * `portmux -t`), or a reload's build thread when building the new
	 * generation failed after this instance was created. An old
	 * generation's destroy() may run while a new one's create() and
	 * probe() run on other threads.
	 */
	void (*destroy)(void *instance);

	/*
	 * Optional (NULL, or beyond an older plugin's struct_size): the bytes
	 * to send a client this detector matched when PortMux must close it
	 * unserved — an HTTP error, a TLS alert — instead of a bare close.
	 * `res` is the match's result for PMX_REJECT_NO_ROUTE, NULL for
	 * PMX_REJECT_BACKEND_DOWN. Write at most `cap` bytes to buf and
	 * return how many (0: just close). Called on a worker's event-loop
	 * thread (several at once on one instance, also for a
	 * PMX_DF_BLOCKING detector) and never after destroy(): quick, no
	 * I/O, like a non-blocking probe().
	 */
	size_t (*reject)(void *instance, int why,
			 const struct pmx_probe_result *res, uint8_t *buf,
			 size_t cap);
};

/* The entry point a plugin defines (with PMX_EXPORT). */
typedef const struct pmx_detector *(*pmx_entry_fn)(void);
PMX_EXPORT const struct pmx_detector *pmx_detector_entry(void);

/* Copy at most n bytes of src into a result field of size cap. */
static inline void
pmx_result_setn(char *dst, size_t cap, const char *src, size_t n)
{
	if (cap == 0)
		return;
	if (n >= cap)
		n = cap - 1;
	for (size_t i = 0; i < n; i++)
		dst[i] = src[i];
	dst[n] = '\0';
}

#define pmx_result_set(field, src, n) \
	pmx_result_setn((field), sizeof(field), (src), (n))

#ifdef __cplusplus
}
#endif

#endif /* PORTMUX_DETECTOR_H */
