// SPDX-License-Identifier: GPL-2.0-only
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include <zlib.h>

#include "export/otlp.h"
#include "lib/ids.h"
#include "lib/log.h"

#define RESP_MAX 65536 /* bytes of a collector's answer kept */

/* ---- protobuf wire format (https://protobuf.dev/programming-guides/encoding/) ---- */

enum { WT_VARINT = 0, WT_I64 = 1, WT_LEN = 2, WT_I32 = 5 };

/*
 * The encoder appends a few bytes at a time, some sixty times per span (strbuf checks
 * the room inline). Once an allocation failed (b->oom) every later write is dropped and
 * the caller reports it.
 */
static void pb_varint(struct strbuf *b, uint64_t v)
{
	char *p;

	if (strbuf__grow(b, 10))
		return;
	p = b->buf + b->len;
	do {
		*p++ = (char)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
	b->len = (size_t)(p - b->buf);
	*p = '\0';
}

static void pb_tag(struct strbuf *b, unsigned field, unsigned wt)
{
	pb_varint(b, (uint64_t)field << 3 | wt);
}

static void pb_bytes(struct strbuf *b, unsigned field, const void *p, size_t n)
{
	pb_tag(b, field, WT_LEN);
	pb_varint(b, n);
	strbuf__append(b, p, n);
}

static void pb_str(struct strbuf *b, unsigned field, const char *s)
{
	pb_bytes(b, field, s, strlen(s));
}

static void pb_fixed(struct strbuf *b, unsigned field, uint64_t v, unsigned size)
{
	char t[8];
	unsigned i;

	pb_tag(b, field, size == 8 ? WT_I64 : WT_I32);
	for (i = 0; i < size; i++)
		t[i] = (char)(v >> (8 * i)); /* little-endian */
	strbuf__append(b, t, size);
}

/*
 * A nested message: its tag and room for a length of `guess` bytes now (1: under 128
 * bytes, 2: under 16 KiB, 3: under 2 MiB); pb_end writes the length, and moves the
 * body only when the guess was wrong. The length is always the shortest varint.
 */
static size_t pb_begin(struct strbuf *b, unsigned field, size_t guess)
{
	pb_tag(b, field, WT_LEN);
	if (!strbuf__grow(b, guess)) { /* pb_end writes these bytes */
		b->len += guess;
		b->buf[b->len] = '\0';
	}
	return b->len;
}

static void pb_end(struct strbuf *b, size_t body, size_t guess)
{
	size_t len, k = 1, t;
	char *p;

	if (b->oom)
		return;
	len = b->len - body;
	for (t = len; t > 0x7f; t >>= 7)
		k++;
	if (k != guess) {
		if (k > guess && strbuf__grow(b, k - guess))
			return;
		memmove(b->buf + body - guess + k, b->buf + body, len);
		b->len = b->len - guess + k;
		b->buf[b->len] = '\0';
	}
	p = b->buf + body - guess;
	for (t = 0; t < k; t++)
		p[t] = (char)(((len >> (7 * t)) & 0x7f) | (t + 1 < k ? 0x80 : 0));
}

/* KeyValue{key, AnyValue{string_value}} */
static void pb_attr_str(struct strbuf *b, unsigned field, const char *k, const char *v)
{
	size_t kv = pb_begin(b, field, 1), av;

	pb_str(b, 1, k);
	av = pb_begin(b, 2, 1);
	pb_str(b, 1, v);
	pb_end(b, av, 1);
	pb_end(b, kv, 1);
}

/* KeyValue{key, AnyValue{int_value}} */
static void pb_attr_int(struct strbuf *b, unsigned field, const char *k, int64_t v)
{
	size_t kv = pb_begin(b, field, 1), av;

	pb_str(b, 1, k);
	av = pb_begin(b, 2, 1);
	pb_tag(b, 3, WT_VARINT);
	pb_varint(b, (uint64_t)v);
	pb_end(b, av, 1);
	pb_end(b, kv, 1);
}

/* ---- what a span says, shared by both encodings ---- */

struct attr {
	const char *key;
	const char *s; /* NULL: an int */
	int64_t i;
};

/* The resource of span s: its service, this host, the probe, the container and pod of
 * the socket's owner when known, then the operator's attributes. */
static size_t resource_attrs(const struct otlp_resource *r, const struct span *s, struct attr *a)
{
	const struct otlp_config *o = &r->cfg->otlp;
	size_t n = 0, fixed;
	int i;

	a[n++] = (struct attr){ "service.name", r->cfg->services[s->svc].name };
	a[n++] = (struct attr){ "host.name", r->host_name };
	a[n++] = (struct attr){ "telemetry.sdk.name", "fogprobe" };
	a[n++] = (struct attr){ "telemetry.sdk.language", "c" };
	a[n++] = (struct attr){ "telemetry.sdk.version", r->version };
	if (s->origin.container_id[0])
		a[n++] = (struct attr){ "container.id", s->origin.container_id };
	if (s->origin.pod_uid[0])
		a[n++] = (struct attr){ "k8s.pod.uid", s->origin.pod_uid };
	fixed = n;
	for (i = 0; i < o->n_resource; i++) {
		size_t j;

		/* what the probe knows wins over a variable that repeats a key */
		for (j = 0; j < fixed && strcmp(a[j].key, o->resource[i].key); j++)
			;
		if (j == fixed)
			a[n++] = (struct attr){ o->resource[i].key, o->resource[i].value };
	}
	return n;
}

#define SPAN_ATTRS_MAX (SPAN_ATTRS + SPAN_INTS > 11 ? SPAN_ATTRS + SPAN_INTS : 11) /* span_attrs fills at most this many */

static size_t span_attrs(const struct span *s, struct attr *a)
{
	size_t n = 0, i;

	if (s->type == SPAN_OTHER) {
		for (i = 0; i < s->n_attrs && i < SPAN_ATTRS; i++)
			a[n++] = (struct attr){ s->attrs[i].key, s->attrs[i].value };
		for (i = 0; i < s->n_ints && i < SPAN_INTS; i++)
			a[n++] = (struct attr){ s->int_keys[i], NULL, s->int_values[i] };
		return n;
	}

	a[n++] = (struct attr){ "http.request.method", s->method };
	a[n++] = (struct attr){ "url.path", s->path };
	a[n++] = (struct attr){ "url.scheme", s->tls ? "https" : "http" };
	a[n++] = (struct attr){ "network.protocol.name", "http" };
	if (s->version[0])
		a[n++] = (struct attr){ "network.protocol.version", s->version };
	if (s->kind == SPAN_KIND_SERVER)
		a[n++] = (struct attr){ "http.route", s->route };
	if (s->status_code)
		a[n++] = (struct attr){ "http.response.status_code", NULL, s->status_code };
	if (s->error_type[0])
		a[n++] = (struct attr){ "error.type", s->error_type };
	if (s->server_port) {
		a[n++] = (struct attr){ "server.address", s->server_address };
		a[n++] = (struct attr){ "server.port", NULL, s->server_port };
	}
	if (s->peer_address[0])
		a[n++] = (struct attr){ "network.peer.address", s->peer_address };
	return n;
}

/* OTLP Span.flags: the W3C trace flags, and whether the parent is remote (bits 8, 9) */
static uint32_t span_flags(const struct span *s)
{
	uint32_t f = s->flags;

	if (s->has_parent)
		f |= 0x100 | (s->remote_parent ? 0x200 : 0);
	return f;
}

static bool same_str(const char *a, const char *b)
{
	return a[0] == b[0] && (!a[0] || !strcmp(a, b));
}

static bool same_resource(const struct span *a, const struct span *b)
{
	return a->svc == b->svc && same_str(a->origin.container_id, b->origin.container_id) &&
	       same_str(a->origin.pod_uid, b->origin.pod_uid);
}

/* The first span of each resource (service, container, pod), in order: how many.
 * of[i]: the resource of span i, SIZE_MAX for a span of no service. */
static size_t resources_of(const struct span *spans, size_t n, size_t *first, size_t *of)
{
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		of[i] = SIZE_MAX;
		if (spans[i].svc < 0 || spans[i].svc >= CONFIG_MAX_SERVICES)
			continue;
		for (j = 0; j < k && !same_resource(&spans[first[j]], &spans[i]); j++)
			;
		if (j == k)
			first[k++] = i;
		of[i] = j;
	}
	return k;
}

