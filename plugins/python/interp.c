/*
 * interp.c — start CPython, once per process, on the first create() that
 * has a script. It is never finalised: instances of older generations may
 * still be in use, a stuck script may still hold a thread, and the
 * process ends soon after the last instance anyway.
 *
 * The configuration is isolated: no PYTHON* environment variables, no
 * user site-packages, no signal handlers (the daemon owns signals), C
 * stdio left alone. The standard library, lib-dynload extension modules
 * and the system's dist-packages work.
 */
#include "python.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

struct pyrt pyrt = {
	.start_lock = PTHREAD_MUTEX_INITIALIZER,
};

/* The build-time soname, should dladdr() not tell (it always does with
 * glibc). PMX_LIBPYTHON may come from flags.mk. */
#ifndef PMX_LIBPYTHON
#define PMX_LIBPYTHON                                                  \
	"libpython" Py_STRINGIFY(PY_MAJOR_VERSION) "." Py_STRINGIFY( \
		PY_MINOR_VERSION) ".so.1.0"
#endif

/*
 * The core loads plugins RTLD_LOCAL, and libpython came in as our
 * dependency, so its symbols are not global: the extension modules of
 * the standard library (zlib, _json, _hashlib...), which do not link
 * libpython, would fail to load with "undefined symbol: PyExc_...".
 * Promote the copy already mapped (RTLD_NOLOAD) to RTLD_GLOBAL. The
 * handle is kept on purpose: libpython stays for the process's life.
 */
static int
promote_libpython(char *err, size_t errlen)
{
	Dl_info info;
	void *h = NULL;
	const char *name = PMX_LIBPYTHON;

	memset(&info, 0, sizeof(info));
	if (dladdr((void *)&Py_InitializeFromConfig, &info) != 0 &&
	    info.dli_fname != NULL) {
		name = info.dli_fname;
		h = dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
	}
	if (h == NULL) {
		name = PMX_LIBPYTHON;
		h = dlopen(name, RTLD_NOW | RTLD_NOLOAD | RTLD_GLOBAL);
	}
	if (h == NULL) {
		snprintf(err, errlen,
			 "cannot make %s global (needed by Python's extension "
			 "modules): %s",
			 name, dlerror());
		return -1;
	}
	return 0;
}

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

/* Keep strong references to the portmux module's objects we compare with
 * or call from C. */
static int
cache_module(char *err, size_t errlen)
{
	PyObject *mod = PyImport_ImportModule("portmux"); /* new reference */

	if (mod != NULL) {
		/* New references, kept for the process's life. */
		pyrt.need_more = PyObject_GetAttrString(mod, "NEED_MORE");
		pyrt.timeout_exc = PyObject_GetAttrString(mod, "Timeout");
		pyrt.drain = PyObject_GetAttrString(mod, "_drain");
		Py_DECREF(mod);
	}
	if (pyrt.need_more == NULL || pyrt.timeout_exc == NULL ||
	    pyrt.drain == NULL) {
		PyErr_Clear();
		snprintf(err, errlen,
			 "cannot start Python: the portmux module failed");
		return -1;
	}
	return 0;
}

static int
start(char *err, size_t errlen)
{
	PyConfig config;
	PyStatus st;
	int rc;

	if (Py_IsInitialized()) {
		snprintf(err, errlen,
			 "cannot start Python: it is already running in this "
			 "process");
		return -1;
	}
	if (promote_libpython(err, errlen) < 0)
		return -1;
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
	rc = cache_module(err, errlen);
	/* A looping script holds the GIL until the interpreter hands it on:
	 * every switch interval (5 ms by default). Other connections' calls
	 * wait for it, so hand it on sooner. */
	if (rc == 0 &&
	    PyRun_SimpleString("import sys\nsys.setswitchinterval(0.001)\n"))
		rc = -1;
	/* This thread (the core's main thread) runs no Python from now on:
	 * park its thread state and let the GIL go. */
	pyrt.main_tstate = PyEval_SaveThread();
	return rc < 0 ? -1 : pool_start(err, errlen);
}

int
interp_start(char *err, size_t errlen)
{
	int rc = 0;

	pthread_mutex_lock(&pyrt.start_lock);
	if (pyrt.state == 0) {
		rc = start(pyrt.init_err, sizeof(pyrt.init_err));
		pyrt.state = rc < 0 ? -1 : 1;
	}
	if (pyrt.state < 0) {
		/* A failed start is not retried: CPython may be half up. */
		snprintf(err, errlen, "%s", pyrt.init_err);
		rc = -1;
	}
	pthread_mutex_unlock(&pyrt.start_lock);
	return rc;
}
