/* check_python.c — python.so: what a script may answer, create() errors,
 * exceptions and their rate-limited log lines, deadlines with scripts that
 * loop or block, several instances, concurrent probes. Scripts live in
 * tests/python/. Each test runs in a forked child, so each starts its own
 * interpreter. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define M PMX_MATCH
#define N PMX_NO_MATCH
#define W PMX_NEED_MORE
#define E PMX_ERROR
#define NELEM(a) ((int)(sizeof(a) / sizeof((a)[0])))

/* ---- helpers ---- */

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
nap(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};

	while (nanosleep(&ts, &ts) != 0)
		;
}

/* The YAML body of a PYTHON section for tests/python/NAME. */
static const char *
section(const char *name, const char *timeout)
{
	static char yaml[8192];
	char rel[256], path[4096];

	snprintf(rel, sizeof(rel), "tests/python/%s", name);
	snprintf(yaml, sizeof(yaml), "script: %s\ntimeout: %s\n",
		 tu_src(rel, path, sizeof(path)), timeout);
	return yaml;
}

static void
open_script(struct tu_det *d, const char *name, const char *timeout)
{
	tu_det_open(d, "python", section(name, timeout));
}

static int
try_script(struct tu_det *d, const char *name, char *err, size_t errlen)
{
	return tu_det_try(d, "python", section(name, "1"), err, errlen);
}

static int
probe_s(struct tu_det *d, const char *s, int final,
	struct pmx_probe_result *res)
{
	return tu_probe(d, s, strlen(s), final, res);
}

/* stderr (where log lines go) into a temporary file. */
static FILE *cap_file;
static int cap_saved = -1;

static void
cap_begin(void)
{
	fflush(stderr);
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	cap_saved = dup(2);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_eq(dup2(fileno(cap_file), 2), 2);
}

/* What was logged so far (malloc'ed). */
static char *
cap_text(void)
{
	struct stat st;
	char *buf;
	ssize_t n;

	fflush(stderr);
	ck_assert_int_eq(fstat(fileno(cap_file), &st), 0);
	buf = calloc(1, (size_t)st.st_size + 1);
	ck_assert_ptr_nonnull(buf);
	n = pread(fileno(cap_file), buf, (size_t)st.st_size, 0);
	ck_assert_int_eq(n, st.st_size);
	return buf;
}

static char *
cap_end(void)
{
	char *text = cap_text();

	dup2(cap_saved, 2);
	close(cap_saved);
	fclose(cap_file);
	cap_file = NULL;
	return text;
}

static int
count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
		n++;
	return n;
}

/* Wait (up to `secs`) until the log holds `needle`. */
static char *
cap_wait(const char *needle, double secs)
{
	double end = now_s() + secs;
	char *text = cap_text();

	while (strstr(text, needle) == NULL && now_s() < end) {
		free(text);
		nap(0.01);
		text = cap_text();
	}
	return text;
}

#define ck_assert_contains(hay, needle) \
	ck_assert_msg(strstr((hay), (needle)) != NULL, \
		      "'%s' not found in:\n%s", (needle), (hay))

/* ---- answers ---- */