static void encode_pb(const struct otlp_resource *res, const struct span *spans, size_t n,
		      const size_t *first, const size_t *of, size_t nr, struct strbuf *b)
{
	struct attr a[SPAN_ATTRS_MAX + CONFIG_MAX_KV];
	size_t k, i, j, na;

	for (k = 0; k < nr; k++) {
		size_t rs = pb_begin(b, 1, 3), r, ss, sc;

		r = pb_begin(b, 1, 2); /* Resource */
		na = resource_attrs(res, &spans[first[k]], a);
		for (j = 0; j < na; j++)
			pb_attr_str(b, 1, a[j].key, a[j].s);
		pb_end(b, r, 2);
		ss = pb_begin(b, 2, 3); /* ScopeSpans */
		sc = pb_begin(b, 1, 1); /* InstrumentationScope */
		pb_str(b, 1, "fogprobe");
		pb_str(b, 2, res->version);
		pb_end(b, sc, 1);
		for (i = 0; i < n; i++) {
			const struct span *s = &spans[i];
			size_t sp, st;

			if (of[i] != k)
				continue;
			sp = pb_begin(b, 2, 2);
			pb_bytes(b, 1, s->trace_id, 16);
			pb_bytes(b, 2, s->span_id, 8);
			if (s->type == SPAN_HTTP && s->trace_state[0])
				pb_str(b, 3, s->trace_state);
			if (s->has_parent)
				pb_bytes(b, 4, s->parent_id, 8);
			pb_str(b, 5, s->name);
			pb_tag(b, 6, WT_VARINT);
			pb_varint(b, s->kind);
			pb_fixed(b, 7, s->start_ns, 8);
			pb_fixed(b, 8, s->end_ns, 8);
			na = span_attrs(s, a);
			for (j = 0; j < na; j++) {
				if (a[j].s)
					pb_attr_str(b, 9, a[j].key, a[j].s);
				else
					pb_attr_int(b, 9, a[j].key, a[j].i);
			}
			if (s->event) { /* Span.Event: time_unix_nano = 1, name = 2 */
				size_t ev = pb_begin(b, 11, 1);

				pb_fixed(b, 1, s->event_ns, 8);
				pb_str(b, 2, s->event);
				pb_end(b, ev, 1);
			}
			st = pb_begin(b, 15, 1); /* Status */
			if (s->status) {
				pb_tag(b, 3, WT_VARINT);
				pb_varint(b, s->status);
			}
			pb_end(b, st, 1);
			pb_fixed(b, 16, span_flags(s), 4);
			pb_end(b, sp, 2);
		}
		pb_end(b, ss, 3);
		pb_end(b, rs, 3);
	}
}

