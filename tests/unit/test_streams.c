// SPDX-License-Identifier: GPL-2.0-only
/* The L7 stream table and the Betanet session logic (model/streams.c). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include "model/streams.h"

#define MS 1000000ULL
#define S (1000 * MS)

static struct {
	int frames, latencies, routing_latencies, routing_failures, circuits, desyncs;
	double last_latency, last_circuit;
	char last_failure[32];
	int failures;
} got;

static void on_frame(void *c, enum betanet_frame_type t, bool fs, uint32_t l)
{
	(void)c, (void)t, (void)fs, (void)l;
	got.frames++;
}
static void on_lat(void *c, double s)
{
	(void)c;
	got.latencies++;
	got.last_latency = s;
}
static void on_rlat(void *c, double s)
{
	(void)c, (void)s;
	got.routing_latencies++;
}
static void on_rfail(void *c)
{
	(void)c;
	got.routing_failures++;
}
static void on_circuit(void *c, double s)
{
	(void)c;
	got.circuits++;
	got.last_circuit = s;
}
static void on_failure(void *c, const char *r)
{
	(void)c;
	if (!r) {
		got.desyncs++;
		return;
	}
	got.failures++;
	snprintf(got.last_failure, sizeof(got.last_failure), "%s", r);
}

static struct streams *table(void)
{
	struct streams_opts o = {
		.max_streams = 8,
		.routing_timeout_ns = 1 * S,
		.sink = { on_frame, on_lat, on_rlat, on_rfail, on_circuit, on_failure },
	};

	memset(&got, 0, sizeof(got));
	return streams__new(&o);
}

static void data(struct streams *s, uint64_t sk, bool is_server, bool tx, const uint8_t *d,
		 size_t captured, size_t total, const struct stream_snip *snips, size_t nsnip,
		 uint64_t ts)
{
	struct stream_chunk ch = { .is_server = is_server, .tx = tx, .data = d,
				   .captured = captured, .total = total, .snips = snips,
				   .nsnip = nsnip, .ts_ns = ts };

	streams__data(s, sk, 0, &ch);
}

/* bytes of one side's handshake: u32 length, "{}", version byte */
static const uint8_t hs[] = { 0, 0, 0, 2, '{', '}', 0x12 };
static const uint8_t req[] = { 0, 0, 0, 12, 1, 1, 0, 0, 0, 4, 0, 0, 'p', 'a', 'y', 'l' };
static const uint8_t resp[] = { 0, 0, 0, 4, 'r', 'e', 's', 'p' };

/* server end: tx = server->client */
static void handshake(struct streams *s, uint64_t sk, uint64_t t)
{
	data(s, sk, true, true, hs, sizeof(hs), sizeof(hs), NULL, 0, t);
	data(s, sk, true, false, hs, sizeof(hs), sizeof(hs), NULL, 0, t + 10 * MS);
}

static void test_pairing_and_circuit(void **state)
{
	struct streams *s = table();

	(void)state;
	streams__open(s, 1, 0, true, 100 * MS);
	handshake(s, 1, 100 * MS);
	assert_int_equal(got.circuits, 1);
	assert_true(got.last_circuit > 0.0099 && got.last_circuit < 0.0101);
	assert_int_equal(streams__handshaken(s), 1);
	data(s, 1, true, false, req, sizeof(req), sizeof(req), NULL, 0, 200 * MS);
	data(s, 1, true, true, resp, sizeof(resp), sizeof(resp), NULL, 0, 230 * MS);
	assert_int_equal(got.frames, 2);
	assert_int_equal(got.latencies, 1);
	assert_int_equal(got.routing_latencies, 1);
	assert_true(got.last_latency > 0.0299 && got.last_latency < 0.0301);
	streams__free(s);
}

static void test_routing_failure_and_close(void **state)
{
	struct streams *s = table();

	(void)state;
	streams__open(s, 1, 0, true, 0);
	handshake(s, 1, 0);
	data(s, 1, true, false, req, sizeof(req), sizeof(req), NULL, 0, 1 * S);
	streams__tick(s, 1 * S + 500 * MS);
	assert_int_equal(got.routing_failures, 0);
	streams__tick(s, 2 * S + 1 * MS);
	assert_int_equal(got.routing_failures, 1);
	/* an unanswered request at close is a routing failure too */
	data(s, 1, true, false, req, sizeof(req), sizeof(req), NULL, 0, 3 * S);
	streams__close(s, 1, 3 * S + 1, false);
	assert_int_equal(got.routing_failures, 1); /* the close takes effect a moment later */
	streams__tick(s, 4 * S);
	assert_int_equal(got.routing_failures, 2);
	assert_int_equal(streams__handshaken(s), 0);
	assert_int_equal(got.failures, 0);
	streams__free(s);
}

static void test_data_before_open_and_late_bytes(void **state)
{
	struct streams *s = table();

	(void)state;
	/* the first bytes can come through their ring before the open */
	data(s, 7, true, true, hs, sizeof(hs), sizeof(hs), NULL, 0, 5 * MS);
	streams__open(s, 7, 0, true, 1 * MS);
	data(s, 7, true, false, hs, sizeof(hs), sizeof(hs), NULL, 0, 6 * MS);
	assert_int_equal(got.circuits, 1);
	/* bytes read before the close but handled after it still count */
	streams__close(s, 7, 10 * MS, false);
	data(s, 7, true, false, req, sizeof(req), sizeof(req), NULL, 0, 9 * MS);
	assert_int_equal(got.frames, 1);
	streams__tick(s, 1 * S);
	/* finished: its entry is free, its key known a while: late bytes start nothing */
	assert_int_equal(streams__count(s), 0);
	data(s, 7, true, false, req, sizeof(req), sizeof(req), NULL, 0, 1 * S + 1 * MS);
	assert_int_equal(streams__count(s), 0);
	assert_int_equal(got.frames, 1);
	streams__tick(s, 10 * S);
	assert_int_equal(streams__count(s), 0);
	/* the key forgotten, the same key is a stream again (a connection older than
	 * the probe, say) */
	data(s, 7, true, false, req, sizeof(req), sizeof(req), NULL, 0, 11 * S);
	assert_int_equal(streams__count(s), 1);
	assert_int_equal(streams__evicted(s), 0);
	streams__free(s);
}

