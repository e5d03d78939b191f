// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/model/web.c through the stream table: HTTP exchanges on both ends, the BitChat view
 * of upgraded connections (messages, rooms, ack and ping latency, drop reasons, Send-Q),
 * TLS ciphertext ignored in favour of the uprobes' plaintext, permessage-deflate sockets
 * within the service's inflate places.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "lib/config.h"
#include "model/streams.h"

#define MS 1000000ULL
#define S 1000000000ULL

static struct {
	int exchanges;
	struct http_exchange last;
	int messages;
	char last_room[64], last_type[64];
	int dropped[WEB_DROP_N];
	int nlat;
	double lat[8];
	char lat_room[8][64];
	int np2p;
	double p2p;
	unsigned room_size;
	int errors;
	char last_error[64];
} got;

static void on_exchange(void *ctx, int svc, const struct http_exchange *x)
{
	(void)ctx, (void)svc;
	got.exchanges++;
	got.last = *x;
}

static void on_message(void *ctx, const char *room, const char *type)
{
	(void)ctx;
	got.messages++;
	snprintf(got.last_room, sizeof(got.last_room), "%s", room);
	snprintf(got.last_type, sizeof(got.last_type), "%s", type);
}

static void on_dropped(void *ctx, enum web_drop why)
{
	(void)ctx;
	got.dropped[why]++;
}

static void on_latency(void *ctx, const char *room, double s)
{
	(void)ctx;
	if (got.nlat < 8) {
		snprintf(got.lat_room[got.nlat], sizeof(got.lat_room[0]), "%s", room);
		got.lat[got.nlat++] = s;
	}
}

static void on_p2p(void *ctx, double s)
{
	(void)ctx;
	got.np2p++;
	got.p2p = s;
}

static void on_room_size(void *ctx, const char *room, unsigned n)
{
	(void)ctx, (void)room;
	got.room_size = n;
}

static void on_error(void *ctx, int svc, const char *proto, const char *reason)
{
	(void)ctx, (void)svc, (void)proto;
	got.errors++;
	snprintf(got.last_error, sizeof(got.last_error), "%s", reason);
}

static struct config cfg;

static struct streams *table(void)
{
	static const char text[] =
		"{\"services\": [{\"name\": \"web\", \"protocol\": \"http\", \"ports\": [80]},"
		" {\"name\": \"chat\", \"protocol\": \"websocket\", \"ports\": [8000],"
		"  \"paths\": [\"/api/bitchat/ws/\"], \"idle_timeout_s\": 10,"
		"  \"inflate_max_connections\": 2, \"inflate_max_message\": 65536}]}";
	struct streams_opts o = {
		.cfg = &cfg,
		.web_sink = { on_exchange, on_message, on_dropped, on_latency, on_p2p,
			      on_room_size, on_error, NULL },
	};
	char err[128];

	assert_int_equal(config__load_string(text, "t", &cfg, err, sizeof(err)), 0);
	memset(&got, 0, sizeof(got));
	return streams__new(&o);
}

/* this host is the server end: rx = from the client */
static void feed(struct streams *s, uint64_t sk, int svc, bool tx, const void *d, size_t n,
		 uint64_t ts)
{
	struct stream_chunk ch = { .is_server = true, .tx = tx, .data = d, .captured = n,
				   .total = n, .ts_ns = ts, .sndq = tx ? 100 : 0 };

	streams__data(s, sk, svc, &ch);
}

static void feed_str(struct streams *s, uint64_t sk, int svc, bool tx, const char *str,
		     uint64_t ts)
{
	feed(s, sk, svc, tx, str, strlen(str), ts);
}

/* this host is the client end of service 0: tx = the request */
static void feed_client(struct streams *s, uint64_t sk, bool tx, const char *str, uint64_t ts)
{
	struct stream_chunk ch = { .is_server = false, .tx = tx, .data = (const void *)str,
				   .captured = strlen(str), .total = strlen(str), .ts_ns = ts };

	streams__data(s, sk, 0, &ch);
}

