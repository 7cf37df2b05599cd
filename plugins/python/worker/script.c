/*
 * script.c — the Python side: compile a script (zygote), run its top
 * level in a module namespace of its own and find its analyse (worker),
 * call analyse(buffer), and describe what a script raised.
 *
 * Nothing raised by a script escapes: every exception is fetched here and
 * turned into a log line or an error message. SystemExit and
 * KeyboardInterrupt are just exceptions too (only PyErr_Print() would act
 * on them, and it is never called). What a script can still do to its
 * process (os._exit, a crash, a loop) ends only that worker.
 */
#include "worker.h"

#include <stdio.h>
#include <string.h>

/* An exception, described for a human. */
struct exc_info {
	char type[80];
	char msg[240];
	long line;   /* in the script; 0: unknown */
};

/* The current exception (normalised, traceback attached), clearing the
 * error indicator. New reference; NULL if none. */
static PyObject *
exc_fetch(void)
{
#if PY_VERSION_HEX >= 0x030C0000
	return PyErr_GetRaisedException();
#else
	PyObject *type, *value, *tb;

	PyErr_Fetch(&type, &value, &tb);
	if (type == NULL)
		return NULL;
	PyErr_NormalizeException(&type, &value, &tb);
	if (value != NULL && tb != NULL)
		PyException_SetTraceback(value, tb);
	Py_XDECREF(type);
	Py_XDECREF(tb);
	return value;
#endif
}

void
py_text(PyObject *obj, char *dst, size_t cap, int repr)
{
	PyObject *s = repr ? PyObject_Repr(obj) : PyObject_Str(obj); /* new */
	const char *u = NULL;
	Py_ssize_t n = 0;

	if (s != NULL)
		u = PyUnicode_AsUTF8AndSize(s, &n);
	if (u != NULL) {
		log_clean(dst, cap, u, (size_t)n);
	} else {
		PyErr_Clear();
		snprintf(dst, cap, "<unprintable>");
	}
	Py_XDECREF(s);
}

static int
is_script(PyObject *filename)
{
	int eq;

	if (filename == NULL || !PyUnicode_Check(filename) ||
	    wk.filename == NULL)
		return 0;
	eq = PyUnicode_Compare(filename, wk.filename) == 0;
	PyErr_Clear();
	return eq;
}

/* The line of the innermost traceback entry that is in the script: where
 * the script called whatever failed, even deep in the standard library. */
static long
script_line(PyObject *exc)
{
	PyObject *tb = PyException_GetTraceback(exc); /* new reference */
	long line = 0;

	while (tb != NULL && tb != Py_None) {
		/* New references, each. */
		PyObject *frame = PyObject_GetAttrString(tb, "tb_frame");
		PyObject *lineno = PyObject_GetAttrString(tb, "tb_lineno");
		PyObject *next = PyObject_GetAttrString(tb, "tb_next");

		if (frame != NULL && lineno != NULL &&
		    PyFrame_Check(frame)) {
			/* new reference */
			PyCodeObject *code =
				PyFrame_GetCode((PyFrameObject *)frame);

			if (is_script(code->co_filename))
				line = PyLong_AsLong(lineno);
			Py_DECREF(code);
		}
		Py_XDECREF(frame);
		Py_XDECREF(lineno);
		Py_DECREF(tb);
		tb = next;
	}
	Py_XDECREF(tb);
	PyErr_Clear();
	return line > 0 ? line : 0;
}

/* A SyntaxError about the script itself carries its own line and a bare
 * message (its str() appends "(file, line N)"). */
static int
syntax_error(PyObject *exc, struct exc_info *ei)
{
	PyObject *file = PyObject_GetAttrString(exc, "filename"); /* new */
	PyObject *lineno = PyObject_GetAttrString(exc, "lineno");  /* new */
	PyObject *msg = PyObject_GetAttrString(exc, "msg");        /* new */
	int ok = is_script(file) && lineno != NULL &&
		 PyLong_Check(lineno) && msg != NULL;

	if (ok) {
		ei->line = PyLong_AsLong(lineno);
		py_text(msg, ei->msg, sizeof(ei->msg), 0);
	}
	Py_XDECREF(file);
	Py_XDECREF(lineno);
	Py_XDECREF(msg);
	PyErr_Clear();
	return ok;
}

/* As a traceback names it: "ValueError", "json.decoder.JSONDecodeError";
 * the script's own classes without a module. */
static void
type_name(PyTypeObject *type, char *dst, size_t cap)
{
	PyObject *mod = PyObject_GetAttrString((PyObject *)type, "__module__");
	PyObject *qual = PyObject_GetAttrString((PyObject *)type,
						"__qualname__"); /* new */
	const char *m = mod && PyUnicode_Check(mod) ? PyUnicode_AsUTF8(mod)
						    : NULL;
	const char *q = qual && PyUnicode_Check(qual) ? PyUnicode_AsUTF8(qual)
						      : NULL;
	char full[160];

	if (q == NULL)
		q = type->tp_name;
	if (m != NULL && strcmp(m, "builtins") != 0 &&
	    strcmp(m, "portmux_script") != 0)
		snprintf(full, sizeof(full), "%s.%s", m, q);
	else
		snprintf(full, sizeof(full), "%s", q);
	log_clean(dst, cap, full, strlen(full));
	Py_XDECREF(mod);
	Py_XDECREF(qual);
	PyErr_Clear();
}

