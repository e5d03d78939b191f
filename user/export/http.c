// SPDX-License-Identifier: GPL-2.0-only
/*
 * HTTP endpoint on libmicrohttpd's internal polling thread. Requests are served one at a
 * time on that thread, so before_scrape() and the render never run concurrently with
 * another scrape.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "export/http.h"
#include "lib/digest.h"
#include "lib/log.h"

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CT_PLAIN "text/plain; charset=utf-8"

struct http_server {
	struct MHD_Daemon *daemon;
	struct http_handlers h;
	/* While MHD_start_daemon() runs, its complaints belong in the caller's err. */
	atomic_bool starting;
	char start_err[256];
	pthread_mutex_t auth_lock; /* auth changes at a reload, on the loop's thread */
	struct auth_config auth;
	char *cert, *key; /* PEM, for the lifetime of the MHD daemon */
	size_t key_len;
};

/* ---- content negotiation ----------------------------------------------------------- */

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && (*p == ' ' || *p == '\t'))
		p++;
	return p;
}

static const char *trim_end(const char *start, const char *end)
{
	while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	return end;
}

/*
 * One element of a comma-separated header list: the token before the first ';' and its
 * q parameter (RFC 9110 12.4.2; 1 when absent, 0 for "q=0", "q=0.0", "q=0.000").
 */
struct list_item {
	const char *tok;
	size_t tok_len;
	double q;
};

static const char *list_next(const char *p, struct list_item *it)
{
	const char *end = p + strcspn(p, ","), *semi, *param, *pend;

	p = skip_ws(p, end);
	semi = memchr(p, ';', (size_t)(end - p));
	it->tok = p;
	it->tok_len = (size_t)(trim_end(p, semi ? semi : end) - p);
	it->q = 1;
	for (param = semi; param && param < end; param = pend) {
		char num[16];
		size_t n;

		param = skip_ws(param + 1, end);
		pend = memchr(param, ';', (size_t)(end - param));
		if (!pend)
			pend = end;
		if ((size_t)(pend - param) < 2 || (param[0] != 'q' && param[0] != 'Q') ||
		    param[1] != '=')
			continue;
		n = (size_t)(trim_end(param + 2, pend) - (param + 2));
		if (n == 0 || n >= sizeof(num))
			continue;
		memcpy(num, param + 2, n);
		num[n] = '\0';
		it->q = strtod(num, NULL);
	}
	return *end ? end + 1 : end;
}

static bool tok_is(const struct list_item *it, const char *s)
{
	return it->tok_len == strlen(s) && !strncasecmp(it->tok, s, it->tok_len);
}

bool http__wants_openmetrics(const char *accept)
{
	struct list_item it;
	const char *p = accept;

	if (!p)
		return false;
	while (*p) {
		p = list_next(p, &it);
		/* Media types are case-insensitive (RFC 9110 8.3.1). Prometheus lists it with
		 * the highest q when it can parse it, so any q > 0 means it can. */
		if (tok_is(&it, "application/openmetrics-text") && it.q > 0)
			return true;
	}
	return false;
}

bool http__accepts_gzip(const char *accept_encoding)
{
	struct list_item it;
	const char *p = accept_encoding;
	int gzip = -1, star = -1;

	if (!p)
		return false;
	while (*p) {
		p = list_next(p, &it);
		if (tok_is(&it, "gzip") || tok_is(&it, "x-gzip"))
			gzip = it.q > 0;
		else if (tok_is(&it, "*"))
			star = it.q > 0;
	}
	/* An explicit gzip entry wins; "*" covers codings not listed (RFC 9110 12.5.3). */
	if (gzip >= 0)
		return gzip;
	return star > 0;
}