/* A text frame: masked when the client sends it. */
static size_t frame(uint8_t *out, bool from_client, uint8_t opcode, const char *payload,
		    size_t n)
{
	static const uint8_t key[4] = { 0x11, 0x22, 0x33, 0x44 };
	size_t o = 0, i;

	out[o++] = 0x80 | opcode;
	out[o++] = (from_client ? 0x80 : 0) | (uint8_t)n;
	if (from_client) {
		memcpy(out + o, key, 4);
		o += 4;
	}
	for (i = 0; i < n; i++)
		out[o++] = payload[i] ^ (from_client ? key[i & 3] : 0);
	return o;
}

static void ws_text(struct streams *s, uint64_t sk, bool from_client, const char *json,
		    uint64_t ts)
{
	uint8_t buf[256];
	size_t n = frame(buf, from_client, 1, json, strlen(json));

	feed(s, sk, 1, !from_client, buf, n, ts);
}

static const char upgrade_req[] = "GET /api/bitchat/ws/peer-1 HTTP/1.1\r\nHost: x\r\n"
				  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
				  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
				  "Sec-WebSocket-Version: 13\r\n\r\n";
static const char upgrade_resp[] = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
				   "Connection: Upgrade\r\n"
				   "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";

static void open_ws(struct streams *s, uint64_t sk, uint64_t t)
{
	streams__open(s, sk, 1, true, t);
	feed_str(s, sk, 1, false, upgrade_req, t + 1 * MS);
	feed_str(s, sk, 1, true, upgrade_resp, t + 2 * MS);
}

static const char upgrade_resp_pmd[] =
	"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
	"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
	"Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=12; "
	"client_max_window_bits=12\r\n\r\n";

/* A permessage-deflate socket: each side's deflate stream, context taken over. */
struct pmd_peer {
	z_stream z[2]; /* [from_client] */
};

static void open_ws_pmd(struct streams *s, struct pmd_peer *p, uint64_t sk, uint64_t t)
{
	int i;

	for (i = 0; i < 2; i++) {
		memset(&p->z[i], 0, sizeof(p->z[i]));
		assert_int_equal(deflateInit2(&p->z[i], 6, Z_DEFLATED, -12, 8, Z_DEFAULT_STRATEGY),
				 Z_OK);
	}
	streams__open(s, sk, 1, true, t);
	feed_str(s, sk, 1, false, upgrade_req, t + 1 * MS);
	feed_str(s, sk, 1, true, upgrade_resp_pmd, t + 2 * MS);
}

static void pmd_end(struct pmd_peer *p)
{
	deflateEnd(&p->z[0]);
	deflateEnd(&p->z[1]);
}

/* A compressed text frame (RSV1), deflated by the sender's stream. */
static void ws_deflated(struct streams *s, struct pmd_peer *p, uint64_t sk, bool from_client,
			const char *json, uint64_t ts)
{
	uint8_t z[256], buf[300];
	z_stream *d = &p->z[from_client];
	size_t zn, n;

	d->next_in = (uint8_t *)json;
	d->avail_in = (unsigned int)strlen(json);
	d->next_out = z;
	d->avail_out = sizeof(z);
	assert_int_equal(deflate(d, Z_SYNC_FLUSH), Z_OK);
	zn = sizeof(z) - d->avail_out - 4; /* RFC 7692 7.2.1: the 00 00 ff ff tail goes */
	assert_true(zn < 126);
	n = frame(buf, from_client, 1, (const char *)z, zn);
	buf[0] |= 0x40; /* RSV1 */
	feed(s, sk, 1, !from_client, buf, n, ts);
}

static void http_exchange_server_end(void **state)
{
	struct streams *s = table();

	(void)state;
	streams__open(s, 1, 0, true, 0);
	feed_str(s, 1, 0, false, "GET /api/nodes/42?x=1 HTTP/1.1\r\nHost: a\r\n\r\n", 10 * MS);
	feed_str(s, 1, 0, true, "HTTP/1.1 404 Not Found\r\nContent-Length: 3\r\n\r\nno!", 60 * MS);
	assert_int_equal(got.exchanges, 1);
	assert_string_equal(got.last.method, "GET");
	assert_string_equal(got.last.path, "/api/nodes/42");
	assert_int_equal(got.last.status, 404);
	assert_int_equal(got.last.end_ns - got.last.start_ns, 50 * MS);
	streams__free(s);
}