/* ---- OTLP/JSON: the protobuf JSON mapping, ids as hex, enums as numbers ---- */

static json_t *json_attrs(const struct attr *a, size_t n)
{
	json_t *arr = json_array();
	size_t i;

	for (i = 0; i < n; i++) {
		char num[24];
		json_t *v;

		if (a[i].s) {
			v = json_pack("{s:s}", "stringValue", a[i].s);
		} else {
			snprintf(num, sizeof(num), "%lld", (long long)a[i].i);
			v = json_pack("{s:s}", "intValue", num); /* int64: a string */
		}
		json_array_append_new(arr, json_pack("{s:s,s:o}", "key", a[i].key, "value", v));
	}
	return arr;
}

static json_t *json_u64(uint64_t v)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)v);
	return json_string(num);
}

static int encode_json(const struct otlp_resource *res, const struct span *spans, size_t n,
		       const size_t *first, const size_t *of, size_t nr, struct strbuf *b)
{
	struct attr a[SPAN_ATTRS_MAX + CONFIG_MAX_KV];
	size_t k, i;
	json_t *root = json_object(), *rss = json_array();
	char *text;
	int err;

	for (k = 0; k < nr; k++) {
		json_t *arr = json_array();

		for (i = 0; i < n; i++) {
			const struct span *s = &spans[i];
			char tid[33], sid[17], pid[17];
			json_t *j, *status = json_object();

			if (of[i] != k)
				continue;
			trace__hex(s->trace_id, 16, tid);
			trace__hex(s->span_id, 8, sid);
			j = json_pack("{s:s,s:s,s:s,s:i,s:o,s:o,s:o,s:I}", "traceId", tid, "spanId",
				      sid, "name", s->name, "kind", s->kind, "startTimeUnixNano",
				      json_u64(s->start_ns), "endTimeUnixNano", json_u64(s->end_ns),
				      "attributes", json_attrs(a, span_attrs(s, a)), "flags",
				      (json_int_t)span_flags(s));
			if (s->type == SPAN_HTTP && s->trace_state[0])
				json_object_set_new(j, "traceState", json_string(s->trace_state));
			if (s->has_parent) {
				trace__hex(s->parent_id, 8, pid);
				json_object_set_new(j, "parentSpanId", json_string(pid));
			}
			if (s->status)
				json_object_set_new(status, "code", json_integer(s->status));
			if (s->event)
				json_object_set_new(j, "events",
						    json_pack("[{s:o,s:s}]", "timeUnixNano",
							      json_u64(s->event_ns), "name", s->event));
			json_object_set_new(j, "status", status);
			json_array_append_new(arr, j);
		}
		json_array_append_new(
			rss, json_pack("{s:{s:o},s:[{s:{s:s,s:s},s:o}]}", "resource", "attributes",
				       json_attrs(a, resource_attrs(res, &spans[first[k]], a)),
				       "scopeSpans",
				       "scope", "name", "fogprobe", "version", res->version, "spans",
				       arr));
	}
	json_object_set_new(root, "resourceSpans", rss);
	text = json_dumps(root, JSON_COMPACT);
	json_decref(root);
	if (!text)
		return -ENOMEM;
	err = strbuf__puts(b, text);
	free(text);
	return err;
}

