/* check_pbuf.c — the per-loop caches: probe/pending buffers (pbuf.h) and
 * idle pipes for zero-copy (pipe_pool.h). What is not kept must be freed
 * or closed: ASan's leak check sees buffers, the descriptor checks pipes. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pbuf.h"
#include "pipe_pool.h"
#include "testutil.h"

/* ---- pbuf ---- */

START_TEST(test_pbuf__new_and_copy)
{
	const char text[] = "probe bytes";
	struct pbuf *b = pbuf_new(100), *c = pbuf_copy(text, sizeof(text));
	struct pbuf *e = pbuf_copy("", 0);

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(b->off, 0);
	ck_assert_uint_eq(b->len, 0);
	ck_assert_uint_eq(b->cap, 100);
	memset(b->data, 0xa5, 100); /* all of it is ours (ASan) */
	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(c->off, 0);
	ck_assert_uint_eq(c->len, sizeof(text));
	ck_assert_uint_eq(c->cap, sizeof(text));
	ck_assert_mem_eq(c->data, text, sizeof(text));
	ck_assert_ptr_nonnull(e);
	ck_assert_uint_eq(e->len, 0);
	ck_assert_uint_eq(e->cap, 0);
	free(b);
	free(c);
	free(e);
}
END_TEST

START_TEST(test_pbuf__get_put_reuses)
{
	struct pbuf_cache cache = {0};
	struct pbuf *b = pbuf_get(&cache, 4096), *again;

	ck_assert_ptr_nonnull(b);
	ck_assert_uint_eq(cache.cap, 4096);
	ck_assert_uint_eq(cache.n, 0);
	ck_assert_uint_eq(b->cap, 4096);
	ck_assert_uint_eq(b->off, 0);
	ck_assert_uint_eq(b->len, 0);
	b->off = 10;
	b->len = 20;
	pbuf_put(&cache, b);
	ck_assert_uint_eq(cache.n, 1);
	again = pbuf_get(&cache, 4096);
	ck_assert_ptr_eq(again, b);
	ck_assert_uint_eq(cache.n, 0);
	/* Handed out empty. */
	ck_assert_uint_eq(again->off, 0);
	ck_assert_uint_eq(again->len, 0);
	ck_assert_uint_eq(again->cap, 4096);
	pbuf_put(&cache, again);
	pbuf_put(&cache, NULL); /* fine */
	ck_assert_uint_eq(cache.n, 1);
	pbuf_cache_clear(&cache);
	ck_assert_uint_eq(cache.n, 0);
}
END_TEST

/* A buffer of another size (a pending write's, a PROXY header's) is freed,
 * not cached. */
START_TEST(test_pbuf__other_size_freed)
{
	struct pbuf_cache cache = {0};
	struct pbuf *b = pbuf_get(&cache, 4096);

	pbuf_put(&cache, pbuf_copy("rest", 4));
	ck_assert_uint_eq(cache.n, 0);
	pbuf_put(&cache, pbuf_new(4097));
	ck_assert_uint_eq(cache.n, 0);
	pbuf_put(&cache, b);
	ck_assert_uint_eq(cache.n, 1);
	ck_assert_uint_eq(cache.bufs[0]->cap, 4096);
	pbuf_cache_clear(&cache);
}
END_TEST

START_TEST(test_pbuf__cache_is_bounded)
{
	enum { N = PBUF_CACHE_MAX + 5 };
	struct pbuf_cache cache = {0};
	struct pbuf *b[N];

	for (int i = 0; i < N; i++) {
		b[i] = pbuf_get(&cache, 512);
		ck_assert_ptr_nonnull(b[i]);
	}
	ck_assert_uint_eq(cache.n, 0);
	for (int i = 0; i < N; i++) {
		pbuf_put(&cache, b[i]);
		ck_assert_uint_eq(cache.n, i < PBUF_CACHE_MAX
						   ? (size_t)i + 1
						   : (size_t)PBUF_CACHE_MAX);
	}
	/* Reused last in, first out; the extra five were freed. */
	for (int i = PBUF_CACHE_MAX - 1; i >= 0; i--)
		ck_assert_ptr_eq(pbuf_get(&cache, 512), b[i]);
	ck_assert_uint_eq(cache.n, 0);
	for (int i = 0; i < PBUF_CACHE_MAX; i++)
		pbuf_put(&cache, b[i]);
	pbuf_cache_clear(&cache);
	ck_assert_uint_eq(cache.n, 0);
}
END_TEST