static void
describe(PyObject *exc, struct exc_info *ei)
{
	memset(ei, 0, sizeof(*ei));
	if (exc == NULL) {
		snprintf(ei->type, sizeof(ei->type), "SystemError");
		snprintf(ei->msg, sizeof(ei->msg), "error without exception");
		return;
	}
	type_name(Py_TYPE(exc), ei->type, sizeof(ei->type));
	if (PyErr_GivenExceptionMatches(exc, PyExc_SyntaxError) &&
	    syntax_error(exc, ei))
		return;
	py_text(exc, ei->msg, sizeof(ei->msg), 0);
	ei->line = script_line(exc);
}

/* "TYPE: MSG" or "TYPE" when the message is empty. */
static const char *
sep(const struct exc_info *ei)
{
	return ei->msg[0] ? ": " : "";
}

/* ---- compiling (zygote) and loading (worker) ---- */

/* "path:line: TYPE: MSG" for the exception being raised. */
static void
failed(char *err, size_t errlen)
{
	PyObject *exc = exc_fetch(); /* new reference */
	struct exc_info ei;

	describe(exc, &ei);
	Py_XDECREF(exc);
	if (ei.line > 0)
		snprintf(err, errlen, "%s:%ld: %s%s%s", wk.path, ei.line,
			 ei.type, sep(&ei), ei.msg);
	else
		snprintf(err, errlen, "%s: %s%s%s", wk.path, ei.type, sep(&ei),
			 ei.msg);
}

int
script_compile(const char *src, char *err, size_t errlen)
{
	Py_CLEAR(wk.code);
	Py_CLEAR(wk.filename);
	wk.filename = PyUnicode_DecodeFSDefault(wk.path); /* new */
	if (wk.filename != NULL)
		wk.code = Py_CompileStringObject(src, wk.filename,
						 Py_file_input, NULL,
						 -1); /* new */
	if (wk.code == NULL) {
		failed(err, errlen);
		return -1;
	}
	return 0;
}

int
script_load(char *err, size_t errlen)
{
	PyObject *module, *dict, *ret, *fn;

	/* Not put in sys.modules: the script is not a module others
	 * import. The process keeps it until it exits. */
	module = PyModule_New("portmux_script"); /* new, kept */
	if (module == NULL)
		goto raised;
	dict = PyModule_GetDict(module); /* borrowed */
	if (PyDict_SetItemString(dict, "__file__", wk.filename) < 0 ||
	    PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) <
		    0)
		goto raised;
	ret = PyEval_EvalCode(wk.code, dict, dict); /* new: the top level */
	if (ret == NULL)
		goto raised;
	Py_DECREF(ret);
	fn = PyDict_GetItemString(dict, "analyse"); /* borrowed */
	if (fn == NULL) {
		snprintf(err, errlen,
			 "%s: no analyse() function (the script must define "
			 "`def analyse(buffer):`)",
			 wk.path);
		return -1;
	}
	if (!PyCallable_Check(fn)) {
		snprintf(err, errlen, "%s: analyse is not callable (type %s)",
			 wk.path, Py_TYPE(fn)->tp_name);
		return -1;
	}
	wk.analyse = Py_NewRef(fn);
	return 0;
raised:
	failed(err, errlen);
	return -1;
}

/* ---- calling (worker) ---- */

static void
call_raised(void)
{
	PyObject *exc = exc_fetch(); /* new reference */
	struct exc_info ei;
	char at[32] = "";
	char key[sizeof(ei.type) + sizeof(ei.msg) + sizeof(at) + 16];

	describe(exc, &ei);
	Py_XDECREF(exc);
	if (ei.line > 0)
		snprintf(at, sizeof(at), ":%ld", ei.line);
	snprintf(key, sizeof(key), "raised %s: %s%s", ei.type, ei.msg, at);
	wk_log(PMX_LOG_ERROR, key, "analyse() raised %s%s%s at %s%s", ei.type,
	       sep(&ei), ei.msg, wk.path, at);
}

int
script_call(const unsigned char *data, size_t len, int final, char *backend,
	    size_t cap)
{
	PyObject *buf, *ret = NULL;
	int verdict;
	buf = PyBytes_FromStringAndSize((const char *)data,
					(Py_ssize_t)len); /* new */
	if (buf != NULL)
		ret = PyObject_CallOneArg(wk.analyse, buf); /* new */
	Py_XDECREF(buf);
	if (ret == NULL) {
		call_raised();
		verdict = PMX_ERROR;
	} else {
		verdict = answer_read(ret, final, backend, cap);
		Py_DECREF(ret);
	}
	return verdict;
}

int
script_threads(void)
{
	PyInterpreterState *is = PyInterpreterState_Get();
	int n = 0;

	for (PyThreadState *t = PyInterpreterState_ThreadHead(is); t != NULL;
	     t = PyThreadState_Next(t))
		n++;
	return n;
}
