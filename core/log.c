/* log.c — stderr logging. Under journald (stderr is the stream that
 * JOURNAL_STREAM names) the journal adds timestamps itself and reads each
 * line's priority from its "<N>" prefix; elsewhere lines start with our
 * own UTC timestamp. */
#include "log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

/* Read by every thread, changed by the main one on reload: atomic. */
static int current_level = LOG_INFO;
static int current_format = LOG_FORMAT_TEXT;
static int journal = -1; /* -1: not decided yet; atomic */
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *const level_names[] = {"error", "warn", "info", "debug"};
/* sd-daemon(3) priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG. */
static const char level_prio[] = {'3', '4', '6', '7'};

void
log_set_level(int level)
{
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	__atomic_store_n(&current_level, level, __ATOMIC_RELAXED);
}

int
log_get_level(void)
{
	return __atomic_load_n(&current_level, __ATOMIC_RELAXED);
}

int
log_level_from_name(const char *name)
{
	for (int i = 0; i <= LOG_DEBUG; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

void
log_set_format(int format)
{
	__atomic_store_n(&current_format, format, __ATOMIC_RELAXED);
}

int
log_format_from_name(const char *name)
{
	if (strcmp(name, "text") == 0)
		return LOG_FORMAT_TEXT;
	if (strcmp(name, "json") == 0)
		return LOG_FORMAT_JSON;
	return -1;
}

/* Is stderr the journal's stream? JOURNAL_STREAM is "DEV:INODE" of it
 * (systemd.exec(5)); a child whose stderr was redirected elsewhere may
 * inherit the variable, hence the comparison. */
static int
stderr_is_journal(void)
{
	const char *js = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (js == NULL || sscanf(js, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(2, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void
log_stderr_changed(void)
{
	__atomic_store_n(&journal, -1, __ATOMIC_RELAXED);
}

/* Append text to buf at *off (bounded by len, always terminated). */
static void
put(char *buf, size_t len, size_t *off, const char *text, size_t n)
{
	if (*off + 1 >= len)
		return;
	if (n > len - 1 - *off)
		n = len - 1 - *off;
	memcpy(buf + *off, text, n);
	*off += n;
	buf[*off] = '\0';
}

/* Append s (n bytes) as the inside of a JSON string. */
static void
put_json(char *buf, size_t len, size_t *off, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			put(buf, len, off, esc, 2);
		} else if (c < 0x20 || c == 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			put(buf, len, off, esc, 6);
		} else {
			put(buf, len, off, (const char *)&c, 1);
		}
	}
}

/* The fields of a text message: each space-separated token that reads
 * key=value (key: lower-case letters, digits, '_'), as a JSON member. */
static void
put_json_fields(char *buf, size_t len, size_t *off, const char *msg)
{
	const char *p = msg;

	while (*p) {
		const char *tok = p, *eq = NULL, *end;

		while (*p && *p != ' ')
			p++;
		end = p;
		while (*p == ' ')
			p++;
		for (const char *q = tok; q < end; q++) {
			if (*q == '=') {
				eq = q;
				break;
			}
			if (!((*q >= 'a' && *q <= 'z') ||
			      (*q >= '0' && *q <= '9') || *q == '_'))
				break;
		}
		if (eq == NULL || eq == tok || strncmp(tok, "time=", 5) == 0 ||
		    strncmp(tok, "level=", 6) == 0 ||
		    strncmp(tok, "msg=", 4) == 0)
			continue;
		put(buf, len, off, ",\"", 2);
		put(buf, len, off, tok, (size_t)(eq - tok));
		put(buf, len, off, "\":\"", 3);
		put_json(buf, len, off, eq + 1, (size_t)(end - eq - 1));
		put(buf, len, off, "\"", 1);
	}
}

void
log_vmsg(int level, const char *prefix, const char *fmt, va_list ap)
{
	/* Room for the worst case, so a JSON line is never cut: the message
	 * escaped twice (as msg, and as its fields' values: up to 6 bytes a
	 * character), up to one field per 2 characters of it with its 6
	 * bytes of quotes and separators, and the rest. */
	char msg[2048], line[2 * 6 * 2048 + 3 * 2048 + 256];
	char stamp[40] = "";
	size_t off = 0, n;
	int json;
	int in_journal = __atomic_load_n(&journal, __ATOMIC_RELAXED);

	if (level > log_get_level())
		return;
	if (in_journal < 0) {
		in_journal = stderr_is_journal();
		__atomic_store_n(&journal, in_journal, __ATOMIC_RELAXED);
	}
	if (level < LOG_ERROR)
		level = LOG_ERROR;
	if (level > LOG_DEBUG)
		level = LOG_DEBUG;
	n = (size_t)snprintf(msg, sizeof(msg), "%s", prefix ? prefix : "");
	if (n < sizeof(msg))
		vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	json = __atomic_load_n(&current_format, __ATOMIC_RELAXED) ==
	       LOG_FORMAT_JSON;
	if (json || !in_journal) { /* the journal stamps text lines */
		struct timespec ts;
		struct tm tm;
		size_t k;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		k = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(stamp + k, sizeof(stamp) - k, ".%03ldZ",
			 ts.tv_nsec / 1000000);
	}
	line[0] = '\0';
	if (in_journal) {
		char pri[3] = {'<', level_prio[level], '>'};

		put(line, sizeof(line), &off, pri, 3);
	}
	if (json) {
		put(line, sizeof(line), &off, "{\"time\":\"", 9);
		put(line, sizeof(line), &off, stamp, strlen(stamp));
		put(line, sizeof(line), &off, "\",\"level\":\"", 11);
		put(line, sizeof(line), &off, level_names[level],
		    strlen(level_names[level]));
		put(line, sizeof(line), &off, "\",\"msg\":\"", 9);
		put_json(line, sizeof(line), &off, msg, strlen(msg));
		put(line, sizeof(line), &off, "\"", 1);
		put_json_fields(line, sizeof(line), &off, msg);
		put(line, sizeof(line), &off, "}", 1);
	} else {
		if (!in_journal) {
			put(line, sizeof(line), &off, stamp, strlen(stamp));
			put(line, sizeof(line), &off, " ", 1);
		}
		put(line, sizeof(line), &off, level_names[level],
		    strlen(level_names[level]));
		put(line, sizeof(line), &off, " ", 1);
		put(line, sizeof(line), &off, msg, strlen(msg));
	}
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s\n", line);
	pthread_mutex_unlock(&log_lock);
}

void
log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, NULL, fmt, ap);
	va_end(ap);
}

int
log_ratelimit_ok(struct log_ratelimit *rl, unsigned long *suppressed)
{
	struct timespec ts;
	double now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
	if (rl->last != 0 && now - rl->last < 1.0) {
		rl->dropped++;
		return 0;
	}
	rl->last = now;
	*suppressed = rl->dropped;
	rl->dropped = 0;
	return 1;
}
