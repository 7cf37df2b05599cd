/*
 * answer.c — what analyse() returned, as a verdict.
 *
 *   int 1..65535            MATCH, backend "127.0.0.1:PORT"
 *   "host:port"             MATCH, backend as given; host is a name
 *   "[v6]:port"             (resolved by the core off its event loop),
 *                           an IPv4 literal, or a bracketed IPv6 literal
 *   None                    NO_MATCH: the next detector gets its turn
 *   portmux.NEED_MORE       NEED_MORE (NO_MATCH on the final call)
 *
 * Anything else (a bool, a float, a port out of range, a malformed or
 * malformed address...) is logged, rate limited, and counts as None.
 */
#include "worker.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* A DNS host name: labels of letters, digits, '-' and '_', 1 to 63 bytes,
 * 253 bytes in all, an optional trailing dot. */
static int
host_name_ok(const char *h)
{
	size_t n = strlen(h), label = 0;

	if (n > 0 && h[n - 1] == '.')
		n--;
	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (c == '.') {
			if (label == 0)
				return 0;
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '_') ||
		    ++label > 63)
			return 0;
	}
	return label > 0;
}

#define EXPECTED \
	"expected a port, \"host:port\", None or portmux.NEED_MORE"

static int
bad(const char *kind, PyObject *ret, const char *why)
{
	char key[128], text[96];

	py_text(ret, text, sizeof(text), 1);
	snprintf(key, sizeof(key), "returned %s %s", kind,
		 Py_TYPE(ret)->tp_name);
	wk_log(PMX_LOG_WARN, key,
	       "analyse() returned %s %s: %s; taken as None",
	       Py_TYPE(ret)->tp_name, text, why);
	return PMX_NO_MATCH;
}

static int
port_answer(PyObject *ret, char *backend, size_t cap)
{
	int overflow = 0;
	long port = PyLong_AsLongAndOverflow(ret, &overflow);

	if (port == -1 && PyErr_Occurred()) {
		PyErr_Clear();
		overflow = 1;
	}
	if (overflow || port < 1 || port > 65535)
		return bad("port", ret, "a port is 1 to 65535");
	snprintf(backend, cap, "127.0.0.1:%ld", port);
	return PMX_MATCH;
}

/* "host:port" with a host the core can connect to without resolving.
 * 0, or -1 and why. */
static int
backend_check(const char *s, size_t n, const char **why)
{
	char host[PMX_BACKEND_MAX];
	unsigned char addr[16];
	const char *colon;
	size_t hlen, plen;
	long port = 0;

	if (n == 0 || n >= PMX_BACKEND_MAX || memchr(s, '\0', n) != NULL) {
		*why = "expected \"host:port\" or \"[v6]:port\"";
		return -1;
	}
	colon = memrchr(s, ':', n);
	if (colon == NULL) {
		*why = "no \":port\"";
		return -1;
	}
	hlen = (size_t)(colon - s);
	plen = n - hlen - 1;
	for (size_t i = 0; i < plen; i++) {
		if (colon[1 + i] < '0' || colon[1 + i] > '9' || i >= 5) {
			port = -1;
			break;
		}
		port = port * 10 + (colon[1 + i] - '0');
	}
	if (plen == 0 || port < 1 || port > 65535) {
		*why = "the port must be 1 to 65535";
		return -1;
	}
	if (hlen >= 2 && s[0] == '[' && s[hlen - 1] == ']') {
		memcpy(host, s + 1, hlen - 2);
		host[hlen - 2] = '\0';
		if (inet_pton(AF_INET6, host, addr) == 1)
			return 0;
		*why = "not an IPv6 address between the brackets";
		return -1;
	}
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(AF_INET, host, addr) == 1 || host_name_ok(host))
		return 0;
	if (memchr(host, ':', hlen) != NULL || host[0] == '[')
		*why = "an IPv6 address goes in brackets: \"[v6]:port\"";
	else if (hlen == 0)
		*why = "no host before the port";
	else
		*why = "the host is neither an address nor a host name";
	return -1;
}

static int
string_answer(PyObject *ret, char *backend, size_t cap)
{
	Py_ssize_t n = 0;
	const char *s = PyUnicode_AsUTF8AndSize(ret, &n);
	const char *why = NULL;

	if (s == NULL) {
		PyErr_Clear();
		return bad("string", ret, "not encodable as UTF-8");
	}
	if (backend_check(s, (size_t)n, &why) < 0)
		return bad("string", ret, why);
	pmx_result_setn(backend, cap, s, (size_t)n);
	return PMX_MATCH;
}

int
answer_read(PyObject *ret, int final, char *backend, size_t cap)
{
	if (ret == Py_None)
		return PMX_NO_MATCH;
	if (ret == wk.need_more)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	/* bool is an int: True must not mean port 1. */
	if (PyLong_Check(ret) && !PyBool_Check(ret))
		return port_answer(ret, backend, cap);
	if (PyUnicode_Check(ret))
		return string_answer(ret, backend, cap);
	return bad("type", ret, EXPECTED);
}
