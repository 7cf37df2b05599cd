/*
 * check_quic.c — quic.so on real first flights: RFC 9001 and RFC 9369's
 * Appendix A client Initials (v1, v2), and Debian 12's ngtcp2 client
 * (gtlsclient 0.12.1: v1 and the v2 draft codepoint, its ClientHello in
 * one datagram, or cut over two by an FFDHE-8192 key share, and a flight
 * whose first datagram was lost, answered by its retransmission), all in
 * tests/corpus/quic/ as datagrams each after its 2-byte length. Then
 * those ClientHellos cut again at every byte boundary over two datagrams,
 * into one frame per byte in reverse order, coalesced, mixed with packets
 * of another connection or too small a datagram; what a server discards;
 * other protocols' datagrams; routing through a QUIC section.
 *
 * The unit of arrival on UDP is the datagram, whole: the prefix property
 * is checked datagram by datagram (NEED_MORE until MATCH, never NO_MATCH
 * first), and the ClientHello's own truncations at every byte by the
 * re-cut flights. A datagram cut short is not an Initial (its packet
 * overruns it): NO_MATCH, never a match.
 *
 * To re-cut flights the test protects Initial packets itself, with
 * libcrypto used otherwise than quic.so does (HMAC for HKDF-Extract,
 * OpenSSL's TLS13-KDF for HKDF-Expand-Label, the EVP_aes_128_* ciphers):
 * that it rebuilds RFC 9001's and RFC 9369's protected packets byte for
 * byte from their plaintext checks it.
 */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decide.h"
#include "testutil.h"

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE

#define DGRAMS_MAX 16
#define CH_MAX 4096
#define SALT_LEN 20
#define SECRET_LEN 32

static struct tu_det det;

static void
setup(void)
{
	tu_det_open(&det, "quic", NULL);
}

static void
teardown(void)
{
	tu_det_close(&det);
}

/* ---- flights: datagrams back to back ---- */

struct flight {
	uint8_t b[DGRAMS_MAX * 2048];
	size_t end[DGRAMS_MAX]; /* datagram i ends at end[i] */
	size_t n;
};

static void
flight_add(struct flight *f, const uint8_t *d, size_t len)
{
	size_t at = f->n ? f->end[f->n - 1] : 0;

	ck_assert_uint_lt(f->n, DGRAMS_MAX);
	ck_assert_uint_le(at + len, sizeof(f->b));
	memcpy(f->b + at, d, len);
	f->end[f->n++] = at + len;
}

/* Datagram i of f and its length. */
static const uint8_t *
flight_dgram(const struct flight *f, size_t i, size_t *len)
{
	size_t start = i ? f->end[i - 1] : 0;

	*len = f->end[i] - start;
	return f->b + start;
}

/* tests/corpus/quic/NAME.bin: datagrams, each after its 2-byte length. */
static void
flight_load(struct flight *f, const char *name)
{
	char rel[256];
	size_t len, at = 0;
	uint8_t *raw;

	snprintf(rel, sizeof(rel), "tests/corpus/quic/%s.bin", name);
	raw = tu_read(rel, &len);
	memset(f, 0, sizeof(*f));
	while (at + 2 <= len) {
		size_t n = (size_t)raw[at] << 8 | raw[at + 1];

		ck_assert_uint_le(at + 2 + n, len);
		flight_add(f, raw + at + 2, n);
		at += 2 + n;
	}
	ck_assert_uint_eq(at, len);
	free(raw);
}

/* Probe with the first n datagrams of f. */
static int
probe_n(const struct flight *f, size_t n, int final,
	struct pmx_probe_result *res)
{
	return tu_probe_datagrams(&det, f->b, f->end, n, final, res);
}

/* ---- the test's own Initial protection ---- */

struct version {
	uint32_t number;
	uint8_t initial; /* long packet type */
	uint8_t salt[SALT_LEN];
	const char *labels;
};

static const struct version versions[] = {
	{0x00000001, 0,
	 {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
	  0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a},
	 "quic "},
	{0x6b3343cf, 1,
	 {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
	  0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9},
	 "quicv2 "},
	{0x709a50c4, 1,
	 {0xa7, 0x07, 0xc2, 0x03, 0xa5, 0x9b, 0x47, 0x18, 0x4a, 0x1d,
	  0x62, 0xca, 0x57, 0x04, 0x06, 0xea, 0x7a, 0xe3, 0xe5, 0xd3},
	 "quicv2 "},
};

