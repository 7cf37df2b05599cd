/* testutil.c — helpers shared by the Check suites. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugin.h"
#include "yaml_tree.h"

const char *
tu_src(const char *rel, char *buf, size_t len)
{
	const char *top = getenv("PORTMUX_SOURCE_DIR");

	snprintf(buf, len, "%s/%s", top ? top : ".", rel);
	return buf;
}

uint8_t *
tu_read(const char *rel, size_t *len)
{
	char path[4096];
	FILE *f = fopen(tu_src(rel, path, sizeof(path)), "rb");
	uint8_t *data;
	long n;

	ck_assert_msg(f != NULL, "cannot open %s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_int_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len = (size_t)n;
	return data;
}

int
tu_det_try(struct tu_det *d, const char *name, const char *section_yaml,
	   char *err, size_t errlen)
{
	const char *dirs[1] = {getenv("PORTMUX_PLUGIN_DIR")};
	const struct pmx_node *section = NULL;

	memset(d, 0, sizeof(*d));
	if (dirs[0] == NULL)
		dirs[0] = "build/plugins";
	d->plugin = plugin_load(dirs, 1, name, err, errlen);
	if (d->plugin == NULL)
		return -1;
	if (section_yaml != NULL) {
		d->tree = yaml_tree_parse("test.yaml", section_yaml,
					  strlen(section_yaml), err, errlen);
		if (d->tree == NULL)
			return -1;
		section = d->tree->root;
	}
	host_ctx_init(&d->host, name, ".");
	if (d->plugin->desc->create(&d->host.host, section, &d->instance, err,
				    errlen) != 0) {
		free(d->host.prefix);
		d->host.prefix = NULL; /* tu_det_close() may follow */
		yaml_tree_free(d->tree);
		d->tree = NULL;
		return -1;
	}
	return 0;
}

void
tu_det_open(struct tu_det *d, const char *name, const char *section_yaml)
{
	char err[1024];

	ck_assert_msg(tu_det_try(d, name, section_yaml, err, sizeof(err)) == 0,
		      "detector %s: %s", name, err);
}

void
tu_det_close(struct tu_det *d)
{
	if (d->plugin && d->plugin->desc->destroy)
		d->plugin->desc->destroy(d->instance);
	free(d->host.prefix);
	yaml_tree_free(d->tree);
	memset(d, 0, sizeof(*d));
}

static int
probe_with(struct tu_det *d, const void *data, size_t len, int final,
	   enum pmx_transport t, struct pmx_probe_result *res)
{
	/* A private copy, exactly len bytes, so ASan catches over-reads. */
	uint8_t *copy = malloc(len ? len : 1);
	struct pmx_probe_input in = {
		.data = copy,
		.len = len,
		.capacity = 16384,
		.final = final,
		.transport = t,
	};
	int v;

	memcpy(copy, data, len);
	memset(res, 0, sizeof(*res));
	v = d->plugin->desc->probe(d->instance, &in, res);
	free(copy);
	return v;
}

int
tu_probe(struct tu_det *d, const void *data, size_t len, int final,
	 struct pmx_probe_result *res)
{
	return probe_with(d, data, len, final, PMX_TRANSPORT_TCP, res);
}

int
tu_probe_udp(struct tu_det *d, const void *data, size_t len,
	     struct pmx_probe_result *res)
{
	return probe_with(d, data, len, 1, PMX_TRANSPORT_UDP, res);
}

size_t
tu_assert_prefixes(struct tu_det *d, const uint8_t *data, size_t len,
		   const char *key)
{
	struct pmx_probe_result res;
	size_t first = 0;

	for (size_t n = 1; n <= len; n++) {
		int v = tu_probe(d, data, n, 0, &res);

		if (first == 0) {
			ck_assert_msg(v == PMX_NEED_MORE || v == PMX_MATCH,
				      "%s: prefix of %zu/%zu bytes gave %d "
				      "before any match",
				      d->plugin->name, n, len, v);
			if (v == PMX_MATCH)
				first = n;
		} else {
			ck_assert_msg(v == PMX_MATCH,
				      "%s: prefix of %zu/%zu bytes gave %d "
				      "after matching at %zu",
				      d->plugin->name, n, len, v, first);
		}
		if (v == PMX_MATCH && key != NULL)
			ck_assert_msg(strcmp(res.key, key) == 0,
				      "%s: %zu bytes: key '%s', expected '%s'",
				      d->plugin->name, n, res.key, key);
	}
	ck_assert_msg(first != 0, "%s: the whole flight (%zu bytes) did not "
				  "match",
		      d->plugin->name, len);
	return first;
}

void
tu_assert_never(struct tu_det *d, const uint8_t *data, size_t len)
{
	struct pmx_probe_result res;

	for (size_t n = 1; n <= len; n++) {
		int v = tu_probe(d, data, n, 0, &res);

		ck_assert_msg(v == PMX_NEED_MORE || v == PMX_NO_MATCH,
			      "%s: prefix of %zu/%zu bytes gave %d",
			      d->plugin->name, n, len, v);
	}
	ck_assert_int_eq(tu_probe(d, data, len, 0, &res), PMX_NO_MATCH);
	ck_assert_int_eq(tu_probe(d, data, len, 1, &res), PMX_NO_MATCH);
}

struct config *
tu_config(const char *yaml, char *err, size_t errlen)
{
	struct yaml_tree *tree =
		yaml_tree_parse("test.yaml", yaml, strlen(yaml), err, errlen);

	if (tree == NULL)
		return NULL;
	return config_parse(tree, 0, err, errlen);
}

struct generation *
tu_generation(const char *yaml, char *err, size_t errlen)
{
	struct config *cfg = tu_config(yaml, err, errlen);

	if (cfg == NULL)
		return NULL;
	return generation_build(cfg, err, errlen);
}
