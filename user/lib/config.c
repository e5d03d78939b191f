// SPDX-License-Identifier: GPL-2.0-only
/*
 * Daemon configuration. jansson checks the syntax and reports where it broke; this file
 * checks the meaning. jansson keeps no positions for the values of a parsed document, so
 * an error about a value re-scans the (by then known valid) text along the path of that
 * value to find its line and column. Positions follow jansson's own convention so that
 * both kinds of error read alike: lines from 1, columns from 1 counted in Unicode
 * characters, not bytes (jansson load.c stream_get() bumps the column only on the first
 * byte of a UTF-8 sequence).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <regex.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>

#include "lib/config.h"
#include "lib/digest.h"

/* Larger than any sane config; bounds what a wrong path (a log file) can cost. */
#define CONFIG_MAX_FILE_BYTES (1 << 20)
#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define CONFIG_PROTOCOLS "tcp, betanet, http, websocket"

/*
 * Shipped as deploy/fogprobe.json too (same bytes); parsed like any file so that the
 * default obeys the same rules as an operator's config.
 */
static const char default_config[] =
	"{\n"
	"  \"listen\": \"" CONFIG_DEFAULT_LISTEN "\",\n"
	"  \"services\": [\n"
	"    {\"name\": \"betanet\", \"protocol\": \"betanet\", \"ports\": [9001, 9002, 9003]},\n"
	"    {\"name\": \"betanet-stats\", \"protocol\": \"http\", \"ports\": [9000]},\n"
	"    {\"name\": \"backend\", \"protocol\": \"websocket\", \"ports\": [8000],\n"
	"     \"paths\": [\"/api/bitchat/ws/\", \"/api/ws/connect\"]},\n"
	"    {\"name\": \"control-panel\", \"protocol\": \"http\", \"ports\": [3000],\n"
	"     \"framework\": \"nextjs\",\n"
	"     \"routes\": [\"/api/betanet/nodes/[id]\", \"/api/bitchat/groups/[id]/messages\"]}\n"
	"  ]\n"
	"}\n";

static const char *const protocol_names[] = {
	[FP_PROTO_TCP] = "tcp",
	[FP_PROTO_BETANET] = "betanet",
	[FP_PROTO_HTTP] = "http",
	[FP_PROTO_WEBSOCKET] = "websocket",
};

#define N_PROTOCOLS (sizeof(protocol_names) / sizeof(protocol_names[0]))

/* services[i].comm[j] is the deepest value we report on. */
#define PATH_MAX_DEPTH 8

struct path_step {
	const char *key; /* NULL: array element number `index` */
	size_t index;
};

struct parser {
	const char *text;
	size_t len;
	const char *name;
	char *err;
	size_t errlen;
	struct path_step path[PATH_MAX_DEPTH];
	int depth;
};

static void path_push_key(struct parser *p, const char *key)
{
	p->path[p->depth].key = key;
	p->path[p->depth].index = 0;
	p->depth++;
}

static void path_push_index(struct parser *p, size_t index)
{
	p->path[p->depth].key = NULL;
	p->path[p->depth].index = index;
	p->depth++;
}

static void path_pop(struct parser *p)
{
	p->depth--;
}

/* Cursor over JSON text that counts lines and columns the way jansson does. */
struct cursor {
	const char *p;
	const char *end;
	int line;
	int col; /* column of the last character consumed; 0 at the start of a line */
};

static int cur_peek(const struct cursor *c)
{
	return c->p < c->end ? (unsigned char)*c->p : -1;
}

static void cur_advance(struct cursor *c)
{
	unsigned char ch;

	if (c->p >= c->end)
		return;
	ch = (unsigned char)*c->p++;
	if (ch == '\n') {
		c->line++;
		c->col = 0;
	} else if ((ch & 0xc0) != 0x80) {
		/* UTF-8 continuation bytes do not start a character */
		c->col++;
	}
}

static void cur_skip_ws(struct cursor *c)
{
	int ch;

	while ((ch = cur_peek(c)) == ' ' || ch == '\t' || ch == '\n' || ch == '\r')
		cur_advance(c);
}

/* At the opening quote; stops after the closing one. */
static void cur_skip_string(struct cursor *c)
{
	int ch;

	cur_advance(c);
	while ((ch = cur_peek(c)) != -1) {
		cur_advance(c);
		if (ch == '\\')
			cur_advance(c);
		else if (ch == '"')
			break;
	}
}

/* Iterative, so that nesting depth costs no stack. */
static void cur_skip_value(struct cursor *c)
{
	int depth = 0;
	int ch;

	cur_skip_ws(c);
	ch = cur_peek(c);
	if (ch == '"') {
		cur_skip_string(c);
		return;
	}
	if (ch != '{' && ch != '[') {
		while ((ch = cur_peek(c)) != -1 && !strchr(",]} \t\n\r", ch))
			cur_advance(c);
		return;
	}
	while ((ch = cur_peek(c)) != -1) {
		if (ch == '"') {
			cur_skip_string(c);
			continue;
		}
		cur_advance(c);
		if (ch == '{' || ch == '[') {
			depth++;
		} else if (ch == '}' || ch == ']') {
			if (--depth == 0)
				return;
		}
	}
}

/* Does the string token tok[0..n) (quotes included) decode to key? */
static int key_equals(const char *tok, size_t n, const char *key)
{
	json_t *decoded;
	int eq;

	if (n < 2)
		return 0;
	if (!memchr(tok, '\\', n))
		return strlen(key) == n - 2 && !memcmp(tok + 1, key, n - 2);
	/* Escapes: let jansson decode them rather than keep a second decoder here. */
	decoded = json_loadb(tok, n, JSON_DECODE_ANY, NULL);
	eq = json_is_string(decoded) && !strcmp(json_string_value(decoded), key);
	json_decref(decoded);
	return eq;
}

/*
 * Line and column of the value at p->path, or of its last key when at_key. The text
 * parsed without error and has no duplicate keys, so a key names one member.
 */
static int parser_locate(const struct parser *p, int at_key, int *line, int *col)
{
	struct cursor c = { .p = p->text, .end = p->text + p->len, .line = 1, .col = 0 };
	int i;

	for (i = 0; i < p->depth; i++) {
		const struct path_step *step = &p->path[i];

		cur_skip_ws(&c);
		if (step->key) {
			int kline, kcol, match;
			const char *kstart;

			if (cur_peek(&c) != '{')
				return -ENOENT;
			cur_advance(&c);
			for (;;) {
				cur_skip_ws(&c);
				if (cur_peek(&c) != '"')
					return -ENOENT;
				kline = c.line;
				kcol = c.col + 1;
				kstart = c.p;
				cur_skip_string(&c);
				match = key_equals(kstart, c.p - kstart, step->key);
				cur_skip_ws(&c);
				if (cur_peek(&c) != ':')
					return -ENOENT;
				cur_advance(&c);
				if (match)
					break;
				cur_skip_value(&c);
				cur_skip_ws(&c);
				if (cur_peek(&c) != ',')
					return -ENOENT;
				cur_advance(&c);
			}
			if (at_key && i == p->depth - 1) {
				*line = kline;
				*col = kcol;
				return 0;
			}
		} else {
			size_t n;

			if (cur_peek(&c) != '[')
				return -ENOENT;
			cur_advance(&c);
			for (n = 0;; n++) {
				cur_skip_ws(&c);
				if (cur_peek(&c) == -1 || cur_peek(&c) == ']')
					return -ENOENT;
				if (n == step->index)
					break;
				cur_skip_value(&c);
				cur_skip_ws(&c);
				if (cur_peek(&c) != ',')
					return -ENOENT;
				cur_advance(&c);
			}
		}
	}
	cur_skip_ws(&c);
	*line = c.line;
	*col = c.col + 1; /* every JSON value starts with an ASCII character */
	return 0;
}

static void parser_verror(struct parser *p, int at_key, const char *fmt, va_list ap)
{
	char msg[480]; /* the longest: an unknown key with the section's key list */
	int line = 0, col = 0;

	if (!p->err || !p->errlen)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* Cannot fail on text jansson accepted; 0:0 would expose a bug here, not hide it. */
	if (parser_locate(p, at_key, &line, &col))
		line = col = 0;
	snprintf(p->err, p->errlen, "%s:%d:%d: %s", p->name, line, col, msg);
}

