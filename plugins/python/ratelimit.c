/*
 * ratelimit.c — log lines of a python instance, at most one a second per
 * distinct event. A script that raises on every connection must not flood
 * the journal, yet every distinct error (type, message, line) is seen, and
 * the next line about it says how many were suppressed in between.
 */
#include "python.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* FNV-1a: keys are short and only compared with each other. */
static uint64_t
hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ull;
	}
	return h;
}

int
ratelimit_check(struct ratelimit *rl, const char *key, double now,
		unsigned long *dropped)
{
	uint64_t k = hash_key(key);
	struct rl_slot *s = NULL, *oldest = &rl->slot[0];

	for (size_t i = 0; i < RL_SLOTS; i++) {
		struct rl_slot *c = &rl->slot[i];

		if (c->last != 0 && c->key == k) {
			s = c;
			break;
		}
		if (c->last < oldest->last)
			oldest = c;
	}
	if (s == NULL) {
		/* A new key takes a free slot, else the one quiet longest
		 * (its pending count is lost: it was over a second ago). */
		s = oldest;
		s->key = k;
		s->last = 0;
		s->dropped = 0;
	}
	if (s->last != 0 && now - s->last < 1.0) {
		s->dropped++;
		return 0;
	}
	*dropped = s->dropped;
	s->dropped = 0;
	s->last = now > 0 ? now : 1e-9;
	return 1;
}

void
inst_log(struct pyinst *inst, int level, const char *key, const char *fmt,
	 ...)
{
	char line[1024];
	unsigned long dropped = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&inst->log_lock);
	if (inst->host != NULL &&
	    (key == NULL ||
	     ratelimit_check(&inst->rl, key, wire_now(), &dropped))) {
		if (dropped)
			inst->host->log(inst->host, level,
					"%s (%lu more like it suppressed)",
					line, dropped);
		else
			inst->host->log(inst->host, level, "%s", line);
	}
	pthread_mutex_unlock(&inst->log_lock);
}
