/*
 * http.so — recognises an HTTP/1.x request, or an HTTP/2 connection with
 * prior knowledge (h2c), and routes it by host.
 *
 * Request line (RFC 9112 §3): METHOD SP target SP "HTTP/1." DIGIT CRLF,
 * with a known method (RFC 9110, PATCH, WebDAV and friends); bare LF is
 * tolerated. The route key is the authority of an absolute-form or CONNECT
 * target, else the first Host header (any case, any position), else empty
 * (the "default" route; HTTP/1.0 clients may send no Host). The core strips
 * ":port", brackets and case. A WebSocket or h2c upgrade is an HTTP/1.1
 * request like any other.
 *
 * NEED_MORE while the bytes are a prefix of a valid request whose host is
 * not known yet: the request line is incomplete, or the headers have not
 * ended and no Host line has been seen. With `final` a valid request line
 * is enough (default route).
 *
 * HTTP/2 (h2.c, hpack.c): the 24-octet client preface "PRI * HTTP/2.0..."
 * (RFC 9113 §3.4), then frames up to the first HEADERS, whose HPACK block
 * gives the key: :authority, else the first host header, else empty. Every
 * proper prefix of the preface waits ("P" and "PR" could also begin POST
 * or PROPFIND: both agree on NEED_MORE). Once the preface is complete the
 * connection is HTTP/2 whatever follows: malformed frames or HPACK route
 * to the default instead of being offered to other detectors, and `final`
 * matches with what is known (a host header seen so far, or the default).
 * An HTTP/2 match offers "h2c" as its ALPN, so that routes can tell it
 * from HTTP/1.
 */
#include <portmux/detector.h>
#include <stdlib.h>
#include <string.h>

#include "h2.h"

static const char *const methods[] = {
	/* RFC 9110 */
	"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE",
	/* RFC 5789, and QUERY (draft) */
	"PATCH", "QUERY",
	/* WebDAV (RFC 4918, 3253, 3648, 3744, 4437, 4791, 5323, 5842) */
	"PROPFIND", "PROPPATCH", "MKCOL", "COPY", "MOVE", "LOCK", "UNLOCK",
	"SEARCH", "REPORT", "MKACTIVITY", "CHECKOUT", "CHECKIN", "UNCHECKOUT",
	"MERGE", "MKCALENDAR", "ACL", "BIND", "UNBIND", "REBIND", "LABEL",
	"MKWORKSPACE", "UPDATE", "VERSION-CONTROL", "BASELINE-CONTROL",
	"MKREDIRECTREF", "UPDATEREDIRECTREF", "ORDERPATCH",
	/* widespread extensions */
	"LINK", "UNLINK", "PURGE", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE",
	NULL,
};

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section;
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

enum scan { SCAN_NO, SCAN_MORE, SCAN_OK };

/* Method: a known one followed by SP. Sets *end past the SP. */
static enum scan
scan_method(const uint8_t *p, size_t len, size_t *end, int *is_connect)
{
	size_t n = 0;
	int prefix = 0;

	while (n < len && p[n] != ' ') {
		if (n > 20)
			return SCAN_NO;
		n++;
	}
	for (size_t i = 0; methods[i] != NULL; i++) {
		size_t ml = strlen(methods[i]);
		if (n < len) {
			if (ml == n && memcmp(methods[i], p, n) == 0) {
				*end = n + 1;
				*is_connect =
					strcmp(methods[i], "CONNECT") == 0;
				return SCAN_OK;
			}
		} else if (ml >= n && memcmp(methods[i], p, n) == 0) {
			prefix = 1;
		}
	}
	return prefix ? SCAN_MORE : SCAN_NO;
}

/* Line end at p[i]: CRLF or LF. Returns its length, 0 if not one, -1 if
 * the bytes stop inside it. */
