/*
 * script.c — the Python side of a job, run on an interpreter thread with
 * the GIL held: compile a script into a module namespace of its own and
 * find its analyse(), call analyse(buffer), describe what it raised, and
 * drop a script's objects.
 *
 * Nothing raised by a script escapes: every exception is fetched here and
 * turned into a log line or create()'s message. SystemExit and
 * KeyboardInterrupt are just exceptions too (only PyErr_Print() would act
 * on them, and it is never called).
 */
#include "python.h"

#include <stdio.h>
#include <string.h>

/* An exception, described for a human. */
struct exc_info {
	char type[80];
	char msg[240];
	long line;   /* in the script; 0: unknown */
	int timeout; /* portmux.Timeout */
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
is_script(const struct pyinst *inst, PyObject *filename)
{
	int eq;

	if (filename == NULL || !PyUnicode_Check(filename) ||
	    inst->filename == NULL)
		return 0;
	eq = PyUnicode_Compare(filename, inst->filename) == 0;
	PyErr_Clear();
	return eq;
}

/* The line of the innermost traceback entry that is in the script: where
 * the script called whatever failed, even deep in the standard library. */
static long
script_line(const struct pyinst *inst, PyObject *exc)
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

			if (is_script(inst, code->co_filename))
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
syntax_error(const struct pyinst *inst, PyObject *exc, struct exc_info *ei)
{
	PyObject *file = PyObject_GetAttrString(exc, "filename"); /* new */
	PyObject *lineno = PyObject_GetAttrString(exc, "lineno");  /* new */
	PyObject *msg = PyObject_GetAttrString(exc, "msg");        /* new */
	int ok = is_script(inst, file) && lineno != NULL &&
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
describe(const struct pyinst *inst, PyObject *exc, struct exc_info *ei)
{
	memset(ei, 0, sizeof(*ei));
	if (exc == NULL) {
		snprintf(ei->type, sizeof(ei->type), "SystemError");
		snprintf(ei->msg, sizeof(ei->msg), "error without exception");
		return;
	}
	type_name(Py_TYPE(exc), ei->type, sizeof(ei->type));
	ei->timeout = PyErr_GivenExceptionMatches(exc, pyrt.timeout_exc);
	if (PyErr_GivenExceptionMatches(exc, PyExc_SyntaxError) &&
	    syntax_error(inst, exc, ei))
		return;
	py_text(exc, ei->msg, sizeof(ei->msg), 0);
	ei->line = script_line(inst, exc);
}

/* "TYPE: MSG" or "TYPE" when the message is empty. */
static const char *
sep(const struct exc_info *ei)
{
	return ei->msg[0] ? ": " : "";
}

/* ---- loading ---- */

static void
load_failed(struct job *job)
{
	struct pyinst *inst = job->inst;
	PyObject *exc = exc_fetch(); /* new reference */
	struct exc_info ei;

	describe(inst, exc, &ei);
	Py_XDECREF(exc);
	if (ei.line > 0)
		snprintf(job->err, sizeof(job->err), "%s:%ld: %s%s%s",
			 inst->path, ei.line, ei.type, sep(&ei), ei.msg);
	else
		snprintf(job->err, sizeof(job->err), "%s: %s%s%s", inst->path,
			 ei.type, sep(&ei), ei.msg);
}

/* Compile and run the script in a fresh module; keep its analyse. */
static void
load(struct job *job)
{
	struct pyinst *inst = job->inst;
	PyObject *code = NULL, *dict, *ret, *fn;

	job->verdict = -1;
	inst->filename = PyUnicode_DecodeFSDefault(inst->path); /* new */
	if (inst->filename == NULL)
		goto raised;
	code = Py_CompileStringObject((const char *)job->data, inst->filename,
				      Py_file_input, NULL, -1); /* new */
	if (code == NULL)
		goto raised;
	/* Not put in sys.modules: two generations of one script coexist
	 * across a reload, each with its own globals. */
	inst->module = PyModule_New("portmux_script"); /* new */
	if (inst->module == NULL)
		goto raised;
	dict = PyModule_GetDict(inst->module); /* borrowed */
	if (PyDict_SetItemString(dict, "__file__", inst->filename) < 0 ||
	    PyDict_SetItemString(dict, "__builtins__", PyEval_GetBuiltins()) <
		    0)
		goto raised;
	ret = PyEval_EvalCode(code, dict, dict); /* new: the top level runs */
	if (ret == NULL)
		goto raised;
	Py_DECREF(ret);
	fn = PyDict_GetItemString(dict, "analyse"); /* borrowed */
	if (fn == NULL) {
		snprintf(job->err, sizeof(job->err),
			 "%s: no analyse() function (the script must define "
			 "`def analyse(buffer):`)",
			 inst->path);
		goto failed;
	}
	if (!PyCallable_Check(fn)) {
		snprintf(job->err, sizeof(job->err),
			 "%s: analyse is not callable (type %s)", inst->path,
			 Py_TYPE(fn)->tp_name);
		goto failed;
	}
	inst->analyse = Py_NewRef(fn);
	Py_DECREF(code);
	job->verdict = 0;
	return;
raised:
	load_failed(job);
failed:
	Py_XDECREF(code);
	Py_CLEAR(inst->module);
	Py_CLEAR(inst->filename);
}

/* ---- calling ---- */

static void
call_raised(struct job *job, double took)
{
	struct pyinst *inst = job->inst;
	PyObject *exc = exc_fetch(); /* new reference */
	struct exc_info ei;
	char at[32] = "";
	char key[sizeof(ei.type) + sizeof(ei.msg) + sizeof(at) + 16];

	describe(inst, exc, &ei);
	Py_XDECREF(exc);
	if (ei.line > 0)
		snprintf(at, sizeof(at), ":%ld", ei.line);
	if (ei.timeout && mono_now() >= job->deadline) {
		snprintf(key, sizeof(key), "interrupted%s", at);
		inst_log(inst, PMX_LOG_WARN, key,
			 "analyse() overran its %g s timeout: interrupted at "
			 "%s%s after %.3f s",
			 inst->timeout, inst->path, at, took);
		return;
	}
	snprintf(key, sizeof(key), "raised %s: %s%s", ei.type, ei.msg, at);
	inst_log(inst, PMX_LOG_ERROR, key, "analyse() raised %s%s%s at %s%s",
		 ei.type, sep(&ei), ei.msg, inst->path, at);
}

static void
call(struct job *job, double started)
{
	struct pyinst *inst = job->inst;
	PyObject *buf, *ret = NULL;
	double took;

	buf = PyBytes_FromStringAndSize((const char *)job->data,
					(Py_ssize_t)job->len); /* new */
	if (buf != NULL)
		ret = PyObject_CallOneArg(inst->analyse, buf); /* new */
	Py_XDECREF(buf);
	took = mono_now() - started;
	if (ret == NULL) {
		call_raised(job, took);
		job->verdict = PMX_ERROR;
		return;
	}
	if (mono_now() >= job->deadline) {
		/* Its caller has answered NO_MATCH already. */
		inst_log(inst, PMX_LOG_WARN, "late",
			 "analyse() answered after %.3f s, past its %g s "
			 "timeout: answer dropped",
			 took, inst->timeout);
		job->verdict = PMX_NO_MATCH;
	} else {
		job->verdict = answer_read(job, ret);
	}
	Py_DECREF(ret);
}

void
script_run(struct job *job, double started)
{
	if (job->kind == JOB_LOAD)
		load(job);
	else
		call(job, started);
}

void
script_release(struct pyinst *inst)
{
	/* The module's globals and functions form a cycle: the collector
	 * frees them, running any __del__ on this thread. */
	Py_CLEAR(inst->analyse);
	Py_CLEAR(inst->module);
	Py_CLEAR(inst->filename);
}

void
script_drain(void)
{
	/* A Python function checks for pending asynchronous exceptions on
	 * entry: one meant for the call that just ended is raised (and
	 * dropped) here, not in the next script call on this thread. */
	PyObject *r = PyObject_CallNoArgs(pyrt.drain); /* new reference */

	if (r == NULL)
		PyErr_Clear();
	Py_XDECREF(r);
}
