/* yaml_tree.c — libyaml event stream -> tree of positioned nodes. */
#include "yaml_tree.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#define MAX_DEPTH 64

static void
node_free(struct pmx_node *node)
{
	if (node == NULL)
		return;
	for (size_t i = 0; i < node->n; i++) {
		if (node->keys)
			node_free(node->keys[i]);
		node_free(node->vals[i]);
	}
	free(node->keys);
	free(node->vals);
	free(node->text);
	free(node);
}

void
yaml_tree_free(struct yaml_tree *tree)
{
	if (tree == NULL)
		return;
	node_free(tree->root);
	free(tree->file);
	free(tree);
}

struct builder {
	yaml_parser_t parser;
	const char *file;
	char *err;
	size_t errlen;
};

static int
fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int
fail_at(struct builder *b, const yaml_mark_t *mark, const char *fmt, ...)
{
	va_list ap;
	int off;

	off = snprintf(b->err, b->errlen, "%s:%zu:%zu: ", b->file,
		       mark->line + 1, mark->column + 1);
	if (off < 0 || (size_t)off >= b->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(b->err + off, b->errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -1;
}

static int
next_event(struct builder *b, yaml_event_t *ev)
{
	if (yaml_parser_parse(&b->parser, ev))
		return 0;
	const yaml_mark_t *m = &b->parser.problem_mark;
	if (b->parser.context)
		return fail_at(b, m, "YAML syntax error: %s %s",
			       b->parser.problem ? b->parser.problem : "",
			       b->parser.context);
	return fail_at(b, m, "YAML syntax error: %s",
		       b->parser.problem ? b->parser.problem : "unknown");
}

static struct pmx_node *
node_new(struct builder *b, enum pmx_node_kind kind, const yaml_mark_t *mark)
{
	struct pmx_node *node = calloc(1, sizeof(*node));

	if (node == NULL) {
		fail_at(b, mark, "out of memory");
		return NULL;
	}
	node->kind = kind;
	node->file = b->file;
	node->line = (int)mark->line + 1;
	node->col = (int)mark->column + 1;
	return node;
}

static int
node_append(struct pmx_node *node, struct pmx_node *key, struct pmx_node *val)
{
	size_t n = node->n + 1;
	struct pmx_node **vals = realloc(node->vals, n * sizeof(*vals));

	if (vals == NULL)
		return -1;
	node->vals = vals;
	if (node->kind == PMX_NODE_MAP) {
		struct pmx_node **keys = realloc(node->keys, n * sizeof(*keys));
		if (keys == NULL)
			return -1;
		node->keys = keys;
		keys[node->n] = key;
	}
	vals[node->n] = val;
	node->n = n;
	return 0;
}

static struct pmx_node *build(struct builder *b, yaml_event_t *ev, int depth);

/* Build the children of a map or sequence until its end event. */
static int
build_children(struct builder *b, struct pmx_node *node, int depth)
{
	for (;;) {
		yaml_event_t ev;
		struct pmx_node *key = NULL, *val;

		if (next_event(b, &ev) < 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT ||
		    ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (node->kind == PMX_NODE_MAP) {
			key = build(b, &ev, depth + 1);
			yaml_event_delete(&ev);
			if (key == NULL)
				return -1;
			/* A key is a name, even one that reads as null
			 * ("~", "null", an empty "? "): never NULL text. */
			key->plain = 0;
			if (key->kind != PMX_NODE_SCALAR) {
				yaml_mark_t m = {0, (size_t)key->line - 1,
						 (size_t)key->col - 1};
				node_free(key);
				return fail_at(b, &m,
					       "a mapping key must be a plain "
					       "value");
			}
			for (size_t i = 0; i < node->n; i++) {
				if (strcmp(node->keys[i]->text, key->text))
					continue;
				yaml_mark_t m = {0, (size_t)key->line - 1,
						 (size_t)key->col - 1};
				fail_at(b, &m,
					"duplicate key '%s' (first at line %d)",
					key->text, node->keys[i]->line);
				node_free(key);
				return -1;
			}
			if (next_event(b, &ev) < 0) {
				node_free(key);
				return -1;
			}
		}
		val = build(b, &ev, depth + 1);
		yaml_event_delete(&ev);
		if (val == NULL || node_append(node, key, val) < 0) {
			node_free(key);
			node_free(val);
			return -1;
		}
	}
}

/* Build the node that starts with event `ev` (which the caller deletes). */
static struct pmx_node *
build(struct builder *b, yaml_event_t *ev, int depth)
{
	struct pmx_node *node;

	if (depth > MAX_DEPTH) {
		fail_at(b, &ev->start_mark, "nesting too deep");
		return NULL;
	}
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		node = node_new(b, PMX_NODE_SCALAR, &ev->start_mark);
		if (node == NULL)
			return NULL;
		node->text = strndup((const char *)ev->data.scalar.value,
				     ev->data.scalar.length);
		node->plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
		if (node->text == NULL) {
			node_free(node);
			return NULL;
		}
		if (strlen(node->text) != ev->data.scalar.length) {
			fail_at(b, &ev->start_mark, "NUL byte in value");
			node_free(node);
			return NULL;
		}
		return node;
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		node = node_new(b,
				ev->type == YAML_MAPPING_START_EVENT
					? PMX_NODE_MAP
					: PMX_NODE_SEQ,
				&ev->start_mark);
		if (node == NULL)
			return NULL;
		if (build_children(b, node, depth) < 0) {
			node_free(node);
			return NULL;
		}
		return node;
	case YAML_ALIAS_EVENT:
		fail_at(b, &ev->start_mark,
			"YAML aliases (*name) are not supported");
		return NULL;
	default:
		fail_at(b, &ev->start_mark, "unexpected YAML event");
		return NULL;
	}
}

struct yaml_tree *
yaml_tree_parse(const char *name, const char *text, size_t len, char *err,
		size_t errlen)
{
	struct builder b = {.err = err, .errlen = errlen};
	struct yaml_tree *tree = calloc(1, sizeof(*tree));
	yaml_event_t ev;
	int docs = 0;

	if (tree == NULL || (tree->file = strdup(name)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", name);
		free(tree);
		return NULL;
	}
	b.file = tree->file;
	if (!yaml_parser_initialize(&b.parser)) {
		snprintf(err, errlen, "%s: cannot initialise YAML parser",
			 name);
		yaml_tree_free(tree);
		return NULL;
	}
	yaml_parser_set_input_string(&b.parser, (const unsigned char *)text,
				     len);
	for (;;) {
		if (next_event(&b, &ev) < 0)
			goto fail;
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		if (ev.type == YAML_STREAM_START_EVENT ||
		    ev.type == YAML_DOCUMENT_END_EVENT) {
			yaml_event_delete(&ev);
			continue;
		}
		if (ev.type == YAML_DOCUMENT_START_EVENT) {
			if (++docs > 1) {
				fail_at(&b, &ev.start_mark,
					"only one YAML document is allowed");
				yaml_event_delete(&ev);
				goto fail;
			}
			yaml_event_delete(&ev);
			continue;
		}
		tree->root = build(&b, &ev, 0);
		yaml_event_delete(&ev);
		if (tree->root == NULL)
			goto fail;
	}
	yaml_parser_delete(&b.parser);
	return tree;
fail:
	yaml_parser_delete(&b.parser);
	yaml_tree_free(tree);
	return NULL;
}

struct yaml_tree *
yaml_tree_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	char *text = NULL;
	size_t len = 0, cap = 0;
	struct yaml_tree *tree;

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	for (;;) {
		if (len == cap) {
			cap = cap ? cap * 2 : 4096;
			if (cap > (16u << 20)) {
				snprintf(err, errlen, "%s: file too large",
					 path);
				goto fail;
			}
			char *grown = realloc(text, cap);
			if (grown == NULL) {
				snprintf(err, errlen, "%s: out of memory",
					 path);
				goto fail;
			}
			text = grown;
		}
		size_t got = fread(text + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		goto fail;
	}
	fclose(f);
	tree = yaml_tree_parse(path, text ? text : "", len, err, errlen);
	free(text);
	return tree;
fail:
	fclose(f);
	free(text);
	return NULL;
}

/* ---- accessors ---- */

static int
is_null_scalar(const struct pmx_node *node)
{
	return node->plain &&
	       (node->text[0] == '\0' || strcmp(node->text, "~") == 0 ||
		strcasecmp(node->text, "null") == 0);
}

enum pmx_node_kind
node_kind(const struct pmx_node *node)
{
	if (node == NULL)
		return PMX_NODE_NONE;
	if (node->kind == PMX_NODE_SCALAR && is_null_scalar(node))
		return PMX_NODE_NONE;
	return node->kind;
}

const char *
node_kind_name(const struct pmx_node *node)
{
	switch (node_kind(node)) {
	case PMX_NODE_SCALAR:
		return "a value";
	case PMX_NODE_MAP:
		return "a mapping";
	case PMX_NODE_SEQ:
		return "a list";
	default:
		return "nothing";
	}
}

const char *
node_scalar(const struct pmx_node *node)
{
	return node_kind(node) == PMX_NODE_SCALAR ? node->text : NULL;
}

size_t
node_size(const struct pmx_node *node)
{
	if (node == NULL ||
	    (node->kind != PMX_NODE_MAP && node->kind != PMX_NODE_SEQ))
		return 0;
	return node->n;
}

const struct pmx_node *
node_key(const struct pmx_node *node, size_t i)
{
	if (node == NULL || node->kind != PMX_NODE_MAP || i >= node->n)
		return NULL;
	return node->keys[i];
}

const struct pmx_node *
node_at(const struct pmx_node *node, size_t i)
{
	if (i >= node_size(node))
		return NULL;
	return node->vals[i];
}

const struct pmx_node *
node_get(const struct pmx_node *node, const char *key)
{
	if (node == NULL || node->kind != PMX_NODE_MAP)
		return NULL;
	for (size_t i = 0; i < node->n; i++)
		if (strcmp(node->keys[i]->text, key) == 0)
			return node->vals[i];
	return NULL;
}

int
node_error(const struct pmx_node *node, char *err, size_t errlen,
	   const char *fmt, ...)
{
	va_list ap;
	int off = 0;

	if (err == NULL || errlen == 0)
		return -1;
	if (node != NULL)
		off = snprintf(err, errlen, "%s:%d:%d: ", node->file,
			       node->line, node->col);
	if (off < 0 || (size_t)off >= errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err + off, errlen - (size_t)off, fmt, ap);
	va_end(ap);
	return -1;
}

int
node_string(const struct pmx_node *node, const char **out, char *err,
	    size_t errlen)
{
	const char *s = node_scalar(node);

	if (s == NULL)
		return node_error(node, err, errlen,
				  "expected a string, found %s",
				  node_kind_name(node));
	*out = s;
	return 0;
}

int
node_long(const struct pmx_node *node, long min, long max, long *out,
	  char *err, size_t errlen)
{
	const char *s = node_scalar(node);
	char *end;
	long v;

	if (s == NULL)
		return node_error(node, err, errlen,
				  "expected a number, found %s",
				  node_kind_name(node));
	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0)
		return node_error(node, err, errlen,
				  "expected a whole number, found '%s'", s);
	if (v < min || v > max)
		return node_error(node, err, errlen,
				  "%ld is out of range (%ld to %ld)", v, min,
				  max);
	*out = v;
	return 0;
}

int
node_double(const struct pmx_node *node, double min, double max, double *out,
	    char *err, size_t errlen)
{
	const char *s = node_scalar(node);
	char *end;
	double v;

	if (s == NULL)
		return node_error(node, err, errlen,
				  "expected a number, found %s",
				  node_kind_name(node));
	errno = 0;
	v = strtod(s, &end);
	if (end == s || *end != '\0' || errno != 0 || !isfinite(v))
		return node_error(node, err, errlen,
				  "expected a number, found '%s'", s);
	if (v < min || v > max)
		return node_error(node, err, errlen,
				  "%g is out of range (%g to %g)", v, min, max);
	*out = v;
	return 0;
}

int
node_bool(const struct pmx_node *node, int *out, char *err, size_t errlen)
{
	static const char *const yes[] = {"true", "yes", "on"};
	static const char *const no[] = {"false", "no", "off"};
	const char *s = node_scalar(node);

	if (s == NULL)
		return node_error(node, err, errlen,
				  "expected true or false, found %s",
				  node_kind_name(node));
	for (size_t i = 0; i < 3; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = 1;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = 0;
			return 0;
		}
	}
	return node_error(node, err, errlen,
			  "expected true or false, found '%s'", s);
}
