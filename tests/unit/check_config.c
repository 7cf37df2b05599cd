/* check_config.c — the config schema: the seed config as written, and a
 * located message for every kind of error. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "relay_kernel.h"
#include "testutil.h"

START_TEST(test_config__seed)
{
	char path[4096], err[1024];
	struct config *cfg = config_load(
		tu_src("etc/portmux/config.yaml", path, sizeof(path)), 0, err,
		sizeof(err));
	const struct pmx_node *ssh;

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nlisten, 1);
	ck_assert_str_eq(cfg->listen[0].text, "0.0.0.0:8080");
	ck_assert_int_eq(cfg->nsections, 4);
	ck_assert_str_eq(node_scalar(cfg->section_keys[0]), "HTTP");
	ck_assert_str_eq(node_scalar(cfg->section_keys[3]), "SSH");
	ssh = config_section(cfg, "ssh", NULL);
	ck_assert_str_eq(node_scalar(node_get(ssh, "default")), "22");
	ck_assert(cfg->probe_timeout == 2.0);
	ck_assert(cfg->probe_deadline == 10.0);
	ck_assert_int_eq(cfg->workers, 0); /* auto */
	ck_assert(cfg->idle_timeout == 0);   /* off */
	ck_assert_int_eq(cfg->tcp_keepalive, 1);
	ck_assert_ptr_null(cfg->user);
	ck_assert_int_eq(cfg->udp, -1); /* auto */
	ck_assert_ptr_null(cfg->detectors);
	ck_assert_int_eq(cfg->on_timeout.kind, TARGET_UNSET);
	config_free(cfg);
}
END_TEST

/* Every PORTMUX key (but ip/port, exclusive with listen) set to a value
 * other than its default lands in its field. */
START_TEST(test_config__globals)
{
	char err[1024];
	struct config *cfg = tu_config(
		"PORTMUX:\n"
		"  listen: [\"127.0.0.1:1\", \"[::1]:2\", \"3\"]\n"
		"  detectors: [http, ssh, \"python:games\"]\n"
		"  probe_timeout: 0.25\n"
		"  probe_deadline: 3\n"
		"  connect_timeout: 1.5\n"
		"  probe_buffer: 4096\n"
		"  max_connections: 50\n"
		"  probe_threads: 7\n"
		"  probe_queue: 9\n"
		"  udp_timeout: 0.5\n"
		"  udp_max_flows: 12\n"
		"  udp_flows_per_source: 5\n"
		"  udp_queue_bytes: 70000\n"
		"  accept_proxy: [\"10.0.0.0/8\", \"fd00::1\"]\n"
		"  log_level: debug\n"
		"  workers: 3\n"
		"  idle_timeout: 300\n"
		"  halfclose_timeout: 5\n"
		"  resolve_interval: 30\n"
		"  udp: true\n"
		"  tcp_keepalive: no\n"
		"  user: root\n"
		"  shutdown_timeout: 2.5\n"
		"  plugin_dir: /tmp/p\n"
		"  on_timeout: SSH\n"
		"  fallback: \"127.0.0.1:9\"\n"
		"SSH:\n"
		"  default: 22\n",
		err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nlisten, 3);
	ck_assert_str_eq(cfg->listen[1].text, "[::1]:2");
	ck_assert_str_eq(cfg->listen[2].text, "0.0.0.0:3");
	ck_assert_int_eq(cfg->ndetectors, 3);
	ck_assert_str_eq(cfg->detectors[2].plugin, "python");
	ck_assert_str_eq(cfg->detectors[2].label, "games");
	ck_assert(cfg->probe_timeout == 0.25);
	ck_assert(cfg->probe_deadline == 3);
	ck_assert(cfg->connect_timeout == 1.5);
	ck_assert_int_eq(cfg->probe_buffer, 4096);
	ck_assert_int_eq(cfg->max_connections, 50);
	ck_assert_int_eq(cfg->probe_threads, 7);
	ck_assert_int_eq(cfg->probe_queue, 9);
	ck_assert(cfg->udp_timeout == 0.5);
	ck_assert_int_eq(cfg->udp_max_flows, 12);
	ck_assert_int_eq(cfg->udp_flows_per_source, 5);
	ck_assert_int_eq(cfg->udp_queue_bytes, 70000);
	ck_assert_int_eq(cfg->accept_proxy.n, 2);
	ck_assert_int_eq(cfg->accept_proxy.v[0].family, AF_INET);
	ck_assert_int_eq(cfg->accept_proxy.v[0].bits, 8);
	ck_assert_int_eq(cfg->accept_proxy.v[1].family, AF_INET6);
	ck_assert_int_eq(cfg->accept_proxy.v[1].bits, 128);
	ck_assert_int_eq(cfg->log_level, 3);
	ck_assert_int_eq(cfg->workers, 3);
	ck_assert(cfg->idle_timeout == 300);
	ck_assert(cfg->halfclose_timeout == 5);
	ck_assert(cfg->resolve_interval == 30);
	ck_assert_int_eq(cfg->udp, 1);
	ck_assert_int_eq(cfg->tcp_keepalive, 0);
	ck_assert_str_eq(cfg->user, "root");
	ck_assert(cfg->shutdown_timeout == 2.5);
	ck_assert_str_eq(cfg->plugin_dir, "/tmp/p");
	ck_assert_int_eq(cfg->on_timeout.kind, TARGET_SECTION);
	ck_assert_int_eq(cfg->fallback.kind, TARGET_BACKEND);
	ck_assert_int_eq(cfg->fallback.backend.port, 9);
	config_free(cfg);
}
END_TEST

