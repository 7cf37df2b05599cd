/*
 * hpack_huffman.c — the HPACK Huffman code (RFC 7541 Appendix B) as a
 * canonical code, and an incremental decoder.
 *
 * The code of Appendix B is canonical: sorted by (length, symbol), each
 * code is the previous one plus one, shifted left when the length grows.
 * So two small tables describe it completely: how many codes there are of
 * each length (5..30 bits) and the symbols in that order; EOS (256) is the
 * last 30-bit code. Decoding walks one bit at a time, keeping the first
 * code of the current length (zlib's puff.c decodes Deflate this way):
 * 287 bytes of tables instead of a 257-entry code table or a state machine.
 * The tables were generated from the RFC's code table (checked to be
 * canonical); tests/unit/check_h2.c decodes every symbol and the
 * Appendix C vectors through the plugin.
 */
#include "hpack.h"

#define HUFF_MAXLEN 30
#define HUFF_EOS 256

/* Number of codes of each length. */
static const uint8_t codes_of_len[HUFF_MAXLEN + 1] = {
	0, 0, 0, 0, 0, 10, 26, 32,
	6, 0, 5, 3, 2, 6, 2, 3,
	0, 0, 0, 3, 8, 13, 26, 29,
	12, 4, 15, 19, 29, 0, 4,
};

/* Symbols in canonical order (EOS, the last one, is implied). */
static const uint8_t symbol[256] = {
	/* 5 bits */
	48, 49, 50, 97, 99, 101, 105, 111, 115, 116,
	/* 6 bits */
	32, 37, 45, 46, 47, 51, 52, 53, 54, 55, 56, 57,
	61, 65, 95, 98, 100, 102, 103, 104, 108, 109, 110, 112,
	114, 117,
	/* 7 bits */
	58, 66, 67, 68, 69, 70, 71, 72, 73, 74, 75, 76,
	77, 78, 79, 80, 81, 82, 83, 84, 85, 86, 87, 89,
	106, 107, 113, 118, 119, 120, 121, 122,
	/* 8 bits */
	38, 42, 44, 59, 88, 90,
	/* 10 bits */
	33, 34, 40, 41, 63,
	/* 11 bits */
	39, 43, 124,
	/* 12 bits */
	35, 62,
	/* 13 bits */
	0, 36, 64, 91, 93, 126,
	/* 14 bits */
	94, 125,
	/* 15 bits */
	60, 96, 123,
	/* 19 bits */
	92, 195, 208,
	/* 20 bits */
	128, 130, 131, 162, 184, 194, 224, 226,
	/* 21 bits */
	153, 161, 167, 172, 176, 177, 179, 209, 216, 217, 227, 229,
	230,
	/* 22 bits */
	129, 132, 133, 134, 136, 146, 154, 156, 160, 163, 164, 169,
	170, 173, 178, 181, 185, 186, 187, 189, 190, 196, 198, 228,
	232, 233,
	/* 23 bits */
	1, 135, 137, 138, 139, 140, 141, 143, 147, 149, 150, 151,
	152, 155, 157, 158, 165, 166, 168, 174, 175, 180, 182, 183,
	188, 191, 197, 231, 239,
	/* 24 bits */
	9, 142, 144, 145, 148, 159, 171, 206, 215, 225, 236, 237,
	/* 25 bits */
	199, 207, 234, 235,
	/* 26 bits */
	192, 193, 200, 201, 202, 205, 210, 213, 218, 219, 238, 240,
	242, 243, 255,
	/* 27 bits */
	203, 204, 211, 212, 214, 221, 222, 223, 241, 244, 245, 246,
	247, 248, 250, 251, 252, 253, 254,
	/* 28 bits */
	2, 3, 4, 5, 6, 7, 8, 11, 12, 14, 15, 16,
	17, 18, 19, 20, 21, 23, 24, 25, 26, 27, 28, 29,
	30, 31, 127, 220, 249,
	/* 30 bits */
	10, 13, 22,
};

void
hpack_huff_init(struct hpack_huff *h)
{
	h->code = 0;
	h->first = 0;
	h->index = 0;
	h->nbits = 0;
	h->ones = 1;
}

/* One bit; -1 on EOS, else 0 (a symbol may have been emitted). */
static int
huff_bit(struct hpack_huff *h, unsigned bit, char *out, size_t cap,
	 size_t *len)
{
	uint32_t count;
	unsigned sym;

	h->code = (h->code << 1) | bit;
	h->ones &= (uint8_t)bit;
	h->nbits++;
	count = codes_of_len[h->nbits];
	if (h->code - h->first < count) {
		sym = h->index + (h->code - h->first);
		if (sym >= HUFF_EOS)
			return -1;
		if (*len < cap)
			out[*len] = (char)symbol[sym];
		(*len)++;
		hpack_huff_init(h);
		return 0;
	}
	/* The code is complete, so a symbol ends by 30 bits; the guard
	 * keeps the shifts bounded whatever the tables say. */
	if (h->nbits >= HUFF_MAXLEN)
		return -1;
	h->index = (uint16_t)(h->index + count);
	h->first = (h->first + count) << 1;
	return 0;
}

int
hpack_huff_feed(struct hpack_huff *h, uint8_t octet, char *out, size_t cap,
		size_t *len)
{
	for (int i = 7; i >= 0; i--)
		if (huff_bit(h, (octet >> i) & 1u, out, cap, len) < 0)
			return -1;
	return 0;
}

int
hpack_huff_finish(const struct hpack_huff *h)
{
	return h->nbits <= 7 && h->ones ? 0 : -1;
}