/* Error about the value at the current path. Returns -EINVAL. */
static int parser_error(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Error about the key that ends the current path. Returns -EINVAL. */
static int parser_key_error(struct parser *p, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int parser_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	parser_verror(p, 0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parser_key_error(struct parser *p, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	parser_verror(p, 1, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/*
 * s double-quoted for an error message: quotes, backslashes and control characters
 * escaped, cut with "..." when long. Returns buf.
 */
static const char *quote(const char *s, char *buf, size_t size)
{
	size_t o = 0;

	buf[o++] = '"';
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		char esc[5];
		size_t n;

		if (ch == '"' || ch == '\\') {
			esc[0] = '\\';
			esc[1] = (char)ch;
			n = 2;
		} else if (ch < 0x20 || ch == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", ch);
			n = 4;
		} else {
			esc[0] = (char)ch;
			n = 1;
		}
		/* room for this, then '...', closing quote and NUL */
		if (o + n + 5 > size) {
			/* in the middle of a UTF-8 sequence: drop its first bytes too */
			if ((ch & 0xc0) == 0x80) {
				while (o > 1 && ((unsigned char)buf[o - 1] & 0xc0) == 0x80)
					o--;
				if (o > 1)
					o--;
			}
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		memcpy(buf + o, esc, n);
		o += n;
	}
	buf[o++] = '"';
	buf[o] = '\0';
	return buf;
}

/* Keys of obj not in allowed (NULL-terminated); the error points at the key. */
static int check_keys(struct parser *p, json_t *obj, const char *const *allowed, const char *what)
{
	const char *key;
	json_t *val;

	json_object_foreach(obj, key, val) {
		const char *const *a;
		char q[48];

		for (a = allowed; *a; a++)
			if (!strcmp(key, *a))
				break;
		if (*a)
			continue;
		path_push_key(p, key);
		return parser_key_error(p, "unknown key %s %s", quote(key, q, sizeof(q)), what);
	}
	return 0;
}

static int valid_host_char(int ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       ch == '.' || ch == '-';
}

static int valid_v6_char(int ch)
{
	return (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || (ch >= '0' && ch <= '9') ||
	       ch == ':' || ch == '.';
}

/* "HOST:PORT", "[v6]:PORT" (optional %zone) or ":PORT", port 1..65535. */
static int listen_valid(const char *s)
{
	const char *colon = strrchr(s, ':');
	const char *h, *zone = NULL;
	unsigned long port = 0;
	const char *d;

	if (!colon || !colon[1] || strlen(colon + 1) > 5)
		return 0;
	for (d = colon + 1; *d; d++) {
		if (*d < '0' || *d > '9')
			return 0;
		port = port * 10 + (unsigned long)(*d - '0');
	}
	if (port < 1 || port > 65535)
		return 0;

	if (s[0] != '[') {
		for (h = s; h < colon; h++)
			if (!valid_host_char((unsigned char)*h))
				return 0;
		return 1;
	}
	if (colon - s < 3 || colon[-1] != ']')
		return 0;
	for (h = s + 1; h < colon - 1; h++) {
		if (zone) {
			if (!valid_host_char((unsigned char)*h) && *h != '_')
				return 0;
		} else if (*h == '%') {
			zone = h;
		} else if (!valid_v6_char((unsigned char)*h)) {
			return 0;
		}
	}
	if (zone && zone == colon - 2)
		return 0; /* empty zone */
	return memchr(s + 1, ':', (zone ? zone : colon - 1) - (s + 1)) != NULL;
}

static int parse_listen(struct parser *p, json_t *val, struct config *cfg)
{
	const char *s = json_string_value(val);

	if (s && strlen(s) >= CONFIG_LISTEN_LEN)
		return parser_error(p, "listen is longer than %d bytes", CONFIG_LISTEN_LEN - 1);
	if (!s || !listen_valid(s))
		return parser_error(p, "listen must be \"HOST:PORT\", \"[IPv6]:PORT\" or \":PORT\" "
				       "with a port in 1..65535");
	strcpy(cfg->listen, s);
	return 0;
}

static int name_valid(const char *s)
{
	size_t n = 0;

	for (; s[n]; n++) {
		if (!valid_host_char((unsigned char)s[n]) && s[n] != '_')
			return 0;
	}
	return n >= 1 && n < CONFIG_NAME_LEN;
}

static int parse_name(struct parser *p, json_t *val, struct config *cfg, int i)
{
	const char *s = json_string_value(val);
	int j;

	if (!s || !name_valid(s))
		return parser_error(p, "service name must match [A-Za-z0-9_.-]{1,%d}",
				    CONFIG_NAME_LEN - 1);
	for (j = 0; j < i; j++)
		if (!strcmp(cfg->services[j].name, s))
			return parser_error(p, "duplicate service name \"%s\"", s);
	strcpy(cfg->services[i].name, s);
	return 0;
}

static int parse_protocol(struct parser *p, json_t *val, struct service_config *svc)
{
	const char *s = json_string_value(val);
	char q[48];
	size_t k;

	if (!s)
		return parser_error(p, "protocol must be a string, one of " CONFIG_PROTOCOLS);
	for (k = 0; k < N_PROTOCOLS; k++) {
		if (!strcmp(s, protocol_names[k])) {
			svc->protocol = (enum fp_protocol)k;
			return 0;
		}
	}
	return parser_error(p, "unknown protocol %s (expected one of " CONFIG_PROTOCOLS ")",
			    quote(s, q, sizeof(q)));
}

/* A non-empty array of at most max entries; the error points at the first extra one. */
static int check_list(struct parser *p, json_t *arr, const char *key, const char *of,
		      const char *entries, const char *scope, size_t max)
{
	if (!json_is_array(arr))
		return parser_error(p, "%s must be an array of %s", key, of);
	if (!json_array_size(arr))
		return parser_error(p, "%s list is empty", key);
	if (json_array_size(arr) > max) {
		path_push_index(p, max);
		return parser_error(p, "too many %s (at most %zu%s)", entries, max, scope);
	}
	return 0;
}

static int parse_ports(struct parser *p, json_t *arr, struct service_config *svc)
{
	size_t j;
	json_t *val;
	int err;

	err = check_list(p, arr, "ports", "port numbers", "ports", " per service",
			 CONFIG_MAX_PORTS);
	if (err)
		return err;
	json_array_foreach(arr, j, val) {
		json_int_t port;
		int k;

		path_push_index(p, j);
		if (!json_is_integer(val))
			return parser_error(p, "port must be an integer in 1..65535");
		port = json_integer_value(val);
		if (port < 1 || port > 65535)
			return parser_error(
				p, "port %" JSON_INTEGER_FORMAT " is out of range 1..65535", port);
		for (k = 0; k < svc->n_ports; k++)
			if (svc->ports[k] == port)
				return parser_error(p, "duplicate port %d", (int)port);
		svc->ports[svc->n_ports++] = (uint16_t)port;
		path_pop(p);
	}
	return 0;
}

static int parse_comm(struct parser *p, json_t *arr, struct service_config *svc)
{
	size_t j;
	json_t *val;
	int err;

	err = check_list(p, arr, "comm", "process names", "comm entries", "", CONFIG_MAX_COMM);
	if (err)
		return err;
	json_array_foreach(arr, j, val) {
		const char *s = json_string_value(val);
		char q[48];

		path_push_index(p, j);
		if (!s)
			return parser_error(p, "comm entry must be a string");
		if (!s[0])
			return parser_error(p, "comm entry is empty");
		/* the kernel keeps TASK_COMM_LEN - 1 bytes: a longer name could never match */
		if (strlen(s) >= CONFIG_COMM_LEN)
			return parser_error(p,
					    "comm %s is longer than %d bytes (TASK_COMM_LEN - 1)",
					    quote(s, q, sizeof(q)), CONFIG_COMM_LEN - 1);
		strcpy(svc->comm[svc->n_comm++], s);
		path_pop(p);
	}
	return 0;
}

/*
 * Stored as "/" or "/a/b": no trailing or doubled '/', so that services__build can count
 * path components as the cgroup's level. "." and ".." would make that count wrong (and
 * ".." could leave the cgroup mount), so they are refused.
 */
static int parse_cgroup(struct parser *p, json_t *val, struct service_config *svc)
{
	const char *s = json_string_value(val);
	size_t o = 0;

	if (!s)
		return parser_error(p, "cgroup must be a string");
	if (s[0] != '/')
		return parser_error(p, "cgroup must be an absolute path (start with \"/\")");
	if (strlen(s) >= CONFIG_CGROUP_LEN)
		return parser_error(p, "cgroup is longer than %d bytes", CONFIG_CGROUP_LEN - 1);
	while (*s) {
		size_t n;

		while (*s == '/')
			s++;
		n = strcspn(s, "/");
		if (!n)
			break;
		if ((n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
			return parser_error(p,
					    "cgroup must not contain \".\" or \"..\" components");
		svc->cgroup[o++] = '/';
		memcpy(svc->cgroup + o, s, n);
		o += n;
		s += n;
	}
	if (!o)
		svc->cgroup[o++] = '/';
	svc->cgroup[o] = '\0';
	return 0;
}

/* An integer member of the check object in lo..hi; *out keeps its default if absent. */
static int check_int(struct parser *p, json_t *obj, const char *key, json_int_t lo, json_int_t hi,
		     int *out)
{
	json_t *val = json_object_get(obj, key);
	json_int_t v;

	if (!val)
		return 0;
	path_push_key(p, key);
	if (!json_is_integer(val))
		return parser_error(p, "%s must be an integer in %" JSON_INTEGER_FORMAT
				       "..%" JSON_INTEGER_FORMAT, key, lo, hi);
	v = json_integer_value(val);
	if (v < lo || v > hi)
		return parser_error(p, "%s %" JSON_INTEGER_FORMAT " is out of range %"
				       JSON_INTEGER_FORMAT "..%" JSON_INTEGER_FORMAT, key, v, lo, hi);
	*out = (int)v;
	path_pop(p);
	return 0;
}

/*
 * "check": {"connect": true, "interval_s": 10, "timeout_ms": 1000, "address": "127.0.0.1",
 * "port": 8000}. The address is a numeric IP (no name lookup: the probe connects to
 * nothing but what is written here) and the port one of the service's own.
 */
static int parse_check(struct parser *p, json_t *obj, struct service_config *svc)
{
	static const char *const keys[] = { "connect", "interval_s", "timeout_ms", "address",
					     "port", NULL };
	struct service_check *c = &svc->check;
	unsigned char addr[16];
	json_t *val;
	int err, port = svc->ports[0], k;

	if (!json_is_object(obj))
		return parser_error(p, "check must be an object");
	err = check_keys(p, obj, keys,
			 "in check (expected connect, interval_s, timeout_ms, address, port)");
	if (err)
		return err;
	val = json_object_get(obj, "connect");
	if (!val)
		return parser_error(p, "check is missing \"connect\"");
	path_push_key(p, "connect");
	if (!json_is_boolean(val))
		return parser_error(p, "connect must be true or false");
	c->connect = json_is_true(val);
	path_pop(p);
	c->interval_s = CONFIG_CHECK_DEFAULT_INTERVAL_S;
	c->timeout_ms = CONFIG_CHECK_DEFAULT_TIMEOUT_MS;
	err = check_int(p, obj, "interval_s", 1, 3600, &c->interval_s);
	if (!err)
		err = check_int(p, obj, "timeout_ms", 1, 60000, &c->timeout_ms);
	if (!err)
		err = check_int(p, obj, "port", 1, 65535, &port);
	if (err)
		return err;
	if (c->timeout_ms >= c->interval_s * 1000) {
		path_push_key(p, json_object_get(obj, "timeout_ms") ? "timeout_ms" : "interval_s");
		return parser_error(p, "timeout_ms (%d) must be shorter than interval_s (%d s)",
				    c->timeout_ms, c->interval_s);
	}
	for (k = 0; k < svc->n_ports && svc->ports[k] != port; k++)
		;
	if (k == svc->n_ports) {
		path_push_key(p, "port");
		return parser_error(p, "check port %d is not one of the service's ports", port);
	}
	c->port = (uint16_t)port;
	strcpy(c->address, CONFIG_CHECK_DEFAULT_ADDR);
	val = json_object_get(obj, "address");
	if (val) {
		const char *s = json_string_value(val);

		path_push_key(p, "address");
		if (!s || strlen(s) >= CONFIG_ADDR_LEN || (inet_pton(AF_INET, s, addr) != 1 &&
							    inet_pton(AF_INET6, s, addr) != 1))
			return parser_error(p, "address must be a numeric IPv4 or IPv6 address");
		strcpy(c->address, s);
		path_pop(p);
	}
	return 0;
}

/* A list of path strings starting with '/' (route patterns or path prefixes). */
static int parse_paths(struct parser *p, json_t *arr, const char *key, char (*out)[CONFIG_ROUTE_LEN],
		       int *n, size_t max)
{
	size_t j;
	json_t *val;
	int err;

	err = check_list(p, arr, key, "path strings", key, " per service", max);
	if (err)
		return err;
	json_array_foreach(arr, j, val) {
		const char *s = json_string_value(val);

		path_push_index(p, j);
		if (!s)
			return parser_error(p, "%s entry must be a string", key);
		if (s[0] != '/')
			return parser_error(p, "%s entry must start with \"/\"", key);
		if (strlen(s) >= CONFIG_ROUTE_LEN)
			return parser_error(p, "%s entry is longer than %d bytes", key,
					    CONFIG_ROUTE_LEN - 1);
		strcpy(out[(*n)++], s);
		path_pop(p);
	}
	return 0;
}

static int parse_uint(struct parser *p, json_t *val, const char *key, uint32_t lo, uint32_t hi,
		      uint32_t *out)
{
	json_int_t v;

	if (!json_is_integer(val))
		return parser_error(p, "%s must be an integer in %u..%u", key, lo, hi);
	v = json_integer_value(val);
	if (v < lo || v > hi)
		return parser_error(p, "%s %" JSON_INTEGER_FORMAT " is out of range %u..%u", key,
				    v, lo, hi);
	*out = (uint32_t)v;
	return 0;
}

static int parse_framework(struct parser *p, json_t *val, struct service_config *svc)
{
	const char *s = json_string_value(val);

	if (s && !strcmp(s, "none"))
		svc->framework = FP_FRAMEWORK_NONE;
	else if (s && !strcmp(s, "nextjs"))
		svc->framework = FP_FRAMEWORK_NEXTJS;
	else
		return parser_error(p, "framework must be \"nextjs\" or \"none\"");
	return 0;
}

/* Keys that only mean something for HTTP and WebSocket services. */
static int parse_l7_keys(struct parser *p, json_t *obj, struct service_config *svc)
{
	static const char *const web_only[] = { "routes", "max_paths", "framework", NULL };
	json_t *val;
	int err = 0, k;

	svc->max_paths = CONFIG_DEFAULT_MAX_PATHS;
	svc->max_rooms = CONFIG_DEFAULT_MAX_ROOMS;
	svc->ws_idle_s = CONFIG_DEFAULT_WS_IDLE_S;
	svc->ws_inflate_conns = CONFIG_DEFAULT_INFLATE_CONNS;
	svc->ws_inflate_message = CONFIG_DEFAULT_INFLATE_MESSAGE;
	for (k = 0; web_only[k]; k++) {
		if (json_object_get(obj, web_only[k]) && svc->protocol != FP_PROTO_HTTP &&
		    svc->protocol != FP_PROTO_WEBSOCKET) {
			path_push_key(p, web_only[k]);
			return parser_key_error(p, "%s applies to http and websocket services only",
						web_only[k]);
		}
	}
	if (svc->protocol != FP_PROTO_WEBSOCKET) {
		static const char *const ws_only[] = { "paths",
						       "max_rooms",
						       "idle_timeout_s",
						       "inflate_max_connections",
						       "inflate_max_message",
						       NULL };

		for (k = 0; ws_only[k]; k++)
			if (json_object_get(obj, ws_only[k])) {
				path_push_key(p, ws_only[k]);
				return parser_key_error(p, "%s applies to websocket services only",
							ws_only[k]);
			}
	}
	if ((val = json_object_get(obj, "routes"))) {
		path_push_key(p, "routes");
		err = parse_paths(p, val, "routes", svc->routes, &svc->n_routes, CONFIG_MAX_ROUTES);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "paths"))) {
		path_push_key(p, "paths");
		err = parse_paths(p, val, "paths", svc->ws_paths, &svc->n_ws_paths,
				  CONFIG_MAX_WS_PATHS);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "framework"))) {
		path_push_key(p, "framework");
		err = parse_framework(p, val, svc);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "max_paths"))) {
		path_push_key(p, "max_paths");
		err = parse_uint(p, val, "max_paths", 1, 10000, &svc->max_paths);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "max_rooms"))) {
		path_push_key(p, "max_rooms");
		err = parse_uint(p, val, "max_rooms", 1, 10000, &svc->max_rooms);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "idle_timeout_s"))) {
		path_push_key(p, "idle_timeout_s");
		err = parse_uint(p, val, "idle_timeout_s", 1, 86400, &svc->ws_idle_s);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "inflate_max_connections"))) {
		path_push_key(p, "inflate_max_connections");
		err = parse_uint(p, val, "inflate_max_connections", 0, CONFIG_MAX_INFLATE_CONNS,
				 &svc->ws_inflate_conns);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "inflate_max_message"))) {
		path_push_key(p, "inflate_max_message");
		err = parse_uint(p, val, "inflate_max_message", CONFIG_MIN_INFLATE_MESSAGE,
				 CONFIG_MAX_INFLATE_MESSAGE, &svc->ws_inflate_message);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "capture"))) {
		path_push_key(p, "capture");
		err = parse_uint(p, val, "capture", 16, CONFIG_CAPTURE_MAX, &svc->capture);
		if (err)
			return err;
		path_pop(p);
	}
	return 0;
}

