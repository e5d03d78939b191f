// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the L7 stream table and Betanet sessions driven by an arbitrary
 * sequence of opens, data chunks (with gaps), closes and clock ticks on a few socket
 * ids. Invariants: the table never holds more than its bound, completed handshakes
 * never exceed live streams, and everything is freed (LeakSanitizer).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct streams_opts o = {
		.max_streams = 4,
		.routing_timeout_ns = 1000,
		.sink = { on_frame, on_latency, on_latency, on_fail_route, on_latency, on_failure },
	};
	struct streams *s = streams__new(&o);
	uint64_t now = 1;
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
			streams__open(s, sk, n & 1, now);
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
			streams__data(s, sk, op & 1, n & 0x80, data + i, cap, total, sn, ns,
				      now);
			i += cap;
			break;
		}
		case 4:
			streams__close(s, sk, now);
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