int http__gzip(const char *in, size_t n, struct strbuf *out)
{
	unsigned char chunk[16384];
	z_stream zs;
	int ret, err = 0;

	memset(&zs, 0, sizeof(zs));
	/* windowBits 15 + 16: gzip framing, not zlib. Level 1: metrics text is repetitive
	 * enough that higher levels buy little and cost several ms per scrape. */
	if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	zs.next_in = (Bytef *)in;
	do {
		/* avail_in is 32 bits; feed large inputs in slices. */
		size_t slice = n > (1u << 30) ? (1u << 30) : n;

		zs.avail_in = (uInt)slice;
		n -= slice;
		do {
			zs.next_out = chunk;
			zs.avail_out = sizeof(chunk);
			ret = deflate(&zs, n ? Z_NO_FLUSH : Z_FINISH);
			if (ret == Z_STREAM_ERROR) {
				err = -EINVAL;
				goto cleanup;
			}
			err = strbuf__append(out, (const char *)chunk,
					     sizeof(chunk) - zs.avail_out);
			if (err)
				goto cleanup;
		} while (zs.avail_out == 0);
	} while (n);
	if (ret != Z_STREAM_END)
		err = -EIO;
cleanup:
	deflateEnd(&zs);
	return err;
}

/* ---- credentials ------------------------------------------------------------------- */