static int parse_service(struct parser *p, json_t *obj, struct config *cfg, int i)
{
	static const char *const keys[] = { "name",	 "protocol",  "ports",	   "comm",
					    "cgroup",	 "routes",    "paths",	   "max_paths",
					    "max_rooms", "framework", "capture", "idle_timeout_s",
					    "inflate_max_connections", "inflate_max_message",
					    "check",	 NULL };
	struct service_config *svc = &cfg->services[i];
	json_t *val;
	int err;

	if (!json_is_object(obj))
		return parser_error(p, "service must be an object");
	err = check_keys(p, obj, keys, "in service (expected name, protocol, ports, comm, cgroup, routes, paths, "
			 "max_paths, max_rooms, framework, capture, idle_timeout_s, "
			 "inflate_max_connections, inflate_max_message, check)");
	if (err)
		return err;

	val = json_object_get(obj, "name");
	if (!val)
		return parser_error(p, "service is missing \"name\"");
	path_push_key(p, "name");
	err = parse_name(p, val, cfg, i);
	if (err)
		return err;
	path_pop(p);

	val = json_object_get(obj, "protocol");
	if (!val)
		return parser_error(p, "service is missing \"protocol\"");
	path_push_key(p, "protocol");
	err = parse_protocol(p, val, svc);
	if (err)
		return err;
	path_pop(p);

	val = json_object_get(obj, "ports");
	if (!val)
		return parser_error(p, "service is missing \"ports\"");
	path_push_key(p, "ports");
	err = parse_ports(p, val, svc);
	if (err)
		return err;
	path_pop(p);

	val = json_object_get(obj, "comm");
	if (val) {
		path_push_key(p, "comm");
		err = parse_comm(p, val, svc);
		if (err)
			return err;
		path_pop(p);
	}

	val = json_object_get(obj, "cgroup");
	if (val) {
		path_push_key(p, "cgroup");
		err = parse_cgroup(p, val, svc);
		if (err)
			return err;
		path_pop(p);
	}

	val = json_object_get(obj, "check");
	if (val) {
		path_push_key(p, "check");
		err = parse_check(p, val, svc);
		if (err)
			return err;
		path_pop(p);
	}
	return parse_l7_keys(p, obj, svc);
}

static int parse_bool(struct parser *p, json_t *val, const char *key, int *out)
{
	if (!json_is_boolean(val))
		return parser_error(p, "%s must be true or false", key);
	*out = json_is_true(val);
	return 0;
}

/* A POSIX extended regex ("" excludes nothing), compiled here so that a bad one is a
 * config error with its position rather than a failure at start-up. */
static int parse_regex(struct parser *p, json_t *val, const char *key, char *out)
{
	const char *s = json_string_value(val);
	regex_t re;
	int rc;

	if (!s)
		return parser_error(p, "%s must be a string (a POSIX extended regex)", key);
	if (strlen(s) >= CONFIG_REGEX_LEN)
		return parser_error(p, "%s is longer than %d bytes", key, CONFIG_REGEX_LEN - 1);
	if (s[0]) {
		rc = regcomp(&re, s, REG_EXTENDED | REG_NOSUB);
		if (rc) {
			char msg[128];

			regerror(rc, &re, msg, sizeof(msg));
			return parser_error(p, "%s is not a valid regex: %s", key, msg);
		}
		regfree(&re);
	}
	strcpy(out, s);
	return 0;
}

struct section_key {
	const char *key;
	int (*parse)(struct parser *p, json_t *val, const char *key, struct config *cfg);
};

static int host_enabled(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_bool(p, val, key, &cfg->host.enabled);
}

static int host_root(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	const char *s = json_string_value(val);

	if (!s || s[0] != '/')
		return parser_error(p, "%s must be an absolute path", key);
	if (strlen(s) >= CONFIG_ROOT_LEN)
		return parser_error(p, "%s is longer than %d bytes", key, CONFIG_ROOT_LEN - 1);
	strcpy(cfg->host.root, s);
	return 0;
}

static int host_mounts(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_regex(p, val, key, cfg->host.mounts_exclude);
}

static int host_fstypes(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_regex(p, val, key, cfg->host.fstypes_exclude);
}

static int host_netdevs(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_regex(p, val, key, cfg->host.netdev_exclude);
}

static int containers_enabled(struct parser *p, json_t *val, const char *key,
			      struct config *cfg)
{
	return parse_bool(p, val, key, &cfg->containers.enabled);
}

static int containers_max(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	json_int_t v;

	if (!json_is_integer(val))
		return parser_error(p, "%s must be an integer in 1..%d", key,
				    CONFIG_MAX_CONTAINERS);
	v = json_integer_value(val);
	if (v < 1 || v > CONFIG_MAX_CONTAINERS)
		return parser_error(p, "%s %" JSON_INTEGER_FORMAT " is out of range 1..%d", key,
				    v, CONFIG_MAX_CONTAINERS);
	cfg->containers.max = (int)v;
	return 0;
}

static int containers_network(struct parser *p, json_t *val, const char *key,
			      struct config *cfg)
{
	static const char *const names[] = { "auto", "cgroup", "netns" };
	const char *s = json_string_value(val);
	char q[48];
	size_t k;

	if (!s)
		return parser_error(p, "%s must be a string, one of " CONFIG_CONTAINER_NETWORKS, key);
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		if (!strcmp(s, names[k])) {
			cfg->containers.network = (enum container_network)k;
			return 0;
		}
	}
	return parser_error(p, "unknown %s %s (expected one of " CONFIG_CONTAINER_NETWORKS ")",
			    key, quote(s, q, sizeof(q)));
}

/* ---- otlp ---- */

static void otlp_defaults(struct otlp_config *o)
{
	memset(o, 0, sizeof(*o));
	strcpy(o->url, CONFIG_OTLP_DEFAULT_ENDPOINT "/v1/traces");
	o->protocol = OTLP_HTTP_PROTOBUF;
	o->timeout_ms = CONFIG_OTLP_DEFAULT_TIMEOUT_MS;
	o->sample_ratio = 1.0;
	o->peer_prefix_ipv4 = 32;
	o->peer_prefix_ipv6 = 128;
	o->queue_spans = CONFIG_OTLP_DEFAULT_QUEUE;
	o->batch_spans = CONFIG_OTLP_DEFAULT_BATCH;
	o->batch_delay_ms = CONFIG_OTLP_DEFAULT_DELAY_MS;
	o->retry_max_s = CONFIG_OTLP_DEFAULT_RETRY_S;
}

/* NULL when s is an acceptable http(s) URL, else why not. */
static const char *url_problem(const char *s)
{
	const char *host;
	size_t i;

	if (!strncmp(s, "http://", 7))
		host = s + 7;
	else if (!strncmp(s, "https://", 8))
		host = s + 8;
	else
		return "must start with http:// or https://";
	if (!*host || *host == '/')
		return "has no host";
	for (i = 0; s[i]; i++)
		if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
			return "contains a space or a control character";
	return NULL;
}