START_TEST(test_python__returns_port)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "returns_port.py", "2");
	ck_assert_int_eq(probe_s(&det, "hello", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8005");
	ck_assert_str_eq(res.key, "");
	ck_assert_int_eq(probe_s(&det, "a", 1, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8001");
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__returns_hostport)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "returns_hostport.py", "2");
	ck_assert_int_eq(probe_s(&det, "v4 hello", 0, &res), M);
	ck_assert_str_eq(res.backend, "10.1.2.3:8080");
	ck_assert_int_eq(probe_s(&det, "v6 hello", 0, &res), M);
	ck_assert_str_eq(res.backend, "[2001:db8::1]:443");
	ck_assert_int_eq(probe_s(&det, "lh", 0, &res), M);
	ck_assert_str_eq(res.backend, "localhost:2222");
	ck_assert_int_eq(probe_s(&det, "dns", 0, &res), M);
	ck_assert_str_eq(res.backend, "backend.example.lan.:7000");
	ck_assert_int_eq(probe_s(&det, "other", 0, &res), N);
	ck_assert_str_eq(res.backend, "");
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__returns_none)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "returns_none.py", "2");
	ck_assert_int_eq(probe_s(&det, "anything", 0, &res), N);
	ck_assert_int_eq(probe_s(&det, "anything", 1, &res), N);
	ck_assert_int_eq(tu_probe(&det, "", 0, 0, &res), N);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__need_more)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "need_more.py", "2");
	ck_assert_int_eq(probe_s(&det, "", 0, &res), W);
	ck_assert_int_eq(probe_s(&det, "123456789", 0, &res), W);
	/* the final call must decide: NEED_MORE counts as None */
	ck_assert_int_eq(probe_s(&det, "123456789", 1, &res), N);
	ck_assert_int_eq(probe_s(&det, "1234567890", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:4000");
	ck_assert_int_eq(probe_s(&det, "1234567890", 1, &res), M);
	tu_det_close(&det);
}
END_TEST

static const char *const bad_answers[] = {
	"float", "zero",  "big",    "neg",       "huge",      "bool",
	"bytes", "list",  "tuple",  "words",     "name",      "noport",
	"port0", "portbig", "portx", "emptyhost", "v6bare",   "v6bad",
	"long",  "nul",   "surrogate",
};

START_TEST(test_python__bad_answers)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "bad_type.py", "2");
	cap_begin();
	ck_assert_int_eq(probe_s(&det, bad_answers[_i], 0, &res), N);
	ck_assert_str_eq(res.backend, "");
	log = cap_end();
	ck_assert_contains(log, "analyse() returned ");
	ck_assert_contains(log, "taken as None");
	free(log);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__bad_answers_rate_limited)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "bad_type.py", "2");
	cap_begin();
	for (int i = 0; i < 5; i++)
		ck_assert_int_eq(probe_s(&det, "float", 0, &res), N);
	log = cap_end();
	ck_assert_int_eq(count(log, "analyse() returned float 1.5"), 1);
	free(log);
	tu_det_close(&det);
}
END_TEST

