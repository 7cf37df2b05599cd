/*
 * hpack.c — find :authority (or host) in the first HPACK header block.
 *
 * All representations of RFC 7541 §6 are decoded: indexed fields, the
 * three literal forms (with incremental indexing, without indexing, never
 * indexed) with an indexed or a literal name, dynamic table size updates,
 * and plain or Huffman string literals.
 *
 * The first block of a connection starts with an empty dynamic table, so
 * an index above the static table can only name an entry that this same
 * block added. Entries are tracked only as far as resolving a name needs:
 * their size (for eviction, which shifts indices) and whether the name is
 * :authority or host; values are not kept, since a non-empty :authority
 * ends the search when it is decoded and the first host is recorded when
 * it is decoded. Every entry is at least 32 octets and the table at most
 * 4096 (the peer's SETTINGS_HEADER_TABLE_SIZE, which the client cannot
 * have heard yet, defaults to 4096), so 128 slots always suffice.
 *
 * Errors (HPACK_ERROR), as a conforming decoder would see them: an index
 * of 0 or past the tables, a size update above 4096 or after the first
 * field, a Huffman string holding EOS or ending in padding that is longer
 * than 7 bits or not all ones, and a block that ends inside a field. To
 * stay bounded, an integer above 2^24 or of more than four continuation
 * octets is an error too (no field of a probe buffer is that long). An
 * empty :authority or host counts as absent.
 * Header names are compared as sent: HTTP/2 requires lower case.
 */
#include "hpack.h"

#include <string.h>

#define INT_LIMIT (1u << 24)   /* no field of a probe can be longer */
#define TABLE_MAX 4096u        /* default SETTINGS_HEADER_TABLE_SIZE */
#define ENTRY_OVERHEAD 32u     /* RFC 7541 §4.1 */
#define SLOTS (TABLE_MAX / ENTRY_OVERHEAD)
#define STATIC_COUNT 61
#define STATIC_AUTHORITY 1
#define STATIC_HOST 38

/* Static table names (RFC 7541 Appendix A); only their length and the
 * two names above matter here, values never do. */
static const char *const static_names[STATIC_COUNT + 1] = {
	NULL, ":authority", ":method", ":method", ":path", ":path",
	":scheme", ":scheme", ":status", ":status", ":status", ":status",
	":status", ":status", ":status", "accept-charset",
	"accept-encoding", "accept-language", "accept-ranges", "accept",
	"access-control-allow-origin", "age", "allow", "authorization",
	"cache-control", "content-disposition", "content-encoding",
	"content-language", "content-length", "content-location",
	"content-range", "content-type", "cookie", "date", "etag", "expect",
	"expires", "from", "host", "if-match", "if-modified-since",
	"if-none-match", "if-range", "if-unmodified-since", "last-modified",
	"link", "location", "max-forwards", "proxy-authenticate",
	"proxy-authorization", "range", "referer", "refresh", "retry-after",
	"server", "set-cookie", "strict-transport-security",
	"transfer-encoding", "user-agent", "vary", "via", "www-authenticate",
};

enum name_class { NAME_OTHER, NAME_AUTHORITY, NAME_HOST };

struct entry {
	uint16_t size;     /* name + value + 32, at most TABLE_MAX */
	uint16_t name_len; /* to size a new entry that reuses this name */
	uint8_t cls;       /* enum name_class */
};

/* The dynamic table, newest entry at slot[newest]. */
struct table {
	struct entry slot[SLOTS];
	unsigned newest, count;
	uint32_t size, max;
};

struct name {
	enum name_class cls;
	size_t len;
};

/* What a step returns to go on; any other value is a final status. */
#define GO_ON (-1)

static int
src_status(int c)
{
	/* A block ending inside a field is truncated: an error. */
	return c == HPACK_SRC_MORE ? HPACK_MORE : HPACK_ERROR;
}

static void
evict_to(struct table *t, uint32_t limit)
{
	while (t->count > 0 && t->size > limit) {
		unsigned oldest = (t->newest + SLOTS - (t->count - 1)) % SLOTS;
		t->size -= t->slot[oldest].size;
		t->count--;
	}
}

/* RFC 7541 §4.4: evict first; an entry larger than the table empties it
 * and is not added. */
static void
table_add(struct table *t, enum name_class cls, size_t name_len,
	  size_t value_len)
{
	size_t size = name_len + value_len + ENTRY_OVERHEAD;

	if (size > t->max) {
		evict_to(t, 0);
		return;
	}
	evict_to(t, t->max - (uint32_t)size);
	t->newest = (t->newest + 1) % SLOTS;
	t->slot[t->newest] = (struct entry){
		.size = (uint16_t)size,
		.name_len = (uint16_t)name_len,
		.cls = (uint8_t)cls,
	};
	t->size += (uint32_t)size;
	t->count++;
}

/* The name of table index i (1-based, static then dynamic); -1 if none. */
static int
table_name(const struct table *t, uint32_t i, struct name *n)
{
	const struct entry *e;

	if (i == 0)
		return -1;
	if (i <= STATIC_COUNT) {
		n->cls = i == STATIC_AUTHORITY ? NAME_AUTHORITY
			 : i == STATIC_HOST    ? NAME_HOST
					       : NAME_OTHER;
		n->len = strlen(static_names[i]);
		return 0;
	}
	i -= STATIC_COUNT + 1; /* 0 = newest */
	if (i >= t->count)
		return -1;
	e = &t->slot[(t->newest + SLOTS - i) % SLOTS];
	n->cls = e->cls;
	n->len = e->name_len;
	return 0;
}

/* An integer with an N-bit prefix (RFC 7541 §5.1) whose first octet is
 * `first`. Returns GO_ON and *v, or a status. */