int otlp__encode(const struct otlp_resource *res, const struct span *spans, size_t n,
		 enum otlp_protocol proto, struct strbuf *out)
{
	size_t *first = malloc((n ? 2 * n : 1) * sizeof(*first)), *of = first + n, nr;
	int err = 0;

	if (!first)
		return -ENOMEM;
	nr = resources_of(spans, n, first, of);
	if (proto == OTLP_HTTP_JSON) {
		err = encode_json(res, spans, n, first, of, nr, out);
	} else {
		encode_pb(res, spans, n, first, of, nr, out);
		if (!out->len)
			strbuf__append(out, "", 0); /* an empty request is a valid one */
		err = out->oom ? -ENOMEM : 0;
	}
	free(first);
	return err;
}

/* ---- policy ---- */

enum otlp_outcome otlp__classify(bool transport_ok, long status)
{
	if (!transport_ok)
		return OTLP_RETRY;
	if (status >= 200 && status < 300)
		return OTLP_OK;
	if (status == 429 || status == 502 || status == 503 || status == 504)
		return OTLP_RETRY;
	return OTLP_FAIL;
}

uint64_t otlp__backoff_ms(unsigned attempt, double jitter01)
{
	uint64_t d = OTLP_BACKOFF_INITIAL_MS;

	while (attempt-- && d < OTLP_BACKOFF_MAX_MS)
		d *= 2;
	if (d > OTLP_BACKOFF_MAX_MS)
		d = OTLP_BACKOFF_MAX_MS;
	if (jitter01 < 0)
		jitter01 = 0;
	if (jitter01 >= 1)
		jitter01 = 0.999999;
	return (uint64_t)((double)d * (0.5 + jitter01 / 2));
}

