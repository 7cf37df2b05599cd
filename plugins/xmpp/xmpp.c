/*
 * xmpp.so — recognises an XMPP stream header (RFC 6120 §4.7) and routes it
 * by its `to` domain.
 *
 * What a client sends first: an optional XML declaration `<?xml ...?>`,
 * then the opening tag of the stream element,
 *   <stream:stream to='example.com' version='1.0' xmlns='jabber:client'
 *     xmlns:stream='http://etherx.jabber.org/streams'>
 * with its attributes in any order, quoted with ' or ", separated by any
 * XML white space. The element is `stream` in the namespace
 * http://etherx.jabber.org/streams, under whatever prefix the header binds
 * to it (every real client writes "stream:"). The default namespace says
 * who talks: jabber:client (a client, port 5222) or jabber:server (another
 * server, port 5269).
 *
 * Verdicts: NO_MATCH as soon as the bytes cannot begin such a header (the
 * first byte is not '<', for a start); NEED_MORE while they are a valid
 * prefix of one shorter than XMPP_HEADER_MAX; MATCH once the tag is
 * closed by '>' and binds the stream namespace. With `final` (or at the
 * cap, or a full probe buffer) a prefix whose element name is complete and
 * is stream:stream (or whose prefix is bound already) matches too, routed
 * by `to` if that attribute had arrived whole.
 *
 * Result: key = the `to` domain ("" when absent or not a plausible domain:
 * the section's default route); alpn = "xmpp-client" for jabber:client,
 * "xmpp-server" for jabber:server (the ALPN names XMPP uses over TLS,
 * RFC 7590), so a route may send server-to-server streams elsewhere with
 * an `alpn:` choice.
 */
#include <portmux/detector.h>
#include <string.h>

/* Declaration plus stream header: real ones are 120 to 250 bytes, a `to`
 * is at most 1023 bytes by RFC 7622 but a DNS name at most 253. */
#define XMPP_HEADER_MAX 1024
#define XMPP_NAME_MAX 64  /* element or attribute name */
#define XMPP_ATTRS_MAX 16 /* real headers carry at most 7 */

static const char streams_ns[] = "http://etherx.jabber.org/streams";

enum parse { P_PARTIAL, P_INVALID, P_DONE };

struct span {
	const uint8_t *p; /* NULL: absent */
	size_t n;
};

/* What the header said so far. */
struct header {
	struct span prefix;     /* the element's prefix ("" when none) */
	int name_done;          /* the element name is complete: "stream" */
	struct span names[XMPP_ATTRS_MAX]; /* attributes seen, whole */
	size_t nattrs;
	struct span to;         /* value of `to`, when it arrived whole */
	struct span xmlns;      /* value of `xmlns` (default namespace) */
	struct span bound;      /* value of `xmlns:PREFIX` (or of xmlns when
				   the element has no prefix) */
};

struct cursor {
	const uint8_t *p;
	size_t len, i;
};

static int
span_is(struct span s, const char *text)
{
	size_t n = strlen(text);

	return s.p != NULL && s.n == n && memcmp(s.p, text, n) == 0;
}

static int
is_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* XML name characters (bytes >= 0x80: UTF-8 of non-ASCII ones). */
static int
is_name_start(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       c >= 0x80;
}

static int
is_name_char(uint8_t c)
{
	return is_name_start(c) || (c >= '0' && c <= '9') || c == '-' ||
	       c == '.' || c == ':';
}

static void
skip_space(struct cursor *c)
{
	while (c->i < c->len && is_space(c->p[c->i]))
		c->i++;
}

/* `text` at the cursor: P_DONE (consumed), P_PARTIAL (a prefix of it up
 * to the end of the bytes) or P_INVALID. */
static enum parse
expect(struct cursor *c, const char *text)
{
	for (size_t k = 0; text[k]; k++, c->i++) {
		if (c->i >= c->len)
			return P_PARTIAL;
		if (c->p[c->i] != (uint8_t)text[k])
			return P_INVALID;
	}
	return P_DONE;
}