struct keys {
	uint8_t key[16], iv[12], hp[16];
};

/* A connection as its client's Initials show it. */
struct conn {
	const struct version *v;
	uint8_t dcid[20], scid[20];
	size_t dcid_len, scid_len;
	struct keys k;
};

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* HKDF-Expand-Label(secret, label, "", len), by OpenSSL's TLS 1.3 KDF. */
static void
expand_label(const uint8_t *secret, const char *label, uint8_t *out,
	     size_t len)
{
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "TLS13-KDF", NULL);
	EVP_KDF_CTX *ctx = kdf ? EVP_KDF_CTX_new(kdf) : NULL;
	uint8_t key[SECRET_LEN];
	char text[32], prefix[] = "tls13 ", digest[] = "SHA256";
	int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	OSSL_PARAM params[] = {
		OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, &mode),
		OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, digest, 0),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, key, sizeof(key)),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, prefix, 6),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, text,
					strlen(label)),
		OSSL_PARAM_octet_string(OSSL_KDF_PARAM_DATA, prefix, 0),
		OSSL_PARAM_END,
	};

	ck_assert_ptr_nonnull(ctx);
	memcpy(key, secret, sizeof(key));
	snprintf(text, sizeof(text), "%s", label);
	ck_assert_int_gt(EVP_KDF_derive(ctx, out, len, params), 0);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
}

static void
keys_for(struct conn *c)
{
	uint8_t initial[SECRET_LEN], client[SECRET_LEN];
	unsigned len = 0;
	char label[32];

	ck_assert_ptr_nonnull(HMAC(EVP_sha256(), c->v->salt, SALT_LEN,
				   c->dcid, c->dcid_len, initial, &len));
	ck_assert_uint_eq(len, SECRET_LEN);
	expand_label(initial, "client in", client, sizeof(client));
	snprintf(label, sizeof(label), "%skey", c->v->labels);
	expand_label(client, label, c->k.key, sizeof(c->k.key));
	snprintf(label, sizeof(label), "%siv", c->v->labels);
	expand_label(client, label, c->k.iv, sizeof(c->k.iv));
	snprintf(label, sizeof(label), "%shp", c->v->labels);
	expand_label(client, label, c->k.hp, sizeof(c->k.hp));
}

/* AEAD_AES_128_GCM of in[0..len) into out with packet number pn's nonce:
 * enc writes the tag, else checks it (1 when it holds). */
static int
gcm(int enc, const struct keys *k, uint64_t pn, const uint8_t *aad,
    size_t alen, const uint8_t *in, size_t len, uint8_t *out,
    uint8_t tag[16])
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	uint8_t nonce[12];
	int n = 0, ok;

	memcpy(nonce, k->iv, sizeof(nonce));
	for (int i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(pn >> (8 * i));
	ok = EVP_CipherInit_ex(c, EVP_aes_128_gcm(), NULL, k->key, nonce,
			       enc) &&
	     EVP_CipherUpdate(c, NULL, &n, aad, (int)alen) &&
	     EVP_CipherUpdate(c, out, &n, in, (int)len) &&
	     (enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, 16, tag)) &&
	     EVP_CipherFinal_ex(c, out + n, &n) &&
	     (!enc || EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, 16, tag));
	EVP_CIPHER_CTX_free(c);
	return ok;
}

/* Header protection on (protect) or off: the first byte's low bits and
 * the packet number at p[pn_at..] xored with the mask of the sample 4
 * bytes after it. The packet number's length is in the first byte's
 * unprotected bits. */
static void
hp_apply(const struct keys *k, uint8_t *p, size_t pn_at, int protect)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	size_t pn_len = (size_t)(p[0] & 3) + 1;
	uint8_t mask[32];
	int n = 0;

	ck_assert(EVP_EncryptInit_ex(c, EVP_aes_128_ecb(), NULL, k->hp,
				     NULL) &&
		  EVP_EncryptUpdate(c, mask, &n, p + pn_at + 4, 16));
	EVP_CIPHER_CTX_free(c);
	p[0] ^= mask[0] & 0x0f;
	if (!protect)
		pn_len = (size_t)(p[0] & 3) + 1;
	for (size_t i = 0; i < pn_len; i++)
		p[pn_at + i] ^= mask[1 + i];
}