/* base + "/v1/traces" (the signal path of OTEL_EXPORTER_OTLP_ENDPOINT), one slash between */
static int otlp_base_url(const char *base, char *out)
{
	size_t n = strlen(base);

	while (n && base[n - 1] == '/')
		n--;
	if (n + sizeof("/v1/traces") > CONFIG_URL_LEN)
		return -1;
	memcpy(out, base, n);
	strcpy(out + n, "/v1/traces");
	return 0;
}

static int header_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!strchr("!#$%&'*+-.^_`|~", *s) && !((*s >= '0' && *s <= '9') ||
		      (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')))
			return 0;
	return 1;
}

static int header_value_ok(const char *s)
{
	for (; *s; s++)
		if (*s == '\r' || *s == '\n')
			return 0;
	return 1;
}

/* {"name": "value", ...} into kv; headers: names are HTTP tokens, values one line. */
static int parse_kv_object(struct parser *p, json_t *obj, const char *key, struct config_kv *kv,
			   int *n, int headers)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return parser_error(p, "%s must be an object of strings", key);
	if (json_object_size(obj) > CONFIG_MAX_KV)
		return parser_error(p, "%s has more than %d entries", key, CONFIG_MAX_KV);
	*n = 0;
	json_object_foreach(obj, k, v) {
		const char *s = json_string_value(v);

		path_push_key(p, k);
		if (headers && !header_name_ok(k))
			return parser_key_error(p, "%s: not a valid header name", key);
		if (!*k)
			return parser_key_error(p, "%s: empty name", key);
		if (strlen(k) >= CONFIG_KV_LEN)
			return parser_key_error(p, "%s: name longer than %d bytes", key,
						CONFIG_KV_LEN - 1);
		if (!s)
			return parser_error(p, "%s values must be strings", key);
		if (strlen(s) >= CONFIG_KV_LEN)
			return parser_error(p, "%s: value longer than %d bytes", key,
					    CONFIG_KV_LEN - 1);
		if (headers && !header_value_ok(s))
			return parser_error(p, "%s: a value must not contain CR or LF", key);
		strcpy(kv[*n].key, k);
		strcpy(kv[*n].value, s);
		(*n)++;
		path_pop(p);
	}
	return 0;
}

static int otlp_enabled(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_ENABLED;
	return parse_bool(p, val, key, &cfg->otlp.enabled);
}

static int otlp_peer(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_bool(p, val, key, &cfg->otlp.peer_address);
}

static int otlp_prefix(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	if (!strcmp(key, "peer_prefix_ipv4"))
		return parse_uint(p, val, key, 0, 32, &cfg->otlp.peer_prefix_ipv4);
	return parse_uint(p, val, key, 0, 128, &cfg->otlp.peer_prefix_ipv6);
}

static int otlp_tcp_spans(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_bool(p, val, key, &cfg->otlp.tcp_spans);
}

static int otlp_url(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	const char *s = json_string_value(val), *why;
	int traces = !strcmp(key, "traces_endpoint");

	if (!s)
		return parser_error(p, "%s must be a string (an http:// or https:// URL)", key);
	why = url_problem(s);
	if (why)
		return parser_error(p, "%s %s", key, why);
	if (traces ? strlen(s) >= CONFIG_URL_LEN : otlp_base_url(s, cfg->otlp.url))
		return parser_error(p, "%s is too long", key);
	if (traces)
		strcpy(cfg->otlp.url, s);
	cfg->otlp.set |= OTLP_SET_ENDPOINT;
	return 0;
}

static int otlp_protocol_value(const char *s, enum otlp_protocol *out)
{
	if (!strcmp(s, "http/protobuf"))
		*out = OTLP_HTTP_PROTOBUF;
	else if (!strcmp(s, "http/json"))
		*out = OTLP_HTTP_JSON;
	else
		return -1;
	return 0;
}

static int otlp_protocol(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	const char *s = json_string_value(val);

	if (!s || otlp_protocol_value(s, &cfg->otlp.protocol))
		return parser_error(p, "%s must be \"http/protobuf\" or \"http/json\"", key);
	cfg->otlp.set |= OTLP_SET_PROTOCOL;
	return 0;
}

static int otlp_headers(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_HEADERS;
	return parse_kv_object(p, val, key, cfg->otlp.headers, &cfg->otlp.n_headers, 1);
}

static int otlp_resource(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_RESOURCE;
	return parse_kv_object(p, val, key, cfg->otlp.resource, &cfg->otlp.n_resource, 0);
}

static int otlp_compression(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	const char *s = json_string_value(val);

	if (!s || (strcmp(s, "gzip") && strcmp(s, "none")))
		return parser_error(p, "%s must be \"gzip\" or \"none\"", key);
	cfg->otlp.gzip = !strcmp(s, "gzip");
	cfg->otlp.set |= OTLP_SET_COMPRESSION;
	return 0;
}

static int otlp_timeout(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_TIMEOUT;
	return parse_uint(p, val, key, 1, 600000, &cfg->otlp.timeout_ms);
}

static int otlp_sample(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	double v;

	if (!json_is_number(val))
		return parser_error(p, "%s must be a number in 0..1", key);
	v = json_number_value(val);
	if (!(v >= 0 && v <= 1))
		return parser_error(p, "%s %g is out of range 0..1", key, v);
	cfg->otlp.sample_ratio = v;
	cfg->otlp.set |= OTLP_SET_SAMPLE;
	return 0;
}

static int otlp_slow(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_uint(p, val, key, 0, 3600000, &cfg->otlp.keep_slower_ms);
}

static int otlp_queue(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_QUEUE;
	return parse_uint(p, val, key, 1, CONFIG_OTLP_MAX_QUEUE, &cfg->otlp.queue_spans);
}

static int otlp_batch(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_BATCH;
	return parse_uint(p, val, key, 1, CONFIG_OTLP_MAX_QUEUE, &cfg->otlp.batch_spans);
}

static int otlp_delay(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	cfg->otlp.set |= OTLP_SET_DELAY;
	return parse_uint(p, val, key, 1, 600000, &cfg->otlp.batch_delay_ms);
}

static int otlp_retry(struct parser *p, json_t *val, const char *key, struct config *cfg)
{
	return parse_uint(p, val, key, 0, 86400, &cfg->otlp.retry_max_s);
}

/* An object of optional keys, each parsed by its function. */
static int parse_section(struct parser *p, json_t *obj, const char *name,
			 const struct section_key *keys, size_t n, struct config *cfg)
{
	const char *allowed[24];
	char expected[512] = "in ";
	size_t i;
	int err;

	if (!json_is_object(obj))
		return parser_error(p, "%s must be an object", name);
	strcat(expected, name);
	strcat(expected, " (expected ");
	for (i = 0; i < n && i < 23; i++) {
		allowed[i] = keys[i].key;
		strcat(expected, i ? ", " : "");
		strcat(expected, keys[i].key);
	}
	allowed[i] = NULL;
	strcat(expected, ")");
	err = check_keys(p, obj, allowed, expected);
	if (err)
		return err;
	for (i = 0; i < n; i++) {
		json_t *val = json_object_get(obj, keys[i].key);

		if (!val)
			continue;
		path_push_key(p, keys[i].key);
		err = keys[i].parse(p, val, keys[i].key, cfg);
		if (err)
			return err;
		path_pop(p);
	}
	return 0;
}

/* ---- the endpoint: tls, auth ---- */

static int parse_path(struct parser *p, json_t *val, const char *key, char *out)
{
	const char *s = json_string_value(val);

	if (!s || !s[0])
		return parser_error(p, "%s must be a file path", key);
	if (strlen(s) >= CONFIG_PATH_LEN)
		return parser_error(p, "%s is longer than %d bytes", key, CONFIG_PATH_LEN - 1);
	/* read when the server starts: a file that is not there is this config's error */
	if (access(s, R_OK))
		return parser_error(p, "%s %s: %s", key, s, strerror(errno));
	strcpy(out, s);
	return 0;
}

static int parse_tls(struct parser *p, json_t *obj, struct config *cfg)
{
	static const char *const keys[] = { "cert_file", "key_file", NULL };
	json_t *cert = json_object_get(obj, "cert_file"), *key = json_object_get(obj, "key_file");
	int err;

	if (!json_is_object(obj))
		return parser_error(p, "tls must be an object");
	err = check_keys(p, obj, keys, "in tls (expected cert_file, key_file)");
	if (err)
		return err;
	if (!cert || !key)
		return parser_error(p, "tls needs both cert_file and key_file");
	path_push_key(p, "cert_file");
	err = parse_path(p, cert, "cert_file", cfg->tls.cert_file);
	if (err)
		return err;
	path_pop(p);
	path_push_key(p, "key_file");
	err = parse_path(p, key, "key_file", cfg->tls.key_file);
	if (err)
		return err;
	path_pop(p);
	return 0;
}