int64_t otlp__retry_after_ms(const char *v, int64_t now_unix)
{
	char *end;
	long long s;
	time_t t;

	if (!v)
		return -1;
	while (*v == ' ' || *v == '\t')
		v++;
	if (*v >= '0' && *v <= '9') {
		errno = 0;
		s = strtoll(v, &end, 10);
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (errno || *end || s < 0 || s > 86400LL * 365)
			return -1;
		return s * 1000;
	}
	t = curl_getdate(v, NULL);
	if (t < 0)
		return -1;
	return t > now_unix ? (int64_t)(t - now_unix) * 1000 : 0;
}

static bool pb_read_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*p < end && shift < 64) {
		uint8_t b = *(*p)++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
		shift += 7;
	}
	return false;
}

/* Skip a field's value; false when the message is cut or malformed. */
static bool pb_skip(const uint8_t **p, const uint8_t *end, unsigned wt)
{
	uint64_t v;

	switch (wt) {
	case WT_VARINT:
		return pb_read_varint(p, end, &v);
	case WT_I64:
		if (end - *p < 8)
			return false;
		*p += 8;
		return true;
	case WT_I32:
		if (end - *p < 4)
			return false;
		*p += 4;
		return true;
	case WT_LEN:
		if (!pb_read_varint(p, end, &v) || v > (uint64_t)(end - *p))
			return false;
		*p += v;
		return true;
	}
	return false;
}

int64_t otlp__rejected(const void *body, size_t len, enum otlp_protocol proto)
{
	const uint8_t *p = body, *end = p + len, *pe;
	int64_t rejected = 0;
	uint64_t key, v;

	if (proto == OTLP_HTTP_JSON) {
		json_t *root, *ps, *r;

		if (!len)
			return 0;
		root = json_loadb(body, len, 0, NULL);
		if (!json_is_object(root)) {
			json_decref(root);
			return -1;
		}
		ps = json_object_get(root, "partialSuccess");
		r = json_is_object(ps) ? json_object_get(ps, "rejectedSpans") : NULL;
		if (json_is_integer(r))
			rejected = json_integer_value(r);
		else if (json_is_string(r))
			rejected = strtoll(json_string_value(r), NULL, 10);
		json_decref(root);
		return rejected < 0 ? -1 : rejected;
	}
	/* ExportTraceServiceResponse { ExportTracePartialSuccess partial_success = 1; } */
	while (p < end) {
		if (!pb_read_varint(&p, end, &key))
			return -1;
		if (key >> 3 != 1 || (key & 7) != WT_LEN) {
			if (!pb_skip(&p, end, key & 7))
				return -1;
			continue;
		}
		if (!pb_read_varint(&p, end, &v) || v > (uint64_t)(end - p))
			return -1;
		pe = p + v;
		/* { int64 rejected_spans = 1; string error_message = 2; } */
		while (p < pe) {
			if (!pb_read_varint(&p, pe, &key))
				return -1;
			if (key == (1 << 3 | WT_VARINT)) {
				if (!pb_read_varint(&p, pe, &v))
					return -1;
				rejected = (int64_t)v;
			} else if (!pb_skip(&p, pe, key & 7)) {
				return -1;
			}
		}
	}
	return rejected < 0 ? -1 : rejected;
}

/* ---- the exporter thread ---- */

struct otlp_exporter {
	const struct config *cfg;
	const struct otlp_config *o;
	struct spans *sp;
	struct metric_family *duration;
	struct metrics *reg;
	uint64_t *ids; /* the batch's span ids (ids__of), sorted once for both confirmations */
	struct otlp_resource res;
	char host[256];
	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop;
	CURL *curl;
	struct curl_slist *headers;
	struct strbuf body, gz, resp;
	char retry_after[64];
	struct span *batch;
	size_t nbatch;
	uint64_t rng;
};

