/* privs.c — setgid/setuid to an unprivileged user, for all threads (glibc
 * applies set*id calls process-wide). */
#include "privs.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int
privs_drop(const char *user, char *err, size_t errlen)
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
	if (initgroups(user, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "user: cannot become '%s': %s", user,
			 strerror(errno));
		return -1;
	}
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "user: root could be regained");
		return -1;
	}
	return 0;
}