static int b64val(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/* RFC 4648 base64 with padding; returns the decoded length or -1. */
static ssize_t b64decode(const char *in, size_t n, uint8_t *out, size_t cap)
{
	size_t i, o = 0;
	uint32_t acc = 0;
	int bits = 0, pad = 0, v;

	if (n % 4)
		return -1;
	for (i = 0; i < n; i++) {
		if (in[i] == '=') {
			if (i < n - 2 || (i == n - 2 && in[n - 1] != '='))
				return -1;
			pad++;
			continue;
		}
		v = b64val((unsigned char)in[i]);
		if (v < 0)
			return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o >= cap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	(void)pad;
	return (ssize_t)o;
}

/*
 * The presented secret (and user name) is hashed and compared with the configured digest
 * in constant time: the time depends on the presented length only, never on the secret or
 * on where the two differ. Both comparisons always run.
 */
bool http__authorized(const struct auth_config *auth, const char *authorization)
{
	uint8_t want_user[SHA256_LEN], got_user[SHA256_LEN], got[SHA256_LEN], buf[1024];
	const char *p = authorization, *colon;
	bool user_ok, secret_ok;
	ssize_t n;

	if (!auth || auth->type == AUTH_NONE)
		return true;
	if (!p)
		return false;
	while (*p == ' ')
		p++;
	if (auth->type == AUTH_BEARER) {
		if (strncasecmp(p, "Bearer ", 7))
			return false;
		for (p += 7; *p == ' '; p++)
			;
		sha256(p, strlen(p), got);
		return digest__equal(got, auth->secret_sha256, SHA256_LEN);
	}
	if (strncasecmp(p, "Basic ", 6))
		return false;
	for (p += 6; *p == ' '; p++)
		;
	n = b64decode(p, strlen(p), buf, sizeof(buf) - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	colon = memchr(buf, ':', (size_t)n);
	if (!colon) {
		explicit_bzero(buf, sizeof(buf));
		return false;
	}
	sha256(auth->username, strlen(auth->username), want_user);
	sha256(buf, (size_t)(colon - (char *)buf), got_user);
	sha256(colon + 1, (size_t)(n - (colon + 1 - (char *)buf)), got);
	explicit_bzero(buf, sizeof(buf));
	user_ok = digest__equal(got_user, want_user, SHA256_LEN);
	secret_ok = digest__equal(got, auth->secret_sha256, SHA256_LEN);
	return user_ok & secret_ok;
}

static enum MHD_Result unauthorized(struct MHD_Connection *conn, enum auth_type type)
{
	static const char body[] = "unauthorized\n";
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, CT_PLAIN);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE,
				type == AUTH_BEARER ? "Bearer realm=\"fogprobe\"" :
						      "Basic realm=\"fogprobe\", charset=\"UTF-8\"");
	ret = MHD_queue_response(conn, MHD_HTTP_UNAUTHORIZED, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* ---- request handling -------------------------------------------------------------- */

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int status,
			     const char *content_type, const char *body)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	resp = MHD_create_response_from_buffer(strlen(body), (void *)body,
					       MHD_RESPMEM_PERSISTENT);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* 200 with the JSON in out (taken over), or 500 when rendering it failed (err or empty). */
static enum MHD_Result reply_json(struct MHD_Connection *conn, int err, struct strbuf *out)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (err || !out->buf) {
		strbuf__free(out);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_PLAIN, "render failed\n");
	}
	resp = MHD_create_response_from_buffer(out->len, out->buf, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		strbuf__free(out);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result serve_metrics(struct http_server *s, struct MHD_Connection *conn)
{
	const char *accept, *encoding;
	struct MHD_Response *resp;
	struct strbuf text, gz;
	enum metrics_format fmt;
	bool gzip;
	enum MHD_Result ret;
	int err;

	accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	encoding = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
					       MHD_HTTP_HEADER_ACCEPT_ENCODING);
	fmt = http__wants_openmetrics(accept) ? METRICS_OPENMETRICS : METRICS_TEXT_004;
	gzip = http__accepts_gzip(encoding);

	if (s->h.before_scrape)
		s->h.before_scrape(s->h.ctx);

	strbuf__init(&text);
	strbuf__init(&gz);
	err = metrics__render(s->h.registry, &text, fmt);
	if (!err && gzip)
		err = http__gzip(text.buf ? text.buf : "", text.len, &gz);
	if (err) {
		/* A truncated exposition would read as series disappearing: fail the scrape. */
		pr_warn("rendering /metrics: %s\n", strerror(-err));
		strbuf__free(&text);
		strbuf__free(&gz);
		return reply(conn, MHD_HTTP_INTERNAL_SERVER_ERROR, CT_PLAIN, "render failed\n");
	}
	if (gzip) {
		strbuf__free(&text);
		text = gz;
	}
	/* MHD frees the buffer with free() once sent; the strbuf gives up ownership. */
	resp = MHD_create_response_from_buffer(text.len, text.buf ? text.buf : (void *)"",
					       text.buf ? MHD_RESPMEM_MUST_FREE :
							  MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		strbuf__free(&text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
				fmt == METRICS_OPENMETRICS ? CT_OPENMETRICS : CT_TEXT);
	if (gzip)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_VARY, "Accept, Accept-Encoding");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result serve_events(struct http_server *s, struct MHD_Connection *conn)
{
	const char *since = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "since");
	unsigned long long n = 0;
	struct strbuf out;
	char *end;

	if (since) {
		errno = 0;
		n = strtoull(since, &end, 10);
		if (!*since || *end || errno)
			return reply(conn, MHD_HTTP_BAD_REQUEST, CT_PLAIN,
				     "since must be an event sequence number\n");
	}
	strbuf__init(&out);
	return reply_json(conn, s->h.events(s->h.ctx, n, &out), &out);
}

static enum MHD_Result serve_alerts(struct http_server *s, struct MHD_Connection *conn)
{
	struct strbuf out;

	strbuf__init(&out);
	return reply_json(conn, s->h.alerts(s->h.ctx, &out), &out);
}

static enum MHD_Result http__handle(void *cls, struct MHD_Connection *conn, const char *url,
				    const char *method, const char *version,
				    const char *upload_data, size_t *upload_data_size,
				    void **con_cls)
{
	struct http_server *s = cls;

	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;

	/* HEAD gets GET's headers; MHD drops the body itself. */
	if (strcmp(method, MHD_HTTP_METHOD_GET) && strcmp(method, MHD_HTTP_METHOD_HEAD))
		return reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, CT_PLAIN, "method not allowed\n");
	/* Liveness and readiness stay open: kubelet and systemd probes carry no
	 * credentials, and the answers say nothing but "up" and "attached". */
	if (strcmp(url, "/healthz") && strcmp(url, "/readyz")) {
		enum auth_type type;
		bool ok;

		pthread_mutex_lock(&s->auth_lock);
		type = s->auth.type;
		ok = http__authorized(&s->auth,
				      MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
								  MHD_HTTP_HEADER_AUTHORIZATION));
		pthread_mutex_unlock(&s->auth_lock);
		if (!ok)
			return unauthorized(conn, type);
	}
	if (!strcmp(url, "/metrics"))
		return serve_metrics(s, conn);
	if (!strcmp(url, "/healthz"))
		return reply(conn, MHD_HTTP_OK, CT_PLAIN, "ok\n");
	if (!strcmp(url, "/api/events") && s->h.events)
		return serve_events(s, conn);
	if (!strcmp(url, "/api/v1/alerts") && s->h.alerts)
		return serve_alerts(s, conn);
	if (!strcmp(url, "/readyz")) {
		if (!s->h.ready || s->h.ready(s->h.ctx))
			return reply(conn, MHD_HTTP_OK, CT_PLAIN, "ready\n");
		return reply(conn, MHD_HTTP_SERVICE_UNAVAILABLE, CT_PLAIN, "not ready\n");
	}
	return reply(conn, MHD_HTTP_NOT_FOUND, CT_PLAIN, "not found\n");
}

