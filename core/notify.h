/* notify.h — the systemd notification protocol (sd_notify(3)), spoken
 * directly: one datagram to $NOTIFY_SOCKET. A no-op outside systemd. */
#ifndef PMX_NOTIFY_H
#define PMX_NOTIFY_H

/* Send "READY=1", "RELOADING=1", "STOPPING=1", "STATUS=..." (one or more
 * lines). Returns 0, or -1 when there is no socket or sending failed. */
int notify_systemd(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* "RELOADING=1\nMONOTONIC_USEC=<now>" (Type=notify-reload wants both). */
int notify_reloading(void);

#endif
