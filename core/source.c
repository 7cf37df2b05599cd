/* source.c — per-source connection counts and rate buckets. */
#include "source.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "clock.h"

#define SHARDS 64   /* independent locks: workers rarely meet */
#define BUCKETS 256 /* chains per shard */

struct source {
	struct source *next; /* chain in its shard */
	uint8_t key[8];      /* IPv4 address, or the IPv6 /64 prefix */
	uint8_t keylen;      /* 4 or 8 */
	long nconns;
	double tokens; /* rate bucket, as of `stamp` */
	double stamp;
	double rate, burst; /* as last admitted with */
};

struct shard {
	pthread_mutex_t lock;
	struct source *chains[BUCKETS];
	size_t n;
};

struct source_table {
	uint64_t seed[2]; /* random: crafted sources cannot share a chain */
	struct shard shards[SHARDS];
};

struct source_table *
source_table_new(void)
{
	struct source_table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	if (getrandom(t->seed, sizeof(t->seed), 0) != sizeof(t->seed)) {
		t->seed[0] = (uint64_t)clock_mono() * 0x9e3779b97f4a7c15ull;
		t->seed[1] = (uint64_t)(uintptr_t)t;
	}
	for (int i = 0; i < SHARDS; i++)
		pthread_mutex_init(&t->shards[i].lock, NULL);
	return t;
}

void
source_table_free(struct source_table *t)
{
	if (t == NULL)
		return;
	for (int i = 0; i < SHARDS; i++) {
		struct shard *sh = &t->shards[i];
		for (int b = 0; b < BUCKETS; b++) {
			while (sh->chains[b] != NULL) {
				struct source *s = sh->chains[b];
				sh->chains[b] = s->next;
				free(s);
			}
		}
		pthread_mutex_destroy(&sh->lock);
	}
	free(t);
}

/* The source of an address: 4 bytes of IPv4, or 8 of an IPv6 /64. */
static int
source_key(const struct sockaddr *sa, uint8_t key[8])
{
	if (sa->sa_family == AF_INET) {
		memcpy(key, &((const struct sockaddr_in *)(const void *)sa)
				      ->sin_addr,
		       4);
		return 4;
	}
	if (sa->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)(const void *)sa)
				 ->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			memcpy(key, a->s6_addr + 12, 4);
			return 4;
		}
		memcpy(key, a->s6_addr, 8);
		return 8;
	}
	return 0;
}

/* A keyed mix of the key (not a MAC: enough that an attacker who cannot
 * read the seed cannot aim many sources at one chain). */
static uint64_t
key_hash(const struct source_table *t, const uint8_t *key, int len)
{
	uint64_t h = t->seed[0] ^ (uint64_t)len;

	for (int i = 0; i < len; i++) {
		h ^= key[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	h ^= t->seed[1];
	h *= 0xbf58476d1ce4e5b9ull;
	return h ^ (h >> 31);
}

/* The entry of `key` in its shard (locked), made when absent. */
static struct source *
lookup(struct shard *sh, uint64_t h, const uint8_t *key, int len,
       double rate)
{
	struct source **chain = &sh->chains[(h / SHARDS) % BUCKETS];
	struct source *s;

	for (s = *chain; s != NULL; s = s->next)
		if (s->keylen == len && memcmp(s->key, key, (size_t)len) == 0)
			return s;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	memcpy(s->key, key, (size_t)len);
	s->keylen = (uint8_t)len;
	s->tokens = 2 * rate; /* a new source starts with a full burst */
	s->stamp = clock_mono();
	s->next = *chain;
	*chain = s;
	sh->n++;
	return s;
}

/* Refill the bucket for the time since its stamp. */
static void
refill(struct source *s, double rate, double now)
{
	s->rate = rate;
	s->burst = 2 * rate;
	s->tokens += (now - s->stamp) * rate;
	if (s->tokens > s->burst)
		s->tokens = s->burst;
	s->stamp = now;
}

enum source_verdict
source_admit(struct source_table *t, const struct sockaddr *sa, long limit,
	     double rate, struct source **out)
{
	enum source_verdict v = SOURCE_OK;
	uint8_t key[8];
	int len = source_key(sa, key);
	uint64_t h;
	struct shard *sh;
	struct source *s;

	*out = NULL;
	if ((limit <= 0 && rate <= 0) || len == 0 || t == NULL)
		return SOURCE_OK;
	h = key_hash(t, key, len);
	sh = &t->shards[h % SHARDS];
	pthread_mutex_lock(&sh->lock);
	s = lookup(sh, h, key, len, rate);
	if (s == NULL) { /* out of memory: do not refuse for that */
		pthread_mutex_unlock(&sh->lock);
		return SOURCE_OK;
	}
	refill(s, rate, clock_mono());
	if (limit > 0 && s->nconns >= limit)
		v = SOURCE_LIMIT;
	else if (rate > 0 && s->tokens < 1.0)
		v = SOURCE_RATE;
	if (v == SOURCE_OK) {
		s->tokens -= rate > 0 ? 1.0 : 0.0;
		s->nconns++;
		*out = s;
	}
	pthread_mutex_unlock(&sh->lock);
	return v;
}

void
source_release(struct source_table *t, struct source *s)
{
	struct shard *sh;

	if (s == NULL)
		return;
	sh = &t->shards[key_hash(t, s->key, s->keylen) % SHARDS];
	pthread_mutex_lock(&sh->lock);
	s->nconns--;
	pthread_mutex_unlock(&sh->lock);
}

size_t
source_sweep(struct source_table *t)
{
	double now = clock_mono();
	size_t left = 0;

	for (int i = 0; i < SHARDS; i++) {
		struct shard *sh = &t->shards[i];

		pthread_mutex_lock(&sh->lock);
		for (int b = 0; b < BUCKETS; b++) {
			struct source **pp = &sh->chains[b];
			while (*pp != NULL) {
				struct source *s = *pp;
				double full = s->tokens +
					      (now - s->stamp) * s->rate;
				if (s->nconns == 0 && full >= s->burst) {
					*pp = s->next;
					free(s);
					sh->n--;
				} else {
					pp = &s->next;
				}
			}
		}
		left += sh->n;
		pthread_mutex_unlock(&sh->lock);
	}
	return left;
}

const char *
source_verdict_name(enum source_verdict v)
{
	return v == SOURCE_LIMIT  ? "max_connections_per_source"
	       : v == SOURCE_RATE ? "rate_per_source"
				  : "ok";
}