static void http__log(void *cls, const char *fmt, va_list ap)
{
	struct http_server *s = cls;
	char msg[256];
	size_t n;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n && msg[n - 1] == '\n')
		msg[--n] = '\0';
	if (atomic_load(&s->starting)) {
		snprintf(s->start_err, sizeof(s->start_err), "%s", msg);
		return;
	}
	pr_warn("http: %s\n", msg);
}

/* ---- lifecycle --------------------------------------------------------------------- */

/* "HOST:PORT", "[v6]:PORT", ":PORT" (all IPv4 addresses). */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, char *err,
			size_t errlen)
{
	struct addrinfo hints = { 0 }, *res = NULL;
	const char *colon, *host_start, *host_end;
	char host[256], *endp;
	unsigned long port;
	int ret;

	colon = strrchr(listen, ':');
	if (!colon) {
		snprintf(err, errlen, "listen address %s: expected HOST:PORT", listen);
		return -EINVAL;
	}
	host_start = listen;
	host_end = colon;
	if (*listen == '[') {
		if (colon == listen || colon[-1] != ']') {
			snprintf(err, errlen, "listen address %s: expected [IPV6]:PORT", listen);
			return -EINVAL;
		}
		host_start++;
		host_end--;
	} else if (memchr(listen, ':', (size_t)(colon - listen))) {
		/* "::1:9477" cannot be split reliably; RFC 3986 brackets can. */
		snprintf(err, errlen, "listen address %s: put IPv6 addresses in brackets",
			 listen);
		return -EINVAL;
	}
	errno = 0;
	port = strtoul(colon + 1, &endp, 10);
	if (!colon[1] || *endp || errno || port == 0 || port > 65535) {
		snprintf(err, errlen, "listen address %s: invalid port", listen);
		return -EINVAL;
	}
	if ((size_t)(host_end - host_start) >= sizeof(host)) {
		snprintf(err, errlen, "listen address %s: host too long", listen);
		return -EINVAL;
	}
	memcpy(host, host_start, (size_t)(host_end - host_start));
	host[host_end - host_start] = '\0';
	if (!*host)
		snprintf(host, sizeof(host), "0.0.0.0");

	hints.ai_family = *listen == '[' ? AF_INET6 : AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	ret = getaddrinfo(host, colon + 1, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "listen address %s: %s", listen, gai_strerror(ret));
		return -EINVAL;
	}
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	freeaddrinfo(res);
	return 0;
}

static void addr_str(const struct sockaddr_storage *ss, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;

		inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
	} else {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;

		inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
	}
}