static size_t
put_varint(uint8_t *p, uint64_t v)
{
	if (v < 64) {
		p[0] = (uint8_t)v;
		return 1;
	}
	if (v < 16384) {
		p[0] = (uint8_t)(0x40 | v >> 8);
		p[1] = (uint8_t)v;
		return 2;
	}
	p[0] = (uint8_t)(0x80 | v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
	return 4;
}

static uint64_t
get_varint(const uint8_t *p, size_t *at)
{
	size_t len = (size_t)1 << (p[*at] >> 6);
	uint64_t v = p[*at] & 0x3f;

	for (size_t i = 1; i < len; i++)
		v = v << 8 | p[*at + i];
	*at += len;
	return v;
}

/* A CRYPTO frame into p: its length. */
static size_t
crypto_frame(uint8_t *p, uint64_t off, const uint8_t *data, size_t len)
{
	size_t at = 0;

	p[at++] = 0x06;
	at += put_varint(p + at, off);
	at += put_varint(p + at, len);
	memcpy(p + at, data, len);
	return at + len;
}

/*
 * An Initial packet of c into out: packet number pn on pn_len bytes, the
 * frames padded with PADDING to a packet of `size` bytes (or just enough
 * when they need more). Its length.
 */
static size_t
initial_build(const struct conn *c, uint64_t pn, size_t pn_len,
	      const uint8_t *frames, size_t flen, size_t size, uint8_t *out)
{
	static uint8_t plain[4096];
	size_t at = 0, pn_at, payload;
	uint8_t tag[16];

	out[at++] = (uint8_t)(0xc0 | c->v->initial << 4 | (pn_len - 1));
	for (int i = 3; i >= 0; i--)
		out[at++] = (uint8_t)(c->v->number >> (8 * i));
	out[at++] = (uint8_t)c->dcid_len;
	memcpy(out + at, c->dcid, c->dcid_len);
	at += c->dcid_len;
	out[at++] = (uint8_t)c->scid_len;
	memcpy(out + at, c->scid, c->scid_len);
	at += c->scid_len;
	out[at++] = 0; /* no token */
	if (size < at + 2 + pn_len + flen + 16)
		size = at + 2 + pn_len + flen + 16;
	/* Length (2-byte varint): packet number, payload, tag */
	out[at] = (uint8_t)(0x40 | (size - at - 2) >> 8);
	out[at + 1] = (uint8_t)(size - at - 2);
	at += 2;
	pn_at = at;
	for (size_t i = 0; i < pn_len; i++)
		out[at++] = (uint8_t)(pn >> (8 * (pn_len - 1 - i)));
	payload = size - at - 16;
	ck_assert_uint_le(payload, sizeof(plain));
	memcpy(plain, frames, flen);
	memset(plain + flen, 0, payload - flen);
	ck_assert(gcm(1, &c->k, pn, out, at, plain, payload, out + at, tag));
	memcpy(out + at + payload, tag, sizeof(tag));
	hp_apply(&c->k, out, pn_at, 1);
	return size;
}

/*
 * Open the first packet of a captured datagram: its connection into *c
 * (the first time) and its CRYPTO data into ch by offset. The end of the
 * furthest CRYPTO data.
 */
static size_t
capture_open(const uint8_t *d, size_t n, struct conn *c, uint8_t *ch)
{
	static uint8_t hdr[256], plain[4096];
	size_t at = 5, pn_at, hlen, plen, end = 0;
	uint64_t pn = 0, len;
	uint8_t tag[16];

	for (size_t i = 0; c->v == NULL && i < 3; i++)
		if (versions[i].number == be32(d + 1))
			c->v = &versions[i];
	ck_assert_ptr_nonnull(c->v);
	c->dcid_len = d[at++];
	memcpy(c->dcid, d + at, c->dcid_len);
	at += c->dcid_len;
	c->scid_len = d[at++];
	memcpy(c->scid, d + at, c->scid_len);
	at += c->scid_len;
	at += get_varint(d, &at); /* token */
	len = get_varint(d, &at);
	pn_at = at;
	keys_for(c);
	memcpy(hdr, d, pn_at + 4 + 16); /* the header, and the sample */
	hp_apply(&c->k, hdr, pn_at, 0);
	hlen = pn_at + (hdr[0] & 3) + 1;
	for (size_t i = pn_at; i < hlen; i++)
		pn = pn << 8 | hdr[i];
	plen = (size_t)len - (hlen - pn_at) - 16;
	ck_assert_uint_le(hlen + plen + 16, n);
	memcpy(tag, d + hlen + plen, 16);
	ck_assert_msg(gcm(0, &c->k, pn, hdr, hlen, d + hlen, plen, plain, tag),
		      "a captured packet does not open");
	for (at = 0; at < plen && plain[at] != 0x00;) {
		uint64_t off, flen;

		ck_assert_uint_eq(plain[at++], 0x06); /* CRYPTO, then PADDING */
		off = get_varint(plain, &at);
		flen = get_varint(plain, &at);
		ck_assert_uint_le(off + flen, CH_MAX);
		memcpy(ch + off, plain + at, flen);
		at += flen;
		end = off + flen > end ? (size_t)(off + flen) : end;
	}
	return end;
}

/* The ClientHello of a captured flight (every datagram's first packet),
 * and its connection. Its length. */
static size_t
capture_hello(const char *name, struct conn *c, uint8_t *ch)
{
	struct flight f;
	size_t len = 0;

	flight_load(&f, name);
	memset(c, 0, sizeof(*c));
	for (size_t i = 0; i < f.n; i++) {
		size_t n, end;
		const uint8_t *d = flight_dgram(&f, i, &n);

		end = capture_open(d, n, c, ch);
		len = end > len ? end : len;
	}
	ck_assert_uint_eq(ch[0], 1); /* ClientHello */
	ck_assert_uint_eq(len, 4 + ((size_t)ch[1] << 16 | ch[2] << 8 | ch[3]));
	return len;
}

/* The captures, what they route by, and what their client offers. */
static const struct capture {
	const char *name;
	const char *sni;
	const char *alpn;
	size_t datagrams;
} captures[] = {
	/* RFC 9001 A.2 (v1) and RFC 9369 A.2 (v2): the same ClientHello */
	{"rfc9001-a2", "example.com", "alpn", 1},
	{"rfc9369-a2", "example.com", "alpn", 1},
	/* gtlsclient --sni=one.example 127.0.0.1 PORT */
	{"ngtcp2-v1", "one.example", "h3", 1},
	/* gtlsclient -v v2draft --sni=two.example ... */
	{"ngtcp2-v2draft", "two.example", "h3", 1},
	/* ... --groups=-GROUP-ALL:+GROUP-FFDHE8192:+GROUP-X25519: the
	 * ClientHello (1326 bytes) over two Initials, two datagrams */
	{"ngtcp2-v1-split", "split.example", "h3", 2},
	{"ngtcp2-v2draft-split", "split2.example", "h3", 2},
};

static void
assert_routed(int v, const struct pmx_probe_result *res, const char *sni,
	      const char *alpn, const char *what)
{
	ck_assert_msg(v == M, "%s: verdict %d", what, v);
	ck_assert_str_eq(res->key, sni);
	ck_assert_msg(strstr(res->alpn, alpn) != NULL, "%s: alpn '%s'", what,
		      res->alpn);
	ck_assert_str_eq(res->backend, "");
}

/* ---- tests ---- */

/* The test's own protection rebuilds the RFCs' protected client Initial
 * from their plaintext (header with packet number 2 on 4 bytes, the
 * CRYPTO frame, PADDING to 1162 bytes of payload): what the other tests
 * build is what the RFCs call an Initial. */
START_TEST(test_quic__rfc_vectors_rebuilt)
{
	static const char *const names[] = {"rfc9001-a2", "rfc9369-a2"};

	for (size_t i = 0; i < 2; i++) {
		static uint8_t ch[CH_MAX], frames[CH_MAX], pkt[2048];
		struct flight f;
		struct conn c;
		size_t len = capture_hello(names[i], &c, ch), flen, n;

		ck_assert_uint_eq(len, 241);
		flen = crypto_frame(frames, 0, ch, len);
		flight_load(&f, names[i]);
		n = initial_build(&c, 2, 4, frames, flen, 1200, pkt);
		ck_assert_uint_eq(n, f.end[0]);
		ck_assert_msg(memcmp(pkt, f.b, n) == 0, "%s not rebuilt",
			      names[i]);
	}
}
END_TEST

/* Every capture routes by its SNI, with its ALPN; datagram by datagram it
 * says NEED_MORE until its ClientHello is whole, never NO_MATCH; on its
 * final call it matches whatever it has. */
START_TEST(test_quic__captures)
{
	for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++) {
		const struct capture *cap = &captures[i];
		struct pmx_probe_result res;
		struct flight f;

		flight_load(&f, cap->name);
		ck_assert_uint_eq(f.n, cap->datagrams);
		for (size_t n = 1; n < f.n; n++) {
			ck_assert_int_eq(probe_n(&f, n, 0, &res), W);
			ck_assert_int_eq(probe_n(&f, n, 1, &res), M);
		}
		assert_routed(probe_n(&f, f.n, 0, &res), &res, cap->sni,
			      cap->alpn, cap->name);
		assert_routed(probe_n(&f, f.n, 1, &res), &res, cap->sni,
			      cap->alpn, cap->name);
		/* One datagram with nothing said about datagrams (an older
		 * core): the first datagram, as a whole. */
		ck_assert_int_eq(tu_probe_udp(&det, f.b, f.end[0], &res), M);
		if (f.n == 1)
			ck_assert_str_eq(res.key, cap->sni);
	}
}
END_TEST

