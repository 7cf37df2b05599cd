/*
 * postgres.so — recognises a PostgreSQL client by its first message
 * (PostgreSQL docs, "Frontend/Backend Protocol", Message Formats): a
 * 4-byte big-endian length that counts itself, then a 4-byte code.
 *
 *   StartupMessage  code 0x0003mmmm (protocol 3.m), then parameters as
 *                   NUL-terminated name/value pairs, then one NUL
 *   SSLRequest      length 8, code 80877103 (0x04d2162f)
 *   GSSENCRequest   length 8, code 80877104 (0x04d21630)
 *   CancelRequest   length 16 (up to 268 with protocol 3.2's longer
 *                   keys), code 80877102 (0x04d2162e), process id, key
 *
 * The server refuses a startup packet longer than 10000 bytes
 * (MAX_STARTUP_PACKET_LENGTH), so the length's first two bytes are zero.
 * Verdicts: NEED_MORE while the bytes are a prefix of one of these, NO_MATCH
 * at the first that cannot be; the three requests MATCH on their 8 bytes
 * of length and code; a StartupMessage MATCHes once complete, its layout
 * checked (names printable and not empty, values any bytes, the last byte
 * the terminator). With `final` (or a full probe buffer) a StartupMessage
 * cut short matches too, on at least its 8 bytes.
 *
 * Result: key = the StartupMessage's `database`, else its `user` (which
 * is the database the server then uses), else "" (the section's default
 * route). A request has no name: SSLRequest (libpq's default,
 * sslmode=prefer) and GSSENCRequest come before the StartupMessage, which
 * is then encrypted; CancelRequest names a backend process by number. All
 * three go to `default`. A StartupMessage cut short by `final` routes by
 * its database if that pair was complete, else to `default`.
 *
 * Other protocols: a PostgreSQL message starts with 0x00 0x00; of the
 * others only OpenVPN's TCP length can start with 0x00, and its second
 * byte (14..255) is never zero.
 */
#include <portmux/detector.h>

#include <string.h>

#define HEAD 8                  /* length, code */
#define STARTUP_MIN (HEAD + 1)  /* no parameters: the terminator alone */
#define STARTUP_MAX 10000       /* MAX_STARTUP_PACKET_LENGTH */
#define CANCEL_MIN 16
#define CANCEL_MAX (12 + 256)   /* protocol 3.2: keys up to 256 bytes */
#define REQUEST_CODE_HI 0x04d2  /* 1234, the high half of the codes */
#define CANCEL_LO 5678          /* 0x162e */
#define SSL_LO 5679             /* 0x162f */
#define GSSENC_LO 5680          /* 0x1630 */

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

static uint32_t
be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

/* May a message of length `mlen` start with the code bytes c[0..n)? */
static int
code_ok(const uint8_t *c, size_t n, uint32_t mlen)
{
	static const uint8_t req[3] = {0x04, 0xd2, 0x16};
	unsigned lo;

	if (n == 0)
		return 1;
	if (c[0] == 0x00) /* StartupMessage, protocol 3.x */
		return mlen >= STARTUP_MIN && (n < 2 || c[1] == 0x03) &&
		       (n < 3 || c[2] == 0x00);
	for (size_t i = 0; i < n && i < 3; i++)
		if (c[i] != req[i])
			return 0;
	if (n < 4)
		return mlen == HEAD ||
		       (mlen >= CANCEL_MIN && mlen <= CANCEL_MAX);
	lo = 0x1600u | c[3];
	if (lo == SSL_LO || lo == GSSENC_LO)
		return mlen == HEAD;
	return lo == CANCEL_LO && mlen >= CANCEL_MIN && mlen <= CANCEL_MAX;
}

/* A parameter's text at p (n bytes in hand, up to `end`): up to its NUL.
 * *len = its length once the NUL is in (returns 1), 0 while cut short,
 * -1 when it runs into the end. */
static int
param_text(const uint8_t *p, size_t n, size_t end, int is_name, size_t *len)
{
	for (size_t i = 0; i < end; i++) {
		if (i >= n)
			return 0;
		if (p[i] == 0) {
			*len = i;
			return 1;
		}
		if (is_name && (p[i] <= 0x20 || p[i] >= 0x7f))
			return -1;
	}
	return -1;
}

struct startup {
	const uint8_t *database, *user; /* values, NULL when not (yet) seen */
	size_t database_len, user_len;
};

static int
is_param(const uint8_t *name, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(name, want, len) == 0;
}

/*
 * The parameters of a StartupMessage: p holds n bytes of the `end` after
 * its header. 1: complete and well formed; 0: a valid prefix; -1: not a
 * StartupMessage's layout. Fills *s with the complete pairs seen.
 */
