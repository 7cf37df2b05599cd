/* privs.h — leave root once the listening sockets are bound (PORTMUX.user),
 * for a PortMux started as root outside systemd (under systemd the unit's
 * DynamicUser and CAP_NET_BIND_SERVICE do this). */
#ifndef PMX_PRIVS_H
#define PMX_PRIVS_H

#include <stddef.h>

/* Become `user` (its uid, gid and groups) for good. 0, or -1 with err. */
int privs_drop(const char *user, char *err, size_t errlen);

#endif