/* The first datagram lost: the second (the ClientHello's end, at offset
 * 1132) waits for the start, which the client's retransmission brings
 * 0.8 s later (gtlsclient ... --sni=pto.example, FFDHE-8192). */
START_TEST(test_quic__first_datagram_lost)
{
	struct pmx_probe_result res;
	struct flight f, g;
	size_t n;
	const uint8_t *d;

	flight_load(&f, "ngtcp2-v1-pto");
	ck_assert_uint_eq(f.n, 3);
	memset(&g, 0, sizeof(g));
	d = flight_dgram(&f, 1, &n);
	flight_add(&g, d, n);
	ck_assert_int_eq(probe_n(&g, 1, 0, &res), W);
	d = flight_dgram(&f, 2, &n);
	flight_add(&g, d, n);
	assert_routed(probe_n(&g, 2, 0, &res), &res, "pto.example", "h3",
		      "retransmitted");
	assert_routed(probe_n(&f, 3, 0, &res), &res, "pto.example", "h3",
		      "all three");
}
END_TEST

/*
 * Each captured ClientHello cut at every byte boundary over two Initial
 * packets in two datagrams (what curl and browsers do with large ones),
 * in either order: the first alone says NEED_MORE (and matches on its
 * final call), both route by the SNI.
 */