/* probe_buffer changed by a reload: the first get of the new size frees
 * every buffer of the old one; old buffers coming back later are freed;
 * from then on only new-size buffers are kept. */
START_TEST(test_pbuf__size_change_empties_cache)
{
	struct pbuf_cache cache = {0};
	struct pbuf *old[10], *live_old, *nb;

	for (int i = 0; i < 10; i++)
		old[i] = pbuf_get(&cache, 16384);
	live_old = pbuf_get(&cache, 16384); /* a connection still has it */
	for (int i = 0; i < 10; i++)
		pbuf_put(&cache, old[i]);
	ck_assert_uint_eq(cache.n, 10);

	nb = pbuf_get(&cache, 32768);
	ck_assert_ptr_nonnull(nb);
	ck_assert_uint_eq(nb->cap, 32768);
	ck_assert_uint_eq(cache.cap, 32768);
	ck_assert_uint_eq(cache.n, 0);

	pbuf_put(&cache, live_old); /* the old connection ends */
	ck_assert_uint_eq(cache.n, 0);
	pbuf_put(&cache, nb);
	ck_assert_uint_eq(cache.n, 1);
	for (int i = 0; i < 3; i++)
		pbuf_put(&cache, pbuf_get(&cache, 32768));
	ck_assert_uint_eq(cache.n, 1);
	pbuf_put(&cache, pbuf_new(32768));
	ck_assert_uint_eq(cache.n, 2);
	for (size_t i = 0; i < cache.n; i++)
		ck_assert_uint_eq(cache.bufs[i]->cap, 32768);

	/* And back: the new-size buffers go in turn. */
	nb = pbuf_get(&cache, 16384);
	ck_assert_uint_eq(cache.n, 0);
	ck_assert_uint_eq(cache.cap, 16384);
	pbuf_put(&cache, nb);
	pbuf_cache_clear(&cache);
}
END_TEST

/* ---- pipe_pool ---- */

static int
fd_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

/* The pipe carries bytes from fds[1] to fds[0], without blocking. */
static void
pipe_works(const int fds[2])
{
	char c = 0;

	ck_assert(fcntl(fds[0], F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fds[1], F_GETFL) & O_NONBLOCK);
	ck_assert(fcntl(fds[0], F_GETFD) & FD_CLOEXEC);
	ck_assert_int_eq(read(fds[0], &c, 1), -1); /* empty */
	ck_assert_int_eq(errno, EAGAIN);
	ck_assert_int_eq(write(fds[1], "z", 1), 1);
	ck_assert_int_eq(read(fds[0], &c, 1), 1);
	ck_assert_int_eq(c, 'z');
}

START_TEST(test_pipe_pool__get_put_reuses)
{
	struct pipe_pool pool = {0};
	int fds[2], again[2], a, b;
	long max = 0;
	FILE *f;

	ck_assert_int_eq(pipe_pool_get(&pool, fds), 0);
	ck_assert_uint_eq(pool.n, 0);
	pipe_works(fds);
	/* Sized to PIPE_SIZE when the system allows it (best effort). */
	f = fopen("/proc/sys/fs/pipe-max-size", "r");
	if (f != NULL) {
		if (fscanf(f, "%ld", &max) != 1)
			max = 0;
		fclose(f);
	}
	if (max >= PIPE_SIZE || geteuid() == 0)
		ck_assert_int_eq(fcntl(fds[0], F_GETPIPE_SZ), PIPE_SIZE);
	a = fds[0];
	b = fds[1];
	pipe_pool_put(&pool, fds);
	ck_assert_int_eq(fds[0], -1);
	ck_assert_int_eq(fds[1], -1);
	ck_assert_uint_eq(pool.n, 1);
	ck_assert(fd_open(a) && fd_open(b)); /* kept, not closed */

	ck_assert_int_eq(pipe_pool_get(&pool, again), 0);
	ck_assert_int_eq(again[0], a);
	ck_assert_int_eq(again[1], b);
	ck_assert_uint_eq(pool.n, 0);
	pipe_works(again);
	pipe_pool_put(&pool, again);
	pipe_pool_clear(&pool);
	ck_assert_uint_eq(pool.n, 0);
	/* Nothing opened meanwhile: these numbers are still free. */
	ck_assert(!fd_open(a) && !fd_open(b));
}
END_TEST

