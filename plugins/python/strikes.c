/*
 * strikes.c — sources whose calls keep costing a worker.
 *
 * A call that passes its deadline or crashes its worker costs a kill and
 * a fork (and burned CPU until its deadline). One client that keeps
 * sending what does that would keep the processes busy being replaced.
 * So each source (an IPv4 address, an IPv6 /64) has STRIKE_BURST strikes,
 * one more every STRIKE_REFILL seconds; a source with none left has its
 * calls answered NO_MATCH without running the script (the other
 * detectors still see its connections) until it earns one back. Other
 * sources are not affected.
 */
#include "python.h"

#include <netinet/in.h>
#include <string.h>

static int
source_key(const struct sockaddr *sa, socklen_t len,
	   uint8_t key[STRIKE_KEY])
{
	memset(key, 0, STRIKE_KEY);
	if (sa == NULL)
		return -1;
	if (sa->sa_family == AF_INET &&
	    len >= (socklen_t)sizeof(struct sockaddr_in)) {
		key[0] = 4;
		memcpy(key + 1, &((const struct sockaddr_in *)sa)->sin_addr,
		       4);
		return 0;
	}
	if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)sa)->sin6_addr;

		if (IN6_IS_ADDR_V4MAPPED(a)) {
			key[0] = 4;
			memcpy(key + 1, a->s6_addr + 12, 4);
		} else {
			key[0] = 6;
			memcpy(key + 1, a->s6_addr, 8);
		}
		return 0;
	}
	return -1;
}

static uint32_t
hash_key(const uint8_t key[STRIKE_KEY])
{
	uint32_t h = 2166136261u;

	for (int i = 0; i < STRIKE_KEY; i++) {
		h ^= key[i];
		h *= 16777619u;
	}
	return h;
}

static void
refill(struct strike *s, double now)
{
	s->tokens += (now - s->stamp) / STRIKE_REFILL;
	if (s->tokens > STRIKE_BURST)
		s->tokens = STRIKE_BURST;
	s->stamp = now;
}

/* The source's entry (lock held); with `make`, a new or reused one. */
static struct strike *
find(struct strikes *t, const uint8_t key[STRIKE_KEY], double now, int make)
{
	uint32_t h = hash_key(key);
	struct strike *oldest = NULL;

	for (unsigned i = 0; i < STRIKE_PROBES; i++) {
		struct strike *s = &t->slot[(h + i) % STRIKE_SLOTS];

		if (s->used && memcmp(s->key, key, STRIKE_KEY) == 0)
			return s;
		if (!s->used || oldest == NULL || s->stamp < oldest->stamp)
			oldest = s;
	}
	if (!make)
		return NULL;
	/* A free slot, or the one quiet longest (a source with strikes
	 * left loses nothing: it starts again full). */
	memset(oldest, 0, sizeof(*oldest));
	oldest->used = 1;
	memcpy(oldest->key, key, STRIKE_KEY);
	oldest->tokens = STRIKE_BURST;
	oldest->stamp = now;
	return oldest;
}

int
strikes_allow(struct strikes *t, const struct sockaddr *peer,
	      socklen_t peer_len, double now)
{
	uint8_t key[STRIKE_KEY];
	struct strike *s;
	int ok = 1;

	if (source_key(peer, peer_len, key) < 0)
		return 1;
	pthread_mutex_lock(&t->lock);
	s = find(t, key, now, 0);
	if (s != NULL) {
		refill(s, now);
		ok = s->tokens >= 1.0;
	}
	pthread_mutex_unlock(&t->lock);
	return ok;
}

int
strikes_charge(struct strikes *t, const struct sockaddr *peer,
	       socklen_t peer_len, double now)
{
	uint8_t key[STRIKE_KEY];
	struct strike *s;
	int out;

	if (source_key(peer, peer_len, key) < 0)
		return 0;
	pthread_mutex_lock(&t->lock);
	s = find(t, key, now, 1);
	refill(s, now);
	s->tokens -= 1.0;
	if (s->tokens < 0)
		s->tokens = 0;
	out = s->tokens < 1.0;
	pthread_mutex_unlock(&t->lock);
	return out;
}
