/*
 * hpack.h — just enough HPACK (RFC 7541) to find the authority of the
 * first header block of an HTTP/2 connection.
 *
 * The decoder reads the block one octet at a time from a source, so that a
 * block split over HEADERS and CONTINUATION frames (and over reads) needs
 * no copy. It keeps no state between calls: every probe decodes from the
 * start of the block, so a verdict can only depend on the octets read so
 * far, which is what makes answers stable as more bytes arrive.
 */
#ifndef PMX_HTTP_HPACK_H
#define PMX_HTTP_HPACK_H

#include <portmux/detector.h>
#include <stddef.h>
#include <stdint.h>

/* What a source's next() answers instead of an octet (0..255). */
#define HPACK_SRC_END (-1)  /* the header block ends here */
#define HPACK_SRC_MORE (-2) /* the bytes received so far end here */
#define HPACK_SRC_BAD (-3)  /* the framing around the block is malformed */

/* A header block, delivered one octet at a time. Embed it as the first
 * member of the framing layer's reader. */
struct hpack_src {
	int (*next)(struct hpack_src *src);
};

enum hpack_status {
	HPACK_AUTHORITY, /* a non-empty :authority was decoded */
	HPACK_DONE,      /* the block ended without one */
	HPACK_MORE,      /* the bytes ended first */
	HPACK_ERROR,     /* not valid HPACK (or framing), see hpack.c */
};

/* Decoded values longer than a route key are cut, as http.c cuts Host. */
#define HPACK_VALUE_MAX (PMX_KEY_MAX - 1)

struct hpack_found {
	char authority[HPACK_VALUE_MAX];
	size_t authority_len; /* bytes kept in authority[] */
	char host[HPACK_VALUE_MAX];
	size_t host_len; /* first non-empty host header, 0 if none yet */
};

/*
 * Decode the first header block of a connection (empty dynamic table,
 * SETTINGS_HEADER_TABLE_SIZE at its default 4096) until a non-empty
 * :authority is found or the block ends. `found` holds the authority on
 * HPACK_AUTHORITY, and the first host header seen so far on any answer.
 */
enum hpack_status hpack_find_authority(struct hpack_src *src,
				       struct hpack_found *found);

/*
 * Huffman decoding (RFC 7541 §5.2, code of Appendix B), fed one octet at
 * a time. Decoded octets are stored while they fit in out[cap]; *len counts
 * all of them (the dynamic table sizes entries by their decoded length).
 */
struct hpack_huff {
	uint32_t code;  /* bits of the symbol being read */
	uint32_t first; /* first canonical code of the current length */
	uint16_t index; /* symbols of shorter lengths */
	uint8_t nbits;  /* length read so far of the current symbol */
	uint8_t ones;   /* all those bits are 1 (possible padding) */
};

void hpack_huff_init(struct hpack_huff *h);
/* 0, or -1 if the octet completes the EOS symbol (a decoding error). */
int hpack_huff_feed(struct hpack_huff *h, uint8_t octet, char *out,
		    size_t cap, size_t *len);
/* 0 if the string ended on a symbol boundary or on valid padding (at most
 * 7 bits, all 1: a prefix of EOS), else -1. */
int hpack_huff_finish(const struct hpack_huff *h);

#endif