static void http_exchange_client_end(void **state)
{
	struct streams *s = table();

	(void)state;
	streams__open(s, 2, 0, false, 0);
	feed_client(s, 2, true, "POST /x HTTP/1.1\r\nContent-Length: 2\r\n\r\nhi", 5 * MS);
	feed_client(s, 2, false, "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n", 25 * MS);
	assert_int_equal(got.exchanges, 1);
	assert_int_equal(got.last.status, 201);
	assert_int_equal(got.last.end_ns - got.last.start_ns, 20 * MS);
	streams__free(s);
}

/* Connections that ended mid-request (a line cut between two reads, a pipelined queue,
 * SSL plaintext) leave nothing to the ones after them, which reuse their places. */
static void conns_start_clean(void **state)
{
	struct streams *s = table();
	const char *cut = "GET /a HTTP/1.1\r\nGET /a HTTP/1.1\r\n\r\nGET /a HTTP/1.1\r\nHo";
	struct stream_chunk ch = { .is_server = true, .tls = true, .data = (const void *)cut,
				   .captured = strlen(cut), .total = strlen(cut) };
	uint64_t t = 0;
	int i, errors;

	(void)state;
	for (i = 0; i < 200; i++, t += 1 * S) {
		streams__open(s, 100 + i, 0, true, t);
		ch.ts_ns = t + 1 * MS;
		streams__data(s, 100 + i, 0, &ch);
		streams__close(s, 100 + i, t + 2 * MS, true);
		streams__tick(s, t + 2 * MS + STREAMS_CLOSE_GRACE_NS + 1);
	}
	assert_int_equal(got.exchanges, 0);
	errors = got.errors;
	assert_true(errors >= 200);
	for (i = 0; i < 200; i++, t += 1 * S) {
		streams__open(s, 1000 + i, 0, true, t);
		feed_str(s, 1000 + i, 0, false, "GET /b HTTP/1.1\r\nHost: b\r\n\r\n", t + 1 * MS);
		feed_str(s, 1000 + i, 0, true, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
			 t + 2 * MS);
		assert_int_equal(got.exchanges, i + 1);
		assert_string_equal(got.last.path, "/b");
		assert_int_equal(got.last.status, 200);
		assert_int_equal(got.last.end_ns - got.last.start_ns, 1 * MS);
		streams__close(s, 1000 + i, t + 3 * MS, true);
		streams__tick(s, t + 3 * MS + STREAMS_CLOSE_GRACE_NS + 1);
	}
	assert_int_equal(got.errors, errors);
	streams__free(s);
}

/* A reset closes the client's socket with the answer still unread: the read comes after
 * the close (and the reset) and is that connection's. Once finished, late bytes are not. */