START_TEST(test_quic__recut_every_boundary)
{
	static const char *const names[] = {
		"rfc9001-a2", "ngtcp2-v1", "ngtcp2-v2draft",
		"ngtcp2-v1-split", "ngtcp2-v2draft-split"};
	static const char *const snis[] = {"example.com", "one.example",
					   "two.example", "split.example",
					   "split2.example"};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		static uint8_t ch[CH_MAX], frames[CH_MAX], a[2048], b[2048];
		struct conn c;
		size_t len = capture_hello(names[i], &c, ch);

		for (size_t k = 1; k < len; k++) {
			struct pmx_probe_result res;
			struct flight ab, ba;
			size_t na, nb;

			na = initial_build(&c, 0, 2, frames,
					   crypto_frame(frames, 0, ch, k),
					   1200, a);
			nb = initial_build(&c, 1, 2, frames,
					   crypto_frame(frames, k, ch + k,
							len - k),
					   1200, b);
			memset(&ab, 0, sizeof(ab));
			memset(&ba, 0, sizeof(ba));
			flight_add(&ab, a, na);
			flight_add(&ab, b, nb);
			flight_add(&ba, b, nb);
			flight_add(&ba, a, na);
			ck_assert_msg(probe_n(&ab, 1, 0, &res) == W,
				      "%s cut at %zu", names[i], k);
			ck_assert_int_eq(probe_n(&ab, 1, 1, &res), M);
			ck_assert_int_eq(probe_n(&ba, 1, 0, &res), W);
			ck_assert_int_eq(probe_n(&ab, 2, 0, &res), M);
			ck_assert_str_eq(res.key, snis[i]);
			ck_assert_int_eq(probe_n(&ba, 2, 0, &res), M);
			ck_assert_str_eq(res.key, snis[i]);
		}
	}
}
END_TEST