/* A pipe the kernel will not size (an unprivileged user past
 * fs.pipe-user-pages-soft gets EPERM; here a size past 2 GiB, which even
 * root is refused with EINVAL) is not handed out: the relay copies
 * instead. The next PIPE_REFUSED_SKIP gets fail at once, without making a
 * pipe; idle pipes in the pool are still handed out. */
START_TEST(test_pipe_pool__refused_size)
{
	struct pipe_pool pool = {.size = 0x90000000u};
	int fds[2] = {7, 7}, ok[2];

	ck_assert_int_eq(pipe_pool_get(&pool, fds), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(fds[0], -1);
	ck_assert_int_eq(fds[1], -1);
	ck_assert_uint_eq(pool.refused, PIPE_REFUSED_SKIP);
	/* Nothing left open: the next pipe gets the lowest numbers again. */
	ck_assert_int_eq(pipe(ok), 0);
	close(ok[0]);
	close(ok[1]);
	for (unsigned i = 0; i < PIPE_REFUSED_SKIP; i++) {
		ck_assert_int_eq(pipe_pool_get(&pool, fds), -1);
		ck_assert_int_eq(errno, EPERM);
	}
	ck_assert_uint_eq(pool.refused, 0);
	/* Then it asks the kernel again (refused again). */
	ck_assert_int_eq(pipe_pool_get(&pool, fds), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* An idle pipe in the pool is handed out meanwhile. */
	ck_assert_int_eq(pipe2(ok, O_NONBLOCK | O_CLOEXEC), 0);
	pipe_pool_put(&pool, ok);
	ck_assert_int_eq(pipe_pool_get(&pool, fds), 0);
	pipe_works(fds);
	close(fds[0]);
	close(fds[1]);
	pipe_pool_clear(&pool);
}
END_TEST

START_TEST(test_pipe_pool__bounded)
{
	enum { N = PIPE_POOL_MAX + 3 };
	struct pipe_pool pool = {0};
	int fds[N][2], saved[N][2];

	for (int i = 0; i < N; i++) {
		ck_assert_int_eq(pipe_pool_get(&pool, fds[i]), 0);
		saved[i][0] = fds[i][0];
		saved[i][1] = fds[i][1];
	}
	for (int i = 0; i < N; i++)
		pipe_pool_put(&pool, fds[i]);
	ck_assert_uint_eq(pool.n, PIPE_POOL_MAX);
	/* The first PIPE_POOL_MAX are kept, the rest closed. */
	for (int i = 0; i < N; i++) {
		int kept = i < PIPE_POOL_MAX;

		ck_assert_int_eq(fd_open(saved[i][0]), kept);
		ck_assert_int_eq(fd_open(saved[i][1]), kept);
	}
	pipe_pool_clear(&pool);
	ck_assert_uint_eq(pool.n, 0);
	for (int i = 0; i < N; i++)
		ck_assert(!fd_open(saved[i][0]) && !fd_open(saved[i][1]));
}
END_TEST

Suite *make_suite_pbuf(void);
Suite *
make_suite_pbuf(void)
{
	Suite *s = suite_create("pbuf");
	TCase *tc = tcase_create("pbuf");
	TCase *tp = tcase_create("pipe_pool");

	tcase_add_test(tc, test_pbuf__new_and_copy);
	tcase_add_test(tc, test_pbuf__get_put_reuses);
	tcase_add_test(tc, test_pbuf__other_size_freed);
	tcase_add_test(tc, test_pbuf__cache_is_bounded);
	tcase_add_test(tc, test_pbuf__size_change_empties_cache);
	suite_add_tcase(s, tc);
	tcase_add_test(tp, test_pipe_pool__get_put_reuses);
	tcase_add_test(tp, test_pipe_pool__bounded);
	tcase_add_test(tp, test_pipe_pool__refused_size);
	suite_add_tcase(s, tp);
	return s;
}