/* The optional `<?xml ...?>`: nothing else may come before the stream. */
static enum parse
declaration(struct cursor *c)
{
	enum parse r;

	if (c->p[0] != '<' || (c->len >= 2 && c->p[1] != '?'))
		return P_DONE; /* no declaration */
	if (c->len < 2)
		return P_PARTIAL;
	if ((r = expect(c, "<?xml")) != P_DONE)
		return r;
	if (c->i >= c->len)
		return P_PARTIAL;
	if (!is_space(c->p[c->i]))
		return P_INVALID; /* another processing instruction */
	for (; c->i < c->len; c->i++) {
		uint8_t b = c->p[c->i];

		if (b < 0x20 && !is_space(b))
			return P_INVALID;
		if (b == '>' && c->p[c->i - 1] == '?') {
			c->i++;
			return P_DONE;
		}
	}
	return P_PARTIAL;
}

/* An XML name at the cursor; *out spans it once it is complete. */
static enum parse
name(struct cursor *c, struct span *out)
{
	size_t start = c->i;

	if (c->i >= c->len)
		return P_PARTIAL;
	if (!is_name_start(c->p[c->i]))
		return P_INVALID;
	while (c->i < c->len && is_name_char(c->p[c->i])) {
		if (c->i - start >= XMPP_NAME_MAX)
			return P_INVALID;
		c->i++;
	}
	if (c->i >= c->len)
		return P_PARTIAL;
	out->p = c->p + start;
	out->n = c->i - start;
	return P_DONE;
}

/* The element name: [PREFIX:]stream. */
static enum parse
element(struct cursor *c, struct header *h)
{
	struct span n;
	const uint8_t *colon;
	enum parse r;

	if ((r = expect(c, "<")) != P_DONE || (r = name(c, &n)) != P_DONE)
		return r;
	colon = memchr(n.p, ':', n.n);
	h->prefix.p = n.p;
	h->prefix.n = colon ? (size_t)(colon - n.p) : 0;
	if (colon && (colon == n.p || memchr(colon + 1, ':',
					      n.n - h->prefix.n - 1)))
		return P_INVALID;
	if (!span_is((struct span){colon ? colon + 1 : n.p,
				   colon ? n.n - h->prefix.n - 1 : n.n},
		     "stream"))
		return P_INVALID;
	h->name_done = 1;
	return P_DONE;
}

/* Does attribute `n` name the binding of the element's prefix? */
static int
binds_prefix(const struct header *h, struct span n)
{
	if (h->prefix.n == 0)
		return span_is(n, "xmlns");
	return n.n == 6 + h->prefix.n && memcmp(n.p, "xmlns:", 6) == 0 &&
	       memcmp(n.p + 6, h->prefix.p, h->prefix.n) == 0;
}

/* One attribute: name, '=', a quoted value (no '<' in it). */
static enum parse
attribute(struct cursor *c, struct header *h)
{
	struct span n, v;
	uint8_t quote;
	enum parse r;

	if ((r = name(c, &n)) != P_DONE)
		return r;
	for (size_t k = 0; k < h->nattrs; k++)
		if (h->names[k].n == n.n &&
		    memcmp(h->names[k].p, n.p, n.n) == 0)
			return P_INVALID; /* XML: each attribute once */
	if (h->nattrs == XMPP_ATTRS_MAX)
		return P_INVALID;
	h->names[h->nattrs++] = n;
	skip_space(c);
	if ((r = expect(c, "=")) != P_DONE)
		return r;
	skip_space(c);
	if (c->i >= c->len)
		return P_PARTIAL;
	quote = c->p[c->i++];
	if (quote != '\'' && quote != '"')
		return P_INVALID;
	v.p = c->p + c->i;
	for (; c->i < c->len && c->p[c->i] != quote; c->i++)
		if (c->p[c->i] == '<')
			return P_INVALID;
	if (c->i >= c->len)
		return P_PARTIAL;
	v.n = (size_t)(c->p + c->i - v.p);
	c->i++; /* the closing quote */
	if (span_is(n, "to"))
		h->to = v;
	if (span_is(n, "xmlns"))
		h->xmlns = v;
	if (binds_prefix(h, n))
		h->bound = v;
	return P_DONE;
}

