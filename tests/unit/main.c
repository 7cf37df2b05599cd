/* main.c — runs every suite of suites.h. Check's environment variables
 * work: CK_RUN_SUITE=http, CK_RUN_CASE=..., CK_FORK=no (for gdb/valgrind),
 * CK_VERBOSITY=verbose. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#define X(name) Suite *make_suite_##name(void);
#include "suites.h"
#undef X

int
main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

	setvbuf(stdout, NULL, _IONBF, 0);
#define X(name) srunner_add_suite(sr, make_suite_##name());
#include "suites.h"
#undef X
	srunner_run_all(sr, CK_ENV);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