/* The product description's example, as shipped. */
START_TEST(test_python__example_script)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char path[4096], yaml[4200];

	snprintf(yaml, sizeof(yaml), "script: %s\ntimeout: 2\n",
		 tu_src("etc/portmux/script.py", path, sizeof(path)));
	tu_det_open(&det, "python", yaml);
	ck_assert_int_eq(probe_s(&det, "CUSTOM_PROTOCOL v1 hello", 0, &res),
			 M);
	ck_assert_str_eq(res.backend, "127.0.0.1:9000");
	ck_assert_int_eq(probe_s(&det, "GAME_DATA\x01\x02", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:7777");
	ck_assert_int_eq(tu_probe_udp(&det, "GAME_DATA", 9, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:7777");
	ck_assert_int_eq(probe_s(&det, "GET / HTTP/1.1\r\n", 0, &res), N);
	ck_assert_int_eq(probe_s(&det, "CUSTOM", 0, &res), N);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__big_buffer)
{
	struct tu_det det;
	struct pmx_probe_result res;
	size_t len = 16384;
	char *buf = malloc(len);

	memset(buf, 'z', len);
	open_script(&det, "returns_port.py", "2");
	ck_assert_int_eq(tu_probe(&det, buf, len, 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:24384");
	free(buf);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__stdlib)
{
	struct tu_det det;
	struct pmx_probe_result res;
	static const unsigned char cafe[] = {0xca, 0xfe, 0xba, 0xbe, 1};
	/* zlib.compress(b"portmux") */
	static const unsigned char z[] = {0x78, 0x9c, 0x2b, 0xc8, 0x2f, 0x2a,
					  0xc9, 0x2d, 0xad, 0x00, 0x00, 0x0c,
					  0x64, 0x03, 0x20};
	char *log;

	open_script(&det, "stdlib.py", "2");
	ck_assert_int_eq(probe_s(&det, "HELLO 1234", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:1234");
	ck_assert_int_eq(probe_s(&det, "{\"port\": 4321}", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:4321");
	ck_assert_int_eq(tu_probe(&det, cafe, sizeof(cafe), 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:5001");
	ck_assert_int_eq(tu_probe(&det, z, sizeof(z), 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:5002");
	cap_begin();
	ck_assert_int_eq(probe_s(&det, "sha", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:5003");
	log = cap_end();
	ck_assert_contains(log, "script: sha256 match");
	ck_assert_int_eq(probe_s(&det, "nothing", 0, &res), N);
	free(log);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__isolated)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;
	int v;

	setenv("PYTHONPATH", "/nonexistent/pythonpath", 1);
	setenv("PYTHONHOME", "/nonexistent/pythonhome", 1);
	open_script(&det, "environment.py", "2");
	cap_begin();
	v = probe_s(&det, "x", 0, &res);
	log = cap_end();
	ck_assert_msg(v == M && strcmp(res.backend, "127.0.0.1:6000") == 0,
		      "%s", log);
	free(log);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__log)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	cap_begin();
	open_script(&det, "logs.py", "2");
	ck_assert_int_eq(probe_s(&det, "hi\nthere", 0, &res), N);
	log = cap_end();
	/* one line each: control characters do not split log lines */
	ck_assert_contains(log, "detector=python script: loaded with a "
				"newline\n");
	ck_assert_contains(log, "script: hi there\n");
	free(log);
	tu_det_close(&det);
}
END_TEST

/* ---- create() errors ---- */

START_TEST(test_python__syntax_error)
{
	struct tu_det det;
	char err[1024], want[4200], path[4096];

	ck_assert_int_eq(try_script(&det, "syntax_error.py", err, sizeof(err)),
			 -1);
	snprintf(want, sizeof(want), "%s:2: SyntaxError: ",
		 tu_src("tests/python/syntax_error.py", path, sizeof(path)));
	ck_assert_contains(err, want);
	ck_assert_contains(err, "expected ':'");
}
END_TEST

START_TEST(test_python__no_analyse)
{
	struct tu_det det;
	char err[1024];

	ck_assert_int_eq(try_script(&det, "no_analyse.py", err, sizeof(err)),
			 -1);
	ck_assert_contains(err, "tests/python/no_analyse.py: no analyse()");
	ck_assert_int_eq(try_script(&det, "not_callable.py", err, sizeof(err)),
			 -1);
	ck_assert_contains(err, "tests/python/not_callable.py: analyse is not "
				"callable (type int)");
}
END_TEST

START_TEST(test_python__top_level_raises)
{
	struct tu_det det;
	char err[1024];

	ck_assert_int_eq(try_script(&det, "top_level_raises.py", err,
				    sizeof(err)),
			 -1);
	ck_assert_contains(err, "top_level_raises.py:10: struct.error: ");
}
END_TEST

START_TEST(test_python__missing_script)
{
	struct tu_det det;
	char err[1024];

	ck_assert_int_eq(tu_det_try(&det, "python",
				    "timeout: 1\nscript: /nonexistent/x.py\n",
				    err, sizeof(err)),
			 -1);
	ck_assert_contains(err, "test.yaml:2:9: ");
	ck_assert_contains(err, "/nonexistent/x.py: No such file");
	ck_assert_int_eq(tu_det_try(&det, "python", "script: /\n", err,
				    sizeof(err)),
			 -1);
	ck_assert_contains(err, "not a regular file");
}
END_TEST

START_TEST(test_python__default_script_absent)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	if (access("/etc/portmux/script.py", F_OK) == 0)
		return; /* installed here: nothing to test */
	cap_begin();
	tu_det_open(&det, "python", NULL);
	ck_assert_int_eq(probe_s(&det, "CUSTOM_PROTOCOL", 0, &res), N);
	ck_assert_int_eq(probe_s(&det, "again", 1, &res), N);
	tu_det_close(&det);
	tu_det_open(&det, "python", "timeout: 0.5\n");
	ck_assert_int_eq(probe_s(&det, "x", 0, &res), N);
	tu_det_close(&det);
	log = cap_end();
	/* one warning per instance, nothing per probe */
	ck_assert_int_eq(count(log, "\n"), 2);
	ck_assert_int_eq(count(log, "warn detector=python no script at "
				    "/etc/portmux/script.py"),
			 2);
	free(log);
}
END_TEST

START_TEST(test_python__relative_script)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char top[4096];

	/* The test host's config_dir is "."; resolve from the source tree. */
	ck_assert_int_eq(chdir(tu_src("", top, sizeof(top))), 0);
	tu_det_open(&det, "python", "script: tests/python/returns_port.py\n");
	ck_assert_int_eq(probe_s(&det, "ab", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8002");
	tu_det_close(&det);
}
END_TEST

static const struct {
	const char *yaml;
	const char *msg;
} bad_options[] = {
	{"scrypt: x.py\n", "test.yaml:1:1: unknown python option 'scrypt'"},
	{"timeout: 20\n", "test.yaml:1:10: 20 is out of range"},
	{"timeout: 0\n", "out of range"},
	{"timeout: soon\n", "expected a number"},
	{"script: [a, b]\n", "test.yaml:1:9: script: expected the path"},
	{"script: \"\"\n", "script: expected the path"},
	{"- script\n", "expected a map of python options"},
};

START_TEST(test_python__bad_options)
{
	struct tu_det det;
	char err[1024];

	ck_assert_int_eq(tu_det_try(&det, "python", bad_options[_i].yaml, err,
				    sizeof(err)),
			 -1);
	ck_assert_contains(err, bad_options[_i].msg);
}
END_TEST

/* ---- exceptions ---- */

START_TEST(test_python__exception_logged_once_a_second)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "raises.py", "2");
	cap_begin();
	ck_assert_int_eq(probe_s(&det, "abc", 0, &res), E);
	ck_assert_int_eq(probe_s(&det, "abc", 0, &res), E);
	ck_assert_int_eq(probe_s(&det, "abc", 0, &res), E);
	/* a different message is a different error */
	ck_assert_int_eq(probe_s(&det, "abcd", 0, &res), E);
	log = cap_text();
	ck_assert_int_eq(count(log, "analyse() raised ValueError: boom 3 at "),
			 1);
	ck_assert_contains(log, "tests/python/raises.py:17");
	ck_assert_int_eq(count(log, "ValueError: boom 4 at "), 1);
	free(log);
	nap(1.1);
	ck_assert_int_eq(probe_s(&det, "abc", 0, &res), E);
	log = cap_end();
	ck_assert_int_eq(count(log, "ValueError: boom 3 at "), 2);
	ck_assert_contains(log, "raises.py:17 (2 more like it suppressed)");
	free(log);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__exception_line_is_the_scripts)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "raises.py", "2");
	cap_begin();
	/* raised deep in json: the line reported is the script's call */
	ck_assert_int_eq(probe_s(&det, "json", 0, &res), E);
	log = cap_end();
	ck_assert_contains(log, "analyse() raised "
				"json.decoder.JSONDecodeError: ");
	ck_assert_contains(log, "raises.py:7\n");
	free(log);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__exit_does_not_exit)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "raises.py", "2");
	cap_begin();
	ck_assert_int_eq(probe_s(&det, "exit", 0, &res), E);
	ck_assert_int_eq(probe_s(&det, "kbd", 0, &res), E);
	log = cap_end();
	ck_assert_contains(log, "analyse() raised SystemExit: 3 at ");
	ck_assert_contains(log, "raises.py:12");
	ck_assert_contains(log, "analyse() raised KeyboardInterrupt at ");
	free(log);
	/* still here, still answering */
	ck_assert_int_eq(probe_s(&det, "ab", 0, &res), E);
	tu_det_close(&det);
}
END_TEST

/* ---- deadlines ---- */

#define SLACK 0.05 /* probe() returns within timeout + this */

static void
assert_quick_no_match(struct tu_det *d, const char *bytes, double timeout)
{
	struct pmx_probe_result res;
	double t0 = now_s(), took;
	int v = probe_s(d, bytes, 0, &res);

	took = now_s() - t0;
	ck_assert_int_eq(v, N);
	ck_assert_msg(took < timeout + SLACK, "probe took %.3f s", took);
}

static void
assert_fresh_instance_works(void)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "returns_port.py", "0.5");
	ck_assert_int_eq(probe_s(&det, "abc", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8003");
	tu_det_close(&det);
}

START_TEST(test_python__loop_killed)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "loops.py", "0.05");
	cap_begin();
	assert_quick_no_match(&det, "loop", 0.05);
	log = cap_wait("killed and replaced", 2);
	/* where it was stuck: the loop's line, from the worker's stack */
	ck_assert_contains(log, "analyse() did not answer within 0.05 s at ");
	ck_assert_contains(log, "tests/python/loops.py:");
	ck_assert_contains(log, ": NO_MATCH; worker ");
	free(log);
	free(cap_end());
	/* another worker serves the next call */
	ck_assert_int_eq(probe_s(&det, "x", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:1111");
	assert_quick_no_match(&det, "loop again", 0.05);
	assert_fresh_instance_works();
	tu_det_close(&det);
}
END_TEST

/* A call as the core's probe pool makes it: queued at `queued`, needed
 * by `deadline` (0: not given). Returns the verdict, *took its time. */
static int
probe_timed(struct tu_det *d, const char *bytes, double queued,
	    double deadline, double *took)
{
	struct pmx_probe_input in = {
		.data = (const uint8_t *)bytes,
		.len = strlen(bytes),
		.capacity = 64,
		.queued = queued,
		.deadline = deadline,
	};
	struct pmx_probe_result res;
	double t0 = now_s();
	int v;

	memset(&res, 0, sizeof(res));
	v = d->plugin->desc->probe(d->instance, &in, &res);
	*took = now_s() - t0;
	return v;
}

/* The timeout counts from when the core queued the call: the time it
 * waited is taken off the script's, a call that waited it all is not
 * made, and none is waited for past the connection's deadline. */
START_TEST(test_python__timeout_counts_from_queued)
{
	struct tu_det det;
	double took;
	char *log;

	open_script(&det, "loops.py", "0.5");
	/* Queued 0.4 s ago: 0.1 s left of 0.5. */
	ck_assert_int_eq(probe_timed(&det, "loop", now_s() - 0.4, 0, &took),
			 N);
	ck_assert_msg(took > 0.05 && took < 0.1 + SLACK,
		      "a call queued 0.4 s ago took %.3f s (timeout 0.5 s)",
		      took);
	/* Queued 1 s ago: no time left, the script is not called. */
	cap_begin();
	ck_assert_int_eq(probe_timed(&det, "loop", now_s() - 1, 0, &took), N);
	log = cap_end();
	ck_assert_msg(took < 0.02, "a call with no time left took %.3f s",
		      took);
	ck_assert_contains(log, "no time left for analyse(): the call waited "
				"1.0");
	free(log);
	/* Just queued, but the connection must be decided in 0.1 s. */
	ck_assert_int_eq(probe_timed(&det, "loop", now_s(), now_s() + 0.1,
				     &took),
			 N);
	ck_assert_msg(took > 0.05 && took < 0.1 + SLACK,
		      "a call due in 0.1 s took %.3f s", took);
	/* With time left, an answer is an answer. */
	ck_assert_int_eq(probe_timed(&det, "x", now_s() - 0.1, now_s() + 5,
				     &took),
			 M);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__sleep_does_not_stall)
{
	struct tu_det det;
	struct pmx_probe_result res;

	open_script(&det, "sleeps.py", "0.05");
	assert_quick_no_match(&det, "sleep", 0.05);
	/* its thread sleeps on; another one answers */
	ck_assert_int_eq(probe_s(&det, "x", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:2222");
	assert_fresh_instance_works();
	assert_quick_no_match(&det, "sleep", 0.05);
	ck_assert_int_eq(probe_s(&det, "y", 0, &res), M);
	tu_det_close(&det);
}
END_TEST

START_TEST(test_python__timeout_swallowed)
{
	struct tu_det det;

	open_script(&det, "catches.py", "0.05");
	assert_quick_no_match(&det, "x", 0.05);
	assert_quick_no_match(&det, "y", 0.05);
	assert_fresh_instance_works();
	tu_det_close(&det);
}
END_TEST

/* More stuck calls than workers: each is killed at its deadline and
 * replaced, so the next call is answered, and so is a new instance's
 * create() (a reload). */
START_TEST(test_python__all_workers_stuck)
{
	struct tu_det det, fresh;
	struct pmx_probe_result res;
	double t0 = now_s();

	open_script(&det, "sleeps.py", "0.05");
	for (int i = 0; i < 12; i++)
		assert_quick_no_match(&det, "sleep", 0.05);
	ck_assert_int_eq(probe_s(&det, "x", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:2222");
	open_script(&fresh, "returns_port.py", "0.5");
	ck_assert_int_eq(probe_s(&fresh, "abc", 0, &res), M);
	tu_det_close(&fresh);
	tu_det_close(&det);
	ck_assert_msg(now_s() - t0 < 5, "took %.1f s", now_s() - t0);
}
END_TEST

/* A call stuck in C code that never checks for signals or interrupts
 * (it holds no GIL to hand over): killed all the same. */
START_TEST(test_python__stuck_in_c_killed)
{
	struct tu_det slow, det;
	struct pmx_probe_result res;
	char *log;

	open_script(&slow, "blocks_in_c.py", "0.05");
	open_script(&det, "returns_port.py", "2");
	cap_begin();
	assert_quick_no_match(&slow, "salt", 0.05);
	log = cap_wait("killed and replaced", 2);
	ck_assert_contains(log, "analyse() did not answer within 0.05 s");
	free(log);
	free(cap_end());
	ck_assert_int_eq(probe_s(&det, "abcd", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8004");
	tu_det_close(&det);
	tu_det_close(&slow);
}
END_TEST

/* destroy() while the instance's call still runs: the late call must not
 * log through the host the core has freed. */
/* destroy() right after a call was cut: its worker is killed with the
 * instance, and nothing is logged through the host the core has freed. */
START_TEST(test_python__destroy_while_running)
{
	struct tu_det slow;
	char *log;

	open_script(&slow, "blocks_in_c.py", "0.05");
	assert_quick_no_match(&slow, "salt", 0.05);
	cap_begin();
	tu_det_close(&slow);
	nap(1.0);
	log = cap_end();
	ck_assert_msg(log[0] == '\0', "logged after destroy: %s", log);
	free(log);
	assert_fresh_instance_works();
}
END_TEST

/* One call cannot flood the log: 32 portmux.log lines, then a count. */
START_TEST(test_python__log_lines_per_call_bounded)
{
	struct tu_det det;
	struct pmx_probe_result res;
	char *log;

	open_script(&det, "logs_many.py", "2");
	cap_begin();
	ck_assert_int_eq(probe_s(&det, "x", 0, &res), N);
	log = cap_end();
	ck_assert_int_eq(count(log, "script: line "), 32);
	ck_assert_contains(log, "script: line 31");
	ck_assert_contains(log, "analyse() logged 100 lines in one call: "
				"the first 32 were kept");
	free(log);
	tu_det_close(&det);
}
END_TEST

/* ---- escapes (tests/python/escapes.py) ---- */

static const struct escape {
	const char *word;
	int verdict, alt;   /* what the call answers (alt: also accepted) */
	const char *logged; /* in the log, soon after */
} escapes[] = {
	{"catchall", N, N, "did not answer within 0.2 s at "},
	{"regex", N, N, "did not answer within 0.2 s at "},
	{"sleep", N, N, "did not answer within 0.2 s at "},
	{"recv", N, N, "did not answer within 0.2 s at "},
	{"thread", M, M, "analyse() left 1 threads running: worker "},
	{"switch", N, N, "did not answer within 0.2 s"},
	{"exit", N, N, "exited with status 1 (the script ended its "
		       "process)"},
	{"killparent", E, E, "analyse() raised PermissionError"},
#if defined(__SANITIZE_ADDRESS__)
	{"segv", N, N, "replaced"}, /* ASan's handler ends it its way */
#else
	{"segv", N, N, "died of signal 11 (Segmentation fault) at "},
#endif
	{"fork", E, E, "analyse() raised PermissionError"},
	{"exec", E, E, "analyse() raised PermissionError"},
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	{"memory", E, N, ""}, /* no address space limit there */
#else
	{"memory", E, E, "analyse() raised MemoryError"},
#endif
};

/* Each escape costs its own call, at most its timeout, and perhaps its
 * worker; the test process (the daemon) and the next calls are fine. */
START_TEST(test_python__escapes)
{
	const struct escape *e = &escapes[_i];
	struct tu_det det;
	struct pmx_probe_result res;
	double t0, took;
	char *log;
	int v;

	open_script(&det, "escapes.py", "0.2");
	cap_begin();
	t0 = now_s();
	v = probe_s(&det, e->word, 0, &res);
	took = now_s() - t0;
	ck_assert_msg(v == e->verdict || v == e->alt, "%s: verdict %d",
		      e->word, v);
	ck_assert_msg(took < 0.2 + SLACK, "%s: took %.3f s", e->word, took);
	log = cap_wait(e->logged, 3);
	ck_assert_contains(log, e->logged);
	free(log);
	/* The good cases, several times over: every worker answers. */
	for (int i = 0; i < 8; i++) {
		ck_assert_int_eq(probe_s(&det, "good", 0, &res), M);
		ck_assert_str_eq(res.backend, "127.0.0.1:4242");
	}
	free(cap_end());
	tu_det_close(&det);
}
END_TEST

/* ---- instances ---- */

START_TEST(test_python__instances_are_independent)
{
	struct tu_det a, b;
	struct pmx_probe_result res;

	open_script(&a, "returns_port.py", "2");
	open_script(&b, "need_more.py", "2");
	ck_assert_int_eq(probe_s(&a, "abc", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8003");
	ck_assert_int_eq(probe_s(&b, "abc", 0, &res), W);
	ck_assert_int_eq(probe_s(&b, "abcdefghij", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:4000");
	tu_det_close(&a);
	ck_assert_int_eq(probe_s(&b, "abcdefghij", 0, &res), M);
	tu_det_close(&b);
}
END_TEST

START_TEST(test_python__reload_same_script)
{
	struct tu_det old, fresh;
	struct pmx_probe_result res;

	open_script(&old, "returns_port.py", "2");
	ck_assert_int_eq(probe_s(&old, "a", 0, &res), M);
	/* SIGHUP: the new generation's instance while the old one lives */
	open_script(&fresh, "returns_port.py", "2");
	ck_assert_int_eq(probe_s(&fresh, "ab", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8002");
	ck_assert_int_eq(probe_s(&old, "abc", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8003");
	tu_det_close(&old);
	ck_assert_int_eq(probe_s(&fresh, "abcd", 0, &res), M);
	ck_assert_str_eq(res.backend, "127.0.0.1:8004");
	tu_det_close(&fresh);
}
END_TEST

struct worker_arg {
	struct tu_det *det;
	int id;
	int wrong;
};

static void *
prober(void *p)
{
	struct worker_arg *a = p;
	static const struct {
		const char *bytes;
		int verdict;
		const char *backend;
	} want[] = {
		{"CUSTOM_PROTOCOL hi", M, "127.0.0.1:9000"},
		{"GAME_DATA 1", M, "127.0.0.1:7777"},
		{"SSH-2.0-x\r\n", N, ""},
	};

	for (int i = 0; i < 300; i++) {
		size_t k = (size_t)(i + a->id) % 3;
		struct pmx_probe_result res;
		int v = probe_s(a->det, want[k].bytes, 0, &res);

		if (v != want[k].verdict ||
		    strcmp(res.backend, want[k].backend) != 0)
			a->wrong++;
	}
	return NULL;
}

START_TEST(test_python__concurrent_probes)
{
	struct tu_det det;
	struct worker_arg args[4];
	pthread_t t[4];
	char path[4096], yaml[4200];

	snprintf(yaml, sizeof(yaml), "script: %s\ntimeout: 5\n",
		 tu_src("etc/portmux/script.py", path, sizeof(path)));
	tu_det_open(&det, "python", yaml);
	for (int i = 0; i < 4; i++) {
		args[i] = (struct worker_arg){&det, i, 0};
		ck_assert_int_eq(pthread_create(&t[i], NULL, prober, &args[i]),
				 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ck_assert_int_eq(args[i].wrong, 0);
	}
	tu_det_close(&det);
}
END_TEST

Suite *make_suite_python(void);
Suite *
make_suite_python(void)
{
	Suite *s = suite_create("python");
	TCase *tc = tcase_create("detector");

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_python__returns_port);
	tcase_add_test(tc, test_python__returns_hostport);
	tcase_add_test(tc, test_python__returns_none);
	tcase_add_test(tc, test_python__need_more);
	tcase_add_loop_test(tc, test_python__bad_answers, 0, NELEM(bad_answers));
	tcase_add_test(tc, test_python__bad_answers_rate_limited);
	tcase_add_test(tc, test_python__example_script);
	tcase_add_test(tc, test_python__big_buffer);
	tcase_add_test(tc, test_python__stdlib);
	tcase_add_test(tc, test_python__isolated);
	tcase_add_test(tc, test_python__log);
	tcase_add_test(tc, test_python__syntax_error);
	tcase_add_test(tc, test_python__no_analyse);
	tcase_add_test(tc, test_python__top_level_raises);
	tcase_add_test(tc, test_python__missing_script);
	tcase_add_test(tc, test_python__default_script_absent);
	tcase_add_test(tc, test_python__relative_script);
	tcase_add_loop_test(tc, test_python__bad_options, 0, NELEM(bad_options));
	tcase_add_test(tc, test_python__exception_logged_once_a_second);
	tcase_add_test(tc, test_python__exception_line_is_the_scripts);
	tcase_add_test(tc, test_python__exit_does_not_exit);
	tcase_add_test(tc, test_python__loop_killed);
	tcase_add_test(tc, test_python__timeout_counts_from_queued);
	tcase_add_test(tc, test_python__sleep_does_not_stall);
	tcase_add_test(tc, test_python__timeout_swallowed);
	tcase_add_test(tc, test_python__all_workers_stuck);
	tcase_add_test(tc, test_python__stuck_in_c_killed);
	tcase_add_test(tc, test_python__log_lines_per_call_bounded);
	tcase_add_loop_test(tc, test_python__escapes, 0, NELEM(escapes));
	tcase_add_test(tc, test_python__destroy_while_running);
	tcase_add_test(tc, test_python__instances_are_independent);
	tcase_add_test(tc, test_python__reload_same_script);
	tcase_add_test(tc, test_python__concurrent_probes);
	suite_add_tcase(s, tc);
	return s;
}
