/* close_batch.c — closing a loop's sockets in runs (see close_batch.h). */
#include "close_batch.h"

#include <errno.h>
#include <unistd.h>

static void
sort_fds(int *fd, int n)
{
	for (int i = 1; i < n; i++) { /* insertion sort: n <= 64 */
		int v = fd[i], j = i;

		for (; j > 0 && fd[j - 1] > v; j--)
			fd[j] = fd[j - 1];
		fd[j] = v;
	}
}

/* Close first..last, all the batch's. close_range() closes nothing when
 * it is missing (ENOSYS, before Linux 5.9) or filtered (EPERM, a seccomp
 * profile): then one at a time. Any other failure is not retried: another
 * thread may own a number that was closed already. */
static void
close_run(int first, int last)
{
	if (first == last) {
		close(first);
		return;
	}
	if (close_range((unsigned)first, (unsigned)last, 0) == 0 ||
	    (errno != ENOSYS && errno != EPERM))
		return;
	for (int fd = first; fd <= last; fd++)
		close(fd);
}

void
close_batch_flush(struct close_batch *b)
{
	int i = 0;

	sort_fds(b->fd, b->n);
	while (i < b->n) {
		int j = i;

		while (j + 1 < b->n && b->fd[j + 1] == b->fd[j] + 1)
			j++;
		close_run(b->fd[i], b->fd[j]);
		i = j + 1;
	}
	b->n = 0;
	ev_prepare_stop(b->loop, &b->prepare);
}

static void
prepare_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	(void)loop;
	(void)revents;
	close_batch_flush(w->data);
}

void
close_batch_init(struct close_batch *b, struct ev_loop *loop)
{
	b->n = 0;
	b->loop = loop;
	ev_prepare_init(&b->prepare, prepare_cb);
	b->prepare.data = b;
}

void
close_batch_add(struct close_batch *b, int fd)
{
	if (b->n == CLOSE_BATCH_MAX)
		close_batch_flush(b);
	b->fd[b->n++] = fd;
	if (b->n == 1)
		ev_prepare_start(b->loop, &b->prepare);
}