static int
line_end(const uint8_t *p, size_t len, size_t i)
{
	if (i >= len)
		return -1;
	if (p[i] == '\n')
		return 1;
	if (p[i] != '\r')
		return 0;
	if (i + 1 >= len)
		return -1;
	return p[i + 1] == '\n' ? 2 : 0;
}

/* Request target and version. Sets the target span and *end past the
 * line end. */
static enum scan
scan_rest_of_line(const uint8_t *p, size_t len, size_t i, size_t *t0,
		  size_t *t1, size_t *end)
{
	static const char version[] = "HTTP/1.";
	int le;

	*t0 = i;
	while (i < len && p[i] != ' ') {
		if (p[i] < 0x21 || p[i] == 0x7f)
			return SCAN_NO;
		i++;
	}
	if (i >= len)
		return SCAN_MORE;
	*t1 = i;
	if (*t1 == *t0)
		return SCAN_NO;
	i++; /* SP */
	for (size_t k = 0; k < 7; k++, i++) {
		if (i >= len)
			return SCAN_MORE;
		if (p[i] != (uint8_t)version[k])
			return SCAN_NO;
	}
	if (i >= len)
		return SCAN_MORE;
	if (p[i] < '0' || p[i] > '9')
		return SCAN_NO;
	i++;
	le = line_end(p, len, i);
	if (le < 0)
		return SCAN_MORE;
	if (le == 0)
		return SCAN_NO;
	*end = i + (size_t)le;
	return SCAN_OK;
}

/* The authority of "scheme://[user@]host[:port]/..." or of a CONNECT
 * target. Returns 1 and the span, 0 if there is none. */
static int
target_authority(const uint8_t *p, size_t t0, size_t t1, int is_connect,
		 size_t *a0, size_t *a1)
{
	size_t i = t0;

	if (!is_connect) {
		size_t k = t0;
		while (k + 2 < t1 && p[k] != ':' && p[k] != '/')
			k++;
		if (k + 2 >= t1 || p[k] != ':' || p[k + 1] != '/' ||
		    p[k + 2] != '/')
			return 0;
		i = k + 3;
	}
	*a0 = i;
	while (i < t1 && p[i] != '/' && p[i] != '?' && p[i] != '#') {
		if (p[i] == '@')
			*a0 = i + 1;
		i++;
	}
	*a1 = i;
	return *a1 > *a0;
}

static int
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/*
 * Walk the header lines from i. Returns SCAN_OK with the Host value span
 * (h0 == h1 when there is none) once a Host line is complete or the
 * headers end; SCAN_MORE otherwise; SCAN_NO on a malformed line.
 */
static enum scan
scan_headers(const uint8_t *p, size_t len, size_t i, size_t *h0, size_t *h1)
{
	*h0 = *h1 = 0;
	for (;;) {
		size_t start = i, colon = 0;
		int le = line_end(p, len, i);

		if (le < 0)
			return SCAN_MORE;
		if (le > 0)
			return SCAN_OK; /* blank line: end of headers */
		while (i < len && p[i] != '\r' && p[i] != '\n') {
			if (colon == 0 && p[i] == ':')
				colon = i;
			i++;
		}
		le = line_end(p, len, i);
		if (le < 0)
			return SCAN_MORE;
		if (le == 0 || colon == 0 || colon == start)
			return SCAN_NO;
		if (colon - start == 4 && lower(p[start]) == 'h' &&
		    lower(p[start + 1]) == 'o' && lower(p[start + 2]) == 's' &&
		    lower(p[start + 3]) == 't') {
			size_t v0 = colon + 1, v1 = i;
			while (v0 < v1 && (p[v0] == ' ' || p[v0] == '\t'))
				v0++;
			while (v1 > v0 &&
			       (p[v1 - 1] == ' ' || p[v1 - 1] == '\t'))
				v1--;
			*h0 = v0;
			*h1 = v1;
			return SCAN_OK;
		}
		i += (size_t)le;
	}
}

static enum pmx_verdict
more(const struct pmx_probe_input *in)
{
	return in->final ? PMX_NO_MATCH : PMX_NEED_MORE;
}

