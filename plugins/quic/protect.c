/*
 * protect.c — Initial packet protection with libcrypto: HKDF-SHA256 for
 * the keys (RFC 9001 §5.1-5.2, HKDF-Expand-Label of RFC 8446 §7.1), an
 * AES-128-ECB mask for the header (§5.4), AEAD_AES_128_GCM for the
 * payload (§5.3).
 */
#include "protect.h"

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_LEN 32 /* SHA-256 */
#define LABEL_MAX 32  /* "tls13 " and the longest of ours */
#define LONG_PN_BITS 0x0f /* header protection covers these (§5.4.1) */
#define LONG_RESERVED 0x0c

struct quic_crypto {
	EVP_KDF *hkdf;   /* owned: freed by quic_crypto_free */
	EVP_CIPHER *ecb; /* owned */
	EVP_CIPHER *gcm; /* owned */
};

struct quic_crypto *
quic_crypto_new(char *err, size_t errlen)
{
	struct quic_crypto *c = calloc(1, sizeof(*c));

	if (c == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	c->hkdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	c->ecb = EVP_CIPHER_fetch(NULL, "AES-128-ECB", NULL);
	c->gcm = EVP_CIPHER_fetch(NULL, "AES-128-GCM", NULL);
	if (c->hkdf == NULL || c->ecb == NULL || c->gcm == NULL) {
		snprintf(err, errlen,
			 "libcrypto offers no HKDF, AES-128-ECB or "
			 "AES-128-GCM");
		quic_crypto_free(c);
		return NULL;
	}
	return c;
}

void
quic_crypto_free(struct quic_crypto *c)
{
	if (c == NULL)
		return;
	EVP_KDF_free(c->hkdf);
	EVP_CIPHER_free(c->ecb);
	EVP_CIPHER_free(c->gcm);
	free(c);
}

/* libcrypto's parameters take non-const pointers to what they only
 * read. */
static void *
unconst(const void *p)
{
	return (void *)(uintptr_t)p;
}

/* HKDF-Extract (salt given) or HKDF-Expand (info given) into out. */
static int
hkdf(const struct quic_crypto *c, const uint8_t *key, size_t keylen,
     const uint8_t *salt, size_t saltlen, const uint8_t *info,
     size_t infolen, uint8_t *out, size_t outlen)
{
	int mode = salt != NULL ? EVP_KDF_HKDF_MODE_EXTRACT_ONLY
				: EVP_KDF_HKDF_MODE_EXPAND_ONLY;
	EVP_KDF_CTX *kctx = EVP_KDF_CTX_new(c->hkdf);
	OSSL_PARAM params[5];
	int ok;

	if (kctx == NULL)
		return -1;
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						     unconst("SHA256"), 0);
	params[1] = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
						      unconst(key), keylen);
	params[3] = salt != NULL
			    ? OSSL_PARAM_construct_octet_string(
				      OSSL_KDF_PARAM_SALT, unconst(salt),
				      saltlen)
			    : OSSL_PARAM_construct_octet_string(
				      OSSL_KDF_PARAM_INFO, unconst(info),
				      infolen);
	params[4] = OSSL_PARAM_construct_end();
	ok = EVP_KDF_derive(kctx, out, outlen, params) > 0;
	EVP_KDF_CTX_free(kctx);
	return ok ? 0 : -1;
}

/* HKDF-Expand-Label(secret, prefix label, "", len): the HkdfLabel is
 * uint16 length, opaque label<7..255> = "tls13 " + label, and an empty
 * context. */
static int
expand_label(const struct quic_crypto *c, const uint8_t *secret,
	     const char *prefix, const char *label, uint8_t *out, size_t len)
{
	uint8_t info[2 + 1 + LABEL_MAX + 1];
	int n = snprintf((char *)info + 3, LABEL_MAX + 1, "tls13 %s%s",
			 prefix, label);

	if (n < 0 || n > LABEL_MAX)
		return -1;
	info[0] = (uint8_t)(len >> 8);
	info[1] = (uint8_t)len;
	info[2] = (uint8_t)n;
	info[3 + n] = 0;
	return hkdf(c, secret, SECRET_LEN, NULL, 0, info, (size_t)n + 4, out,
		    len);
}