/* More connections finish within the closed keys' 2 s than the table holds: the table
 * holds only the open ones and those in their close's grace, nothing is evicted, and
 * the late bytes of finished ones start nothing. */
static void test_churn_beyond_table(void **state)
{
	struct streams_opts o = {
		.max_streams = 64,
		.routing_timeout_ns = 1 * S,
		.sink = { on_frame, on_lat, on_rlat, on_rfail, on_circuit, on_failure },
	};
	struct streams *s;
	uint64_t k, t = 1 * S;

	(void)state;
	memset(&got, 0, sizeof(got));
	s = streams__new(&o);
	assert_non_null(s);
	/* 100 a second for 10 s: 30 in their grace at any time, 200 finished within 2 s */
	for (k = 1; k <= 1000; k++, t += 10 * MS) {
		streams__open(s, k, 0, true, t);
		streams__close(s, k, t + 1 * MS, false);
		streams__tick(s, t);
	}
	assert_int_equal(streams__evicted(s), 0);
	assert_true(streams__count(s) <= 40);
	for (k = 850; k <= 960; k++) /* closed 0.4 to 1.5 s ago */
		data(s, k, true, false, req, sizeof(req), sizeof(req), NULL, 0, t);
	assert_true(streams__count(s) <= 40);
	assert_int_equal(got.frames, 0);
	assert_int_equal(streams__evicted(s), 0);
	/* each finished one closed before its handshake; the last 31 are in their grace */
	assert_int_equal(got.failures, 969);
	streams__free(s);
}

static void test_aborted_idle_and_preexisting(void **state)
{
	struct streams *s = table();

	(void)state;
	/* opened, closed without a handshake */
	streams__open(s, 1, 0, true, 0);
	streams__close(s, 1, 1 * MS, false);
	streams__tick(s, 1 * S);
	assert_int_equal(got.failures, 1);
	assert_string_equal(got.last_failure, "aborted_handshake");
	/* a working session silent for 30 s: idle, once */
	streams__open(s, 2, 0, true, 2 * S);
	handshake(s, 2, 2 * S);
	streams__tick(s, 20 * S);
	assert_int_equal(got.failures, 1);
	streams__tick(s, 33 * S);
	streams__tick(s, 34 * S);
	assert_int_equal(got.failures, 2);
	assert_string_equal(got.last_failure, "idle_timeout");
	/* a client whose server end is parsed: no bytes, never idle, forgotten silently */
	streams__open(s, 3, 0, false, 40 * S);
	streams__tick(s, 80 * S);
	streams__forget(s, 3);
	assert_int_equal(got.failures, 2);
	/* a connection older than the probe, parsed mid-stream: not a node failure */
	data(s, 4, true, false, (const uint8_t *)"garbage!", 8, 8, NULL, 0, 81 * S);
	assert_int_equal(got.failures, 2);
	assert_true(got.desyncs >= 1);
	streams__free(s);
}

/* Many frames in one read, prefix too short: the kernel's snippets keep the framing. */
static void test_snippets(void **state)
{
	struct streams *s = table();
	uint8_t buf[3 * sizeof(req)];
	struct stream_snip sn[2] = {
		{ .off = sizeof(req), .len = 12, .bytes = buf + sizeof(req) },
		{ .off = 2 * sizeof(req), .len = 12, .bytes = buf + 2 * sizeof(req) },
	};
	int i;

	(void)state;
	for (i = 0; i < 3; i++)
		memcpy(buf + i * sizeof(req), req, sizeof(req));
	streams__open(s, 1, 0, true, 0);
	handshake(s, 1, 0);
	/* 12 of 48 bytes captured: without snippets the second length falls in the gap */
	data(s, 1, true, false, buf, 12, sizeof(buf), sn, 2, 1 * S);
	assert_int_equal(got.frames, 3);
	assert_int_equal(got.desyncs, 0);
	data(s, 1, true, false, buf, 12, sizeof(buf), NULL, 0, 2 * S);
	assert_int_equal(got.frames, 4);
	assert_int_equal(got.desyncs, 1);
	streams__free(s);
}

static void test_bounded(void **state)
{
	struct streams *s = table();
	uint64_t sk;

	(void)state;
	for (sk = 1; sk <= 20; sk++)
		streams__open(s, sk, 0, true, sk);
	assert_int_equal(streams__count(s), 8);
	assert_int_equal(streams__evicted(s), 12);
	streams__free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pairing_and_circuit),
		cmocka_unit_test(test_routing_failure_and_close),
		cmocka_unit_test(test_data_before_open_and_late_bytes),
		cmocka_unit_test(test_churn_beyond_table),
		cmocka_unit_test(test_aborted_idle_and_preexisting),
		cmocka_unit_test(test_snippets),
		cmocka_unit_test(test_bounded),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
