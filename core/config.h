/* config.h — the PORTMUX section and the list of the other sections.
 * Protocol sections are interpreted later (generation.c), once the detector
 * plugins that own them are loaded. */
#ifndef PMX_CONFIG_H
#define PMX_CONFIG_H

#include <stddef.h>

#include "addr.h"
#include "route.h"
#include "yaml_tree.h"

#define CONFIG_DEFAULT_PATH "/etc/portmux/config.yaml"

enum target_kind {
	TARGET_UNSET = 0, /* not configured: use the built-in default */
	TARGET_CLOSE,     /* close the connection */
	TARGET_SECTION,   /* a protocol section's default route */
	TARGET_BACKEND,   /* an explicit backend */
};

/* Where on_timeout / fallback send a connection. */
struct target {
	enum target_kind kind;
	char *section; /* TARGET_SECTION: the section name as configured */
	struct backend backend;
	const struct pmx_node *node;
};

/* One entry of PORTMUX.detectors: "plugin" or "plugin:label". */
struct detector_ref {
	char *name;   /* as written: instance name */
	char *plugin; /* file name without .so */
	char *label;  /* NULL or the part after ':' */
	const struct pmx_node *node;
};

/* A trusted source of PROXY protocol headers: an address and a prefix. */
struct cidr {
	int family;
	uint8_t addr[16];
	int bits;
};

struct listen_addr {
	struct addr addr;
	char text[ADDR_TEXT_MAX];
};

/* The PORTMUX fields' defaults, ranges and keys are in one table: pm_keys
 * in config.c. */
struct config {
	struct yaml_tree *tree;
	char *path;
	char *dir; /* directory of path */

	struct listen_addr *listen;
	size_t nlisten;

	double probe_timeout;   /* silent client -> on_timeout */
	double probe_deadline;  /* talking client must be decided by then */
	double connect_timeout; /* backend connect */
	long probe_buffer;      /* bytes kept while detecting */
	long max_connections;
	long probe_threads; /* threads for blocking detectors */
	long probe_queue;   /* their jobs waiting for a thread, per worker */
	double probe_source_share; /* of those threads and that queue, one
				      client source may take */
	double udp_timeout;  /* an idle UDP flow is dropped after this */
	long udp_max_flows;  /* per listening address */
	int udp;             /* -1 auto (a "udp" route), 0 no, 1 yes */
	long workers;        /* event loops (threads); 0 = one per CPU */
	double shutdown_timeout; /* SIGTERM: live connections may finish */
	double resolve_interval; /* backend names looked up again; 0: never */
	double idle_timeout;  /* relayed connection quiet this long: closed */
	int tcp_keepalive;    /* keepalive probes on client connections */
	char *user;           /* drop root for this user after binding */
	int log_level; /* -1: not set */

	struct detector_ref *detectors; /* NULL: not set, use the default */
	size_t ndetectors;
	char *plugin_dir; /* NULL: not set */

	struct target on_timeout, fallback;

	/* Clients from these addresses (load balancers) must start with a
	 * PROXY protocol header, which gives the real client address. */
	struct cidr *accept_proxy;
	size_t naccept_proxy;

	/* Top-level sections other than PORTMUX, in file order (borrowed from
	 * the tree). */
	const struct pmx_node **section_keys;
	const struct pmx_node **section_vals;
	size_t nsections;
};

/* Load and validate `path`. NULL with "FILE:LINE:COL: message" in err.
 * `port_override` > 0 replaces the port of every listen address. */
struct config *config_load(const char *path, int port_override, char *err,
			   size_t errlen);
struct config *config_parse(struct yaml_tree *tree, int port_override,
			    char *err, size_t errlen);
void config_free(struct config *cfg);

/* Is `sa` in one of the accept_proxy ranges? */
int config_proxy_trusted(const struct config *cfg, const struct sockaddr *sa);

/* The value of a top-level section by name (case-insensitive), or NULL. */
const struct pmx_node *config_section(const struct config *cfg,
				      const char *name, const char **key);

#endif