static uint64_t now_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sleep ms unless stopped first; true when stopped. */
static bool wait_or_stop(struct otlp_exporter *e, uint64_t ms)
{
	uint64_t until = now_ms(CLOCK_MONOTONIC) + ms;
	struct timespec ts = { .tv_sec = (time_t)(until / 1000),
			       .tv_nsec = (long)(until % 1000) * 1000000 };
	bool stop;

	pthread_mutex_lock(&e->lock);
	while (!e->stop && pthread_cond_timedwait(&e->cond, &e->lock, &ts) != ETIMEDOUT)
		;
	stop = e->stop;
	pthread_mutex_unlock(&e->lock);
	return stop;
}

static size_t on_body(char *p, size_t size, size_t n, void *ctx)
{
	struct strbuf *b = ctx;
	size_t len = size * n;

	if (b->len < RESP_MAX)
		strbuf__append(b, p, len < RESP_MAX - b->len ? len : RESP_MAX - b->len);
	return len;
}

static size_t on_header(char *p, size_t size, size_t n, void *ctx)
{
	struct otlp_exporter *e = ctx;
	size_t len = size * n, vlen;

	if (len > 12 && !strncasecmp(p, "retry-after:", 12)) {
		vlen = len - 12 < sizeof(e->retry_after) - 1 ? len - 12 : sizeof(e->retry_after) - 1;
		memcpy(e->retry_after, p + 12, vlen);
		e->retry_after[vlen] = 0;
	}
	return len;
}

static int gzip_body(const struct strbuf *in, struct strbuf *out)
{
	z_stream z = { 0 };
	char chunk[16384];
	int rc;

	strbuf__reset(out);
	if (deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8,
			 Z_DEFAULT_STRATEGY) != Z_OK)
		return -ENOMEM;
	z.next_in = (Bytef *)in->buf;
	z.avail_in = (uInt)in->len;
	do {
		z.next_out = (Bytef *)chunk;
		z.avail_out = sizeof(chunk);
		rc = deflate(&z, Z_FINISH);
		strbuf__append(out, chunk, sizeof(chunk) - z.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&z);
	return rc == Z_STREAM_END && !out->oom ? 0 : -ENOMEM;
}

/* One POST of the batch. *rejected: spans the collector's partial_success refused. */
static enum otlp_outcome post(struct otlp_exporter *e, int64_t *retry_ms, int64_t *rejected)
{
	const struct strbuf *body = &e->body;
	uint64_t t0 = now_ms(CLOCK_MONOTONIC);
	enum otlp_outcome out;
	long status = 0;
	CURLcode rc;

	*retry_ms = -1;
	*rejected = 0;
	if (e->o->gzip && !gzip_body(&e->body, &e->gz))
		body = &e->gz;
	strbuf__reset(&e->resp);
	e->retry_after[0] = 0;
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDS, body->len ? body->buf : "");
	curl_easy_setopt(e->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body->len);
	curl_easy_setopt(e->curl, CURLOPT_HTTPHEADER,
			 body == &e->gz ? e->headers : e->headers->next); /* first: gzip */
	rc = curl_easy_perform(e->curl);
	if (rc == CURLE_OK)
		curl_easy_getinfo(e->curl, CURLINFO_RESPONSE_CODE, &status);
	if (e->duration)
		metrics__observe(e->duration, NULL, (double)(now_ms(CLOCK_MONOTONIC) - t0) / 1e3);
	out = otlp__classify(rc == CURLE_OK, status);
	if (rc != CURLE_OK)
		pr_debug("otlp: %s: %s\n", e->o->url, curl_easy_strerror(rc));
	else if (out != OTLP_OK)
		pr_debug("otlp: %s answered %ld\n", e->o->url, status);
	if (out == OTLP_RETRY && e->retry_after[0])
		*retry_ms = otlp__retry_after_ms(e->retry_after, (int64_t)time(NULL));
	if (out == OTLP_OK) {
		*rejected = otlp__rejected(e->resp.buf, e->resp.len, e->o->protocol);
		if (*rejected < 0)
			*rejected = 0; /* an unreadable answer to a 2xx: all accepted */
	}
	return out;
}