/* The defaults of every PORTMUX key (README, "PORTMUX options"). */
START_TEST(test_config__defaults)
{
	char err[1024];
	struct config *cfg = tu_config("PORTMUX: {port: 1}\n", err,
				       sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nlisten, 1);
	ck_assert_str_eq(cfg->listen[0].text, "0.0.0.0:1");
	ck_assert(cfg->probe_timeout == 2.0);
	ck_assert(cfg->probe_deadline == 10.0);
	ck_assert(cfg->connect_timeout == 5.0);
	ck_assert_int_eq(cfg->probe_buffer, 16384);
	ck_assert_int_eq(cfg->metrics.len, 0); /* off */
	ck_assert_int_eq(cfg->max_connections, 10000);
	ck_assert_int_eq(cfg->probe_threads, 4);
	ck_assert_int_eq(cfg->probe_queue, 256);
	ck_assert(cfg->udp_timeout == 60);
	ck_assert_int_eq(cfg->udp_max_flows, 4096);
	ck_assert_int_eq(cfg->udp_flows_per_source, 1024); /* auto: 1/4 */
	ck_assert_int_eq(cfg->udp_queue_bytes, 1048576);
	ck_assert_int_eq(cfg->udp, -1);    /* auto */
	ck_assert_int_eq(cfg->workers, 0); /* auto: one per CPU */
	ck_assert(cfg->shutdown_timeout == 10);
	ck_assert(cfg->resolve_interval == 60);
	ck_assert(cfg->idle_timeout == 0); /* off */
	ck_assert(cfg->halfclose_timeout == 60);
	ck_assert_int_eq(cfg->tcp_keepalive, 1);
	ck_assert(cfg->latency_busy_poll == 0.0001);
	ck_assert_uint_eq(cfg->sources.n, 0);
	ck_assert_int_eq(cfg->log_level, -1); /* not set */
	ck_assert_ptr_null(cfg->user);
	ck_assert_ptr_null(cfg->plugin_dir);
	ck_assert_ptr_null(cfg->detectors);
	ck_assert_int_eq(cfg->ndetectors, 0);
	ck_assert_ptr_null(cfg->accept_proxy.v);
	ck_assert_int_eq(cfg->accept_proxy.n, 0);
	ck_assert_int_eq(cfg->on_timeout.kind, TARGET_UNSET);
	ck_assert_int_eq(cfg->fallback.kind, TARGET_UNSET);
	ck_assert_int_eq(cfg->relay, RELAY_AUTO);
	ck_assert(!relay_kernel_wanted(cfg));
	config_free(cfg);
}
END_TEST

/* relay: in PORTMUX (the default of every route), in a target, in a
 * section's route; relay_kernel_wanted() sees each `kernel`. */
START_TEST(test_config__relay)
{
	static const struct {
		const char *yaml;
		int pm, fallback, wanted;
	} cases[] = {
		{"PORTMUX: {port: 1, relay: kernel}\n", RELAY_KERNEL, -1, 1},
		{"PORTMUX: {port: 1, relay: copy}\n", RELAY_COPY, -1, 0},
		{"PORTMUX: {port: 1, relay: splice}\n", RELAY_SPLICE, -1, 0},
		{"PORTMUX: {port: 1, relay: auto}\n", RELAY_AUTO, -1, 0},
		{"PORTMUX:\n  port: 1\n  fallback: {port: 2, relay: kernel}\n",
		 RELAY_AUTO, RELAY_KERNEL, 1},
		{"PORTMUX:\n  port: 1\n  fallback: {port: 2, relay: copy}\n",
		 RELAY_AUTO, RELAY_COPY, 0},
		{"PORTMUX:\n  port: 1\n  fallback: {port: 2}\n", RELAY_AUTO, -1,
		 0},
		{"PORTMUX: {port: 1}\nHTTP:\n  a.com: 2\n"
		 "  b.com: [3, {port: 4, relay: kernel}]\n",
		 RELAY_AUTO, -1, 1},
		{"PORTMUX: {port: 1}\nHTTP:\n  a.com: {port: 2, relay: splice}\n",
		 RELAY_AUTO, -1, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char err[1024];
		struct config *cfg = tu_config(cases[i].yaml, err,
					       sizeof(err));

		ck_assert_msg(cfg != NULL, "case %zu: %s", i, err);
		ck_assert_int_eq(cfg->relay, cases[i].pm);
		if (cases[i].fallback >= 0)
			ck_assert_int_eq(cfg->fallback.backend.relay,
					 cases[i].fallback);
		else if (cfg->fallback.kind == TARGET_BACKEND)
			ck_assert_int_eq(cfg->fallback.backend.relay, -1);
		ck_assert_int_eq(relay_kernel_wanted(cfg), cases[i].wanted);
		config_free(cfg);
	}
}
END_TEST

/* fastopen: a route's own, off unless it says true; a non-boolean is an
 * error with its place. */
START_TEST(test_config__fastopen)
{
	char err[1024];
	struct config *cfg = tu_config(
		"PORTMUX:\n  port: 1\n  fallback: {port: 2, fastopen: true}\n"
		"  on_timeout: {port: 3}\n",
		err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->fallback.backend.fastopen, 1);
	ck_assert_int_eq(cfg->on_timeout.backend.fastopen, 0);
	config_free(cfg);
	cfg = tu_config("PORTMUX:\n  port: 1\n  fallback: {port: 2, "
			"fastopen: sometimes}\n",
			err, sizeof(err));
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(err, "test.yaml:3:33: expected true or false") != NULL, "%s", err);
}
END_TEST