static void answer_read_after_reset(void **state)
{
	struct streams *s = table();
	const char *req = "GET /r HTTP/1.1\r\n\r\n";

	(void)state;
	streams__open(s, 2, 0, false, 0);
	feed_client(s, 2, true, req, 5 * MS);
	streams__reset(s, 2);
	streams__close(s, 2, 6 * MS, true); /* no error said, but the reset was seen */
	feed_client(s, 2, false, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", 100 * MS);
	assert_int_equal(got.exchanges, 1);
	assert_int_equal(got.last.status, 200);
	assert_int_equal(got.errors, 0);
	streams__tick(s, 1 * S);
	feed_client(s, 2, true, req, 1 * S + 1); /* after the grace: not fed to the finished exchange */
	assert_int_equal(got.exchanges, 1);
	assert_int_equal(got.errors, 0);
	streams__free(s);
}

/* A close-delimited answer ends at the close, which takes effect 50 ms after a clean
 * close and 300 ms after one with an error. */
static void close_grace(void **state)
{
	struct streams *s = table();
	const char *req = "GET /c HTTP/1.1\r\n\r\n", *ans = "HTTP/1.0 200 OK\r\n\r\nbody";

	(void)state;
	streams__open(s, 2, 0, false, 0);
	feed_client(s, 2, true, req, 1 * MS);
	feed_client(s, 2, false, ans, 2 * MS);
	streams__close(s, 2, 10 * MS, true);
	streams__tick(s, 10 * MS + STREAMS_CLEAN_GRACE_NS);
	assert_int_equal(got.exchanges, 0);
	streams__tick(s, 11 * MS + STREAMS_CLEAN_GRACE_NS);
	assert_int_equal(got.exchanges, 1);
	streams__open(s, 3, 0, false, 1 * S);
	feed_client(s, 3, true, req, 1 * S + 1 * MS);
	feed_client(s, 3, false, ans, 1 * S + 2 * MS);
	streams__close(s, 3, 1 * S + 10 * MS, false);
	streams__tick(s, 1 * S + 11 * MS + STREAMS_CLEAN_GRACE_NS);
	assert_int_equal(got.exchanges, 1);
	streams__tick(s, 1 * S + 11 * MS + STREAMS_CLOSE_GRACE_NS);
	assert_int_equal(got.exchanges, 2);
	streams__free(s);
}

/* One read holds a long answer's end and the next pipelined answer: the kernel's prefix
 * has the first head, the tail (FP_L7_TAIL_BYTES) the second. */
static void pipelined_answer_in_the_tail(void **state)
{
	static uint8_t buf[4096];
	const char *a = "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n";
	const char *b = "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 5\r\n"
			"Connection: close\r\n\r\nerror";
	size_t la = strlen(a), lb = strlen(b), total = la + 2000 + lb;
	struct streams *s = table();
	struct stream_chunk ch = { .is_server = false, .tx = false, .data = buf, .captured = 1024,
				   .total = total, .tail = buf + total - 512, .tail_len = 512,
				   .ts_ns = 30 * MS };

	(void)state;
	memcpy(buf, a, la);
	memset(buf + la, 'x', 2000);
	memcpy(buf + la + 2000, b, lb);
	streams__open(s, 4, 0, false, 0);
	feed_client(s, 4, true, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 5 * MS);
	streams__data(s, 4, 0, &ch);
	assert_int_equal(got.exchanges, 2);
	assert_string_equal(got.last.path, "/b");
	assert_int_equal(got.last.status, 500);
	assert_int_equal(got.last.resp_bytes, lb);
	assert_int_equal(got.errors, 0);
	streams__free(s);
}

static void bitchat_session(void **state)
{
	struct streams *s = table();
	const struct web *w = streams__web(s);

	(void)state;
	open_ws(s, 3, 0);
	assert_int_equal(got.exchanges, 1);
	assert_int_equal(got.last.status, 101);
	assert_int_equal(web__connected(w), 1);
	/* a push and its ack 40 ms later */
	ws_text(s, 3, false, "{\"type\":\"message\",\"data\":{\"from\":\"a\",\"message_id\":\"m-1\"}}",
		100 * MS);
	ws_text(s, 3, true, "{\"type\":\"ack\",\"message_id\":\"m-1\"}", 140 * MS);
	assert_int_equal(got.nlat, 1);
	assert_float_equal(got.lat[0], 0.040, 1e-9);
	assert_string_equal(got.lat_room[0], "");
	/* a group push makes the socket a member of the room */
	ws_text(s, 3, false, "{\"type\":\"group_message\",\"group_id\":\"g1\",\"data\":{\"message_id\":7}}",
		200 * MS);
	assert_string_equal(got.last_room, "g1");
	assert_string_equal(got.last_type, "group_message");
	assert_int_equal(got.room_size, 1);
	assert_int_equal(web__active_rooms(w), 1);
	ws_text(s, 3, true, "{\"type\":\"ack\",\"message_id\":\"7\"}", 450 * MS);
	assert_int_equal(got.nlat, 2);
	assert_float_equal(got.lat[1], 0.250, 1e-9);
	assert_string_equal(got.lat_room[1], "g1");
	/* ping -> pong */
	ws_text(s, 3, true, "{\"type\":\"ping\"}", 500 * MS);
	ws_text(s, 3, false, "{\"type\":\"pong\"}", 512 * MS);
	assert_int_equal(got.np2p, 1);
	assert_float_equal(got.p2p, 0.012, 1e-9);
	assert_int_equal(got.messages, 6);
	assert_int_equal(web__queue_bytes(w), 100);
	/* an abnormal close code */
	{
		uint8_t buf[16];
		size_t n = frame(buf, false, 8, "\x03\xf3", 2); /* 1011 */

		feed(s, 3, 1, true, buf, n, 600 * MS);
	}
	streams__close(s, 3, 610 * MS, false);
	streams__tick(s, 2 * S);
	assert_int_equal(got.dropped[WEB_DROP_ABNORMAL_CLOSE], 1);
	assert_int_equal(web__connected(w), 0);
	assert_int_equal(web__active_rooms(w), 0);
	assert_int_equal(web__queue_bytes(w), 0);
	assert_int_equal(got.errors, 0);
	streams__free(s);
}

static void drop_reasons(void **state)
{
	struct streams *s = table();
	uint8_t buf[16];
	size_t n;

	(void)state;
	/* normal close frame: not a drop */
	open_ws(s, 1, 0);
	n = frame(buf, true, 8, "\x03\xe8", 2); /* 1000 */
	feed(s, 1, 1, false, buf, n, 10 * MS);
	streams__close(s, 1, 20 * MS, false);
	/* reset */
	open_ws(s, 2, 0);
	streams__reset(s, 2);
	streams__close(s, 2, 20 * MS, false);
	/* closed without a close frame, shortly after traffic */
	open_ws(s, 3, 0);
	streams__close(s, 3, 20 * MS, false);
	/* the same after the idle timeout (10 s) */
	open_ws(s, 4, 0);
	streams__close(s, 4, 11 * S, false);
	streams__tick(s, 12 * S);
	assert_int_equal(got.dropped[WEB_DROP_ABNORMAL_CLOSE], 0);
	assert_int_equal(got.dropped[WEB_DROP_RESET], 1);
	assert_int_equal(got.dropped[WEB_DROP_NO_CLOSE_FRAME], 1);
	assert_int_equal(got.dropped[WEB_DROP_IDLE_TIMEOUT], 1);
	assert_int_equal(web__connected(streams__web(s)), 0);
	streams__free(s);
}

static void subscribe_rooms(void **state)
{
	struct streams *s = table();

	(void)state;
	open_ws(s, 1, 0);
	open_ws(s, 2, 0);
	ws_text(s, 1, true, "{\"type\":\"subscribe\",\"rooms\":[\"a\",\"b\"]}", 10 * MS);
	ws_text(s, 2, true, "{\"type\":\"subscribe\",\"rooms\":[\"a\"]}", 10 * MS);
	assert_int_equal(web__active_rooms(streams__web(s)), 2);
	ws_text(s, 1, false, "{\"type\":\"group_message\",\"group_id\":\"a\"}", 20 * MS);
	assert_int_equal(got.room_size, 2);
	ws_text(s, 1, true, "{\"type\":\"unsubscribe\",\"rooms\":[\"b\"]}", 30 * MS);
	assert_int_equal(web__active_rooms(streams__web(s)), 1);
	streams__close(s, 1, 40 * MS, false);
	streams__close(s, 2, 40 * MS, false);
	streams__tick(s, 1 * S);
	assert_int_equal(web__active_rooms(streams__web(s)), 0);
	streams__free(s);
}

static void other_path_not_bitchat(void **state)
{
	struct streams *s = table();

	(void)state;
	streams__open(s, 1, 1, true, 0);
	feed_str(s, 1, 1, false,
		 "GET /ws/metrics HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
		 1 * MS);
	feed_str(s, 1, 1, true, upgrade_resp, 2 * MS);
	assert_int_equal(got.exchanges, 1);
	assert_int_equal(web__connected(streams__web(s)), 0);
	ws_text(s, 1, false, "{\"type\":\"message\"}", 3 * MS);
	assert_int_equal(got.messages, 0);
	streams__free(s);
}

static void frames_behind_the_101(void **state)
{
	struct streams *s = table();
	uint8_t buf[512];
	size_t n = strlen(upgrade_resp);

	(void)state;
	streams__open(s, 1, 1, true, 0);
	feed_str(s, 1, 1, false, upgrade_req, 1 * MS);
	memcpy(buf, upgrade_resp, n);
	n += frame(buf + n, false, 1, "{\"type\":\"pong\"}", 15);
	feed(s, 1, 1, true, buf, n, 2 * MS);
	assert_int_equal(web__connected(streams__web(s)), 1);
	assert_int_equal(got.messages, 1);
	assert_string_equal(got.last_type, "pong");
	streams__free(s);
}

static void send_post_to_push(void **state)
{
	struct streams *s = table();

	(void)state;
	open_ws(s, 1, 0);
	streams__open(s, 2, 1, true, 0);
	feed_str(s, 2, 1, false,
		 "POST /api/bitchat/messages/send HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}",
		 100 * MS);
	ws_text(s, 1, false, "{\"type\":\"message\",\"data\":{\"message_id\":\"q\"}}", 130 * MS);
	assert_int_equal(got.nlat, 1);
	assert_float_equal(got.lat[0], 0.030, 1e-9);
	streams__free(s);
}

static void tls_ciphertext_ignored(void **state)
{
	struct streams *s = table();
	static const uint8_t hello[] = { 0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5 };
	const char *req = "GET /secure HTTP/1.1\r\n\r\n";
	const char *resp = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
	struct stream_chunk ch = { .is_server = true, .tls = true };

	(void)state;
	streams__open(s, 1, 0, true, 0);
	feed(s, 1, 0, false, hello, sizeof(hello), 1 * MS);
	ch.data = (const void *)req;
	ch.captured = ch.total = strlen(req);
	ch.ts_ns = 5 * MS;
	streams__data(s, 1, 0, &ch);
	/* the ciphertext of the response: ignored */
	feed(s, 1, 0, true, "\x17\x03\x03\x00\x10garbagegarbage!!", 21, 6 * MS);
	ch.tx = true;
	ch.data = (const void *)resp;
	ch.captured = ch.total = strlen(resp);
	ch.ts_ns = 8 * MS;
	streams__data(s, 1, 0, &ch);
	assert_int_equal(got.exchanges, 1);
	assert_string_equal(got.last.path, "/secure");
	assert_int_equal(got.errors, 0);
	streams__free(s);
}

/* A compressed message whose last bytes came as the kernel's tail (a single buffer: any
 * length; an iovec array: a 12-byte snippet that may overlap the prefix) is whole. */
static void deflate_tail(void **state)
{
	static const char *const json[] = {
		"{\"type\":\"message\",\"data\":{\"message_id\":\"t-1\",\"content\":\"tail\"}}",
		"{\"type\":\"group_message\",\"group_id\":\"g7\",\"data\":{\"message_id\":\"iov\"}}",
	};
	struct streams *s = table();
	struct pmd_peer a;
	uint8_t z[256], buf[300];
	z_stream *d = &a.z[0];
	size_t zn, n, k;

	(void)state;
	open_ws_pmd(s, &a, 1, 0);
	for (k = 0; k < 2; k++) {
		struct stream_snip sn;
		struct stream_chunk ch = { .is_server = true, .tx = true, .data = buf, .ts_ns = 10 * MS };

		d->next_in = (uint8_t *)json[k];
		d->avail_in = (unsigned int)strlen(json[k]);
		d->next_out = z;
		d->avail_out = sizeof(z);
		assert_int_equal(deflate(d, Z_SYNC_FLUSH), Z_OK);
		zn = sizeof(z) - d->avail_out - 4;
		n = frame(buf, false, 1, (const char *)z, zn);
		buf[0] |= 0x40;
		assert_true(n > 16);
		ch.total = n;
		if (!k) { /* 4 bytes past the prefix, as the single-buffer tail */
			ch.captured = n - 4;
			ch.tail = buf + n - 4;
			ch.tail_len = 4;
		} else { /* the snippet of the last 12 bytes, 8 of them in the prefix too */
			ch.captured = n - 4;
			sn.off = (uint32_t)(n - 12);
			sn.len = 12;
			sn.bytes = buf + n - 12;
			ch.snips = &sn;
			ch.nsnip = 1;
		}
		streams__data(s, 1, 1, &ch);
		assert_int_equal(got.messages, (int)k + 1);
		assert_string_equal(got.last_type, k ? "group_message" : "message");
	}
	assert_int_equal(got.errors, 0);
	pmd_end(&a);
	streams__free(s);
}

/*
 * permessage-deflate: pushes, acks and pings inflated as the endpoints read them; the
 * service's two inflate places: a third socket takes the least recently fed one's, which
 * then counts one "desync" and its compressed messages no more (uncompressed ones still).
 */
static void deflate_sessions(void **state)
{
	struct streams *s = table();
	const struct web *w = streams__web(s);
	struct pmd_peer a, b, c;

	(void)state;
	open_ws_pmd(s, &a, 1, 0);
	ws_deflated(s, &a, 1, false,
		    "{\"type\":\"group_message\",\"group_id\":\"g1\",\"data\":{\"message_id\":\"m-1\"}}",
		    100 * MS);
	assert_string_equal(got.last_type, "group_message");
	assert_string_equal(got.last_room, "g1");
	assert_int_equal(web__active_rooms(w), 1);
	ws_deflated(s, &a, 1, true, "{\"type\":\"ack\",\"message_id\":\"m-1\"}", 130 * MS);
	assert_int_equal(got.nlat, 1);
	assert_float_equal(got.lat[0], 0.030, 1e-9);
	assert_string_equal(got.lat_room[0], "g1");
	/* the same push again: with takeover it is a few bytes of back-references */
	ws_deflated(s, &a, 1, false,
		    "{\"type\":\"group_message\",\"group_id\":\"g1\",\"data\":{\"message_id\":\"m-1\"}}",
		    200 * MS);
	assert_int_equal(got.messages, 3);
	assert_int_equal(web__inflating(w), 1);

	open_ws_pmd(s, &b, 2, 300 * MS);
	ws_deflated(s, &b, 2, true, "{\"type\":\"ping\"}", 310 * MS);
	open_ws_pmd(s, &c, 3, 400 * MS); /* a (fed last at 200 ms) gives its place up */
	assert_int_equal(web__inflating(w), 2);
	assert_int_equal(web__inflate_evicted(w), 1);
	assert_int_equal(got.errors, 1);
	assert_string_equal(got.last_error, "desync");
	ws_deflated(s, &a, 1, false, "{\"type\":\"message\"}", 500 * MS);
	assert_int_equal(got.messages, 4);
	ws_text(s, 1, false, "{\"type\":\"pong\"}", 510 * MS); /* not compressed: read */
	assert_int_equal(got.messages, 5);
	assert_string_equal(got.last_type, "pong");
	ws_deflated(s, &c, 3, false, "{\"type\":\"pong\"}", 520 * MS);
	assert_int_equal(got.messages, 6);
	assert_int_equal(got.np2p, 0); /* b's ping was answered on no socket */
	streams__close(s, 2, 600 * MS, false);
	streams__close(s, 3, 600 * MS, false);
	streams__close(s, 1, 600 * MS, false);
	streams__tick(s, 2 * S);
	assert_int_equal(web__inflating(w), 0);
	assert_int_equal(web__connected(w), 0);
	assert_int_equal(got.errors, 1);
	pmd_end(&a);
	pmd_end(&b);
	pmd_end(&c);
	streams__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(http_exchange_server_end),
		cmocka_unit_test(http_exchange_client_end),
		cmocka_unit_test(conns_start_clean),
		cmocka_unit_test(answer_read_after_reset), cmocka_unit_test(close_grace),
		cmocka_unit_test(pipelined_answer_in_the_tail),
		cmocka_unit_test(bitchat_session),
		cmocka_unit_test(drop_reasons),
		cmocka_unit_test(subscribe_rooms),
		cmocka_unit_test(other_path_not_bitchat),
		cmocka_unit_test(frames_behind_the_101),
		cmocka_unit_test(send_post_to_push),
		cmocka_unit_test(tls_ciphertext_ignored),
		cmocka_unit_test(deflate_sessions),
		cmocka_unit_test(deflate_tail),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
