/* privs.c — setgid/setuid to an unprivileged user, for all threads (glibc
 * applies set*id calls process-wide). */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <stdint.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* This thread's capabilities: of CAP_NET_ADMIN and CAP_NET_RAW (either
 * lets a socket be transparent), those it still has permitted after a
 * setuid with PR_SET_KEEPCAPS, made effective; nothing else. */
static int
keep_only_net_admin(void)
{
	struct __user_cap_header_struct head = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];
	uint32_t want = (1u << CAP_NET_ADMIN) | (1u << CAP_NET_RAW);

	if (syscall(SYS_capget, &head, data) < 0)
		return -1;
	want &= data[0].permitted; /* both are below 32 */
	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = want;
	return (int)syscall(SYS_capset, &head, data);
}

int
privs_drop(const char *user, int keep_net_admin, char *err, size_t errlen)
{
	struct passwd *pw = getpwnam(user);

	if (pw == NULL) {
		snprintf(err, errlen, "user: no such user '%s'", user);
		return -1;
	}
	if (getuid() != 0 && geteuid() != 0) {
		if (geteuid() == pw->pw_uid)
			return 0; /* already that user */
		snprintf(err, errlen,
			 "user: cannot become '%s': PortMux is not running "
			 "as root",
			 user);
		return -1;
	}
	if (keep_net_admin)
		prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0);
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "user: cannot become '%s': %s", user,
			 strerror(errno));
		return -1;
	}
	if (keep_net_admin) {
		prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
		if (keep_only_net_admin() < 0) {
			snprintf(err, errlen,
				 "user: cannot keep CAP_NET_ADMIN for "
				 "transparent: %s",
				 strerror(errno));
			return -1;
		}
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "user: root could be regained");
		return -1;
	}
	return 0;
}