/* A PEM file into memory (NUL-terminated, as GnuTLS wants it). */
static char *read_pem(const char *path, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st)) {
		snprintf(err, errlen, "tls: %s: %s", path, strerror(errno));
		goto fail;
	}
	if (st.st_size > (1 << 20)) {
		snprintf(err, errlen, "tls: %s: larger than 1 MiB", path);
		goto fail;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		snprintf(err, errlen, "tls: %s: %s", path, strerror(ENOMEM));
		goto fail;
	}
	while (got < (size_t)st.st_size &&
	       (n = read(fd, buf + got, (size_t)st.st_size - got)) > 0)
		got += (size_t)n;
	if (got != (size_t)st.st_size) {
		snprintf(err, errlen, "tls: %s: short read", path);
		goto fail;
	}
	buf[got] = '\0';
	*len = got;
	close(fd);
	return buf;
fail:
	free(buf);
	if (fd >= 0)
		close(fd);
	return NULL;
}

static void free_server(struct http_server *s)
{
	if (s->key)
		explicit_bzero(s->key, s->key_len);
	free(s->key);
	free(s->cert);
	explicit_bzero(&s->auth, sizeof(s->auth));
	pthread_mutex_destroy(&s->auth_lock);
	free(s);
}

void http__set_auth(struct http_server *s, const struct auth_config *auth)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->auth_lock);
	if (auth)
		s->auth = *auth;
	else
		memset(&s->auth, 0, sizeof(s->auth));
	pthread_mutex_unlock(&s->auth_lock);
}

struct http_server *http__start(const char *listen, const struct tls_config *tls,
				const struct auth_config *auth, const struct http_handlers *h,
				char *err, size_t errlen)
{
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	struct sockaddr_storage ss = { 0 };
	struct http_server *s;
	char where[INET6_ADDRSTRLEN + 16];
	bool use_tls = tls && tls->cert_file[0];
	size_t cert_len;
	uint16_t port;
	int saved;

	if (!listen || !h || !h->registry) {
		snprintf(err, errlen, "http: no listen address or registry");
		return NULL;
	}
	if (parse_listen(listen, &ss, err, errlen))
		return NULL;
	if (use_tls && MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
		snprintf(err, errlen, "tls: this libmicrohttpd was built without TLS");
		return NULL;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "http: %s", strerror(ENOMEM));
		return NULL;
	}
	pthread_mutex_init(&s->auth_lock, NULL);
	s->h = *h;
	if (auth)
		s->auth = *auth;
	if (use_tls) {
		s->cert = read_pem(tls->cert_file, &cert_len, err, errlen);
		s->key = s->cert ? read_pem(tls->key_file, &s->key_len, err, errlen) : NULL;
		if (!s->key) {
			free_server(s);
			return NULL;
		}
		flags |= MHD_USE_TLS;
	}
	if (ss.ss_family == AF_INET6) {
		flags |= MHD_USE_DUAL_STACK;
		port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	} else {
		port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	}

	atomic_store(&s->starting, true);
	errno = 0;
	s->daemon = MHD_start_daemon(flags, port, NULL, NULL, http__handle, s,
				     MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				     MHD_OPTION_EXTERNAL_LOGGER, http__log, s,
				     /* Idle keep-alive connections must not pile up. */
				     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				     use_tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, s->cert,
				     MHD_OPTION_HTTPS_MEM_KEY, s->key, MHD_OPTION_END);
	saved = errno;
	atomic_store(&s->starting, false);
	if (!s->daemon) {
		addr_str(&ss, where, sizeof(where));
		/* MHD leaves bind()'s errno in place; its own message is the fallback. A
		 * certificate or key GnuTLS cannot use is only in its message. */
		if (s->start_err[0] && use_tls)
			snprintf(err, errlen, "cannot serve TLS on %s: %s", where, s->start_err);
		else if (saved)
			snprintf(err, errlen, "cannot listen on %s: %s", where, strerror(saved));
		else
			snprintf(err, errlen, "cannot listen on %s: %s", where,
				 s->start_err[0] ? s->start_err : "libmicrohttpd failed");
		free_server(s);
		return NULL;
	}
	return s;
}

void http__stop(struct http_server *s)
{
	if (!s)
		return;
	MHD_stop_daemon(s->daemon);
	free_server(s);
}