/* The values with a meaning of their own: auto, 0 = never, the bounds. */
START_TEST(test_config__special_values)
{
	char err[1024];
	struct config *cfg = tu_config(
		"PORTMUX:\n"
		"  ip: \"::1\"\n"
		"  port: 65535\n"
		"  workers: auto\n"
		"  udp: auto\n"
		"  resolve_interval: 0\n"
		"  halfclose_timeout: 0\n"
		"  probe_timeout: 10\n"
		"  udp_timeout: 0.1\n"
		"  probe_buffer: 64\n"
		"  log_level: error\n"
		"  on_timeout: close\n"
		"  fallback: CLOSE\n",
		err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen[0].text, "[::1]:65535");
	ck_assert_int_eq(cfg->workers, 0);
	ck_assert_int_eq(cfg->udp, -1);
	ck_assert(cfg->resolve_interval == 0);
	ck_assert(cfg->halfclose_timeout == 0); /* never */
	ck_assert(cfg->probe_timeout == cfg->probe_deadline);
	ck_assert(cfg->udp_timeout == 0.1);
	ck_assert_int_eq(cfg->probe_buffer, 64);
	ck_assert_int_eq(cfg->log_level, 0);
	ck_assert_int_eq(cfg->on_timeout.kind, TARGET_CLOSE);
	ck_assert_int_eq(cfg->fallback.kind, TARGET_CLOSE);
	config_free(cfg);

	cfg = tu_config("PORTMUX:\n  port: 1\n  udp: false\n"
			"  resolve_interval: 0.1\n  workers: 256\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->udp, 0);
	ck_assert(cfg->resolve_interval == 0.1);
	ck_assert_int_eq(cfg->workers, 256);
	config_free(cfg);

	/* udp_flows_per_source: auto is a quarter of udp_max_flows, at
	 * least 16; a number may exceed udp_max_flows (no cap then). */
	cfg = tu_config("PORTMUX:\n  port: 1\n  udp_max_flows: 400\n"
			"  udp_flows_per_source: auto\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->udp_flows_per_source, 100);
	config_free(cfg);
	cfg = tu_config("PORTMUX:\n  port: 1\n  udp_max_flows: 12\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->udp_flows_per_source, 16);
	config_free(cfg);
	cfg = tu_config("PORTMUX:\n  port: 1\n  udp_max_flows: 12\n"
			"  udp_flows_per_source: 1000000\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->udp_flows_per_source, 1000000);
	config_free(cfg);
}
END_TEST

/* A port given on the command line replaces every configured one, and
 * stands in for a missing PORTMUX.port. */
static struct config *
parse_with_port(const char *yaml, int port, char *err, size_t errlen)
{
	struct yaml_tree *t =
		yaml_tree_parse("x.yaml", yaml, strlen(yaml), err, errlen);

	return t ? config_parse(t, port, err, errlen) : NULL;
}

START_TEST(test_config__port_override)
{
	char err[1024];
	struct config *cfg = parse_with_port(
		"PORTMUX:\n  ip: 127.0.0.1\n  port: 80\n", 8081, err,
		sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:8081");
	config_free(cfg);

	cfg = parse_with_port("PORTMUX:\n  ip: 127.0.0.1\n", 8082, err,
			      sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_str_eq(cfg->listen[0].text, "127.0.0.1:8082");
	config_free(cfg);

	cfg = parse_with_port("PORTMUX:\n  listen: [\"1.2.3.4:5\", "
			      "\"[::1]:6\"]\n",
			      8083, err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nlisten, 2);
	ck_assert_str_eq(cfg->listen[0].text, "1.2.3.4:8083");
	ck_assert_str_eq(cfg->listen[1].text, "[::1]:8083");
	config_free(cfg);

	/* Still validated when overridden. */
	cfg = parse_with_port("PORTMUX:\n  port: 0\n", 8084, err,
			      sizeof(err));
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "x.yaml:2:9: 0 is out of range (1 to 65535)");
}
END_TEST

/* Every error names file:line:col. */
static const struct {
	const char *yaml;
	const char *error;
} bad_configs[] = {
	{"PORTMUX:\n  port: 8080\n  latency_busy_poll: 0.5\n",
	 "test.yaml:3:22: 0.5 is out of range (0 to 0.01)"},
	{"PORTMUX:\n  port: 8080\n  transparent: true\n  source: 127.0.0.2\n",
	 "test.yaml:4:11: use either transparent: true or source in PORTMUX, "
	 "not both"},
	{"PORTMUX:\n  port: 8080\n  source: [127.0.0.2, \"::\", 1]\n",
	 "test.yaml:3:23: source: :: means any address: leave source out for "
	 "the kernel's choice"},
	{"PORTMUX:\n  port: 8080\n  source: [127.0.0.2, 1]\n",
	 "test.yaml:3:23: source: expected an IP address of this host"},
	{"PORTMUX:\n  port: 8080\n  bogus: 1\n",
	 "test.yaml:3:3: PORTMUX: unknown key 'bogus'"},
	{"PORTMUX:\n  port: 8080\n  relay: ebpf\n",
	 "test.yaml:3:10: relay: unknown mode 'ebpf' (expected auto, copy, "
	 "splice or kernel)"},
	{"PORTMUX:\n  port: 8080\n  relay: [kernel]\n",
	 "test.yaml:3:10: "},
	/* a near key is suggested; a far one is not */
	{"PORTMUX:\n  port: 8080\n  max_conections: 1\n",
	 "test.yaml:3:3: PORTMUX: unknown key 'max_conections', did you mean "
	 "'max_connections'?"},
	{"PORTMUX:\n  port: 8080\n  Port: 1\n",
	 "test.yaml:3:3: PORTMUX: unknown key 'Port', did you mean 'port'?"},
	{"PORTMUX:\n  port: 8080\n  porbe_timeout: 1\n",
	 "test.yaml:3:3: PORTMUX: unknown key 'porbe_timeout', did you mean "
	 "'probe_timeout'?"},
	{"PORTMUX:\n  port: abc\n",
	 "test.yaml:2:9: expected a whole number, found 'abc'"},
	{"PORTMUX:\n  port: 70000\n",
	 "test.yaml:2:9: 70000 is out of range (1 to 65535)"},
	{"PORTMUX:\n  port: 0\n", "test.yaml:2:9: 0 is out of range"},
	{"PORTMUX:\n  port: 1\n  port: 2\n",
	 "test.yaml:3:3: duplicate key 'port' (first at line 2)"},
	{"PORTMUX:\n  port: [1]\n",
	 "test.yaml:2:9: expected a number, found a list"},
	{"PORTMUX:\n  port: 1\n  ip: 300.1.1.1\n",
	 "test.yaml:3:7: '300.1.1.1' is not an IPv4 or IPv6 address"},
	{"PORTMUX:\n  port: 1\n  probe_timeout: soon\n",
	 "test.yaml:3:18: expected a number, found 'soon'"},
	{"PORTMUX:\n  port: 1\n  probe_timeout: 5\n  probe_deadline: 1\n",
	 "test.yaml:4:19: probe_deadline (1 s) must not be shorter than "
	 "probe_timeout (5 s)"},
	{"PORTMUX:\n  port: 1\n  detectors: http\n",
	 "test.yaml:3:14: detectors: expected a list"},
	{"PORTMUX:\n  port: 1\n  detectors: [HTTP]\n",
	 "test.yaml:3:15: detectors: bad detector name 'HTTP'"},
	{"PORTMUX:\n  port: 1\n  detectors: [http, http]\n",
	 "test.yaml:3:21: detectors: 'http' is listed twice"},
	{"PORTMUX:\n  port: 1\n  workers: many\n",
	 "test.yaml:3:12: workers: expected a number of threads (1 to 256) "
	 "or auto"},
	{"PORTMUX:\n  port: 1\n  workers: 0\n",
	 "test.yaml:3:12: workers: expected a number"},
	{"PORTMUX:\n  port: 1\n  shutdown_timeout: -1\n",
	 "test.yaml:3:21: -1 is out of range"},
	{"PORTMUX:\n  port: 1\n  user: no-such-user-here\n",
	 "test.yaml:3:9: user: no such user 'no-such-user-here'"},
	{"PORTMUX:\n  port: 1\n  resolve_interval: 0.01\n",
	 "test.yaml:3:21: resolve_interval: 0 (never) or at least 0.1 s"},
	{"PORTMUX:\n  port: 1\n  tcp_keepalive: maybe\n",
	 "test.yaml:3:18: expected true or false, found 'maybe'"},
	{"PORTMUX:\n  port: 1\n  log_level: loud\n",
	 "test.yaml:3:14: log_level: unknown level 'loud'"},
	{"PORTMUX:\n  port: 1\n  on_timeout: SSH\n",
	 "test.yaml:3:15: 'SSH' is neither a section of this config"},
	{"PORTMUX:\n  port: 1\n  fallback: \"127.0.0.1:99999\"\n",
	 "test.yaml:3:13: port '99999' is out of range"},
	{"PORTMUX:\n  port: 1\n  listen: [\"1.2.3.4:5\"]\n",
	 "test.yaml:3:11: use either listen or ip/port, not both"},
	{"PORTMUX:\n  ip: 127.0.0.1\n", "test.yaml:2:3: PORTMUX: no port"},
	{"HTTP:\n  default: 80\n", "test.yaml:1:1: missing section PORTMUX"},
	{"", "test.yaml:1:1: the configuration is empty"},
	{"- a\n- b\n", "test.yaml:1:1: expected a mapping of sections"},
	{"PORTMUX:\n  port: 1\nHTTP: {}\nhttp: {}\n",
	 "test.yaml:4:1: duplicate section 'http' (first at line 3)"},
	{"PORTMUX: 8080\n",
	 "test.yaml:1:10: PORTMUX: expected a mapping, found a value"},
	{"PORTMUX:\n  port: 1\n  ip: [a]\n",
	 "test.yaml:3:7: ip: expected an address, found a list"},
	{"PORTMUX:\n  listen: 80\n",
	 "test.yaml:2:11: listen: expected a list of \"address:port\", "
	 "found a value"},
	{"PORTMUX:\n  listen: []\n",
	 "test.yaml:2:11: listen: expected a list of \"address:port\", "
	 "found a list"},
	{"PORTMUX:\n  listen: [[1]]\n",
	 "test.yaml:2:12: listen: expected \"address:port\", found a list"},
	{"PORTMUX:\n  listen: [\"nohost:1\"]\n",
	 "test.yaml:2:12: 'nohost' is not an IPv4 or IPv6 address"},
	{"PORTMUX:\n  listen: [\"1.2.3.4:5\", \"1.2.3.4:5\"]\n",
	 "test.yaml:2:25: listen: 1.2.3.4:5 is listed twice"},
	{"PORTMUX:\n  listen:\n    - {on_timeout: close}\n",
	 "test.yaml:3:7: listen: an entry written as a mapping needs "
	 "`address: \"address:port\"`"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", ontimeout: x}\n",
	 "test.yaml:3:30: listen: unknown key 'ontimeout', did you mean "
	 "'on_timeout'? (an entry has address, detectors, on_timeout, "
	 "fallback)"},
	{"PORTMUX:\n  listen:\n    - {address: [1]}\n",
	 "test.yaml:3:17: listen: expected \"address:port\", found a list"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4\"}\n",
	 "test.yaml:3:17: listen: '1.2.3.4' has no port"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", detectors: []}\n",
	 "test.yaml:3:41: detectors: the list is empty"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", "
	 "detectors: [ssh, ssh]}\n",
	 "test.yaml:3:47: detectors: 'ssh' is listed twice"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", on_timeout: VNC}\n",
	 "test.yaml:3:42: 'VNC' is neither a section of this config"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", "
	 "fallback: \"127.0.0.1:0\"}\n",
	 "test.yaml:3:40: port '0' is out of range"},
	{"PORTMUX:\n  port: 1\n  detectors: []\n",
	 "test.yaml:3:14: detectors: the list is empty"},
	{"PORTMUX:\n  port: 1\n  detectors: [[a]]\n",
	 "test.yaml:3:15: detectors: expected a name, found a list"},
	{"PORTMUX:\n  port: 1\n  plugin_dir: [a]\n",
	 "test.yaml:3:15: expected a string, found a list"},
	{"PORTMUX:\n  port: 1\n  probe_timeout: 0\n",
	 "test.yaml:3:18: 0 is out of range (0.001 to 86400)"},
	{"PORTMUX:\n  port: 1\n  probe_timeout: 86401\n",
	 "test.yaml:3:18: 86401 is out of range (0.001 to 86400)"},
	{"PORTMUX:\n  port: 1\n  probe_deadline: 0\n",
	 "test.yaml:3:19: 0 is out of range (0.001 to 86400)"},
	{"PORTMUX:\n  port: 1\n  connect_timeout: 0\n",
	 "test.yaml:3:20: 0 is out of range (0.001 to 86400)"},
	{"PORTMUX:\n  port: 1\n  connect_timeout: [1]\n",
	 "test.yaml:3:20: expected a number, found a list"},
	{"PORTMUX:\n  port: 1\n  probe_buffer: 63\n",
	 "test.yaml:3:17: 63 is out of range (64 to 1048576)"},
	{"PORTMUX:\n  port: 1\n  probe_buffer: 1048577\n",
	 "test.yaml:3:17: 1048577 is out of range (64 to 1048576)"},
	{"PORTMUX:\n  port: 1\n  probe_buffer: 1.5\n",
	 "test.yaml:3:17: expected a whole number, found '1.5'"},
	{"PORTMUX:\n  port: 1\n  max_connections: 0\n",
	 "test.yaml:3:20: 0 is out of range (1 to 10000000)"},
	{"PORTMUX:\n  port: 1\n  max_connections: 10000001\n",
	 "test.yaml:3:20: 10000001 is out of range (1 to 10000000)"},
	{"PORTMUX:\n  port: 1\n  probe_threads: 0\n",
	 "test.yaml:3:18: 0 is out of range (1 to 64)"},
	{"PORTMUX:\n  port: 1\n  probe_threads: 65\n",
	 "test.yaml:3:18: 65 is out of range (1 to 64)"},
	{"PORTMUX:\n  port: 1\n  probe_queue: 0\n",
	 "test.yaml:3:16: 0 is out of range (1 to 1000000)"},
	{"PORTMUX:\n  port: 1\n  probe_queue: 1000001\n",
	 "test.yaml:3:16: 1000001 is out of range (1 to 1000000)"},
	{"PORTMUX:\n  port: 1\n  udp_timeout: 0.05\n",
	 "test.yaml:3:16: 0.05 is out of range (0.1 to 86400)"},
	{"PORTMUX:\n  port: 1\n  udp_max_flows: 0\n",
	 "test.yaml:3:18: 0 is out of range (1 to 1000000)"},
	{"PORTMUX:\n  port: 1\n  udp_max_flows: 1000001\n",
	 "test.yaml:3:18: 1000001 is out of range (1 to 1000000)"},
	{"PORTMUX:\n  port: 1\n  udp_flows_per_source: 0\n",
	 "test.yaml:3:25: udp_flows_per_source: expected a number of flows (1 "
	 "to 1000000) or auto"},
	{"PORTMUX:\n  port: 1\n  udp_flows_per_source: many\n",
	 "test.yaml:3:25: udp_flows_per_source: expected a number of flows (1 "
	 "to 1000000) or auto"},
	{"PORTMUX:\n  port: 1\n  udp_queue_bytes: 65535\n",
	 "test.yaml:3:20: 65535 is out of range (65536 to 1073741824)"},
	{"PORTMUX:\n  port: 1\n  udp_queue_bytes: 1073741825\n",
	 "test.yaml:3:20: 1073741825 is out of range (65536 to 1073741824)"},
	{"PORTMUX:\n  port: 1\n  udp: maybe\n",
	 "test.yaml:3:8: udp: expected auto, true or false"},
	{"PORTMUX:\n  port: 1\n  udp: [1]\n",
	 "test.yaml:3:8: udp: expected auto, true or false"},
	{"PORTMUX:\n  port: 1\n  accept_proxy: 10.0.0.0/8\n",
	 "test.yaml:3:17: accept_proxy: expected a list of addresses or "
	 "ranges (\"10.0.0.0/8\"), found a value"},
	{"PORTMUX:\n  port: 1\n  accept_proxy: [\"10.0.0.0/33\"]\n",
	 "test.yaml:3:18: accept_proxy: '10.0.0.0/33' is not an address or "
	 "a range like 10.0.0.0/8 or fd00::/8"},
	{"PORTMUX:\n  port: 1\n  accept_proxy: [[1]]\n",
	 "test.yaml:3:18: accept_proxy: expected an address"},
	{"PORTMUX:\n  port: 1\n  idle_timeout: -1\n",
	 "test.yaml:3:17: -1 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\n  halfclose_timeout: -1\n",
	 "test.yaml:3:22: -1 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\n  tcp_keepalive: [1]\n",
	 "test.yaml:3:18: expected true or false, found a list"},
	{"PORTMUX:\n  port: 1\n  user: [root]\n",
	 "test.yaml:3:9: expected a string, found a list"},
	{"PORTMUX:\n  port: 1\n  workers: 257\n",
	 "test.yaml:3:12: workers: expected a number of threads (1 to 256) "
	 "or auto"},
	{"PORTMUX:\n  port: 1\n  workers: [1]\n",
	 "test.yaml:3:12: workers: expected a number of threads (1 to 256) "
	 "or auto"},
	{"PORTMUX:\n  port: 1\n  resolve_interval: -1\n",
	 "test.yaml:3:21: -1 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\n  resolve_interval: 86401\n",
	 "test.yaml:3:21: 86401 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\n  shutdown_timeout: 86401\n",
	 "test.yaml:3:21: 86401 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\n  log_level: [debug]\n",
	 "test.yaml:3:14: expected a string, found a list"},
	{"PORTMUX:\n  port: 1\n  log_format: xml\n",
	 "test.yaml:3:15: log_format: unknown format 'xml' (expected text or "
	 "json)"},
	{"PORTMUX:\n  port: 1\n  log_level: INFO\n",
	 "test.yaml:3:14: log_level: unknown level 'INFO' (expected error, "
	 "warn, info or debug)"},
	{"PORTMUX:\n  port: 1\n  fallback: nohost\n",
	 "test.yaml:3:13: 'nohost' is neither a section of this config nor "
	 "\"host:port\" (or use close)"},
	/* the first error in file order; on_timeout and fallback last */
	{"PORTMUX:\n  probe_timeout: x\n  bogus: 1\n",
	 "test.yaml:2:18: expected a number, found 'x'"},
	{"PORTMUX:\n  bogus: 1\n  probe_timeout: x\n",
	 "test.yaml:2:3: PORTMUX: unknown key 'bogus'"},
	{"PORTMUX:\n  on_timeout: nohost\n  port: abc\n",
	 "test.yaml:3:9: expected a whole number, found 'abc'"},
	{"PORTMUX:\n  on_timeout: nohost\n  listen: 5\n",
	 "test.yaml:3:11: listen: expected a list"},
	{"PORTMUX:\n  listen: 5\n  probe_deadline: 1\n  probe_timeout: 5\n",
	 "test.yaml:3:19: probe_deadline (1 s) must not be shorter"},
	{"PORTMUX:\n  port: 1\n  fallback: nohost\n  on_timeout: other\n",
	 "test.yaml:3:13: 'nohost' is neither"},
	{"PORTMUX:\n  port: 1\n  on_timeout: other\n  fallback: nohost\n",
	 "test.yaml:3:15: 'other' is neither"},
	/* keys that read as null (found by fuzz/fuzz_config.c) */
	{"?", "test.yaml:1:1: missing section PORTMUX"},
	{"PORTMUX:\n  port: 1\n  null: 2\n",
	 "test.yaml:3:3: PORTMUX: unknown key 'null'"},
	{"PORTMUX:\n  port: 1\n  ? \n", "test.yaml:3:4: PORTMUX: unknown key ''"},
	{"PORTMUX:\n  port: 1\n  ip: [\n",
	 "test.yaml:4:1: YAML syntax error"},
	/* metrics */
	{"PORTMUX:\n  port: 1\n  metrics: 9100\n",
	 "test.yaml:3:12: metrics: expected \"address:port\""},
	{"PORTMUX:\n  port: 1\n  metrics: \"127.0.0.1\"\n",
	 "test.yaml:3:12: metrics: expected \"address:port\""},
	{"PORTMUX:\n  port: 1\n  metrics: \"localhost:9100\"\n",
	 "test.yaml:3:12: metrics: expected \"address:port\" (an IP address"},
	{"PORTMUX:\n  port: 1\n  metrics: \"127.0.0.1:70000\"\n",
	 "test.yaml:3:12: metrics: "},
	{"PORTMUX:\n  port: 1\n  metrics: \"[::1:9100\"\n",
	 "test.yaml:3:12: metrics: missing ']'"},
	{"PORTMUX:\n  port: 1\n  metrics: relative/path.sock\n",
	 "test.yaml:3:12: metrics: expected \"address:port\""},
	{"PORTMUX:\n  port: 1\n  metrics: [1]\n",
	 "test.yaml:3:12: expected"},
	{"PORTMUX:\n  port: 1\n  metrics: /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	 "aaaa\n",
	 "test.yaml:3:12: metrics: the socket path is longer than 107 bytes"},
};

/* PORTMUX.metrics: an IPv4 or IPv6 address and port, or a unix socket. */
START_TEST(test_config__metrics)
{
	static const struct {
		const char *value;
		int family;
		const char *text;
	} ok[] = {
		{"\"127.0.0.1:9100\"", AF_INET, "127.0.0.1:9100"},
		{"\"[::1]:9101\"", AF_INET6, "[::1]:9101"},
		{"\"0.0.0.0:1\"", AF_INET, "0.0.0.0:1"},
		{"/run/portmux/metrics.sock", AF_UNIX,
		 "/run/portmux/metrics.sock"},
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		char yaml[256], err[1024];
		struct config *cfg;
		const struct sockaddr *sa;

		snprintf(yaml, sizeof(yaml),
			 "PORTMUX:\n  port: 1\n  metrics: %s\n", ok[i].value);
		cfg = tu_config(yaml, err, sizeof(err));
		ck_assert_msg(cfg != NULL, "%s: %s", ok[i].value, err);
		sa = (const struct sockaddr *)&cfg->metrics.ss;
		ck_assert_int_eq(sa->sa_family, ok[i].family);
		ck_assert_str_eq(cfg->metrics_text, ok[i].text);
		ck_assert_int_gt(cfg->metrics.len, 0);
		if (ok[i].family == AF_UNIX)
			ck_assert_str_eq(((const struct sockaddr_un *)sa)
						 ->sun_path,
					 ok[i].text);
		if (ok[i].family == AF_INET)
			ck_assert_int_eq(
				ntohs(((const struct sockaddr_in *)sa)->sin_port),
				i == 0 ? 9100 : 1);
		config_free(cfg);
	}
}
END_TEST

START_TEST(test_config__errors)
{
	char err[1024];
	struct config *cfg = tu_config(bad_configs[_i].yaml, err, sizeof(err));

	ck_assert_msg(cfg == NULL, "case %d: accepted", _i);
	ck_assert_msg(strncmp(err, bad_configs[_i].error,
			      strlen(bad_configs[_i].error)) == 0,
		      "case %d: got '%s', expected '%s...'", _i, err,
		      bad_configs[_i].error);
}
END_TEST

/* Errors found once the detectors are known (sections, routes). */
static const struct {
	const char *yaml;
	const char *error;
} bad_generations[] = {
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    port: 80\n"
	 "    relay: fast\n",
	 "test.yaml:6:12: relay: unknown mode 'fast' (expected auto, copy, "
	 "splice or kernel)"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    port: 80\n"
	 "    priority: fast\n",
	 "test.yaml:6:15: unknown priority 'fast' (expected latency, "
	 "throughput or both)"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: 0\n",
	 "test.yaml:4:12: port '0' is out of range (1 to 65535)"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    port: 80\n"
	 "    speed: 1\n",
	 "test.yaml:6:5: unknown key 'speed' in a route (expected port, "
	 "host, priority, proxy_protocol, allow, deny, transparent, "
	 "source, idle_timeout"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    port: 80\n"
	 "    idle_timeout: -2\n",
	 "test.yaml:6:19: -2 is out of range (0 to 86400)"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    port: 80\n"
	 "    idle_timeout: soon\n",
	 "test.yaml:6:19: "},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    priority: latency\n",
	 "test.yaml:5:5: route has no port"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  \"A.com\": 1\n  \"a.com.\": 2\n",
	 "test.yaml:5:3: duplicate route 'a.com.' (same as line 4)"},
	{"PORTMUX:\n  port: 1\nHTTP: 80\n",
	 "test.yaml:3:7: HTTP: expected a mapping of routes, found a value"},
	{"PORTMUX:\n  port: 1\nHTTPX:\n  default: 1\n",
	 "test.yaml:3:1: unknown section 'HTTPX'"},
	{"PORTMUX:\n  port: 1\nHTPP:\n  default: 1\n",
	 "test.yaml:3:1: unknown section 'HTPP' (no enabled detector reads "
	 "it), did you mean 'HTTP'?"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {prot: 80}\n",
	 "test.yaml:4:13: unknown key 'prot' in a route (expected port, host, "
	 "priority, proxy_protocol, allow, deny, transparent, source, "
	 "idle_timeout, relay, fastopen, alpn), did you mean 'port'?"},
	/* source: addresses of this host, once each, of the backend's
	 * family, not with transparent */
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: "
	 "192.0.2.1}\n",
	 "test.yaml:4:31: source: cannot use 192.0.2.1 as a source address "
	 "(Cannot assign requested address): it is not an address of this "
	 "host"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: "
	 "[127.0.0.2, 127.0.0.2]}\n",
	 "test.yaml:4:43: source: 127.0.0.2 is listed twice"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: []}\n",
	 "test.yaml:4:31: source: expected an address or a list of "
	 "addresses, found an empty list"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: a.b}\n",
	 "test.yaml:4:31: source: expected an IP address of this host"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: "
	 "\"::1\"}\n",
	 "test.yaml:4:12: source: no address of the same family (IPv4 / "
	 "IPv6) as 127.0.0.1:80's"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {port: 80, source: "
	 "127.0.0.2, transparent: true}\n",
	 "test.yaml:4:12: use either transparent: true or source in a route, "
	 "not both"},
	{"PORTMUX:\n  port: 1\n  detectors: [ssh]\nHTTP:\n  default: 1\n"
	 "SSH:\n  default: 2\n",
	 NULL /* accepted: HTTP is a route-only section */},
	{"PORTMUX:\n  port: 1\n  detectors: [ssh]\n",
	 "test.yaml:3:15: detector 'ssh' is enabled but the config has no "
	 "SSH section"},
	{"PORTMUX:\n  port: 1\n  detectors: [nosuch]\n",
	 "test.yaml:3:15: detector 'nosuch': no nosuch.so in"},
	{"PORTMUX:\n  port: 1\n  on_timeout: HTTP\nHTTP:\n  a.com: 1\n",
	 "test.yaml:3:15: on_timeout: section 'HTTP' has no \"default\" "
	 "route"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: \"nosuchhost.invalid:80\"\n",
	 "test.yaml:4:12: cannot resolve 'nosuchhost.invalid'"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  ~: 1\n",
	 "test.yaml:4:3: bad route name '~'"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default: {null: 1}\n",
	 "test.yaml:4:13: unknown key 'null' in a route"},
	{"PORTMUX:\n  port: 1\n~: 2\n", "test.yaml:3:1: unknown section '~'"},
	{"PORTMUX:\n  port: 1\nnull:\n  default: 1\n",
	 "test.yaml:3:1: unknown section 'null'"},
	{"PORTMUX:\n  port: 1\nHTTP:\n  default:\n    - {port: 1}\n"
	 "    - {port: 2}\n",
	 "test.yaml:6:7: unreachable"},
	/* a listen entry's detectors and targets */
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", detectors: [ssh]}\n"
	 "HTTP:\n  default: 1\n",
	 "test.yaml:3:42: detector 'ssh' is enabled but the config has no "
	 "SSH section"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", "
	 "detectors: [nosuch]}\n",
	 "test.yaml:3:42: detector 'nosuch': no nosuch.so in"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", on_timeout: HTTP}\n"
	 "HTTP:\n  a.com: 1\n",
	 "test.yaml:3:42: on_timeout: section 'HTTP' has no \"default\" "
	 "route"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", fallback: HTTP}\n"
	 "HTTP:\n  a.com: 1\n",
	 "test.yaml:3:40: fallback: section 'HTTP' has no \"default\" "
	 "route"},
	{"PORTMUX:\n  listen:\n    - {address: \"1.2.3.4:5\", "
	 "detectors: [http], on_timeout: SSH}\n"
	 "HTTP:\n  default: 1\nSSH:\n  default: 2\n",
	 NULL /* accepted: SSH is read by the default detectors */},
};