static int
parse_params(const uint8_t *p, size_t n, size_t end, struct startup *s)
{
	size_t at = 0, name_len, value_len;
	int r;

	for (;;) {
		if (at >= end)
			return -1; /* no terminator */
		if (at >= n)
			return 0;
		if (p[at] == 0) /* the terminator: the last byte */
			return at + 1 == end ? 1 : -1;
		r = param_text(p + at, n - at, end - at, 1, &name_len);
		if (r <= 0)
			return r;
		const uint8_t *name = p + at;
		size_t vat = at + name_len + 1;
		r = param_text(p + vat, n > vat ? n - vat : 0,
			       end > vat ? end - vat : 0, 0, &value_len);
		if (r <= 0)
			return r;
		if (is_param(name, name_len, "database")) {
			s->database = p + vat;
			s->database_len = value_len;
		} else if (is_param(name, name_len, "user")) {
			s->user = p + vat;
			s->user_len = value_len;
		}
		at = vat + value_len + 1;
	}
}

static void
set_key(struct pmx_probe_result *out, const uint8_t *v, size_t len)
{
	if (v != NULL && len > 0 && len < sizeof(out->key))
		pmx_result_setn(out->key, sizeof(out->key), (const char *)v,
				len);
}

static enum pmx_verdict
probe(void *instance, const struct pmx_probe_input *in,
      struct pmx_probe_result *out)
{
	/* A full buffer will not grow: decide now. */
	int final = in->final || (in->capacity > 0 && in->len >= in->capacity);
	const uint8_t *p = in->data;
	size_t len = in->len, n;
	struct startup s = {0};
	uint32_t mlen;
	int r;

	(void)instance;
	if (in->transport != PMX_TRANSPORT_TCP)
		return PMX_NO_MATCH;
	/* The length: at most STARTUP_MAX (0x2710), at least HEAD. */
	if ((len >= 1 && p[0] != 0) || (len >= 2 && p[1] != 0) ||
	    (len >= 3 && p[2] > (STARTUP_MAX >> 8)))
		return PMX_NO_MATCH;
	if (len < 4)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	mlen = be32(p);
	if (mlen < HEAD || mlen > STARTUP_MAX)
		return PMX_NO_MATCH;
	if (!code_ok(p + 4, len < HEAD ? len - 4 : 4, mlen))
		return PMX_NO_MATCH;
	if (len < HEAD)
		return final ? PMX_NO_MATCH : PMX_NEED_MORE;
	if (p[4] != 0x00)
		return PMX_MATCH; /* a request: no name to route by */
	n = len < mlen ? len : mlen;
	r = parse_params(p + HEAD, n - HEAD, mlen - HEAD, &s);
	if (r < 0)
		return PMX_NO_MATCH;
	if (r == 0 && !final)
		return PMX_NEED_MORE;
	if (s.database_len > 0) /* empty: the server takes the user's */
		set_key(out, s.database, s.database_len);
	else if (r == 1)
		set_key(out, s.user, s.user_len);
	return PMX_MATCH;
}

/*
 * A client PortMux cannot serve hears why, as a server would say it: an
 * ErrorResponse (severity FATAL, an SQLSTATE, a message). After a
 * StartupMessage it is the answer the client waits for, and psql prints
 * the message. In answer to an SSLRequest or GSSENCRequest it is how a
 * server that could not start a backend fails: current libpq reports
 * "an error response during SSL exchange" without the text (it no longer
 * trusts text sent before encryption, CVE-2024-10977). SQLSTATE 08004
 * (sqlserver_rejected_establishment_of_sqlconnection) when no route takes
 * the database, 08006 (connection_failure) when its server is down.
 */
static size_t
error_response(const char *sqlstate, const char *msg, uint8_t *buf,
	       size_t cap)
{
	const char *const fields[] = {"SFATAL", "VFATAL", sqlstate, msg};
	size_t n = 5; /* 'E', length */

	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		size_t len = strlen(fields[i]) + 1; /* with its NUL */

		if (n + len + 1 > cap)
			return 0;
		memcpy(buf + n, fields[i], len);
		n += len;
	}
	buf[n++] = 0; /* no more fields */
	buf[0] = 'E';
	buf[1] = (uint8_t)((n - 1) >> 24);
	buf[2] = (uint8_t)((n - 1) >> 16);
	buf[3] = (uint8_t)((n - 1) >> 8);
	buf[4] = (uint8_t)(n - 1);
	return n;
}

static size_t
reject(void *instance, int why, const struct pmx_probe_result *res,
       uint8_t *buf, size_t cap)
{
	(void)instance;
	(void)res;
	if (why == PMX_REJECT_NO_ROUTE)
		return error_response("C08004",
				      "Mportmux: no route for this database",
				      buf, cap);
	return error_response("C08006",
			      "Mportmux: the database server is unreachable",
			      buf, cap);
}

static const struct pmx_detector postgres_detector = {
	.abi_version = PMX_DETECTOR_ABI_VERSION,
	.struct_size = sizeof(struct pmx_detector),
	.name = "postgres",
	.version = "1.0",
	.description = "PostgreSQL StartupMessage (routed by database or "
		       "user), SSLRequest, GSSENCRequest, CancelRequest",
	.section = "POSTGRES",
	.flags = PMX_DF_TCP | PMX_DF_ROUTES,
	.create = create,
	.probe = probe,
	.destroy = NULL,
	.reject = reject,
};

PMX_EXPORT const struct pmx_detector *
pmx_detector_entry(void)
{
	return &postgres_detector;
}