static double jitter(struct otlp_exporter *e)
{
	e->rng ^= e->rng << 13;
	e->rng ^= e->rng >> 7;
	e->rng ^= e->rng << 17;
	return (double)(e->rng >> 11) / (double)(1ULL << 53);
}

static void *run(void *arg)
{
	struct otlp_exporter *e = arg;
	uint64_t first = 0, attempt = 0;
	int64_t retry_ms, rejected;
	enum otlp_outcome out;
	size_t n;

	for (;;) {
		pthread_mutex_lock(&e->lock);
		if (e->stop) {
			pthread_mutex_unlock(&e->lock);
			break;
		}
		pthread_mutex_unlock(&e->lock);
		if (!e->nbatch) {
			e->nbatch = spans__take(e->sp, e->batch, e->o->batch_spans,
						(now_ms(CLOCK_MONOTONIC) + e->o->batch_delay_ms) *
							1000000ULL);
			if (!e->nbatch)
				continue;
			strbuf__reset(&e->body);
			if (otlp__encode(&e->res, e->batch, e->nbatch, e->o->protocol, &e->body)) {
				spans__dropped(e->sp, SPAN_DROP_REJECTED, e->nbatch);
				e->nbatch = 0;
				continue;
			}
			first = now_ms(CLOCK_MONOTONIC);
			attempt = 0;
		}
		out = post(e, &retry_ms, &rejected);
		n = e->nbatch;
		if (out == OTLP_OK) {
			if ((uint64_t)rejected > n)
				rejected = (int64_t)n;
			spans__exported(e->sp, n - (size_t)rejected);
			spans__dropped(e->sp, SPAN_DROP_PARTIAL, (uint64_t)rejected);
			/* exemplars point at exported spans only; a partial success does not
			 * say which were refused, so its batch gives none */
			if (!rejected && e->reg) {
				size_t i;

				for (i = 0; i < n; i++)
					e->ids[i] = ids__of(e->batch[i].span_id);
				ids__sort(e->ids, n);
				/* the connections' first: one closing meanwhile then finds its
				 * span exported, or leaves a candidate the registry confirms */
				spans__confirm(e->sp, e->ids, n);
				metrics__exemplars_confirm(e->reg, e->ids, n);
			}
			e->nbatch = 0;
		} else if (out == OTLP_FAIL) {
			spans__dropped(e->sp, SPAN_DROP_REJECTED, n);
			e->nbatch = 0;
		} else {
			uint64_t wait = retry_ms >= 0 ? (uint64_t)retry_ms :
							otlp__backoff_ms((unsigned)attempt, jitter(e));
			uint64_t spent = now_ms(CLOCK_MONOTONIC) - first;

			attempt++;
			if (spent + wait > (uint64_t)e->o->retry_max_s * 1000) {
				spans__dropped(e->sp, SPAN_DROP_RETRIES, n);
				e->nbatch = 0;
			} else if (wait_or_stop(e, wait)) {
				break;
			}
		}
	}
	return NULL;
}

static void exporter_free(struct otlp_exporter *e)
{
	if (e->curl)
		curl_easy_cleanup(e->curl);
	curl_slist_free_all(e->headers);
	strbuf__free(&e->body);
	strbuf__free(&e->gz);
	strbuf__free(&e->resp);
	free(e->batch);
	free(e->ids);
	pthread_mutex_destroy(&e->lock);
	pthread_cond_destroy(&e->cond);
	free(e);
}

struct otlp_exporter *otlp__start(const struct config *cfg, struct spans *sp, struct metrics *reg,
				  struct metric_family *duration, char *err, size_t errlen)
{
	struct otlp_exporter *e = calloc(1, sizeof(*e));
	const struct otlp_config *o = &cfg->otlp;
	struct curl_slist *h = NULL;
	pthread_condattr_t ca;
	char line[2 * CONFIG_KV_LEN + 4];
	int i;

