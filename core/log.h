/* log.h — one line per event on stderr, key=value fields (or one JSON
 * object per line). When stderr is the journal, each line starts with the
 * sd-daemon priority prefix of its level ("<3>" for error ... "<7>" for
 * debug), so `journalctl -p err` and `-p warning` work. */
#ifndef PMX_LOG_H
#define PMX_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

#define LOG_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))

/* Messages above this level are dropped. Default LOG_INFO. */
void log_set_level(int level);
int log_get_level(void);
int log_level_from_name(const char *name); /* -1 if unknown */

/* Text (`level message`, key=value fields) or JSON: {"time": ...,
 * "level": ..., "msg": the text line, and each key=value field of it as a
 * member}. Default text. */
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };
void log_set_format(int format);
/* stderr was replaced (tests): look again whether it is the journal. */
void log_stderr_changed(void);
int log_format_from_name(const char *name); /* -1 if unknown */

void log_msg(int level, const char *fmt, ...) LOG_PRINTF(2, 3);
void log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
	LOG_PRINTF(3, 0);

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
	do { \
		if (log_get_level() >= LOG_DEBUG) \
			log_msg(LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/*
 * Rate limit for repetitive events: returns 1 when a message may be logged
 * now (at most one per second per limiter) and stores in *suppressed how many
 * were dropped since the last one.
 */
struct log_ratelimit {
	double last;
	unsigned long dropped;
};
int log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *suppressed);

#endif