static int
read_int(struct hpack_src *src, int first, unsigned prefix_bits,
	 uint32_t *v)
{
	uint32_t max = (1u << prefix_bits) - 1;
	unsigned shift = 0;
	int c;

	*v = (uint32_t)first & max;
	if (*v < max)
		return GO_ON;
	do {
		/* Bounded even for zero continuation octets (0x80 0x80...). */
		if (shift > 21)
			return HPACK_ERROR;
		c = src->next(src);
		if (c < 0)
			return src_status(c);
		*v += ((uint32_t)c & 0x7f) << shift;
		shift += 7;
		if (*v > INT_LIMIT)
			return HPACK_ERROR;
	} while (c & 0x80);
	return GO_ON;
}

/*
 * A string literal (RFC 7541 §5.2). Keeps at most cap decoded octets in
 * out and sets *len to the decoded length.
 */
static int
read_string(struct hpack_src *src, char *out, size_t cap, size_t *len)
{
	struct hpack_huff h;
	uint32_t n;
	int c, rc, huffman;

	c = src->next(src);
	if (c < 0)
		return src_status(c);
	huffman = c & 0x80;
	rc = read_int(src, c, 7, &n);
	if (rc != GO_ON)
		return rc;
	*len = 0;
	hpack_huff_init(&h);
	for (uint32_t k = 0; k < n; k++) {
		c = src->next(src);
		if (c < 0)
			return src_status(c);
		if (huffman) {
			if (hpack_huff_feed(&h, (uint8_t)c, out, cap, len) < 0)
				return HPACK_ERROR;
		} else {
			if (*len < cap)
				out[*len] = (char)c;
			(*len)++;
		}
	}
	if (huffman && hpack_huff_finish(&h) < 0)
		return HPACK_ERROR;
	return GO_ON;
}

/* A literal name: decoded far enough to tell the two names apart. */
static int
read_name(struct hpack_src *src, struct name *n)
{
	char buf[sizeof(":authority")];
	size_t len;
	int rc = read_string(src, buf, sizeof(buf), &len);

	if (rc != GO_ON)
		return rc;
	n->len = len;
	n->cls = NAME_OTHER;
	if (len == 10 && memcmp(buf, ":authority", 10) == 0)
		n->cls = NAME_AUTHORITY;
	else if (len == 4 && memcmp(buf, "host", 4) == 0)
		n->cls = NAME_HOST;
	return GO_ON;
}

/*
 * A literal field whose first octet is c, with an index prefix of
 * prefix_bits (6: incremental indexing, 4: without / never indexed).
 */
static int
literal(struct hpack_src *src, struct table *t, int c, unsigned prefix_bits,
	struct hpack_found *f)
{
	char value[HPACK_VALUE_MAX];
	struct name n;
	uint32_t index;
	size_t len, kept;
	int rc;

	rc = read_int(src, c, prefix_bits, &index);
	if (rc != GO_ON)
		return rc;
	if (index == 0) {
		rc = read_name(src, &n);
		if (rc != GO_ON)
			return rc;
	} else if (table_name(t, index, &n) < 0) {
		return HPACK_ERROR;
	}
	/* Only the two values that may route are kept. */
	rc = read_string(src, value, n.cls == NAME_OTHER ? 0 : sizeof(value),
			 &len);
	if (rc != GO_ON)
		return rc;
	kept = len < sizeof(value) ? len : sizeof(value);
	if (n.cls == NAME_AUTHORITY && len > 0) {
		memcpy(f->authority, value, kept);
		f->authority_len = kept;
		return HPACK_AUTHORITY;
	}
	if (n.cls == NAME_HOST && len > 0 && f->host_len == 0) {
		memcpy(f->host, value, kept);
		f->host_len = kept;
	}
	if (prefix_bits == 6)
		table_add(t, n.cls, n.len, len);
	return GO_ON;
}

/* A dynamic table size update (RFC 7541 §6.3) whose first octet is c. */
static int
size_update(struct hpack_src *src, struct table *t, int c)
{
	uint32_t v;
	int rc = read_int(src, c, 5, &v);

	if (rc != GO_ON)
		return rc;
	if (v > TABLE_MAX)
		return HPACK_ERROR;
	t->max = v;
	evict_to(t, v);
	return GO_ON;
}

/* An indexed field (§6.1): an empty :authority or host (static 1, 38),
 * or an entry of this block whose value was seen when it was added. */
static int
indexed(struct hpack_src *src, const struct table *t, int c)
{
	struct name n;
	uint32_t v;
	int rc = read_int(src, c, 7, &v);

	if (rc != GO_ON)
		return rc;
	return table_name(t, v, &n) < 0 ? HPACK_ERROR : GO_ON;
}

enum hpack_status
hpack_find_authority(struct hpack_src *src, struct hpack_found *f)
{
	struct table t = {.max = TABLE_MAX};
	int fields = 0, c, rc;

	f->authority_len = 0;
	f->host_len = 0;
	for (;;) {
		c = src->next(src);
		if (c == HPACK_SRC_END)
			return HPACK_DONE;
		if (c < 0)
			return (enum hpack_status)src_status(c);
		if ((c & 0xe0) == 0x20) {
			/* Allowed only before the first field (§4.2). */
			rc = fields > 0 ? HPACK_ERROR : size_update(src, &t, c);
		} else {
			if (c & 0x80)
				rc = indexed(src, &t, c);
			else if (c & 0x40)
				rc = literal(src, &t, c, 6, f);
			else
				rc = literal(src, &t, c, 4, f);
			fields++;
		}
		if (rc != GO_ON)
			return (enum hpack_status)rc;
	}
}