/* One CRYPTO frame per byte, last byte first, in one packet; and the
 * ClientHello over three Initials, two of them coalesced in one datagram
 * followed by bytes that are no packet. */
START_TEST(test_quic__frames_and_coalesced)
{
	static uint8_t ch[CH_MAX], frames[4 * CH_MAX], pkt[3][8192];
	struct pmx_probe_result res;
	struct flight f;
	struct conn c;
	size_t len = capture_hello("ngtcp2-v1", &c, ch), flen = 0, n[3];
	size_t third;

	for (size_t k = len; k-- > 0;)
		flen += crypto_frame(frames + flen, k, ch + k, 1);
	memset(&f, 0, sizeof(f));
	flight_add(&f, pkt[0], initial_build(&c, 0, 2, frames, flen, 1200,
					     pkt[0]));
	assert_routed(probe_n(&f, 1, 0, &res), &res, "one.example", "h3",
		      "a frame per byte");

	third = len / 3;
	n[0] = initial_build(&c, 0, 1, frames,
			     crypto_frame(frames, 0, ch, third), 0, pkt[0]);
	n[1] = initial_build(&c, 1, 1, frames,
			     crypto_frame(frames, third, ch + third, third), 0,
			     pkt[1]);
	n[2] = initial_build(&c, 2, 1, frames,
			     crypto_frame(frames, 2 * third, ch + 2 * third,
					  len - 2 * third),
			     1200, pkt[2]);
	/* datagram 1: packets 0 and 1, then junk to 1200 bytes */
	memcpy(pkt[0] + n[0], pkt[1], n[1]);
	memset(pkt[0] + n[0] + n[1], 0, 1200 - n[0] - n[1]);
	memset(&f, 0, sizeof(f));
	flight_add(&f, pkt[0], 1200);
	ck_assert_int_eq(probe_n(&f, 1, 0, &res), W);
	flight_add(&f, pkt[2], n[2]);
	assert_routed(probe_n(&f, 2, 0, &res), &res, "one.example", "h3",
		      "coalesced");
}
END_TEST

/* Later datagrams count only with Initials of the connection that a
 * server would take: not another Destination Connection ID, not in a
 * datagram under 1200 bytes, not one that fails to authenticate. */
START_TEST(test_quic__not_the_connection)
{
	static uint8_t ch[CH_MAX], frames[CH_MAX], a[2048], b[2048];
	struct pmx_probe_result res;
	struct conn c, other;
	size_t len = capture_hello("ngtcp2-v1-split", &c, ch), half = 600;
	size_t na;

	na = initial_build(&c, 0, 2, frames, crypto_frame(frames, 0, ch, half),
			   1200, a);
	for (int how = 0; how < 3; how++) {
		struct flight f;
		size_t nb;

		other = c;
		if (how == 0) {
			other.dcid[0] ^= 1;
			keys_for(&other);
		}
		nb = initial_build(&other, 1, 2, frames,
				   crypto_frame(frames, half, ch + half,
						len - half),
				   how == 1 ? 1199 - 16 : 1200, b);
		if (how == 1)
			ck_assert_uint_lt(nb, 1200);
		if (how == 2)
			b[nb - 1] ^= 1; /* the tag */
		memset(&f, 0, sizeof(f));
		flight_add(&f, a, na);
		flight_add(&f, b, nb);
		ck_assert_msg(probe_n(&f, 2, 0, &res) == W, "case %d", how);
		ck_assert_int_eq(probe_n(&f, 2, 1, &res), M);
	}
}
END_TEST

/* What a server discards first is not QUIC: a datagram under 1200 bytes,
 * a first Destination Connection ID under 8 bytes, a packet that does not
 * authenticate (its payload or its header changed), a datagram cut
 * short at any length; a whole ClientHello does not help any of them. */