START_TEST(test_config__generation_errors)
{
	char err[1024] = "";
	struct generation *g =
		tu_generation(bad_generations[_i].yaml, err, sizeof(err));

	if (bad_generations[_i].error == NULL) {
		ck_assert_msg(g != NULL, "case %d: %s", _i, err);
		generation_unref(g);
		return;
	}
	ck_assert_msg(g == NULL, "case %d: accepted", _i);
	ck_assert_msg(strncmp(err, bad_generations[_i].error,
			      strlen(bad_generations[_i].error)) == 0,
		      "case %d: got '%s', expected '%s...'", _i, err,
		      bad_generations[_i].error);
}
END_TEST

START_TEST(test_config__default_order_and_targets)
{
	char err[1024];
	struct generation *g = tu_generation(
		"PORTMUX:\n  port: 1\nHTTP:\n  default: 80\n"
		"SSH:\n  default: 22\n",
		err, sizeof(err));

	ck_assert_msg(g != NULL, "%s", err);
	/* Default order (DEFAULT_DETECTORS): ssh before http, whatever the
	 * order of the sections in the file. */
	ck_assert_int_eq(g->ndets, 2);
	ck_assert_str_eq(g->dets[0].name, "ssh");
	ck_assert_str_eq(g->dets[1].name, "http");
	/* on_timeout defaults to the SSH route; fallback to closing. */
	ck_assert_ptr_nonnull(g->on_timeout);
	ck_assert_int_eq(g->on_timeout->port, 22);
	ck_assert_ptr_null(g->fallback);
	generation_unref(g);

	g = tu_generation("PORTMUX:\n  port: 1\n  detectors: [http, ssh]\n"
			  "  on_timeout: \"127.0.0.1:7\"\n"
			  "  fallback: HTTP\n"
			  "HTTP:\n  default: 80\nSSH:\n  default: 22\n",
			  err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_str_eq(g->dets[0].name, "http");
	ck_assert_str_eq(g->dets[1].name, "ssh");
	ck_assert_int_eq(g->on_timeout->port, 7);
	ck_assert_int_eq(g->fallback->port, 80);
	generation_unref(g);

	g = tu_generation("PORTMUX:\n  port: 1\n  on_timeout: close\n"
			  "SSH:\n  default: 22\n",
			  err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_ptr_null(g->on_timeout);
	generation_unref(g);
}
END_TEST

/* listen entries with settings of their own: detectors in their order
 * (one only they name loads after PORTMUX's), targets of their own or
 * PORTMUX's, found by the listening address. */
START_TEST(test_config__listen_settings)
{
	char err[1024];
	struct config *cfg;
	struct generation *g;
	const struct gen_listener *l;
	struct addr a;

	g = tu_generation(
		"PORTMUX:\n"
		"  listen:\n"
		"    - \"127.0.0.1:1\"\n"
		"    - address: \"127.0.0.1:2\"\n"
		"      on_timeout: \"127.0.0.1:5900\"\n"
		"    - address: \"[::1]:3\"\n"
		"      detectors: [http, xmpp]\n"
		"      fallback: HTTP\n"
		"    - address: \"127.0.0.1:4\"\n"
		"      detectors: [http]\n"
		"      on_timeout: close\n"
		"  detectors: [ssh, http]\n"
		"HTTP:\n  default: 80\nSSH:\n  default: 22\n"
		"XMPP:\n  default: 5222\n",
		err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	/* xmpp, named by an entry only, comes after PORTMUX's */
	ck_assert_int_eq(g->ndets, 3);
	ck_assert_str_eq(g->dets[2].name, "xmpp");
	ck_assert_int_eq(g->dflt.norder, 2);
	ck_assert_int_eq(g->nlisteners, 3);
	ck_assert_int_eq(g->on_timeout->port, 22);

	/* 127.0.0.1:1 has no settings: PORTMUX's */
	ck_assert_int_eq(addr_from_literal("127.0.0.1", 1, &a), 0);
	ck_assert_ptr_eq(generation_listener(g, &a), &g->dflt);
	/* :2: its own on_timeout, PORTMUX's detectors and fallback */
	ck_assert_int_eq(addr_from_literal("127.0.0.1", 2, &a), 0);
	l = generation_listener(g, &a);
	ck_assert_int_eq(l->on_timeout->port, 5900);
	ck_assert_ptr_null(l->fallback);
	ck_assert_int_eq(l->norder, 2);
	ck_assert_int_eq(l->order[0], 0);
	ck_assert_int_eq(l->order[1], 1);
	/* [::1]:3: its detectors in its order; on_timeout unset there and
	 * in PORTMUX: the rule applied to its detectors — none waits for
	 * the server, so close; its fallback */
	ck_assert_int_eq(addr_from_literal("::1", 3, &a), 0);
	l = generation_listener(g, &a);
	ck_assert_int_eq(l->norder, 2);
	ck_assert_str_eq(g->dets[l->order[0]].name, "http");
	ck_assert_str_eq(g->dets[l->order[1]].name, "xmpp");
	ck_assert_ptr_null(l->on_timeout);
	ck_assert_int_eq(l->fallback->port, 80);
	/* :4: close */
	ck_assert_int_eq(addr_from_literal("127.0.0.1", 4, &a), 0);
	ck_assert_ptr_null(generation_listener(g, &a)->on_timeout);
	/* an address not configured: PORTMUX's */
	ck_assert_int_eq(addr_from_literal("127.0.0.1", 9, &a), 0);
	ck_assert_ptr_eq(generation_listener(g, &a), &g->dflt);
	ck_assert_ptr_eq(generation_listener(g, NULL), &g->dflt);
	generation_unref(g);

	/* PORTMUX.on_timeout set: what an entry without its own gets */
	g = tu_generation(
		"PORTMUX:\n"
		"  on_timeout: \"127.0.0.1:7\"\n"
		"  listen:\n"
		"    - {address: \"127.0.0.1:2\", detectors: [http]}\n"
		"    - {address: \"127.0.0.1:3\", detectors: [ssh]}\n"
		"HTTP:\n  default: 80\nSSH:\n  default: 22\n",
		err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_int_eq(g->listeners[0].on_timeout->port, 7);
	ck_assert_int_eq(g->listeners[1].on_timeout->port, 7);
	generation_unref(g);

	/* unset everywhere: an entry whose detectors include ssh gets the
	 * SSH route, as PORTMUX would */
	g = tu_generation(
		"PORTMUX:\n"
		"  listen:\n"
		"    - {address: \"127.0.0.1:2\", detectors: [http, ssh]}\n"
		"HTTP:\n  default: 80\nSSH:\n  default: 22\n",
		err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_int_eq(g->listeners[0].on_timeout->port, 22);
	ck_assert_str_eq(g->listeners[0].on_timeout_label, "SSH");
	generation_unref(g);

	/* the config keeps what was written */
	cfg = tu_config("PORTMUX:\n"
			"  listen:\n"
			"    - \"127.0.0.1:1\"\n"
			"    - {address: \"127.0.0.1:2\", on_timeout: close,\n"
			"       detectors: [\"python:x\", ssh]}\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert_int_eq(cfg->nlisten, 2);
	ck_assert(!listen_addr_custom(&cfg->listen[0]));
	ck_assert(listen_addr_custom(&cfg->listen[1]));
	ck_assert_int_eq(cfg->listen[1].on_timeout.kind, TARGET_CLOSE);
	ck_assert_int_eq(cfg->listen[1].fallback.kind, TARGET_UNSET);
	ck_assert_int_eq(cfg->listen[1].ndetectors, 2);
	ck_assert_str_eq(cfg->listen[1].detectors[0].plugin, "python");
	ck_assert_str_eq(cfg->listen[1].detectors[0].label, "x");
	config_free(cfg);
}
END_TEST

/* Raising probe_timeout alone raises the default probe_deadline with it;
 * a far-off unknown key gets no suggestion. */
START_TEST(test_config__deadline_follows_timeout)
{
	char err[1024];
	struct config *cfg = tu_config("PORTMUX:\n  port: 1\n"
				       "  probe_timeout: 30\n",
				       err, sizeof(err));

	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert(cfg->probe_timeout == 30);
	ck_assert(cfg->probe_deadline == 30);
	config_free(cfg);
	cfg = tu_config("PORTMUX:\n  port: 1\n  probe_timeout: 3\n",
			err, sizeof(err));
	ck_assert_msg(cfg != NULL, "%s", err);
	ck_assert(cfg->probe_deadline == 10);
	config_free(cfg);
	cfg = tu_config("PORTMUX:\n  port: 1\n  bogus: 1\n", err,
			sizeof(err));
	ck_assert_ptr_null(cfg);
	ck_assert_str_eq(err, "test.yaml:3:3: PORTMUX: unknown key 'bogus'");
}
END_TEST

Suite *make_suite_config(void);
Suite *
make_suite_config(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("schema");

	tcase_add_test(tc, test_config__seed);
	tcase_add_test(tc, test_config__globals);
	tcase_add_test(tc, test_config__defaults);
	tcase_add_test(tc, test_config__relay);
	tcase_add_test(tc, test_config__fastopen);
	tcase_add_test(tc, test_config__special_values);
	tcase_add_test(tc, test_config__port_override);
	tcase_add_test(tc, test_config__deadline_follows_timeout);
	tcase_add_test(tc, test_config__listen_settings);
	tcase_add_test(tc, test_config__metrics);
	tcase_add_loop_test(tc, test_config__errors, 0,
			    (int)(sizeof(bad_configs) / sizeof(bad_configs[0])));
	tcase_add_loop_test(tc, test_config__generation_errors, 0,
			    (int)(sizeof(bad_generations) /
				  sizeof(bad_generations[0])));
	tcase_add_test(tc, test_config__default_order_and_targets);
	suite_add_tcase(s, tc);
	return s;
}
