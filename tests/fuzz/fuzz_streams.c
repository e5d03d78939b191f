// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the L7 stream table with Betanet, HTTP and WebSocket (BitChat) sessions
 * (socket ids 0-2 are Betanet, 3-5 http, 6-7 websocket) driven by an arbitrary
 * sequence of opens, data chunks (with gaps), closes and clock ticks on a few socket
 * ids. Invariants: the table never holds more than its bound, completed handshakes
 * never exceed live streams, and everything is freed (LeakSanitizer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/config.h"
#include "model/streams.h"

static uint64_t frames, failures;

static void on_frame(void *ctx, enum betanet_frame_type t, bool from_server, uint32_t len)
{
	(void)ctx, (void)t, (void)from_server;
	if (len < 5 || len > 4 + BETANET_MAX_BODY)
		abort();
	frames++;
}

static void on_latency(void *ctx, double s)
{
	(void)ctx;
	if (s < 0)
		abort();
}

static void on_fail_route(void *ctx)
{
	(void)ctx;
}

static void on_failure(void *ctx, const char *reason)
{
	(void)ctx, (void)reason;
	failures++;
}

static void on_exchange(void *ctx, int svc, const struct http_exchange *x)
{
	(void)ctx;
	if (svc < 1 || svc > 2 || x->end_ns < x->start_ns || !memchr(x->path, 0, sizeof(x->path)))
		abort();
}

static void on_message(void *ctx, const char *room, const char *type)
{
	(void)ctx, (void)room, (void)type;
}

static void on_dropped(void *ctx, enum web_drop why)
{
	(void)ctx;
	if (why <= WEB_DROP_NONE || why >= WEB_DROP_N)
		abort();
}

static void on_room_latency(void *ctx, const char *room, double s)
{
	(void)room;
	on_latency(ctx, s);
}

static void on_room_size(void *ctx, const char *room, unsigned n)
{
	(void)ctx, (void)room;
	if (!n)
		abort();
}

static void on_parse_error(void *ctx, int svc, const char *proto, const char *reason)
{
	(void)ctx, (void)svc, (void)proto, (void)reason;
}

static struct config cfg;

static const char services[] =
	"{\"services\": [{\"name\": \"b\", \"protocol\": \"betanet\", \"ports\": [1]},"
	" {\"name\": \"h\", \"protocol\": \"http\", \"ports\": [2]},"
	" {\"name\": \"w\", \"protocol\": \"websocket\", \"ports\": [3],"
	"  \"paths\": [\"/ws\"], \"idle_timeout_s\": 1}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct streams_opts o = {
		.max_streams = 4,
		.routing_timeout_ns = 1000,
		.cfg = &cfg,
		.sink = { on_frame, on_latency, on_latency, on_fail_route, on_latency, on_failure },
		.web_sink = { on_exchange, on_message, on_dropped, on_room_latency, on_latency,
			      on_room_size, on_parse_error, NULL },
	};
	struct streams *s;
	uint64_t now = 1;
	char err[128];

	if (!cfg.n_services && config__load_string(services, "fuzz", &cfg, err, sizeof(err)))
		abort();
	s = streams__new(&o);
	size_t i = 0;

	if (!s)
		return 0;
	while (i + 2 <= size) {
		uint8_t op = data[i] & 7, sk = (data[i] >> 3) & 7, n = data[i + 1];
		size_t cap;

		i += 2;
		now += 1 + (n & 15) * 100;
		switch (op) {
		case 0:
			streams__open(s, sk, sk < 3 ? 0 : sk < 6 ? 1 : 2, n & 1, now);
			break;
		case 1:
		case 2:
		case 3: {
			/* op 3: a gap after the prefix, with snippets at arbitrary offsets
			 * (in range or not, overlapping or not) */
			struct stream_snip sn[2];
			size_t total, k, ns = 0;

			cap = n < size - i ? n : size - i;
			total = cap + (op == 3 ? n : 0);
			for (k = 0; op == 3 && k < 2 && i + cap + k < size; k++) {
				sn[k].off = data[i + cap + k] % (total + 4);
				sn[k].len = 1 + data[i + cap + k] % 12;
				sn[k].bytes = data + i;
				if (sn[k].len > cap)
					break;
				ns++;
			}
			/* and, at times, the buffer's last bytes after the gap (FP_L7_TAIL) */
			size_t tl = op == 3 && (n & 0x20) ? (cap < n ? cap : n) : 0;
			struct stream_chunk ch = { .is_server = op & 1, .tx = n & 0x80,
						   .tls = n & 0x40, .sndq = n, .data = data + i,
						   .captured = cap, .total = total, .snips = sn,
						   .nsnip = ns, .tail = tl ? data + i : NULL,
						   .tail_len = tl, .ts_ns = now };

			streams__data(s, sk, sk < 3 ? 0 : sk < 6 ? 1 : 2, &ch);
			i += cap;
			break;
		}
		case 4:
			if (n & 1)
				streams__reset(s, sk);
			streams__close(s, sk, now, n & 2);
			break;
		case 5:
			streams__forget(s, sk);
			break;
		default:
			now += (uint64_t)n * 1000000000ULL;
			streams__tick(s, now);
			break;
		}
		if (streams__count(s) > 4 || streams__handshaken(s) > streams__count(s))
			abort();
	}
	streams__free(s);
	return 0;
}
