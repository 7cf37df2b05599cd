/* privs.h — leave root once the listening sockets are bound (PORTMUX.user),
 * for a PortMux started as root outside systemd (under systemd the unit's
 * DynamicUser and CAP_NET_BIND_SERVICE do this). */
#ifndef PMX_PRIVS_H
#define PMX_PRIVS_H

#include <stddef.h>

/* Become `user` (its uid, gid and groups) for good; with
 * `keep_net_admin`, keep CAP_NET_ADMIN (or CAP_NET_RAW) alone
 * (transparent proxying needs one of them). Call before any thread is
 * started: threads inherit it. 0, or -1 with err. */
int privs_drop(const char *user, int keep_net_admin, char *err,
	       size_t errlen);

#endif
