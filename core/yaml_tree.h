/* yaml_tree.h — a YAML document as an immutable tree of nodes that remember
 * their file, line and column, so every config error can point at its
 * source. The same nodes are handed to detectors as `struct pmx_node`. */
#ifndef PMX_YAML_TREE_H
#define PMX_YAML_TREE_H

#include <stddef.h>

#include "portmux/detector.h"

struct pmx_node {
	enum pmx_node_kind kind;
	const char *file; /* owned by the tree */
	int line, col;    /* 1-based */
	char *text;       /* scalar text (NUL-terminated) */
	int plain;        /* scalar was unquoted (so `null`, `~` mean null) */
	size_t n;         /* map entries or sequence items */
	struct pmx_node **keys; /* map only */
	struct pmx_node **vals; /* map values or sequence items */
};

struct yaml_tree {
	char *file;
	struct pmx_node *root; /* NULL for an empty document */
};

/*
 * Parse `path`. Returns a tree (free with yaml_tree_free) or NULL with
 * "FILE:LINE:COL: message" in err. Duplicate keys, aliases and non-scalar
 * keys are errors.
 */
struct yaml_tree *yaml_tree_load(const char *path, char *err, size_t errlen);
/* Same, from a string; `name` is used in messages. */
struct yaml_tree *yaml_tree_parse(const char *name, const char *text,
				  size_t len, char *err, size_t errlen);
void yaml_tree_free(struct yaml_tree *tree);

/* Accessors (also exported to plugins through struct pmx_host). */
enum pmx_node_kind node_kind(const struct pmx_node *node);
const char *node_scalar(const struct pmx_node *node);
size_t node_size(const struct pmx_node *node);
const struct pmx_node *node_key(const struct pmx_node *node, size_t i);
const struct pmx_node *node_at(const struct pmx_node *node, size_t i);
const struct pmx_node *node_get(const struct pmx_node *node, const char *key);
int node_error(const struct pmx_node *node, char *err, size_t errlen,
	       const char *fmt, ...) __attribute__((format(printf, 4, 5)));
int node_double(const struct pmx_node *node, double min, double max,
		double *out, char *err, size_t errlen);
int node_bool(const struct pmx_node *node, int *out, char *err, size_t errlen);
/* An integer in [min, max]. */
int node_long(const struct pmx_node *node, long min, long max, long *out,
	      char *err, size_t errlen);
/* A scalar string (numbers are strings too); -1 for maps/sequences/null. */
int node_string(const struct pmx_node *node, const char **out, char *err,
		size_t errlen);
/* Human name of a node's kind, for messages. */
const char *node_kind_name(const struct pmx_node *node);

#endif
