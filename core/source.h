/* source.h — what each client source has open, and how fast it opens
 * more, across every worker: the per-source limits (max_connections_per_
 * source, rate_per_source). A source is an IPv4 address or an IPv6 /64
 * (one host or one customer's network); an IPv4 client on an IPv6 socket
 * counts as IPv4.
 *
 * Ownership: the main thread makes the table before the workers and frees
 * it after them; workers share it (sharded, one mutex per shard). An entry
 * lives while its source has connections open or its rate bucket is not
 * full again; source_sweep() forgets the others. */
#ifndef PMX_SOURCE_H
#define PMX_SOURCE_H

#include <stddef.h>
#include <sys/socket.h>

struct source;
struct source_table;

enum source_verdict {
	SOURCE_OK = 0,
	SOURCE_LIMIT, /* it holds max_connections_per_source already */
	SOURCE_RATE,  /* it opens connections faster than rate_per_source */
};

struct source_table *source_table_new(void);
void source_table_free(struct source_table *t);

/*
 * A new connection from `sa`. SOURCE_OK: counted; *out is the source's
 * entry (NULL when neither limit is on), handed back with source_release()
 * when the connection ends. Otherwise refused and nothing counted.
 * `limit` 0 and `rate` 0 turn each check off; the burst is 2 × rate.
 */
enum source_verdict source_admit(struct source_table *t,
				 const struct sockaddr *sa, long limit,
				 double rate, struct source **out);
void source_release(struct source_table *t, struct source *s);

/* Forget sources with nothing open whose bucket is full again; returns
 * how many are left. */
size_t source_sweep(struct source_table *t);

/* The limit a verdict names, for logs. */
const char *source_verdict_name(enum source_verdict v);

#endif