/* A secret file's first line (without its line end), hashed; the bytes are wiped. */
static int hash_secret_file(const char *path, uint8_t out[SHA256_LEN], char *why, size_t len)
{
	char buf[4097];
	ssize_t n, total = 0;
	struct stat st;
	int fd, ret = 0;

	/* O_NONBLOCK: a FIFO must not hang the load (it is refused below) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		snprintf(why, len, "%s", strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		snprintf(why, len, "not a regular file");
		close(fd);
		return -EINVAL;
	}
	while ((n = read(fd, buf + total, sizeof(buf) - 1 - (size_t)total)) > 0)
		total += n;
	if (n < 0) {
		snprintf(why, len, "%s", strerror(errno));
		ret = -EIO;
		goto cleanup;
	}
	if ((size_t)total == sizeof(buf) - 1) {
		snprintf(why, len, "longer than %zu bytes", sizeof(buf) - 2);
		ret = -EFBIG;
		goto cleanup;
	}
	buf[total] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	if (!buf[0]) {
		snprintf(why, len, "empty first line");
		ret = -EINVAL;
		goto cleanup;
	}
	sha256(buf, strlen(buf), out);
cleanup:
	explicit_bzero(buf, sizeof(buf));
	close(fd);
	return ret;
}

static int parse_auth(struct parser *p, json_t *obj, struct config *cfg)
{
	static const char *const keys[] = { "type", "username", "password", "password_file",
					    "password_sha256", "token", "token_file",
					    "token_sha256", NULL };
	static const char *const secrets[2][3] = {
		{ "password", "password_file", "password_sha256" },
		{ "token", "token_file", "token_sha256" },
	};
	struct auth_config *a = &cfg->auth;
	const char *type, *s, *given = NULL;
	json_t *val;
	int err, kind, i;

	if (!json_is_object(obj))
		return parser_error(p, "auth must be an object");
	err = check_keys(p, obj, keys, "in auth (expected type, username, password, "
				       "password_file, password_sha256, token, token_file, "
				       "token_sha256)");
	if (err)
		return err;
	val = json_object_get(obj, "type");
	type = json_string_value(val);
	if (!val)
		return parser_error(p, "auth needs a type: basic or bearer");
	path_push_key(p, "type");
	if (!type || (strcmp(type, "basic") && strcmp(type, "bearer")))
		return parser_error(p, "type must be basic or bearer");
	path_pop(p);
	kind = !strcmp(type, "bearer");
	a->type = kind ? AUTH_BEARER : AUTH_BASIC;
	/* the other kind's keys are mistakes, not extras */
	for (i = 0; i < 3; i++)
		if (json_object_get(obj, secrets[!kind][i])) {
			path_push_key(p, secrets[!kind][i]);
			return parser_key_error(p, "%s is for type %s", secrets[!kind][i],
						kind ? "basic" : "bearer");
		}
	val = json_object_get(obj, "username");
	if (kind && val) {
		path_push_key(p, "username");
		return parser_key_error(p, "username is for type basic");
	}
	if (!kind) {
		if (!val)
			return parser_error(p, "auth type basic needs a username");
		path_push_key(p, "username");
		s = json_string_value(val);
		/* RFC 7617: the user-id cannot contain a colon */
		if (!s || !s[0] || strchr(s, ':'))
			return parser_error(p, "username must be a non-empty string without ':'");
		if (strlen(s) >= CONFIG_USER_LEN)
			return parser_error(p, "username is longer than %d bytes",
					    CONFIG_USER_LEN - 1);
		strcpy(a->username, s);
		path_pop(p);
	}
	for (i = 0; i < 3; i++) {
		if (!json_object_get(obj, secrets[kind][i]))
			continue;
		if (given) {
			path_push_key(p, secrets[kind][i]);
			return parser_key_error(p, "%s and %s: give one of them", given,
						secrets[kind][i]);
		}
		given = secrets[kind][i];
	}
	if (!given)
		return parser_error(p, "auth type %s needs one of %s, %s, %s", type,
				    secrets[kind][0], secrets[kind][1], secrets[kind][2]);
	val = json_object_get(obj, given);
	path_push_key(p, given);
	s = json_string_value(val);
	if (!s || !s[0]) /* the value itself is never echoed: it may be a secret */
		return parser_error(p, "%s must be a non-empty string", given);
	if (given == secrets[kind][0]) {
		sha256(s, strlen(s), a->secret_sha256);
	} else if (given == secrets[kind][2]) {
		if (digest__from_hex(s, a->secret_sha256))
			return parser_error(p, "%s must be 64 hex digits (sha256sum)", given);
	} else {
		char why[64];

		if (strlen(s) >= CONFIG_PATH_LEN)
			return parser_error(p, "%s is longer than %d bytes", given,
					    CONFIG_PATH_LEN - 1);
		if (hash_secret_file(s, a->secret_sha256, why, sizeof(why)))
			return parser_error(p, "%s %s: %s", given, s, why);
		strcpy(a->secret_file, s);
	}
	path_pop(p);
	return 0;
}

/* ---- alerts ---- */

double config__duration(const char *s)
{
	static const struct {
		const char *unit;
		double s;
	} units[] = { { "ms", 0.001 }, { "s", 1 }, { "m", 60 }, { "h", 3600 }, { "d", 86400 },
		      { "w", 604800 } };
	double total = 0;
	size_t i;

	if (!s || !*s)
		return -1;
	while (*s) {
		char *end;
		unsigned long v;

		if (*s < '0' || *s > '9')
			return -1;
		v = strtoul(s, &end, 10);
		for (i = 0; i < ARRAY_SIZE(units); i++)
			if (!strncmp(end, units[i].unit, strlen(units[i].unit)))
				break;
		if (i == ARRAY_SIZE(units))
			return -1;
		total += (double)v * units[i].s;
		s = end + strlen(units[i].unit);
	}
	return total;
}

static int parse_duration(struct parser *p, json_t *val, const char *key, double lo, double hi,
			  double *out)
{
	const char *s = json_string_value(val);
	double d = config__duration(s);

	if (!s || d < 0)
		return parser_error(p, "%s must be a duration such as \"30s\", \"5m\" or \"1h\"",
				    key);
	if (d < lo || d > hi)
		return parser_error(p, "%s %s is out of range %gs..%gs", key, s, lo, hi);
	*out = d;
	return 0;
}

static int parse_text(struct parser *p, json_t *val, const char *key, char *out, size_t size)
{
	const char *s = json_string_value(val);

	if (!s)
		return parser_error(p, "%s must be a string", key);
	if (strlen(s) >= size)
		return parser_error(p, "%s is longer than %zu bytes", key, size - 1);
	strcpy(out, s);
	return 0;
}

/* A Prometheus metric or label name. */
static int prom_name_valid(const char *s, int metric)
{
	if (!*s || (*s >= '0' && *s <= '9'))
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || (metric && *s == ':')))
			return 0;
	return 1;
}

static int parse_cmp(struct parser *p, json_t *val, const char *key, enum alert_cmp *out)
{
	const char *s = json_string_value(val);
	int c;

	for (c = ALERT_GT; s && c <= ALERT_NE; c++)
		if (!strcmp(s, alert_cmp__name(c))) {
			*out = c;
			return 0;
		}
	return parser_error(p, "%s must be one of \">\", \"<\", \">=\", \"<=\", \"==\", \"!=\"",
			    key);
}

static int parse_number(struct parser *p, json_t *val, const char *key, double *out)
{
	if (!json_is_number(val))
		return parser_error(p, "%s must be a number", key);
	*out = json_number_value(val);
	return 0;
}

/* "metric": "name" or ["a", "b"]; "match": {"label": "v" | "!=v" | "=~re" | "!~re"} */
static int parse_selector(struct parser *p, json_t *obj, struct alert_selector *sel)
{
	json_t *val = json_object_get(obj, "metric"), *m;
	const char *label;
	size_t i;
	int err;

	memset(sel, 0, sizeof(*sel));
	if (!val)
		return parser_error(p, "missing metric");
	path_push_key(p, "metric");
	if (json_is_string(val)) {
		json_t *arr = json_array();

		json_array_append(arr, val);
		val = arr;
	} else if (json_is_array(val)) {
		json_incref(val);
	} else {
		return parser_error(p, "metric must be a metric name or a list of them");
	}
	if (!json_array_size(val) || json_array_size(val) > ALERT_MAX_METRICS) {
		json_decref(val);
		return parser_error(p, "metric names 1..%d metrics", ALERT_MAX_METRICS);
	}
	json_array_foreach(val, i, m) {
		const char *s = json_string_value(m);

		if (!s || !prom_name_valid(s, 1) || strlen(s) >= ALERT_METRIC_LEN) {
			json_decref(val);
			return parser_error(p, "metric must be a Prometheus metric name");
		}
		strcpy(sel->metric[sel->n_metrics++], s);
	}
	json_decref(val);
	path_pop(p);
	val = json_object_get(obj, "match");
	if (!val)
		return 0;
	path_push_key(p, "match");
	if (!json_is_object(val))
		return parser_error(p, "match must be an object of label matchers");
	json_object_foreach(val, label, m) {
		struct alert_matcher *am = &sel->match[sel->n_match];
		const char *s = json_string_value(m);

		path_push_key(p, label);
		if (sel->n_match == ALERT_MAX_MATCHERS)
			return parser_key_error(p, "more than %d matchers", ALERT_MAX_MATCHERS);
		if (!prom_name_valid(label, 0) || strlen(label) >= ALERT_NAME_LEN)
			return parser_key_error(p, "not a label name");
		if (!s)
			return parser_error(p, "a matcher is a string: \"v\", \"!=v\", \"=~re\" "
					       "or \"!~re\"");
		strcpy(am->label, label);
		am->op = ALERT_MATCH_EQ;
		if (!strncmp(s, "!=", 2))
			am->op = ALERT_MATCH_NE, s += 2;
		else if (!strncmp(s, "=~", 2))
			am->op = ALERT_MATCH_RE, s += 2;
		else if (!strncmp(s, "!~", 2))
			am->op = ALERT_MATCH_NRE, s += 2;
		if (strlen(s) >= ALERT_VALUE_LEN)
			return parser_error(p, "matcher longer than %d bytes", ALERT_VALUE_LEN - 1);
		if (am->op == ALERT_MATCH_RE || am->op == ALERT_MATCH_NRE) {
			char re_s[ALERT_VALUE_LEN + 8], msg[128];
			regex_t re;
			int rc;

			snprintf(re_s, sizeof(re_s), "^(%s)$", s);
			rc = regcomp(&re, re_s, REG_EXTENDED | REG_NOSUB);
			if (rc) {
				regerror(rc, &re, msg, sizeof(msg));
				return parser_error(p, "not a valid regex: %s", msg);
			}
			regfree(&re);
		}
		strcpy(am->value, s);
		sel->n_match++;
		path_pop(p);
	}
	path_pop(p);
	err = 0;
	return err;
}