int
quic_keys_derive(const struct quic_crypto *c, const struct quic_version *v,
		 const uint8_t *dcid, size_t dcid_len, struct quic_keys *k)
{
	uint8_t initial[SECRET_LEN], client[SECRET_LEN];

	if (hkdf(c, dcid, dcid_len, v->salt, sizeof(v->salt), NULL, 0,
		 initial, sizeof(initial)) < 0 ||
	    expand_label(c, initial, "", "client in", client,
			 sizeof(client)) < 0 ||
	    expand_label(c, client, v->labels, "key", k->key,
			 sizeof(k->key)) < 0 ||
	    expand_label(c, client, v->labels, "iv", k->iv, sizeof(k->iv)) <
		    0 ||
	    expand_label(c, client, v->labels, "hp", k->hp, sizeof(k->hp)) <
		    0)
		return -1;
	return 0;
}

/* The header protection mask of a sample. */
static int
hp_mask(EVP_CIPHER_CTX *ctx, const struct quic_crypto *c,
	const struct quic_keys *k, const uint8_t *sample, uint8_t *mask)
{
	int n = 0;

	return EVP_EncryptInit_ex2(ctx, c->ecb, k->hp, NULL, NULL) > 0 &&
		       EVP_CIPHER_CTX_set_padding(ctx, 0) > 0 &&
		       EVP_EncryptUpdate(ctx, mask, &n, sample,
					 QUIC_SAMPLE_LEN) > 0 &&
		       n == QUIC_SAMPLE_LEN
		       ? 0
		       : -1;
}

/* Decrypt ct[0..len) into out with the header hdr[0..hlen) as associated
 * data and the tag after ct: 1 when it authenticates. */
static int
aead_open(EVP_CIPHER_CTX *ctx, const struct quic_crypto *c,
	  const struct quic_keys *k, const uint8_t nonce[12],
	  const uint8_t *hdr, size_t hlen, const uint8_t *ct, size_t len,
	  uint8_t *out)
{
	uint8_t tag[QUIC_TAG_LEN];
	int n = 0, fin = 0, ok;

	memcpy(tag, ct + len, sizeof(tag));
	if (EVP_DecryptInit_ex2(ctx, c->gcm, k->key, nonce, NULL) <= 0 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, hdr, (int)hlen) <= 0 ||
	    EVP_DecryptUpdate(ctx, out, &n, ct, (int)len) <= 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, sizeof(tag),
				tag) <= 0)
		return 0;
	ok = EVP_DecryptFinal_ex(ctx, out + n, &fin) > 0;
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
	/* The fuzzer cannot forge tags: let it reach the frames (GCM's
	 * plaintext is its ciphertext's bits flipped by a key stream). */
	ok = 1;
#endif
	return ok;
}

int
quic_open(const struct quic_crypto *c, const struct quic_keys *k,
	  const uint8_t *p, const struct quic_long *h, int64_t largest,
	  uint8_t *buf, struct quic_opened *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	uint8_t mask[QUIC_SAMPLE_LEN], nonce[12];
	uint64_t truncated = 0;
	size_t pn_len, hlen;
	int ok = 0;

	if (ctx == NULL ||
	    hp_mask(ctx, c, k, p + h->pn_offset + QUIC_PN_MAX, mask) < 0)
		goto out;
	memcpy(buf, p, h->pn_offset);
	buf[0] = p[0] ^ (mask[0] & LONG_PN_BITS);
	pn_len = (size_t)(buf[0] & 3) + 1;
	for (size_t i = 0; i < pn_len; i++) {
		buf[h->pn_offset + i] = p[h->pn_offset + i] ^ mask[1 + i];
		truncated = truncated << 8 | buf[h->pn_offset + i];
	}
	hlen = h->pn_offset + pn_len;
	out->pn = quic_pn_decode(largest, truncated, pn_len);
	memcpy(nonce, k->iv, sizeof(nonce));
	for (size_t i = 0; i < 8; i++)
		nonce[11 - i] ^= (uint8_t)(out->pn >> (8 * i));
	/* quic_long_parse left room for the longest packet number and the
	 * sample, so the tag fits after the ciphertext. */
	out->payload = buf + hlen;
	out->len = h->len - hlen - QUIC_TAG_LEN;
	ok = aead_open(ctx, c, k, nonce, buf, hlen, p + hlen, out->len,
		       buf + hlen) &&
	     (buf[0] & LONG_RESERVED) == 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}
