/*
 * module.c — the built-in `portmux` module (`import portmux` in a script).
 *
 *   portmux.NEED_MORE   return it to be asked again with more bytes
 *   portmux.Timeout     kept for scripts written for PortMux 0.2, which
 *                       raised it in a call that overran PYTHON.timeout;
 *                       now such a call's worker is killed instead
 *   portmux.log(msg)    one line in PortMux's log (info), tagged with the
 *                       detector instance
 *
 * The sentinel and the exception are plain Python, defined by running a
 * few lines in the module's namespace: less C, and they behave exactly
 * like script-defined objects (repr, pickling errors, isinstance).
 */
#include "worker.h"

#include <string.h>

static const char module_py[] =
	"class Timeout(BaseException):\n"
	"    \"\"\"Never raised: a call that overruns is killed.\"\"\"\n"
	"\n"
	"class _NeedMore:\n"
	"    __slots__ = ()\n"
	"    def __repr__(self):\n"
	"        return 'portmux.NEED_MORE'\n"
	"    def __reduce__(self):\n"
	"        return 'NEED_MORE'\n"
	"\n"
	"NEED_MORE = _NeedMore()\n"
	"del _NeedMore\n";

static char module_doc[] =
	"PortMux services for a custom protocol script.\n"
	"\n"
	"analyse(buffer) returns a port (int, backend 127.0.0.1:PORT), a\n"
	"'host:port' / '[v6]:port' string with a numeric address or\n"
	"localhost, None (not this protocol), or NEED_MORE (ask again when\n"
	"more bytes have arrived).";

static PyObject *
portmux_log(PyObject *self, PyObject *arg)
{
	PyObject *text;
	const char *s;
	Py_ssize_t n;
	char line[900];

	(void)self;
	text = PyObject_Str(arg); /* new reference */
	if (text == NULL)
		return NULL;
	s = PyUnicode_AsUTF8AndSize(text, &n);
	if (s == NULL) {
		Py_DECREF(text);
		return NULL;
	}
	log_clean(line, sizeof(line), s, (size_t)n);
	Py_DECREF(text);
	wk_log(PMX_LOG_INFO, NULL, "script: %s", line);
	Py_RETURN_NONE;
}

static PyMethodDef portmux_methods[] = {
	{"log", portmux_log, METH_O,
	 "log(msg): write str(msg) as one line in PortMux's log (info)."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef portmux_def = {
	PyModuleDef_HEAD_INIT,
	.m_name = "portmux",
	.m_doc = module_doc,
	.m_size = -1, /* single-phase: one interpreter per process */
	.m_methods = portmux_methods,
};

PyObject *
portmux_module_init(void)
{
	PyObject *mod = PyModule_Create(&portmux_def); /* new reference */
	PyObject *dict, *ret;

	if (mod == NULL)
		return NULL;
	dict = PyModule_GetDict(mod); /* borrowed */
	if (PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) <
	    0) {
		Py_DECREF(mod);
		return NULL;
	}
	ret = PyRun_String(module_py, Py_file_input, dict, dict); /* new */
	if (ret == NULL) {
		Py_DECREF(mod);
		return NULL;
	}
	Py_DECREF(ret);
	return mod;
}