	if (!e) {
		snprintf(err, errlen, "otlp: out of memory");
		return NULL;
	}
	e->cfg = cfg;
	e->o = o;
	e->sp = sp;
	e->duration = duration;
	e->reg = reg;
	pthread_mutex_init(&e->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (gethostname(e->host, sizeof(e->host) - 1))
		strcpy(e->host, "localhost");
	e->res = (struct otlp_resource){ .cfg = cfg, .host_name = e->host,
					 .version = FOGPROBE_VERSION };
	e->rng = (uint64_t)time(NULL) * 0x9E3779B97F4A7C15ULL | 1;
	strbuf__init(&e->body);
	strbuf__init(&e->gz);
	strbuf__init(&e->resp);
	e->batch = calloc(o->batch_spans, sizeof(*e->batch));
	e->ids = calloc(o->batch_spans, sizeof(*e->ids));
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || !e->batch || !e->ids ||
	    !(e->curl = curl_easy_init())) {
		snprintf(err, errlen, "otlp: cannot set up libcurl");
		goto fail;
	}
	/* the first entry is sent only with a gzip body (post() skips it otherwise) */
	h = curl_slist_append(h, "Content-Encoding: gzip");
	h = curl_slist_append(h, o->protocol == OTLP_HTTP_JSON ? "Content-Type: application/json" :
								  "Content-Type: application/x-protobuf");
	h = curl_slist_append(h, "Expect:"); /* no 100-continue round trip */
	for (i = 0; i < o->n_headers && h; i++) {
		snprintf(line, sizeof(line), "%s: %s", o->headers[i].key, o->headers[i].value);
		h = curl_slist_append(h, line);
	}
	if (!h) {
		snprintf(err, errlen, "otlp: out of memory");
		goto fail;
	}
	e->headers = h;
	curl_easy_setopt(e->curl, CURLOPT_URL, o->url);
	curl_easy_setopt(e->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e->curl, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms);
	curl_easy_setopt(e->curl, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e->curl, CURLOPT_WRITEDATA, &e->resp);
	curl_easy_setopt(e->curl, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e->curl, CURLOPT_HEADERDATA, e);
	curl_easy_setopt(e->curl, CURLOPT_USERAGENT, "fogprobe/" FOGPROBE_VERSION);
	curl_easy_setopt(e->curl, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e->curl, CURLOPT_FOLLOWLOCATION, 0L);
	if (pthread_create(&e->thread, NULL, run, e)) {
		snprintf(err, errlen, "otlp: cannot start the exporter thread");
		goto fail;
	}
	e->started = true;
	pr_info("otlp: spans to %s (%s%s)\n", o->url,
		o->protocol == OTLP_HTTP_JSON ? "http/json" : "http/protobuf",
		o->gzip ? ", gzip" : "");
	return e;
fail:
	exporter_free(e);
	return NULL;
}

void otlp__stop(struct otlp_exporter *e)
{
	struct span tmp[64];
	size_t n;

	if (!e)
		return;
	pthread_mutex_lock(&e->lock);
	e->stop = true;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
	spans__close(e->sp); /* wakes a take in progress */
	if (e->started)
		pthread_join(e->thread, NULL);
	spans__dropped(e->sp, SPAN_DROP_SHUTDOWN, e->nbatch);
	while ((n = spans__take(e->sp, tmp, 64, 0)))
		spans__dropped(e->sp, SPAN_DROP_SHUTDOWN, n);
	exporter_free(e);
}

static const double duration_buckets[] = { .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10 };

struct metric_family *otlp__register(struct metrics *reg)
{
	return metrics__family(reg, "fogprobe_otlp_export_duration_seconds",
			       "One OTLP export request: the POST to the collector's answer, or to the error or timeout.",
			       METRIC_HISTOGRAM, NULL, 0, duration_buckets,
			       ARRAY_LEN(duration_buckets));
}