/* HTTP/2 in clear text is "h2c" (RFC 9113 §3.1): as the secondary key it
 * lets a route send h2c and HTTP/1 of one host to different backends
 * (`alpn: h2c`), since an HTTP/1-only server cannot take h2c. */
static enum pmx_verdict
h2_match(struct pmx_probe_result *out)
{
	pmx_result_set(out->alpn, "h2c", 3);
	return PMX_MATCH;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	const uint8_t *p = in->data;
	size_t len = in->len, i, t0 = 0, t1 = 0, a0, a1, h0, h1;
	int is_connect = 0;
	enum scan s;

	(void)instance;
	switch (h2_probe(p, len, out->key, sizeof(out->key))) {
	case H2_MATCH:
		return h2_match(out);
	case H2_MORE:
		if (in->final)
			return h2_match(out); /* with the key known so far */
		out->key[0] = '\0';
		return PMX_NEED_MORE;
	case H2_PREFACE:
		/* Too short for HTTP/1 to match either ("PRI" is no
		 * method): wait, or let it decline. */
		if (!in->final)
			return PMX_NEED_MORE;
		break;
	case H2_NOT:
		break;
	}
	s = scan_method(p, len, &i, &is_connect);
	if (s != SCAN_OK)
		return s == SCAN_MORE ? more(in) : PMX_NO_MATCH;
	s = scan_rest_of_line(p, len, i, &t0, &t1, &i);
	if (s == SCAN_NO)
		return PMX_NO_MATCH;
	if (s == SCAN_MORE) {
		/* With final, a known method and the start of a target are
		 * HTTP enough; the host is unknown: default route. */
		return in->final && len > i ? PMX_MATCH : more(in);
	}
	if (target_authority(p, t0, t1, is_connect, &a0, &a1)) {
		pmx_result_setn(out->key, sizeof(out->key),
				(const char *)p + a0, a1 - a0);
		return PMX_MATCH;
	}
	s = scan_headers(p, len, i, &h0, &h1);
	if (s == SCAN_OK) {
		pmx_result_setn(out->key, sizeof(out->key),
				(const char *)p + h0, h1 - h0);
		return PMX_MATCH;
	}
	if (s == SCAN_NO || in->final)
		return PMX_MATCH; /* a valid request line: default route */
	return PMX_NEED_MORE;
}

/*
 * A client PortMux cannot serve hears why, in HTTP: 421 Misdirected Request
 * when no route takes its host (RFC 9110 §15.5.20: this server does not
 * answer for that authority), 502 Bad Gateway when its backend is down.
 * An h2c client gets a plain close: an HTTP/1 answer would be noise to it.
 */
static size_t
reject(void *instance, int why, const struct pmx_probe_result *res,
       uint8_t *buf, size_t cap)
{
	static const char no_route[] =
		"HTTP/1.1 421 Misdirected Request\r\n"
		"Content-Type: text/plain\r\nContent-Length: 32\r\n"
		"Connection: close\r\n\r\n"
		"portmux: no route for this host\n";
	static const char down[] =
		"HTTP/1.1 502 Bad Gateway\r\n"
		"Content-Type: text/plain\r\nContent-Length: 36\r\n"
		"Connection: close\r\n\r\n"
		"portmux: the backend is unreachable\n";
	const char *msg = why == PMX_REJECT_NO_ROUTE ? no_route : down;
	size_t n = strlen(msg);

	(void)instance;
	if (res != NULL && strcmp(res->alpn, "h2c") == 0)
		return 0;
	if (n > cap)
		return 0;
	memcpy(buf, msg, n);
	return n;
}

static const struct pmx_detector http_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "http",
	.version = "1.1",
	.description = "HTTP/1.x request routed by Host, or HTTP/2 with prior "
		       "knowledge (h2c) routed by :authority",
	.section = "HTTP",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
	.reject = reject,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &http_detector;
}
