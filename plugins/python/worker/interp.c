/*
 * interp.c — start CPython, once, in the zygote (forked workers inherit
 * it). It is never finalised: a process ends by exiting.
 *
 * The configuration is isolated: no PYTHON* environment variables, no
 * user site-packages, no signal handlers of Python's, C stdio left
 * alone. The standard library, lib-dynload extension modules and the
 * system's dist-packages work.
 */
#include "worker.h"

#include <stdio.h>
#include <string.h>

static int
status_error(PyStatus st, const char *what, char *err, size_t errlen)
{
	snprintf(err, errlen, "cannot start Python: %s: %s", what,
		 st.err_msg ? st.err_msg : "failed");
	return -1;
}

static int
configure(PyConfig *c, char *err, size_t errlen)
{
	PyStatus st;

	PyConfig_InitIsolatedConfig(c);
	c->install_signal_handlers = 0;
	c->configure_c_stdio = 0;
	c->parse_argv = 0;
	c->user_site_directory = 0;
	c->site_import = 1;    /* system dist-packages, not the user's */
	c->write_bytecode = 0; /* the daemon writes no files */
	/* A script's print() is not held back: nothing flushes it at exit. */
	c->buffered_stdio = 0;
	st = PyConfig_SetBytesString(c, &c->program_name, "portmux");
	if (PyStatus_Exception(st))
		return status_error(st, "program_name", err, errlen);
#ifdef PMX_PY_HOME
	/* The prefix of the libpython we were built against: otherwise
	 * getpath searches from the executable (and $PATH), which can find
	 * another Python's standard library (/usr/local, pyenv). */
	st = PyConfig_SetBytesString(c, &c->home, PMX_PY_HOME);
	if (PyStatus_Exception(st))
		return status_error(st, "home", err, errlen);
#endif
	return 0;
}

/* Keep a strong reference to portmux.NEED_MORE (compared with answers). */
static int
cache_module(char *err, size_t errlen)
{
	PyObject *mod = PyImport_ImportModule("portmux"); /* new reference */

	if (mod != NULL) {
		/* New reference, kept for the process's life. */
		wk.need_more = PyObject_GetAttrString(mod, "NEED_MORE");
		Py_DECREF(mod);
	}
	if (wk.need_more == NULL) {
		PyErr_Clear();
		snprintf(err, errlen,
			 "cannot start Python: the portmux module failed");
		return -1;
	}
	return 0;
}

int
interp_start(char *err, size_t errlen)
{
	PyConfig config;
	PyStatus st;

	if (PyImport_AppendInittab("portmux", portmux_module_init) < 0) {
		snprintf(err, errlen, "cannot start Python: inittab");
		return -1;
	}
	if (configure(&config, err, errlen) < 0) {
		PyConfig_Clear(&config);
		return -1;
	}
	st = Py_InitializeFromConfig(&config);
	PyConfig_Clear(&config);
	if (PyStatus_Exception(st))
		return status_error(st, "initialisation", err, errlen);
	return cache_module(err, errlen);
}