/* The whole header, as far as the bytes go. */
static enum parse
header_parse(const uint8_t *p, size_t len, struct header *h)
{
	struct cursor c = {.p = p, .len = len, .i = 0};
	enum parse r;

	memset(h, 0, sizeof(*h));
	if (len == 0)
		return P_PARTIAL;
	if ((r = declaration(&c)) != P_DONE)
		return r;
	skip_space(&c);
	if ((r = element(&c, h)) != P_DONE)
		return r;
	for (;;) {
		size_t before = c.i;

		skip_space(&c);
		if (c.i >= c.len)
			return P_PARTIAL;
		if (c.p[c.i] == '>')
			return span_is(h->bound, streams_ns) ? P_DONE
							     : P_INVALID;
		if (c.i == before)
			return P_INVALID; /* attributes need space between */
		if ((r = attribute(&c, h)) != P_DONE)
			return r; /* "/>" too: a stream is never empty */
	}
}

/* A `to` worth routing by: a domain, no quoting or markup in it. */
static int
plausible_domain(struct span s)
{
	if (s.p == NULL || s.n == 0 || s.n > 253)
		return 0;
	for (size_t i = 0; i < s.n; i++) {
		uint8_t b = s.p[i];

		if (b <= 0x20 || b == 0x7f || b == '&' || b == '/' ||
		    b == '@' || b == '\'' || b == '"' || b == '>')
			return 0;
	}
	return 1;
}

static int
create(const struct pmx_host *host, const struct pmx_node *section,
       void **instance, char *err, size_t errlen)
{
	(void)host;
	(void)section; /* a route table, parsed by the core */
	(void)err;
	(void)errlen;
	*instance = NULL; /* stateless */
	return 0;
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	struct header h;
	size_t len = in->len < XMPP_HEADER_MAX ? in->len : XMPP_HEADER_MAX;
	int final = in->final || len == XMPP_HEADER_MAX ||
		    (in->capacity > 0 && in->len >= in->capacity);
	enum parse r = header_parse(in->data, len, &h);

	(void)instance;
	if (in->transport != PMX_TRANSPORT_TCP || r == P_INVALID)
		return PMX_NO_MATCH;
	if (r == P_PARTIAL && !final)
		return PMX_NEED_MORE;
	if (r == P_PARTIAL &&
	    !(h.name_done && (span_is(h.prefix, "stream") ||
			      span_is(h.bound, streams_ns))))
		return PMX_NO_MATCH;
	if (plausible_domain(h.to))
		pmx_result_setn(out->key, sizeof(out->key),
				(const char *)h.to.p, h.to.n);
	if (span_is(h.xmlns, "jabber:client"))
		pmx_result_set(out->alpn, "xmpp-client", 11);
	else if (span_is(h.xmlns, "jabber:server"))
		pmx_result_set(out->alpn, "xmpp-server", 11);
	return PMX_MATCH;
}

/*
 * A client PortMux cannot serve gets a stream error (RFC 6120 §4.9), in a
 * stream header of its own as §4.9.1.3 asks: host-unknown when no route
 * takes its domain, remote-connection-failed when its server is down.
 */
static size_t
reject(void *instance, int why, const struct pmx_probe_result *res,
       uint8_t *buf, size_t cap)
{
	static const char head[] = "<?xml version='1.0'?><stream:stream "
				   "xmlns='jabber:";
	static const char mid[] = "' xmlns:stream='http://etherx.jabber.org/"
				  "streams' version='1.0'><stream:error><";
	static const char tail[] = " xmlns='urn:ietf:params:xml:ns:"
				   "xmpp-streams'/></stream:error>"
				   "</stream:stream>";
	const char *ns = res && strcmp(res->alpn, "xmpp-server") == 0
				 ? "server"
				 : "client";
	const char *cond = why == PMX_REJECT_NO_ROUTE
				   ? "host-unknown"
				   : "remote-connection-failed";
	const char *parts[] = {head, ns, mid, cond, tail};
	size_t n = 0;

	(void)instance;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		n += strlen(parts[i]);
	if (n > cap)
		return 0;
	n = 0;
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		memcpy(buf + n, parts[i], strlen(parts[i]));
		n += strlen(parts[i]);
	}
	return n;
}

static const struct pmx_detector xmpp_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "xmpp",
	.version = "1.0",
	.description = "XMPP stream header (RFC 6120), routed by its `to` "
		       "domain; client or server stream as ALPN",
	.section = "XMPP",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
	.reject = reject,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &xmpp_detector;
}