static int parse_expr(struct parser *p, json_t *obj, struct alert_expr *e)
{
	static const char *const keys[] = { "fn",	  "metric",    "match",	     "window",
					     "quantile",  "denominator", "sum_by",	     "avg_by",
					     "complement", "scale",	   "op",	     "threshold",
					     "and",	  NULL };
	static const char *const fns[] = { "gauge", "rate", "increase", "histogram_quantile" };
	static const char *const guard_keys[] = { "metric", "match", "op", "threshold", "on",
						   NULL };
	static const char *const den_keys[] = { "metric", "match", NULL };
	json_t *val;
	size_t i;
	int err;

	memset(e, 0, sizeof(*e));
	if (!json_is_object(obj))
		return parser_error(p, "expr must be an object");
	err = check_keys(p, obj, keys, "in expr (see README, Alerts)");
	if (err)
		return err;
	val = json_object_get(obj, "fn");
	path_push_key(p, "fn");
	for (i = 0; val && i < ARRAY_SIZE(fns); i++)
		if (json_is_string(val) && !strcmp(json_string_value(val), fns[i]))
			break;
	if (!val || i == ARRAY_SIZE(fns))
		return parser_error(p, "fn must be gauge, rate, increase or histogram_quantile");
	e->fn = (enum alert_fn)i;
	path_pop(p);
	err = parse_selector(p, obj, &e->sel);
	if (err)
		return err;
	val = json_object_get(obj, "window");
	if (e->fn != ALERT_FN_GAUGE) {
		if (!val)
			return parser_error(p, "%s needs a window", fns[e->fn]);
		path_push_key(p, "window");
		err = parse_duration(p, val, "window", 1, ALERT_MAX_WINDOW_S, &e->window_s);
		if (err)
			return err;
		path_pop(p);
	} else if (val) {
		path_push_key(p, "window");
		return parser_key_error(p, "a gauge takes no window");
	}
	val = json_object_get(obj, "quantile");
	if ((e->fn == ALERT_FN_QUANTILE) != !!val)
		return parser_error(p, "quantile goes with fn histogram_quantile, and only there");
	if (val) {
		path_push_key(p, "quantile");
		if (parse_number(p, val, "quantile", &e->quantile) || e->quantile < 0 ||
		    e->quantile > 1)
			return parser_error(p, "quantile must be a number in 0..1");
		path_pop(p);
	}
	val = json_object_get(obj, "denominator");
	if (val) {
		path_push_key(p, "denominator");
		if (!json_is_object(val))
			return parser_error(p, "denominator must be an object (metric, match)");
		err = check_keys(p, val, den_keys, "in denominator (expected metric, match)");
		if (!err)
			err = parse_selector(p, val, &e->den);
		if (err)
			return err;
		if (e->fn == ALERT_FN_QUANTILE)
			return parser_error(p, "a quantile has no denominator");
		e->ratio = 1;
		path_pop(p);
	}
	for (i = 0; i < 2; i++) {
		const char *k = i ? "avg_by" : "sum_by";
		json_t *l;
		size_t j;

		val = json_object_get(obj, k);
		if (!val)
			continue;
		path_push_key(p, k);
		if (e->agg)
			return parser_key_error(p, "sum_by and avg_by exclude each other");
		if (!json_is_array(val) || json_array_size(val) > ALERT_MAX_BY)
			return parser_error(p, "%s must be a list of at most %d label names", k,
					    ALERT_MAX_BY);
		json_array_foreach(val, j, l) {
			const char *s = json_string_value(l);

			if (!s || !prom_name_valid(s, 0) || strlen(s) >= ALERT_NAME_LEN) {
				path_push_index(p, j);
				return parser_error(p, "not a label name");
			}
			strcpy(e->by[e->n_by++], s);
		}
		e->agg = i ? ALERT_AGG_AVG : ALERT_AGG_SUM;
		path_pop(p);
	}
	if (e->fn == ALERT_FN_QUANTILE && e->agg != ALERT_AGG_SUM && e->agg != ALERT_AGG_NONE)
		return parser_error(p, "histogram_quantile sums buckets: use sum_by");
	val = json_object_get(obj, "complement");
	if (val) {
		path_push_key(p, "complement");
		err = parse_bool(p, val, "complement", &e->complement);
		if (err)
			return err;
		path_pop(p);
	}
	val = json_object_get(obj, "scale");
	e->scale = 1;
	if (val) {
		path_push_key(p, "scale");
		err = parse_number(p, val, "scale", &e->scale);
		if (err)
			return err;
		path_pop(p);
	}
	if (!json_object_get(obj, "op") || !json_object_get(obj, "threshold"))
		return parser_error(p, "expr needs op and threshold");
	path_push_key(p, "op");
	err = parse_cmp(p, json_object_get(obj, "op"), "op", &e->cmp);
	if (err)
		return err;
	path_pop(p);
	path_push_key(p, "threshold");
	err = parse_number(p, json_object_get(obj, "threshold"), "threshold", &e->threshold);
	if (err)
		return err;
	path_pop(p);
	val = json_object_get(obj, "and");
	if (val) {
		json_t *on;

		path_push_key(p, "and");
		if (!json_is_object(val))
			return parser_error(p, "and must be an object (metric, match, op, threshold, on)");
		err = check_keys(p, val, guard_keys, "in and (expected metric, match, op, threshold, on)");
		if (!err)
			err = parse_selector(p, val, &e->guard_sel);
		if (err)
			return err;
		if (!json_object_get(val, "op") || !json_object_get(val, "threshold"))
			return parser_error(p, "and needs op and threshold");
		path_push_key(p, "op");
		err = parse_cmp(p, json_object_get(val, "op"), "op", &e->guard_cmp);
		if (err)
			return err;
		path_pop(p);
		path_push_key(p, "threshold");
		err = parse_number(p, json_object_get(val, "threshold"), "threshold",
				   &e->guard_threshold);
		if (err)
			return err;
		path_pop(p);
		on = json_object_get(val, "on");
		if (on) {
			const char *s = json_string_value(on);

			path_push_key(p, "on");
			if (!s || (strcmp(s, "instance") && strcmp(s, "labels")))
				return parser_error(p, "on must be \"instance\" (any series of this "
						       "host) or \"labels\" (the same labels)");
			e->guard_same = !strcmp(s, "labels");
			path_pop(p);
		}
		e->guard = 1;
		path_pop(p);
	}
	return 0;
}

static int parse_string_map(struct parser *p, json_t *obj, const char *what,
			    char (*names)[ALERT_NAME_LEN], char (*values)[ALERT_VALUE_LEN], int *n)
{
	const char *k;
	json_t *v;

	if (!json_is_object(obj))
		return parser_error(p, "%s must be an object of strings", what);
	*n = 0;
	json_object_foreach(obj, k, v) {
		path_push_key(p, k);
		if (*n == ALERT_MAX_LABELS)
			return parser_key_error(p, "more than %d %s", ALERT_MAX_LABELS, what);
		if (!prom_name_valid(k, 0) || strlen(k) >= ALERT_NAME_LEN || !strcmp(k, "alertname"))
			return parser_key_error(p, "not a label name that a rule may set");
		if (!json_is_string(v) || strlen(json_string_value(v)) >= ALERT_VALUE_LEN)
			return parser_error(p, "a label value is a string of at most %d bytes",
					    ALERT_VALUE_LEN - 1);
		strcpy(names[*n], k);
		strcpy(values[*n], json_string_value(v));
		(*n)++;
		path_pop(p);
	}
	return 0;
}

static int parse_rule(struct parser *p, json_t *obj, struct alert_rule *r, int need_expr)
{
	static const char *const keys[] = { "alert",  "expr",	     "for",	 "threshold",
					     "window", "labels",     "annotations", "disabled",
					     NULL };
	static const char *const ann_keys[] = { "summary", "description", "runbook_url", NULL };
	json_t *val;
	int err;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(obj))
		return parser_error(p, "a rule must be an object");
	err = check_keys(p, obj, keys,
			 "in rule (expected alert, expr, for, threshold, window, labels, "
			 "annotations, disabled)");
	if (err)
		return err;
	val = json_object_get(obj, "alert");
	if (!val)
		return parser_error(p, "missing alert (the rule's name)");
	path_push_key(p, "alert");
	if (!json_is_string(val) || !prom_name_valid(json_string_value(val), 0) ||
	    strlen(json_string_value(val)) >= ALERT_NAME_LEN)
		return parser_error(p, "alert must be a name like BetanetLowPeerCount");
	strcpy(r->name, json_string_value(val));
	path_pop(p);
	val = json_object_get(obj, "expr");
	if (val) {
		path_push_key(p, "expr");
		err = parse_expr(p, val, &r->expr);
		if (err)
			return err;
		path_pop(p);
		r->set |= ALERT_SET_EXPR;
	} else if (need_expr) {
		return parser_error(p, "rule %s needs an expr", r->name);
	}
	val = json_object_get(obj, "for");
	if (val) {
		path_push_key(p, "for");
		err = parse_duration(p, val, "for", 0, 30 * 86400.0, &r->for_s);
		if (err && json_is_string(val) && !strcmp(json_string_value(val), "0s"))
			err = 0, r->for_s = 0;
		if (err)
			return err;
		path_pop(p);
		r->set |= ALERT_SET_FOR;
	}
	val = json_object_get(obj, "threshold");
	if (val) {
		path_push_key(p, "threshold");
		err = parse_number(p, val, "threshold", &r->expr.threshold);
		if (err)
			return err;
		path_pop(p);
		r->set |= ALERT_SET_THRESHOLD;
	}
	val = json_object_get(obj, "window");
	if (val) {
		path_push_key(p, "window");
		err = parse_duration(p, val, "window", 1, ALERT_MAX_WINDOW_S, &r->expr.window_s);
		if (err)
			return err;
		if ((r->set & ALERT_SET_EXPR) && r->expr.fn == ALERT_FN_GAUGE)
			return parser_key_error(p, "a gauge takes no window");
		path_pop(p);
		r->set |= ALERT_SET_WINDOW;
	}
	val = json_object_get(obj, "labels");
	if (val) {
		path_push_key(p, "labels");
		err = parse_string_map(p, val, "labels", r->label_names, r->label_values,
				       &r->n_labels);
		if (err)
			return err;
		path_pop(p);
		r->set |= ALERT_SET_LABELS;
	}
	val = json_object_get(obj, "annotations");
	if (val) {
		path_push_key(p, "annotations");
		if (!json_is_object(val))
			return parser_error(p, "annotations must be an object");
		err = check_keys(p, val, ann_keys,
				 "in annotations (expected summary, description, runbook_url)");
		if (err)
			return err;
		if (json_object_get(val, "summary")) {
			path_push_key(p, "summary");
			err = parse_text(p, json_object_get(val, "summary"), "summary", r->summary,
					 sizeof(r->summary));
			if (err)
				return err;
			path_pop(p);
		}
		if (json_object_get(val, "description")) {
			path_push_key(p, "description");
			err = parse_text(p, json_object_get(val, "description"), "description",
					 r->description, sizeof(r->description));
			if (err)
				return err;
			path_pop(p);
		}
		if (json_object_get(val, "runbook_url")) {
			path_push_key(p, "runbook_url");
			err = parse_text(p, json_object_get(val, "runbook_url"), "runbook_url",
					 r->runbook_url, sizeof(r->runbook_url));
			if (err)
				return err;
			path_pop(p);
		}
		path_pop(p);
		r->set |= ALERT_SET_ANNOTATIONS;
	}
	val = json_object_get(obj, "disabled");
	if (val) {
		path_push_key(p, "disabled");
		err = parse_bool(p, val, "disabled", &r->disabled);
		if (err)
			return err;
		path_pop(p);
		r->set |= ALERT_SET_DISABLED;
	}
	return 0;
}

static int parse_rules(struct parser *p, json_t *arr, struct alert_rule *rules, int max, int *n,
		       int need_expr)
{
	json_t *r;
	size_t i;
	int err;

	if (!json_is_array(arr))
		return parser_error(p, "rules must be an array of rule objects");
	*n = 0;
	json_array_foreach(arr, i, r) {
		path_push_index(p, i);
		if (*n == max)
			return parser_error(p, "too many rules (at most %d)", max);
		err = parse_rule(p, r, &rules[*n], need_expr);
		if (err)
			return err;
		(*n)++;
		path_pop(p);
	}
	return 0;
}

