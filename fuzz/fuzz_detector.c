/*
 * fuzz_detector.c — libFuzzer harness for one detector, linked statically
 * with its sources (-DDETECTOR_NAME="tls"). Each input is probed as a TCP
 * prefix (final and not), at every 1/8 of its length, and as a UDP
 * datagram when the detector takes UDP. Checks, beyond the sanitizers:
 * verdicts are in range, result strings are terminated, and a detector
 * never calls a whole input NO_MATCH after calling a prefix of it MATCH.
 *
 * A detector configured by its section (pattern) is made from
 * fuzz/NAME.yaml, read with the core's YAML tree (the Makefile defines
 * DETECTOR_SECTION_FILE when that file exists); the others get no section.
 */
#include <portmux/detector.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef DETECTOR_SECTION_FILE
#include "yaml_tree.h"
#endif

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
stub_log(const struct pmx_host *h, int level, const char *fmt, ...)
{
	(void)h;
	(void)level;
	(void)fmt;
}
#ifdef DETECTOR_SECTION_FILE
static const struct pmx_host host = {
    .abi_version = PMX_DETECTOR_ABI_VERSION,
    .struct_size = sizeof(struct pmx_host),
    .log = stub_log,
    .instance_name = DETECTOR_NAME,
    .node_kind = node_kind,
    .node_scalar = node_scalar,
    .node_size = node_size,
    .node_key = node_key,
    .node_at = node_at,
    .node_get = node_get,
    .node_error = node_error,
    .node_double = node_double,
    .node_bool = node_bool,
    .config_dir = ".",
    .node_long = node_long,
    .node_string = node_string,
};

/* The detector's section, kept for the whole run. */
static struct yaml_tree *tree;

static const struct pmx_node *
section(void)
{
	char err[512];

	tree = yaml_tree_load(DETECTOR_SECTION_FILE, err, sizeof(err));
	if (tree == NULL) {
		fprintf(stderr, "%s\n", err);
		abort();
	}
	return tree->root;
}
#else
static enum pmx_node_kind
stub_kind(const struct pmx_node *n)
{
	(void)n;
	return PMX_NODE_NONE;
}
static const char *
stub_scalar(const struct pmx_node *n)
{
	(void)n;
	return NULL;
}
static size_t
stub_size(const struct pmx_node *n)
{
	(void)n;
	return 0;
}
static const struct pmx_node *
stub_key(const struct pmx_node *n, size_t i)
{
	(void)n;
	(void)i;
	return NULL;
}
static const struct pmx_node *
stub_get(const struct pmx_node *n, const char *k)
{
	(void)n;
	(void)k;
	return NULL;
}
static int
stub_error(const struct pmx_node *n, char *err, size_t len, const char *fmt,
	   ...)
{
	(void)n;
	(void)fmt;
	if (len)
		err[0] = '\0';
	return -1;
}
static int
stub_double(const struct pmx_node *n, double lo, double hi, double *out,
	    char *e, size_t l)
{
	(void)n;
	(void)lo;
	(void)hi;
	(void)out;
	(void)e;
	(void)l;
	return -1;
}
static int
stub_bool(const struct pmx_node *n, int *o, char *e, size_t l)
{
	(void)n;
	(void)o;
	(void)e;
	(void)l;
	return -1;
}
static int
stub_long(const struct pmx_node *n, long lo, long hi, long *out, char *e,
	  size_t l)
{
	(void)n;
	(void)lo;
	(void)hi;
	(void)out;
	(void)e;
	(void)l;
	return -1;
}
static int
stub_string(const struct pmx_node *n, const char **out, char *e, size_t l)
{
	(void)n;
	(void)out;
	(void)e;
	(void)l;
	return -1;
}

static const struct pmx_node *
section(void)
{
	return NULL;
}

static const struct pmx_host host = {
    .abi_version = PMX_DETECTOR_ABI_VERSION,
    .struct_size = sizeof(struct pmx_host),
    .log = stub_log,
    .instance_name = DETECTOR_NAME,
    .node_kind = stub_kind,
    .node_scalar = stub_scalar,
    .node_size = stub_size,
    .node_key = stub_key,
    .node_at = stub_key,
    .node_get = stub_get,
    .node_error = stub_error,
    .node_double = stub_double,
    .node_bool = stub_bool,
    .config_dir = ".",
    .node_long = stub_long,
    .node_string = stub_string,
};
#endif

static const struct pmx_detector *det;
static void *inst;

static void
check_result(const struct pmx_probe_result *r)
{
	if (memchr(r->key, 0, sizeof(r->key)) == NULL ||
	    memchr(r->alpn, 0, sizeof(r->alpn)) == NULL ||
	    memchr(r->backend, 0, sizeof(r->backend)) == NULL)
		abort();
}

static int
probe(const uint8_t *data, size_t len, int final, enum pmx_transport t)
{
	/* An exact-size copy: any over-read is caught. */
	uint8_t *copy = malloc(len ? len : 1);
	struct pmx_probe_input in = {.data = copy,
				     .len = len,
				     .capacity = 16384,
				     .final = final,
				     .transport = t};
	struct pmx_probe_result res;
	int v;

	memcpy(copy, data, len);
	memset(&res, 0, sizeof(res));
	v = det->probe(inst, &in, &res);
	free(copy);
	if (v < PMX_ERROR || v > PMX_NEED_MORE)
		abort();
	if (final && v == PMX_NEED_MORE)
		abort(); /* final must decide */
	check_result(&res);
	return v;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int matched = 0;

	if (det == NULL) {
		char err[256];
		det = pmx_detector_entry();
		if (det->create(&host, section(), &inst, err, sizeof(err)) !=
		    0) {
			fprintf(stderr, "create: %s\n", err);
			abort();
		}
	}
	if (size > 16384)
		size = 16384;
	if (det->flags & PMX_DF_TCP) {
		for (int k = 1; k <= 8; k++) {
			size_t n = size * (size_t)k / 8;
			int v = probe(data, n, 0, PMX_TRANSPORT_TCP);
			if (v == PMX_MATCH)
				matched = 1;
			else if (matched && v == PMX_NO_MATCH)
				abort(); /* a match must not be taken back */
		}
		probe(data, size, 1, PMX_TRANSPORT_TCP);
	}
	if (det->flags & PMX_DF_UDP)
		probe(data, size, 1, PMX_TRANSPORT_UDP);
	return 0;
}
