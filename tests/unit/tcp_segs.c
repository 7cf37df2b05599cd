/* tcp_segs.c — TCP_INFO's segment counter for the relay suite, in a file
 * of its own: <linux/tcp.h> has it, and clashes with <netinet/tcp.h>. */
#include <linux/tcp.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "testutil.h"

unsigned
tu_tcp_segs_in(int fd)
{
	struct tcp_info ti = {0};
	socklen_t len = sizeof(ti);

	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len), 0);
	return ti.tcpi_segs_in;
}