static int parse_receiver(struct parser *p, json_t *obj, struct alert_receiver *rc, int webhook)
{
	static const char *const keys[] = { "url",	 "username",	"password_file",
					     "bearer_token_file", "ca_file", "insecure_skip_verify",
					     NULL };
	static const struct {
		const char *key;
		size_t off, size;
	} strs[] = {
		{ "url", offsetof(struct alert_receiver, url), CONFIG_URL_LEN },
		{ "username", offsetof(struct alert_receiver, username), ALERT_NAME_LEN },
		{ "password_file", offsetof(struct alert_receiver, password_file), CONFIG_PATH_LEN },
		{ "bearer_token_file", offsetof(struct alert_receiver, bearer_token_file),
		  CONFIG_PATH_LEN },
		{ "ca_file", offsetof(struct alert_receiver, ca_file), CONFIG_PATH_LEN },
	};
	size_t i;
	int err;

	if (!json_is_object(obj))
		return parser_error(p, "a receiver must be an object with a url");
	err = check_keys(p, obj, keys,
			 "(expected url, username, password_file, bearer_token_file, ca_file, "
			 "insecure_skip_verify)");
	if (err)
		return err;
	for (i = 0; i < ARRAY_SIZE(strs); i++) {
		json_t *v = json_object_get(obj, strs[i].key);

		if (!v)
			continue;
		path_push_key(p, strs[i].key);
		err = parse_text(p, v, strs[i].key, (char *)rc + strs[i].off, strs[i].size);
		if (err)
			return err;
		path_pop(p);
	}
	if (!rc->url[0])
		return parser_error(p, "missing url");
	if (strncmp(rc->url, "http://", 7) && strncmp(rc->url, "https://", 8)) {
		path_push_key(p, "url");
		return parser_error(p, "url must start with http:// or https://");
	}
	if (!!rc->username[0] != !!rc->password_file[0] ||
	    (rc->username[0] && rc->bearer_token_file[0]))
		return parser_error(p, "%s: username goes with password_file, and excludes "
				       "bearer_token_file", webhook ? "webhook" : "alertmanager");
	if (json_object_get(obj, "insecure_skip_verify")) {
		path_push_key(p, "insecure_skip_verify");
		err = parse_bool(p, json_object_get(obj, "insecure_skip_verify"),
				 "insecure_skip_verify", &rc->insecure_skip_verify);
		if (err)
			return err;
		path_pop(p);
	}
	return 0;
}

static int parse_alerts(struct parser *p, json_t *obj, struct alerts_config *ac)
{
	static const char *const keys[] = { "enabled", "interval",      "instance", "rules",
					     "alertmanagers", "webhook", "resend",	"timeout",
					     "queue",	NULL };
	json_t *val, *am;
	size_t i;
	int err;

	if (!json_is_object(obj))
		return parser_error(p, "alerts must be an object");
	err = check_keys(p, obj, keys,
			 "in alerts (expected enabled, interval, instance, rules, alertmanagers, "
			 "webhook, resend, timeout, queue)");
	if (err)
		return err;
	if ((val = json_object_get(obj, "enabled"))) {
		path_push_key(p, "enabled");
		if ((err = parse_bool(p, val, "enabled", &ac->enabled)))
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "interval"))) {
		path_push_key(p, "interval");
		if ((err = parse_duration(p, val, "interval", 1, 3600, &ac->interval_s)))
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "resend"))) {
		path_push_key(p, "resend");
		if ((err = parse_duration(p, val, "resend", 1, 86400, &ac->resend_s)))
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "timeout"))) {
		path_push_key(p, "timeout");
		if ((err = parse_duration(p, val, "timeout", 0.1, 300, &ac->timeout_s)))
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "instance"))) {
		path_push_key(p, "instance");
		if ((err = parse_text(p, val, "instance", ac->instance, sizeof(ac->instance))))
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "queue"))) {
		path_push_key(p, "queue");
		if (!json_is_integer(val) || json_integer_value(val) < 1 ||
		    json_integer_value(val) > 65536)
			return parser_error(p, "queue must be an integer in 1..65536");
		ac->queue = (int)json_integer_value(val);
		path_pop(p);
	}
	if ((val = json_object_get(obj, "rules"))) {
		path_push_key(p, "rules");
		err = parse_rules(p, val, ac->rules, CONFIG_MAX_ALERT_RULES, &ac->n_rules, 0);
		if (err)
			return err;
		path_pop(p);
	}
	if ((val = json_object_get(obj, "alertmanagers"))) {
		path_push_key(p, "alertmanagers");
		if (!json_is_array(val))
			return parser_error(p, "alertmanagers must be an array of {\"url\": ...}");
		json_array_foreach(val, i, am) {
			path_push_index(p, i);
			if (i == CONFIG_MAX_ALERTMANAGERS)
				return parser_error(p, "at most %d alertmanagers",
						    CONFIG_MAX_ALERTMANAGERS);
			err = parse_receiver(p, am, &ac->alertmanagers[i], 0);
			if (err)
				return err;
			ac->n_alertmanagers++;
			path_pop(p);
		}
		path_pop(p);
	}
	if ((val = json_object_get(obj, "webhook"))) {
		path_push_key(p, "webhook");
		if ((err = parse_receiver(p, val, &ac->webhook, 1)))
			return err;
		path_pop(p);
	}
	return 0;
}

int config__load_alert_rules(const char *text, const char *name, struct alert_rule *rules,
			     int max, int *n, char *err, size_t errlen)
{
	struct parser p = { .text = text, .len = strlen(text), .name = name ? name : "<string>",
			    .err = err, .errlen = errlen };
	json_error_t jerr;
	json_t *root;
	int ret;

	root = json_loadb(text, p.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: %s", p.name, jerr.line, jerr.column,
				 jerr.text);
		return -EINVAL;
	}
	ret = parse_rules(&p, root, rules, max, n, 1);
	json_decref(root);
	return ret;
}

const char *alert_cmp__name(enum alert_cmp c)
{
	static const char *const names[] = { ">", "<", ">=", "<=", "==", "!=" };

	return (unsigned int)c < ARRAY_SIZE(names) ? names[c] : "?";
}

const char *alert_fn__name(enum alert_fn f)
{
	static const char *const names[] = { "gauge", "rate", "increase", "histogram_quantile" };

	return (unsigned int)f < ARRAY_SIZE(names) ? names[f] : "?";
}

static int parse_root(struct parser *p, json_t *root, struct config *cfg)
{
	static const char *const keys[] = { "listen", "tls", "auth", "services", "host",
					    "containers", "alerts", "otlp", NULL };
	static const struct section_key host_keys[] = {
		{ "enabled", host_enabled },
		{ "root", host_root },
		{ "filesystems_exclude", host_mounts },
		{ "fstypes_exclude", host_fstypes },
		{ "network_devices_exclude", host_netdevs },
	};
	static const struct section_key containers_keys[] = {
		{ "enabled", containers_enabled },
		{ "max", containers_max },
		{ "network", containers_network },
	};
	static const struct section_key otlp_keys[] = {
		{ "enabled", otlp_enabled },
		{ "endpoint", otlp_url },
		{ "traces_endpoint", otlp_url },
		{ "protocol", otlp_protocol },
		{ "headers", otlp_headers },
		{ "compression", otlp_compression },
		{ "timeout_ms", otlp_timeout },
		{ "resource_attributes", otlp_resource },
		{ "sample_ratio", otlp_sample },
		{ "keep_slower_than_ms", otlp_slow },
		{ "queue_spans", otlp_queue },
		{ "batch_spans", otlp_batch },
		{ "batch_delay_ms", otlp_delay },
		{ "retry_max_s", otlp_retry },
		{ "tcp_spans", otlp_tcp_spans },
		{ "peer_address", otlp_peer },
		{ "peer_prefix_ipv4", otlp_prefix },
		{ "peer_prefix_ipv6", otlp_prefix },
	};
	json_t *val, *svc;
	size_t i;
	int err;

	if (!json_is_object(root))
		return parser_error(p, "config must be a JSON object");
	err = check_keys(p, root, keys, "(expected listen, tls, auth, services, host, containers, alerts, otlp)");
	if (err)
		return err;

	cfg->alerts.enabled = 1;
	cfg->alerts.interval_s = CONFIG_DEFAULT_ALERT_INTERVAL_S;
	cfg->alerts.resend_s = CONFIG_DEFAULT_ALERT_RESEND_S;
	cfg->alerts.timeout_s = CONFIG_DEFAULT_ALERT_TIMEOUT_S;
	cfg->alerts.queue = CONFIG_DEFAULT_ALERT_QUEUE;
	val = json_object_get(root, "alerts");
	if (val) {
		path_push_key(p, "alerts");
		err = parse_alerts(p, val, &cfg->alerts);
		if (err)
			return err;
		path_pop(p);
	}

	cfg->host.enabled = 1;
	strcpy(cfg->host.mounts_exclude, CONFIG_DEFAULT_MOUNTS_EXCLUDE);
	strcpy(cfg->host.fstypes_exclude, CONFIG_DEFAULT_FSTYPES_EXCLUDE);
	strcpy(cfg->host.netdev_exclude, CONFIG_DEFAULT_NETDEV_EXCLUDE);
	cfg->containers.enabled = 1;
	cfg->containers.max = CONFIG_DEFAULT_CONTAINERS;
	for (i = 0; i < 2; i++) {
		const char *name = i ? "containers" : "host";

		val = json_object_get(root, name);
		if (!val)
			continue;
		path_push_key(p, name);
		err = i ? parse_section(p, val, name, containers_keys, 3, cfg) :
			  parse_section(p, val, name, host_keys, 5, cfg);
		if (err)
			return err;
		path_pop(p);
	}

	otlp_defaults(&cfg->otlp);
	val = json_object_get(root, "otlp");
	if (val) {
		path_push_key(p, "otlp");
		err = parse_section(p, val, "otlp", otlp_keys, sizeof(otlp_keys) / sizeof(otlp_keys[0]), cfg);
		if (err)
			return err;
		path_pop(p);
		/* a section that names where to send means "send" unless it says otherwise */
		if (!(cfg->otlp.set & OTLP_SET_ENABLED))
			cfg->otlp.enabled = 1;
		if (cfg->otlp.batch_spans > cfg->otlp.queue_spans) {
			path_push_key(p, "otlp");
			path_push_key(p, json_object_get(val, "batch_spans") ? "batch_spans" :
										"queue_spans");
			return parser_error(p, "batch_spans %u is larger than queue_spans %u",
					    cfg->otlp.batch_spans, cfg->otlp.queue_spans);
		}
	}

	val = json_object_get(root, "listen");
	if (val) {
		path_push_key(p, "listen");
		err = parse_listen(p, val, cfg);
		if (err)
			return err;
		path_pop(p);
	} else {
		strcpy(cfg->listen, CONFIG_DEFAULT_LISTEN);
	}
	val = json_object_get(root, "tls");
	if (val) {
		path_push_key(p, "tls");
		err = parse_tls(p, val, cfg);
		if (err)
			return err;
		path_pop(p);
	}
	val = json_object_get(root, "auth");
	if (val) {
		path_push_key(p, "auth");
		err = parse_auth(p, val, cfg);
		if (err)
			return err;
		path_pop(p);
	}

	val = json_object_get(root, "services");
	if (!val)
		return parser_error(p, "missing services");
	path_push_key(p, "services");
	if (!json_is_array(val))
		return parser_error(p, "services must be an array of service objects");
	if (!json_array_size(val))
		return parser_error(p, "services list is empty");
	if (json_array_size(val) > CONFIG_MAX_SERVICES) {
		path_push_index(p, CONFIG_MAX_SERVICES);
		return parser_error(p, "too many services (at most %d)", CONFIG_MAX_SERVICES);
	}
	json_array_foreach(val, i, svc) {
		path_push_index(p, i);
		err = parse_service(p, svc, cfg, (int)i);
		if (err)
			return err;
		path_pop(p);
		cfg->n_services++;
	}
	path_pop(p);
	return 0;
}