START_TEST(test_quic__first_datagram_rules)
{
	static uint8_t ch[CH_MAX], frames[CH_MAX], pkt[2048];
	struct pmx_probe_result res;
	struct flight f;
	struct conn c;
	size_t len = capture_hello("ngtcp2-v1", &c, ch), flen, n;

	flen = crypto_frame(frames, 0, ch, len);
	n = initial_build(&c, 0, 2, frames, flen, 1199, pkt);
	ck_assert_uint_eq(n, 1199);
	ck_assert_int_eq(tu_probe_udp(&det, pkt, n, &res), N);
	n = initial_build(&c, 0, 2, frames, flen, 1200, pkt);
	ck_assert_int_eq(tu_probe_udp(&det, pkt, n, &res), M);
	pkt[n - 20] ^= 0x80;
	ck_assert_int_eq(tu_probe_udp(&det, pkt, n, &res), N);
	pkt[n - 20] ^= 0x80;
	pkt[7] ^= 1; /* in the Destination Connection ID: other keys */
	ck_assert_int_eq(tu_probe_udp(&det, pkt, n, &res), N);
	pkt[7] ^= 1;
	c.dcid_len = 7;
	keys_for(&c);
	n = initial_build(&c, 0, 2, frames, flen, 1200, pkt);
	ck_assert_int_eq(tu_probe_udp(&det, pkt, n, &res), N);

	for (size_t i = 0; i < sizeof(captures) / sizeof(captures[0]); i++) {
		flight_load(&f, captures[i].name);
		for (n = 0; n < f.end[0]; n++)
			ck_assert_msg(tu_probe_udp(&det, f.b, n, &res) == N,
				      "%s cut to %zu", captures[i].name, n);
	}
}
END_TEST

/* Other protocols' datagrams, QUIC packets that are no client's first,
 * and TCP. */
