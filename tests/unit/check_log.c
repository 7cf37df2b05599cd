/* check_log.c — log lines as they reach stderr: text with our timestamp,
 * the journal's priority prefix when stderr is the stream JOURNAL_STREAM
 * names (and only then), and the JSON form with the key=value fields as
 * members, escaped. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "testutil.h"

static FILE *cap_file;
static int cap_saved = -1;

/* stderr into a temporary file; with `journal`, JOURNAL_STREAM names it
 * (as systemd sets it), else another stream. */
static void
capture_start(int journal)
{
	struct stat st;
	char js[64];

	fflush(stderr);
	cap_file = tmpfile();
	ck_assert_ptr_nonnull(cap_file);
	cap_saved = dup(2);
	ck_assert_int_ge(cap_saved, 0);
	ck_assert_int_ge(dup2(fileno(cap_file), 2), 0);
	ck_assert_int_eq(fstat(2, &st), 0);
	snprintf(js, sizeof(js), "%llu:%llu",
		 (unsigned long long)st.st_dev,
		 (unsigned long long)st.st_ino + (journal ? 0 : 1));
	setenv("JOURNAL_STREAM", js, 1);
	log_stderr_changed();
	log_set_level(LOG_DEBUG);
}

/* What was logged (the caller frees it); stderr and the settings back. */
static char *
capture_end(void)
{
	char *text = calloc(1, 65536);
	size_t n;

	ck_assert_ptr_nonnull(text);
	fflush(stderr);
	ck_assert_int_ge(dup2(cap_saved, 2), 0);
	close(cap_saved);
	rewind(cap_file);
	n = fread(text, 1, 65535, cap_file);
	text[n] = '\0';
	fclose(cap_file);
	unsetenv("JOURNAL_STREAM");
	log_stderr_changed();
	log_set_format(LOG_FORMAT_TEXT);
	log_set_level(LOG_WARN);
	return text;
}

START_TEST(test_log__journal_priorities)
{
	char *text;

	capture_start(1);
	log_error("reload failed; keeping the running configuration");
	log_warn("refused client=127.0.0.1:1 reason=deny");
	log_info("close conn=1");
	log_debug("probe detector=http");
	text = capture_end();
	ck_assert_str_eq(text,
			 "<3>error reload failed; keeping the running "
			 "configuration\n"
			 "<4>warn refused client=127.0.0.1:1 reason=deny\n"
			 "<6>info close conn=1\n"
			 "<7>debug probe detector=http\n");
	free(text);
}
END_TEST

/* JOURNAL_STREAM inherited, but stderr is elsewhere: a plain line with
 * our timestamp. */
START_TEST(test_log__not_the_journal)
{
	char *text;

	capture_start(0);
	log_error("boom");
	text = capture_end();
	ck_assert_msg(strlen(text) == 36 && text[4] == '-' &&
			      text[10] == 'T' && text[23] == 'Z' &&
			      strcmp(text + 24, " error boom\n") == 0,
		      "got '%s'", text);
	free(text);
}
END_TEST

START_TEST(test_log__json)
{
	char *text, *p;

	capture_start(0);
	log_set_format(LOG_FORMAT_JSON);
	log_info("close conn=12 client=127.0.0.1:4000 via=detector "
		 "reason=eof");
	log_warn("quote \" back\\slash tab\t k=v\x01 Not=field x=");
	text = capture_end();
	p = strchr(text, '\n');
	ck_assert_ptr_nonnull(p);
	*p++ = '\0';
	ck_assert_msg(strncmp(text, "{\"time\":\"", 9) == 0 &&
			      text[9 + 23] == 'Z',
		      "got '%s'", text);
	ck_assert_str_eq(text + 9 + 24,
			 "\",\"level\":\"info\",\"msg\":\"close conn=12 "
			 "client=127.0.0.1:4000 via=detector reason=eof\","
			 "\"conn\":\"12\",\"client\":\"127.0.0.1:4000\","
			 "\"via\":\"detector\",\"reason\":\"eof\"}");
	ck_assert_str_eq(p + 9 + 24,
			 "\",\"level\":\"warn\",\"msg\":\"quote \\\" "
			 "back\\\\slash tab\\u0009 k=v\\u0001 Not=field "
			 "x=\",\"k\":\"v\\u0001\",\"x\":\"\"}\n");
	free(text);
}
END_TEST

/* Under the journal a JSON line carries the prefix too. */
START_TEST(test_log__json_in_journal)
{
	char *text;

	capture_start(1);
	log_set_format(LOG_FORMAT_JSON);
	log_error("x");
	text = capture_end();
	ck_assert_msg(strncmp(text, "<3>{\"time\":", 11) == 0, "got '%s'",
		      text);
	free(text);
}
END_TEST

START_TEST(test_log__format_names)
{
	ck_assert_int_eq(log_format_from_name("text"), LOG_FORMAT_TEXT);
	ck_assert_int_eq(log_format_from_name("json"), LOG_FORMAT_JSON);
	ck_assert_int_eq(log_format_from_name("JSON"), -1);
}
END_TEST

Suite *make_suite_log(void);
Suite *
make_suite_log(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("log");

	tcase_add_test(tc, test_log__journal_priorities);
	tcase_add_test(tc, test_log__not_the_journal);
	tcase_add_test(tc, test_log__json);
	tcase_add_test(tc, test_log__json_in_journal);
	tcase_add_test(tc, test_log__format_names);
	suite_add_tcase(s, tc);
	return s;
}