static int load_buffer(const char *text, size_t len, const char *name, struct config *cfg,
		       char *err, size_t errlen)
{
	struct parser p = {
		.text = text,
		.len = len,
		.name = name ? name : "<string>",
		.err = err,
		.errlen = errlen,
	};
	json_error_t jerr;
	json_t *root;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	if (err && errlen)
		err[0] = '\0';
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		/*
		 * jansson's column is that of the last character of the token it stopped
		 * at (the closing quote of a duplicate key), and 0 at end of input on a
		 * fresh line.
		 */
		if (err && errlen)
			snprintf(err, errlen, "%s:%d:%d: %s", p.name, jerr.line, jerr.column,
				 jerr.text);
		return -EINVAL;
	}
	ret = parse_root(&p, root, cfg);
	json_decref(root);
	return ret;
}

int config__load_string(const char *text, const char *name, struct config *cfg, char *err,
			size_t errlen)
{
	if (!text || !cfg)
		return -EINVAL;
	return load_buffer(text, strlen(text), name, cfg, err, errlen);
}

int config__load_file(const char *path, struct config *cfg, char *err, size_t errlen)
{
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int fd, ret;

	if (!path || !cfg)
		return -EINVAL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		goto io_error;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *nbuf;

			if (cap >= CONFIG_MAX_FILE_BYTES) {
				ret = -EFBIG;
				goto io_error;
			}
			cap = cap ? cap * 2 : 4096;
			nbuf = realloc(buf, cap);
			if (!nbuf) {
				ret = -ENOMEM;
				goto io_error;
			}
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			goto io_error;
		}
		if (!n)
			break;
		len += (size_t)n;
	}
	ret = load_buffer(buf, len, path, cfg, err, errlen);
	goto cleanup;

io_error:
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", path, strerror(-ret));
cleanup:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

void config__default(struct config *cfg)
{
	char err[256];

	/* A constant covered by the unit tests: failing here is a build defect. */
	if (config__load_string(default_config, "<default config>", cfg, err, sizeof(err))) {
		fprintf(stderr, "fogprobe: built-in default config is invalid: %s\n", err);
		abort();
	}
}

const char *config__protocol_name(enum fp_protocol p)
{
	if ((unsigned int)p >= N_PROTOCOLS)
		return "unknown";
	return protocol_names[p];
}

/* ---- OTEL_* variables ---- */

static int env_error(char *err, size_t errlen, const char *var, const char *msg)
{
	if (err && errlen)
		snprintf(err, errlen, "%s: %s", var, msg);
	return -EINVAL;
}

/* The signal-specific variable if set, else the generic one; *var names the one read. */
static const char *env_pick(const char *(*get)(const char *), const char *traces,
			    const char *generic, const char **var)
{
	const char *v = get(traces);

	*var = traces;
	if (v && *v)
		return v;
	*var = generic;
	v = get(generic);
	return v && *v ? v : NULL;
}

static void trim_copy(const char *s, size_t n, char *out)
{
	while (n && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	memcpy(out, s, n);
	out[n] = 0;
}

/* RFC 3986 percent-decoding in place; -1 on a bad escape. */
static int percent_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '%') {
			int hi, lo;

			if (!s[1] || !s[2])
				return -1;
			hi = s[1] >= 'a' ? s[1] - 'a' + 10 : s[1] >= 'A' ? s[1] - 'A' + 10 : s[1] - '0';
			lo = s[2] >= 'a' ? s[2] - 'a' + 10 : s[2] >= 'A' ? s[2] - 'A' + 10 : s[2] - '0';
			if (hi < 0 || hi > 15 || lo < 0 || lo > 15)
				return -1;
			*o++ = (char)(hi << 4 | lo);
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return 0;
}

/* "k1=v1,k2=v2" (W3C Baggage-like, values percent-encoded) into kv. */
static int env_kv_list(const char *v, struct config_kv *kv, int *n, int headers, const char **why)
{
	const char *p = v;

	*n = 0;
	while (*p) {
		const char *end = strchr(p, ','), *eq;
		size_t len;

		if (!end)
			end = p + strlen(p);
		eq = memchr(p, '=', (size_t)(end - p));
		len = (size_t)(end - p);
		if (len && !eq) {
			*why = "an entry is not key=value";
			return -1;
		}
		if (eq) {
			if (*n == CONFIG_MAX_KV) {
				*why = "too many entries (at most 16)";
				return -1;
			}
			if ((size_t)(eq - p) >= CONFIG_KV_LEN || (size_t)(end - eq - 1) >= CONFIG_KV_LEN) {
				*why = "an entry is too long";
				return -1;
			}
			trim_copy(p, (size_t)(eq - p), kv[*n].key);
			trim_copy(eq + 1, (size_t)(end - eq - 1), kv[*n].value);
			if (percent_decode(kv[*n].key) || percent_decode(kv[*n].value)) {
				*why = "a bad percent-encoding";
				return -1;
			}
			if (!kv[*n].key[0] || (headers && (!header_name_ok(kv[*n].key) ||
							   !header_value_ok(kv[*n].value)))) {
				*why = headers ? "not a valid header" : "an empty key";
				return -1;
			}
			(*n)++;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

static int env_uint(const char *v, uint32_t lo, uint32_t hi, uint32_t *out)
{
	char *end;
	unsigned long x;

	errno = 0;
	x = strtoul(v, &end, 10);
	if (errno || end == v || *end || x < lo || x > hi || v[0] == '-')
		return -1;
	*out = (uint32_t)x;
	return 0;
}

int config__otlp_env(struct otlp_config *o, const char *(*get)(const char *name), char *err,
		     size_t errlen)
{
	const char *v, *var, *why = NULL;
	char msg[96];

	v = get("OTEL_TRACES_EXPORTER");
	if (v && *v && !(o->set & OTLP_SET_ENABLED)) {
		if (!strcmp(v, "none"))
			o->enabled = 0;
		else if (!strcmp(v, "otlp"))
			o->enabled = 1;
		else
			return env_error(err, errlen, "OTEL_TRACES_EXPORTER",
					 "only \"otlp\" and \"none\" are supported");
		o->set |= OTLP_SET_ENABLED;
	}
	if (!(o->set & OTLP_SET_ENDPOINT)) {
		v = get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT");
		var = "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT";
		if (v && *v) {
			if ((why = url_problem(v)))
				return env_error(err, errlen, var, why);
			if (strlen(v) >= CONFIG_URL_LEN)
				return env_error(err, errlen, var, "too long");
			strcpy(o->url, v); /* used as is: the signal path is in it */
		} else if ((v = get("OTEL_EXPORTER_OTLP_ENDPOINT")) && *v) {
			var = "OTEL_EXPORTER_OTLP_ENDPOINT";
			if ((why = url_problem(v)))
				return env_error(err, errlen, var, why);
			if (otlp_base_url(v, o->url))
				return env_error(err, errlen, var, "too long");
		}
		if (v && *v && !(o->set & OTLP_SET_ENABLED))
			o->enabled = 1;
	}
	if (!(o->set & OTLP_SET_PROTOCOL) &&
	    (v = env_pick(get, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL",
			  &var)) &&
	    otlp_protocol_value(v, &o->protocol))
		return env_error(err, errlen, var,
				 "only \"http/protobuf\" and \"http/json\" are supported");
	if (!(o->set & OTLP_SET_HEADERS) &&
	    (v = env_pick(get, "OTEL_EXPORTER_OTLP_TRACES_HEADERS", "OTEL_EXPORTER_OTLP_HEADERS",
			  &var)) &&
	    env_kv_list(v, o->headers, &o->n_headers, 1, &why))
		return env_error(err, errlen, var, why);
	if (!(o->set & OTLP_SET_COMPRESSION) &&
	    (v = env_pick(get, "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
			  "OTEL_EXPORTER_OTLP_COMPRESSION", &var))) {
		if (strcmp(v, "gzip") && strcmp(v, "none"))
			return env_error(err, errlen, var, "must be \"gzip\" or \"none\"");
		o->gzip = !strcmp(v, "gzip");
	}
	if (!(o->set & OTLP_SET_TIMEOUT) &&
	    (v = env_pick(get, "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT",
			  &var)) &&
	    env_uint(v, 1, 600000, &o->timeout_ms))
		return env_error(err, errlen, var, "must be milliseconds in 1..600000");
	if (!(o->set & OTLP_SET_RESOURCE) && (v = get("OTEL_RESOURCE_ATTRIBUTES")) && *v &&
	    env_kv_list(v, o->resource, &o->n_resource, 0, &why))
		return env_error(err, errlen, "OTEL_RESOURCE_ATTRIBUTES", why);
	if (!(o->set & OTLP_SET_SAMPLE) && (v = get("OTEL_TRACES_SAMPLER")) && *v) {
		if (!strcmp(v, "always_on") || !strcmp(v, "parentbased_always_on")) {
			o->sample_ratio = 1;
		} else if (!strcmp(v, "always_off") || !strcmp(v, "parentbased_always_off")) {
			o->sample_ratio = 0;
		} else if (!strcmp(v, "traceidratio") || !strcmp(v, "parentbased_traceidratio")) {
			const char *a = get("OTEL_TRACES_SAMPLER_ARG");
			char *end;
			double r;

			if (a && *a) {
				r = strtod(a, &end);
				if (end == a || *end || !(r >= 0 && r <= 1))
					return env_error(err, errlen, "OTEL_TRACES_SAMPLER_ARG",
							 "must be a ratio in 0..1");
				o->sample_ratio = r;
			}
		} else {
			return env_error(err, errlen, "OTEL_TRACES_SAMPLER",
					 "supported: always_on, always_off, traceidratio and "
					 "their parentbased_ forms");
		}
	}
	if (!(o->set & OTLP_SET_QUEUE) && (v = get("OTEL_BSP_MAX_QUEUE_SIZE")) && *v &&
	    env_uint(v, 1, CONFIG_OTLP_MAX_QUEUE, &o->queue_spans))
		return env_error(err, errlen, "OTEL_BSP_MAX_QUEUE_SIZE", "must be in 1..1048576");
	if (!(o->set & OTLP_SET_BATCH) && (v = get("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")) && *v &&
	    env_uint(v, 1, CONFIG_OTLP_MAX_QUEUE, &o->batch_spans))
		return env_error(err, errlen, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
				 "must be in 1..1048576");
	if (!(o->set & OTLP_SET_DELAY) && (v = get("OTEL_BSP_SCHEDULE_DELAY")) && *v &&
	    env_uint(v, 1, 600000, &o->batch_delay_ms))
		return env_error(err, errlen, "OTEL_BSP_SCHEDULE_DELAY",
				 "must be milliseconds in 1..600000");
	if (o->batch_spans > o->queue_spans) {
		snprintf(msg, sizeof(msg), "the batch (%u spans) is larger than the queue (%u)",
			 o->batch_spans, o->queue_spans);
		return env_error(err, errlen, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", msg);
	}
	return 0;
}