START_TEST(test_quic__others)
{
	static const char *const ovpn[] = {
		"udp-plain", "udp-tls-auth", "udp-tls-auth-sha512",
		"udp-tls-crypt", "udp-tls-crypt-v2"};
	/* dig @127.0.0.1 example.com A (a DNS query) */
	static const uint8_t dns[] = {
		0x5c, 0x2d, 0x01, 0x20, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x01, 0x07, 'e',  'x',  'a',  'm',  'p',  'l',  'e',
		0x03, 'c',  'o',  'm',  0x00, 0x00, 0x01, 0x00, 0x01, 0x00,
		0x00, 0x29, 0x04, 0xd0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
	static uint8_t buf[2048];
	struct pmx_probe_result res;
	struct flight f;
	size_t len;

	for (size_t i = 0; i < sizeof(ovpn) / sizeof(ovpn[0]); i++) {
		char rel[128];
		uint8_t *d;

		snprintf(rel, sizeof(rel), "tests/corpus/openvpn/%s.bin",
			 ovpn[i]);
		d = tu_read(rel, &len);
		ck_assert_int_eq(tu_probe_udp(&det, d, len, &res), N);
		free(d);
	}
	ck_assert_int_eq(tu_probe_udp(&det, dns, sizeof(dns), &res), N);
	/* WireGuard's handshake initiation: type 1, 3 zero bytes, 148 */
	memset(buf, 0x5a, 148);
	buf[0] = 1;
	buf[1] = buf[2] = buf[3] = 0;
	ck_assert_int_eq(tu_probe_udp(&det, buf, 148, &res), N);
	/* random bytes */
	srand(12);
	for (int t = 0; t < 200; t++) {
		for (size_t i = 0; i < 1250; i++)
			buf[i] = (uint8_t)rand();
		ck_assert_int_eq(tu_probe_udp(&det, buf, 1250, &res), N);
	}
	flight_load(&f, "ngtcp2-v1");
	memcpy(buf, f.b, f.end[0]);
	/* a short header packet; a Version Negotiation (version 0); an
	 * unknown version (draft-29's); a Handshake packet first */
	buf[0] = 0x43;
	ck_assert_int_eq(tu_probe_udp(&det, buf, f.end[0], &res), N);
	memcpy(buf, f.b, f.end[0]);
	memset(buf + 1, 0, 4);
	ck_assert_int_eq(tu_probe_udp(&det, buf, f.end[0], &res), N);
	memcpy(buf + 1, "\xff\x00\x00\x1d", 4);
	ck_assert_int_eq(tu_probe_udp(&det, buf, f.end[0], &res), N);
	memcpy(buf, f.b, f.end[0]);
	buf[0] = (uint8_t)((buf[0] & 0xcf) | 0x20);
	ck_assert_int_eq(tu_probe_udp(&det, buf, f.end[0], &res), N);
	/* a TLS ClientHello in a datagram; QUIC bytes over TCP */
	{
		uint8_t *d = tu_read("tests/corpus/tls/curl-tls13.bin", &len);

		ck_assert_int_eq(tu_probe_udp(&det, d, len, &res), N);
		free(d);
	}
	ck_assert_int_eq(tu_probe(&det, f.b, f.end[0], 0, &res), N);
	ck_assert_int_eq(tu_probe(&det, f.b, f.end[0], 1, &res), N);
}
END_TEST

/* A QUIC section routes as HTTPS does — exact name, the longest "*."
 * wildcard, default; an alpn condition — and opens the UDP listener by
 * itself. */
START_TEST(test_quic__routes)
{
	static const struct {
		const char *capture;
		int port;
	} want[] = {
		{"ngtcp2-v1", 9001},        /* one.example: exact */
		{"ngtcp2-v2draft", 9002},   /* two.example: *.example */
		{"ngtcp2-v1-split", 9004},  /* split.example: h3 */
		{"rfc9001-a2", 9003},       /* example.com: default */
	};
	const char *dir = getenv("PORTMUX_PLUGIN_DIR");
	char yaml[1024], err[1024];
	struct generation *g;

	snprintf(yaml, sizeof(yaml),
		 "PORTMUX:\n  port: 1\n  plugin_dir: %s\n"
		 "  detectors: [quic]\n"
		 "QUIC:\n"
		 "  one.example: 9001\n"
		 "  \"*.example\": 9002\n"
		 "  split.example:\n"
		 "    - {port: 9004, alpn: h3}\n"
		 "    - 9005\n"
		 "  default: 9003\n",
		 dir ? dir : "build/plugins");
	g = tu_generation(yaml, err, sizeof(err));
	ck_assert_msg(g != NULL, "%s", err);
	ck_assert_int_eq(g->udp, 1);
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		struct pmx_probe_input in = {.transport = PMX_TRANSPORT_UDP,
					     .final = 1};
		struct probe_state st = {0};
		struct pmx_probe_result res;
		struct backend *own = NULL;
		const struct backend *b;
		struct flight f;
		char port[16];
		int index = -1;

		flight_load(&f, want[i].capture);
		in.data = f.b;
		in.len = f.end[f.n - 1];
		in.capacity = in.len;
		in.datagram_end = f.end;
		in.datagrams = f.n;
		ck_assert_int_eq(probe_run(g, &st, &in, &res, &index),
				 PROBE_MATCH);
		b = decide_backend(g, index, &res, PMX_TRANSPORT_UDP, NULL,
				   &own, "test", 1);
		ck_assert_ptr_nonnull(b);
		ck_assert_ptr_null(own);
		snprintf(port, sizeof(port), ":%d", want[i].port);
		ck_assert_msg(strstr(b->text, port) != NULL, "%s went to %s",
			      want[i].capture, b->text);
	}
	generation_unref(g);
}
END_TEST

Suite *make_suite_quic(void);
Suite *
make_suite_quic(void)
{
	Suite *s = suite_create("quic");
	TCase *tc = tcase_create("detector");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_quic__rfc_vectors_rebuilt);
	tcase_add_test(tc, test_quic__captures);
	tcase_add_test(tc, test_quic__first_datagram_lost);
	tcase_add_test(tc, test_quic__recut_every_boundary);
	tcase_add_test(tc, test_quic__frames_and_coalesced);
	tcase_add_test(tc, test_quic__not_the_connection);
	tcase_add_test(tc, test_quic__first_datagram_rules);
	tcase_add_test(tc, test_quic__others);
	tcase_add_test(tc, test_quic__routes);
	suite_add_tcase(s, tc);
	return s;
}
