// SPDX-License-Identifier: GPL-2.0-only
/*
 * WebSocket (RFC 6455) frame parser: a per-direction state machine over chunks whose tail
 * may be a gap, plus a bounded scanner for the few JSON keys BitChat's messages carry.
 *
 * Framing decisions (the wire format itself is in websocket.h and RFC 6455 5.2):
 * - The first two header bytes are checked as soon as they are in, in this order:
 *   bad_opcode, reserved_bits, unmasked_client_frame / masked_server_frame,
 *   fragmented_control, control_too_long, bad_continuation (a continuation with no message
 *   open, or a new text/binary frame while one is open: RFC 6455 5.4). One ERROR is
 *   reported per direction and that direction stops: after a violation the peer closes
 *   the connection (RFC 6455 7.1.7), and what follows cannot be trusted to be framing.
 * - A 64-bit length with its most significant bit set (RFC 6455 5.2 forbids it), or a
 *   message whose fragments add up past 2^64 - 1 bytes, is "too_long". Non-minimal length
 *   encodings are accepted, as most implementations do.
 * - RSV1 on the first frame of a data message means permessage-deflate (RFC 7692 6) once
 *   it was negotiated (or an extension the probe cannot follow was); otherwise, and on a
 *   continuation or control frame, it is "reserved_bits" (RFC 7692 6.1 allows it only on
 *   a message's first frame).
 * - A close frame's status code is its first two payload bytes (big endian). With no
 *   payload, a 1-byte payload, or code bytes in a gap, close_code is 0.
 * - A close frame does not stop the direction: anything sent after it is still framed.
 * - Only text messages are kept (their first WS_TEXT_MAX bytes, unmasked). Once a gap cuts
 *   a text message, later captured bytes of it are not kept: they would not be contiguous.
 *
 * - Inflating (RFC 7692 7.2.2): the payload of all of a message's frames, unmasked, then
 *   00 00 ff ff, through inflate() with Z_SYNC_FLUSH. An endpoint inflates exactly this
 *   and nothing else, so the probe's reading is the endpoint's: a sender that ends its
 *   deflate stream (BFINAL) inside a message gets the rest of that message ignored and a
 *   new stream for the next one. The inflater's window is 32 KiB whatever was agreed:
 *   a stream that keeps to a smaller window reads the same through a larger one, and
 *   zlib checks a distance against its window plus what the current inflate() call has
 *   written, so with a smaller window a stream that reaches past it would be read or
 *   refused depending on how the kernel cut it into chunks (and the endpoint's own
 *   reading of it depends on its buffer sizes). With 32 KiB, the largest distance
 *   deflate can code, a distance is refused ("bad_deflate") exactly when it reaches
 *   before the stream's start, however the bytes arrive.
 * - The zlib stream of a direction is allocated at its first compressed message and
 *   freed after each message without context takeover, when the stream is lost or too
 *   big, and at ws__free: idle connections without takeover hold nothing.
 *
 * Cost: header bytes (<= 14 per frame) are copied one field at a time; payload bytes are
 * counted off in one step per frame, and only kept text bytes and close codes are touched,
 * except compressed payloads, which are unmasked and inflated (output past the kept text
 * is discarded into a stack buffer, at most max_message bytes a message).
 * A gap can finish at most the current frame: what follows is a header, which cannot be
 * skipped without losing sync, so a gap costs O(1).
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "model/proto/websocket.h"

enum {
	ST_HDR = 0, /* zero: a zeroed ws_conn is ready to use, as after ws__init */
	ST_PAYLOAD,
};

enum {
	ZS_OFF = 0, /* permessage-deflate not negotiated */
	ZS_ON, /* compressed messages are inflated */
	ZS_UNKNOWN, /* negotiated as the probe cannot follow: lost at the first one */
	ZS_LOST, /* compressed messages are not followed any more */
};

#define Z_TRAILER_LEN 4
#define Z_OUT_CHUNK 4096 /* inflate output per call: a stack buffer */
#define Z_IN_CHUNK 1024 /* unmasked input per call */

#define B0_FIN 0x80
#define B0_RSV1 0x40
#define B0_RSV2 0x20
#define B0_RSV3 0x10
#define B0_OPCODE 0x0f
#define B1_MASK 0x80
#define B1_LEN 0x7f

#define OP_CONT 0x0
#define OP_TEXT 0x1
#define OP_BINARY 0x2
#define OP_CLOSE 0x8
#define OP_PING 0x9
#define OP_PONG 0xa
#define OP_CONTROL 0x8 /* the opcode bit that marks control frames */

#define LEN16 126 /* 7-bit length values that announce an extended length */
#define LEN64 127
#define MASK_KEY_LEN 4

_Static_assert(WS_TEXT_MAX <= UINT16_MAX, "text_len is a u16");
_Static_assert(WS_HDR_MAX == 2 + 8 + MASK_KEY_LEN, "largest header fits hdr");

/* What every event of one feed call shares. */
struct feed {
	struct ws_conn *c;
	bool from_client;
	uint64_t ts_ns;
	ws_event_fn fn;
	void *ctx;
};

static void emit(const struct feed *f, struct ws_event *ev)
{
	ev->from_client = f->from_client;
	ev->ts_ns = f->ts_ns;
	if (f->fn)
		f->fn(f->ctx, ev);
}

/* ---- inflate ---- */

static void unmask_copy(const struct ws_dir *d, uint8_t *out, const uint8_t *b, size_t n);

/* zlib's allocations, counted in the connection's mem (the size sits before the block) */
static void *z_alloc(void *opaque, unsigned int items, unsigned int size)
{
	struct ws_conn *c = opaque;
	size_t n = (size_t)items * size;
	uint64_t *b;

	if (size && n / size != items)
		return NULL;
	b = malloc(sizeof(*b) + n);
	if (!b)
		return NULL;
	*b = n;
	c->mem += n;
	return b + 1;
}

static void z_free(void *opaque, void *p)
{
	struct ws_conn *c = opaque;
	uint64_t *b = p;

	if (!b)
		return;
	c->mem -= b[-1];
	free(b - 1);
}

static void z_end(struct ws_dir *d)
{
	z_stream *z = d->z;

	if (!z)
		return;
	inflateEnd(z);
	z_free(z->opaque, z);
	d->z = NULL;
}

/* The direction stops following its compressed messages. */
static void z_lose(const struct feed *f, struct ws_dir *d, const char *reason)
{
	struct ws_event ev = { .type = WS_EV_INFLATE_LOST, .reason = reason };

	z_end(d);
	d->z_state = ZS_LOST;
	d->z_drop = true;
	emit(f, &ev);
}

/* A new zlib stream for the direction; false if there is no memory for it. */
static bool z_begin(struct ws_conn *c, struct ws_dir *d)
{
	z_stream *z = z_alloc(c, 1, sizeof(*z));

	if (!z)
		return false;
	memset(z, 0, sizeof(*z));
	z->zalloc = z_alloc;
	z->zfree = z_free;
	z->opaque = c;
	if (inflateInit2(z, -WS_WBITS_MAX) != Z_OK) {
		z_free(c, z);
		return false;
	}
	d->z = z;
	return true;
}

static void keep_output(struct ws_dir *d, const uint8_t *b, size_t n)
{
	size_t room = (size_t)WS_TEXT_MAX - d->text_len;

	if (!d->msg_text || !room)
		return;
	if (n > room)
		n = room;
	memcpy(&d->text[d->text_len], b, n);
	d->text_len += (uint16_t)n;
}

/* n bytes of the current compressed message's deflate data (unmasked). */
static void inflate_bytes(const struct feed *f, struct ws_dir *d, const uint8_t *in, size_t n)
{
	uint8_t out[Z_OUT_CHUNK];
	z_stream *z = d->z;
	int r;

	if (d->z_drop || d->z_end)
		return;
	z->next_in = (uint8_t *)in;
	z->avail_in = (unsigned int)n;
	do {
		/* one byte past the cap at most: where a message stops does not depend on how
		 * its bytes were cut into chunks */
		uint64_t room = f->c->max_message - d->z_out + 1;
		size_t want = room < sizeof(out) ? (size_t)room : sizeof(out), got;

		z->next_out = out;
		z->avail_out = (unsigned int)want;
		r = inflate(z, Z_SYNC_FLUSH);
		got = want - z->avail_out;
		keep_output(d, out, got);
		d->z_out += got;
		if (d->z_out > f->c->max_message) {
			/* a bomb costs no more: the rest of the message is not inflated */
			d->z_drop = true;
			d->z_big = true;
			z_end(d);
			return;
		}
		if (r == Z_STREAM_END) {
			d->z_end = true; /* BFINAL: what follows in this message is not data */
			return;
		}
		if (r == Z_BUF_ERROR) /* no progress possible: all input taken, output out */
			return;
		if (r != Z_OK) {
			z_lose(f, d, r == Z_MEM_ERROR ? "desync" : "bad_deflate");
			return;
		}
	} while (z->avail_in || !z->avail_out);
}

/* k payload bytes of a compressed data frame at b, masked as the frame is. */
static void inflate_payload(const struct feed *f, struct ws_dir *d, const uint8_t *b, size_t k)
{
	uint8_t buf[Z_IN_CHUNK], mask_i = d->mask_i;

	while (k && !d->z_drop && !d->z_end) {
		size_t n = k < sizeof(buf) ? k : sizeof(buf);

		unmask_copy(d, buf, b, n);
		inflate_bytes(f, d, buf, n);
		d->mask_i = (uint8_t)((d->mask_i + n) & 3);
		b += n;
		k -= n;
	}
	d->mask_i = mask_i; /* the caller moves it past the whole k */
}

static void fail(const struct feed *f, struct ws_dir *d, const char *reason)
{
	struct ws_event ev = { .type = WS_EV_ERROR, .reason = reason };

	d->stopped = true;
	z_end(d);
	emit(f, &ev);
}

static void header_start(struct ws_dir *d)
{
	d->state = ST_HDR;
	d->hlen = 0;
	d->hneed = 2;
}

static uint8_t opcode(const struct ws_dir *d)
{
	return d->hdr[0] & B0_OPCODE;
}

static bool is_control(uint8_t op)
{
	return op & OP_CONTROL;
}

static bool masked(const struct ws_dir *d)
{
	return d->hdr[1] & B1_MASK;
}

/* The first two header bytes are in: NULL if they start a valid frame, else the reason. */
static const char *check_head(const struct ws_dir *d, bool from_client)
{
	uint8_t b0 = d->hdr[0], op = opcode(d);

	if (op > OP_BINARY && op != OP_CLOSE && op != OP_PING && op != OP_PONG)
		return "bad_opcode";
	if ((b0 & (B0_RSV2 | B0_RSV3)) ||
	    ((b0 & B0_RSV1) && (is_control(op) || op == OP_CONT || d->z_state == ZS_OFF)))
		return "reserved_bits";
	if (from_client && !masked(d))
		return "unmasked_client_frame";
	if (!from_client && masked(d))
		return "masked_server_frame";
	if (is_control(op) && !(b0 & B0_FIN))
		return "fragmented_control";
	if (is_control(op) && (d->hdr[1] & B1_LEN) > WS_CONTROL_MAX)
		return "control_too_long";
	if ((op == OP_CONT) != d->in_msg && !is_control(op))
		return "bad_continuation";
	return NULL;
}

static uint8_t header_size(const struct ws_dir *d)
{
	uint8_t len7 = d->hdr[1] & B1_LEN;
	uint8_t n = 2;

	if (len7 == LEN16)
		n += 2;
	else if (len7 == LEN64)
		n += 8;
	if (masked(d))
		n += MASK_KEY_LEN;
	return n;
}

static uint64_t payload_len(const struct ws_dir *d)
{
	uint8_t len7 = d->hdr[1] & B1_LEN;
	uint64_t n = 0;
	int i;

	if (len7 < LEN16)
		return len7;
	if (len7 == LEN16)
		return (uint64_t)d->hdr[2] << 8 | d->hdr[3];
	for (i = 0; i < 8; i++)
		n = n << 8 | d->hdr[2 + i];
	return n;
}

/* The last frame of a compressed message passed: the trailer, then the stream's fate. */
static bool inflate_done(const struct feed *f, struct ws_dir *d)
{
	static const uint8_t trailer[Z_TRAILER_LEN] = { 0x00, 0x00, 0xff, 0xff };
	bool report;

	if (!d->z_drop)
		inflate_bytes(f, d, trailer, sizeof(trailer));
	report = !d->z_drop;
	if (d->z_big) {
		struct ws_event ev = { .type = WS_EV_TOO_BIG };

		ev.msg.text = d->msg_text;
		ev.msg.len = d->msg_len;
		ev.msg.fragments = d->frags;
		ev.msg.compressed = true;
		ev.msg.data_len = d->z_out;
		emit(f, &ev);
		/* the next message's window holds what was not inflated */
		if (!f->c->deflate.no_takeover[f->from_client])
			z_lose(f, d, "desync");
	}
	/* without context takeover each message starts afresh: nothing kept meanwhile;
	 * after BFINAL the sender starts a new stream */
	if (d->z_state == ZS_ON && (f->c->deflate.no_takeover[f->from_client] || d->z_end))
		z_end(d);
	return report;
}

static void message_done(const struct feed *f, struct ws_dir *d)
{
	struct ws_event ev = { .type = WS_EV_MESSAGE };
	struct ws_message *m = &ev.msg;

	d->in_msg = false;
	if (d->msg_compressed && !inflate_done(f, d))
		return;
	m->text = d->msg_text;
	m->len = d->msg_len;
	m->data_len = d->msg_compressed ? d->z_out : d->msg_len;
	m->fragments = d->frags;
	m->compressed = d->msg_compressed;
	m->gap = d->msg_gap;
	/* the kept text is the whole message only if nothing was cut off or left out */
	if (d->msg_text)
		ws__json_extract(d->text, d->text_len,
				 !d->text_cut && d->text_len == m->data_len, m);
	emit(f, &ev);
}

/* The current frame's last payload byte passed (or it had none). */
static void frame_done(const struct feed *f, struct ws_dir *d)
{
	uint8_t op = opcode(d);
	bool fin = d->hdr[0] & B0_FIN;
	struct ws_event ev = { 0 };

	header_start(d);
	if (!is_control(op)) {
		if (fin)
			message_done(f, d);
		return;
	}
	ev.type = op == OP_PING ? WS_EV_PING : op == OP_PONG ? WS_EV_PONG : WS_EV_CLOSE;
	ev.msg.len = d->flen;
	ev.msg.gap = d->ctl_gap;
	if (op == OP_CLOSE && d->ctl_n == 2)
		ev.close_code = (uint16_t)(d->ctl[0] << 8 | d->ctl[1]);
	emit(f, &ev);
}

/* A compressed message begins: its stream is followed, or it will not be reported. */
static void compressed_start(const struct feed *f, struct ws_dir *d)
{
	d->z_drop = false;
	d->z_end = false;
	d->z_big = false;
	d->z_out = 0;
	if (d->z_state == ZS_UNKNOWN) {
		z_lose(f, d, "desync");
		return;
	}
	if (d->z_state != ZS_ON) {
		d->z_drop = true;
		return;
	}
	if (!d->z && !z_begin(f->c, d))
		z_lose(f, d, "desync");
}

/* The whole header is in d->hdr. */
static void frame_start(const struct feed *f, struct ws_dir *d)
{
	uint8_t op = opcode(d);

	d->flen = d->left = payload_len(d);
	d->mask_i = 0;
	if (d->flen >> 63) {
		fail(f, d, "too_long");
		return;
	}
	if (is_control(op)) {
		d->ctl_n = 0;
		d->ctl_gap = false;
	} else {
		if (op != OP_CONT) {
			d->in_msg = true;
			d->msg_text = op == OP_TEXT;
			d->msg_compressed = d->hdr[0] & B0_RSV1;
			d->msg_gap = false;
			d->text_cut = false;
			d->frags = 0;
			d->msg_len = 0;
			d->text_len = 0;
			if (d->msg_compressed)
				compressed_start(f, d);
		}
		if (d->flen > UINT64_MAX - d->msg_len) {
			fail(f, d, "too_long");
			return;
		}
		d->msg_len += d->flen;
		if (d->frags < UINT32_MAX)
			d->frags++;
	}
	d->state = ST_PAYLOAD;
	if (!d->left)
		frame_done(f, d);
}

/* Copy n payload bytes to out, unmasked; b starts at payload offset d->mask_i (mod 4). */
static void unmask_copy(const struct ws_dir *d, uint8_t *out, const uint8_t *b, size_t n)
{
	const uint8_t *key;
	size_t i;

	if (!masked(d)) {
		memcpy(out, b, n);
		return;
	}
	key = &d->hdr[d->hneed - MASK_KEY_LEN];
	for (i = 0; i < n; i++)
		out[i] = b[i] ^ key[(d->mask_i + i) & 3];
}

static bool keeps_text(const struct ws_dir *d)
{
	return !is_control(opcode(d)) && d->msg_text && !d->msg_compressed && !d->text_cut &&
	       d->text_len < WS_TEXT_MAX;
}

/* k (<= d->left) payload bytes passed uncaptured. */
static void payload_gap(const struct feed *f, struct ws_dir *d, uint64_t k)
{
	if (is_control(opcode(d)))
		d->ctl_gap = true;
	else
		d->msg_gap = true;
	/* the deflate stream cannot be read past bytes that were not seen */
	if (!is_control(opcode(d)) && d->msg_compressed && !d->z_drop && !d->z_end)
		z_lose(f, d, "desync");
	if (keeps_text(d))
		d->text_cut = true;
	d->mask_i = (uint8_t)((d->mask_i + k) & 3);
	d->left -= k;
	if (!d->left)
		frame_done(f, d);
}

/* Consume at least one of the n > 0 captured bytes at b; returns how many. */
static size_t step(const struct feed *f, struct ws_dir *d, const uint8_t *b, size_t n)
{
	size_t k, keep;

	if (d->state == ST_HDR) {
		k = n < (size_t)(d->hneed - d->hlen) ? n : (size_t)(d->hneed - d->hlen);
		memcpy(&d->hdr[d->hlen], b, k);
		d->hlen += (uint8_t)k;
		/* hneed is 2 only until the first two bytes have been checked */
		if (d->hlen == 2 && d->hneed == 2) {
			const char *reason = check_head(d, f->from_client);

			if (reason) {
				fail(f, d, reason);
				return k;
			}
			d->hneed = header_size(d);
		}
		if (d->hlen == d->hneed)
			frame_start(f, d);
		return k;
	}

	k = n < d->left ? n : (size_t)d->left;
	if (opcode(d) == OP_CLOSE && d->ctl_n < 2 && !d->ctl_gap) {
		keep = k < (size_t)(2 - d->ctl_n) ? k : (size_t)(2 - d->ctl_n);
		unmask_copy(d, &d->ctl[d->ctl_n], b, keep);
		d->ctl_n += (uint8_t)keep;
	} else if (keeps_text(d)) {
		size_t room = (size_t)WS_TEXT_MAX - d->text_len;

		keep = k < room ? k : room;
		unmask_copy(d, &d->text[d->text_len], b, keep);
		d->text_len += (uint16_t)keep;
	} else if (!is_control(opcode(d)) && d->msg_compressed && !d->z_drop) {
		inflate_payload(f, d, b, k);
	}
	d->mask_i = (uint8_t)((d->mask_i + k) & 3);
	d->left -= k;
	if (!d->left)
		frame_done(f, d);
	return k;
}

void ws__init(struct ws_conn *c)
{
	memset(c, 0, sizeof(*c));
	header_start(&c->dir[0]);
	header_start(&c->dir[1]);
}

void ws__free(struct ws_conn *c)
{
	z_end(&c->dir[0]);
	z_end(&c->dir[1]);
}

void ws__set_deflate(struct ws_conn *c, const struct ws_deflate *p, uint64_t max_message)
{
	int i;

	c->deflate = *p;
	c->max_message = max_message;
	for (i = 0; i < 2; i++)
		c->dir[i].z_state = p->on ? ZS_ON : p->unknown ? ZS_UNKNOWN : ZS_OFF;
}

bool ws__inflate_drop(struct ws_conn *c)
{
	bool was = false;
	int i;

	for (i = 0; i < 2; i++) {
		struct ws_dir *d = &c->dir[i];

		z_end(d);
		if (d->z_state == ZS_ON || d->z_state == ZS_UNKNOWN) {
			was = was || d->z_state == ZS_ON;
			d->z_state = ZS_LOST;
			d->z_drop = true;
		}
	}
	return was;
}

void ws__feed(struct ws_conn *c, bool from_client, const uint8_t *data, size_t captured,
	      size_t total, uint64_t ts_ns, ws_event_fn fn, void *ctx)
{
	const struct feed f = { c, from_client, ts_ns, fn, ctx };
	struct ws_dir *d = &c->dir[from_client];
	size_t i = 0, gap;

	if (total < captured)
		total = captured;
	if (d->state == ST_HDR && !d->hneed)
		header_start(d); /* a zeroed ws_conn, never passed to ws__init */
	while (i < captured && !d->stopped)
		i += step(&f, d, data + i, captured - i);
	gap = total - captured;
	if (!gap || d->stopped)
		return;
	if (d->state == ST_PAYLOAD) {
		uint64_t k = gap < d->left ? gap : d->left;

		payload_gap(&f, d, k);
		gap -= (size_t)k;
	}
	/* what is left of the gap covers header bytes: frame boundaries are lost */
	if (gap)
		fail(&f, d, "desync");
}

/* ---- Sec-WebSocket-Extensions ---- */

struct ext_scan {
	const char *s;
	size_t i;
};

static bool ext_tchar(char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

static void ext_ows(struct ext_scan *e)
{
	while (e->s[e->i] == ' ' || e->s[e->i] == '\t')
		e->i++;
}

/* A token or a quoted string (unescaped) into out (cap bytes incl. NUL); false if neither
 * or too long. */
static bool ext_word(struct ext_scan *e, char *out, size_t cap, bool quoted_ok)
{
	size_t n = 0;

	ext_ows(e);
	if (quoted_ok && e->s[e->i] == '"') {
		for (e->i++; e->s[e->i] != '"'; e->i++) {
			if (!e->s[e->i])
				return false;
			if (e->s[e->i] == '\\' && e->s[e->i + 1])
				e->i++;
			if (n + 1 >= cap)
				return false;
			out[n++] = e->s[e->i];
		}
		e->i++;
	} else {
		for (; ext_tchar(e->s[e->i]); e->i++) {
			if (n + 1 >= cap)
				return false;
			out[n++] = e->s[e->i];
		}
		if (!n)
			return false;
	}
	out[n] = '\0';
	ext_ows(e);
	return true;
}

static bool ext_is(const char *a, const char *lower_b)
{
	for (; *a && *lower_b; a++, lower_b++)
		if ((*a >= 'A' && *a <= 'Z' ? *a - 'A' + 'a' : *a) != *lower_b)
			return false;
	return !*a && !*lower_b;
}

/* "8".."15" */
static bool ext_bits(const char *v, uint8_t *out)
{
	if (!strcmp(v, "8") || !strcmp(v, "9")) {
		*out = (uint8_t)(v[0] - '0');
		return true;
	}
	if (v[0] == '1' && v[1] >= '0' && v[1] <= '5' && !v[2]) {
		*out = (uint8_t)(10 + v[1] - '0');
		return true;
	}
	return false;
}

/* The parameters of one permessage-deflate element, after its name (RFC 7692 7.1). */
static bool ext_pmd_params(struct ext_scan *e, struct ws_deflate *out)
{
	bool seen[4] = { false };

	while (e->s[e->i] == ';') {
		char name[32], val[8];
		bool has_val = false;
		int k;

		e->i++;
		if (!ext_word(e, name, sizeof(name), false))
			return false;
		if (e->s[e->i] == '=') {
			e->i++;
			if (!ext_word(e, val, sizeof(val), true))
				return false;
			has_val = true;
		}
		if (ext_is(name, "server_no_context_takeover"))
			k = 0;
		else if (ext_is(name, "client_no_context_takeover"))
			k = 1;
		else if (ext_is(name, "server_max_window_bits"))
			k = 2;
		else if (ext_is(name, "client_max_window_bits"))
			k = 3;
		else
			return false; /* the client fails the connection (RFC 7692 7.1) */
		if (seen[k] || (k < 2) == has_val)
			return false; /* a response gives the window bits a value */
		seen[k] = true;
		if (k < 2)
			out->no_takeover[k == 1] = true;
		else if (!ext_bits(val, &out->wbits[k == 3]))
			return false;
	}
	return true;
}

bool ws__parse_extensions(const char *value, struct ws_deflate *out)
{
	struct ext_scan e = { value, 0 };

	memset(out, 0, sizeof(*out));
	out->wbits[0] = out->wbits[1] = WS_WBITS_MAX;
	if (!value)
		goto unknown;
	for (;;) {
		char name[32];

		ext_ows(&e);
		if (!e.s[e.i])
			break;
		if (e.s[e.i] == ',') { /* empty list elements are allowed (RFC 9110 5.6.1) */
			e.i++;
			continue;
		}
		/* another extension may use RSV1 or transform payloads: not followed */
		if (!ext_word(&e, name, sizeof(name), false) ||
		    !ext_is(name, "permessage-deflate") || out->on)
			goto unknown;
		if (!ext_pmd_params(&e, out))
			goto unknown;
		out->on = true;
		if (e.s[e.i] && e.s[e.i] != ',')
			goto unknown;
	}
	return true;
unknown:
	memset(out, 0, sizeof(*out));
	out->wbits[0] = out->wbits[1] = WS_WBITS_MAX;
	out->unknown = true;
	return false;
}

bool ws__inflating(const struct ws_conn *c)
{
	int i;

	for (i = 0; i < 2; i++)
		if (c->dir[i].z_state == ZS_ON && !c->dir[i].stopped)
			return true;
	return false;
}

bool ws__stopped(const struct ws_conn *c, bool from_client)
{
	return c->dir[from_client].stopped;
}

/* ---- JSON ---- */

/*
 * A scanner for RFC 8259 text that may be cut short, not a general parser: it checks the
 * grammar while it walks (so that json says whether the text is an object or a prefix of
 * one) and copies out only the keys websocket.h lists. Decisions:
 * - A text that is not an object, or breaks the grammar anywhere in what was kept, yields
 *   json false and every field "": keys read before the error are not trusted either.
 * - A value counts only once it is whole: a string whose closing quote, or a number whose
 *   end, is past the kept prefix is not reported (the end of a prefix is not the end of a
 *   number: "12" may be the start of "123").
 * - An id (type, group_id, message_id) may be a string or a number (its text as written);
 *   any other value makes it "". Ids are cut to WS_ID_MAX - 1 bytes at a character
 *   boundary. A repeated key's last value wins, as in Python's json, which BitChat's
 *   backend uses.
 * - Strings are decoded (escapes, surrogate pairs) and always come out as valid UTF-8,
 *   fit for a label: invalid bytes, lone surrogates and \u0000 become U+FFFD.
 * - rooms keeps its first WS_ROOMS_MAX string elements (others are skipped); of a cut
 *   array the elements that were whole are kept.
 * - Nesting deeper than JSON_DEPTH_MAX is skipped by counting brackets, unchecked, so that
 *   the stack stays bounded whatever the input.
 */

#define JSON_DEPTH_MAX 32
#define JSON_KEY_MAX 16 /* longer than every key looked for */

enum { J_OK, J_END, J_ERR }; /* J_END: the kept prefix ended inside the text */

enum { OBJ_TOP, OBJ_DATA, OBJ_OTHER };

struct jp {
	const uint8_t *s;
	size_t n, i;
	bool complete;
	struct ws_message *m;
	char data_mid[WS_ID_MAX]; /* data.message_id */
	bool top_mid; /* a top-level message_id was seen */
};

/* Bounded output for a decoded string; a NULL sbuf or buf discards. */
struct sbuf {
	char *buf;
	size_t cap, len;
	bool full;
};

static void sbuf_init(struct sbuf *o, char *buf, size_t cap)
{
	o->buf = buf;
	o->cap = cap;
	o->len = 0;
	o->full = false;
	if (buf)
		buf[0] = '\0';
}

/* Append one whole character (or a whole number); once one does not fit, nothing more. */
static void sbuf_put(struct sbuf *o, const void *p, size_t k)
{
	if (!o || !o->buf || o->full)
		return;
	if (o->len + k >= o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, p, k);
	o->len += k;
	o->buf[o->len] = '\0';
}

static void sbuf_put_cp(struct sbuf *o, uint32_t cp)
{
	uint8_t u[4];

	if (cp < 0x80) {
		u[0] = (uint8_t)cp;
		sbuf_put(o, u, 1);
	} else if (cp < 0x800) {
		u[0] = (uint8_t)(0xc0 | cp >> 6);
		u[1] = (uint8_t)(0x80 | (cp & 0x3f));
		sbuf_put(o, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (uint8_t)(0xe0 | cp >> 12);
		u[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp & 0x3f));
		sbuf_put(o, u, 3);
	} else {
		u[0] = (uint8_t)(0xf0 | cp >> 18);
		u[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (uint8_t)(0x80 | (cp & 0x3f));
		sbuf_put(o, u, 4);
	}
}

#define REPLACEMENT_CHAR 0xfffd

/* The text ran out: the end of a prefix is not an error, the end of a whole text is. */
static int j_end(const struct jp *p)
{
	return p->complete ? J_ERR : J_END;
}

static bool json_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void j_ws(struct jp *p)
{
	while (p->i < p->n && json_space(p->s[p->i]))
		p->i++;
}

static int hex4(const uint8_t *s, uint32_t *v)
{
	int i;

	*v = 0;
	for (i = 0; i < 4; i++) {
		uint8_t c = s[i];

		*v <<= 4;
		if (c >= '0' && c <= '9')
			*v |= c - '0';
		else if (c >= 'a' && c <= 'f')
			*v |= c - 'a' + 10;
		else if (c >= 'A' && c <= 'F')
			*v |= c - 'A' + 10;
		else
			return J_ERR;
	}
	return J_OK;
}

/* At a backslash inside a string. */
static int j_escape(struct jp *p, struct sbuf *o)
{
	static const char plain[] = "\"\\/bfnrt", decoded[] = "\"\\/\b\f\n\r\t";
	const char *e;
	uint32_t cp, lo;

	if (p->n - p->i < 2)
		return j_end(p);
	e = memchr(plain, p->s[p->i + 1], sizeof(plain) - 1);
	if (e) {
		sbuf_put(o, &decoded[e - plain], 1);
		p->i += 2;
		return J_OK;
	}
	if (p->s[p->i + 1] != 'u')
		return J_ERR;
	if (p->n - p->i < 6)
		return j_end(p);
	if (hex4(&p->s[p->i + 2], &cp))
		return J_ERR;
	p->i += 6;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		/* a high surrogate pairs only with an escaped low one right after it */
		if (p->n - p->i < 6)
			return j_end(p);
		if (p->s[p->i] == '\\' && p->s[p->i + 1] == 'u' &&
		    hex4(&p->s[p->i + 2], &lo) == J_OK && lo >= 0xdc00 && lo <= 0xdfff) {
			p->i += 6;
			cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
		} else {
			cp = REPLACEMENT_CHAR;
		}
	} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0) {
		cp = REPLACEMENT_CHAR;
	}
	sbuf_put_cp(o, cp);
	return J_OK;
}

/* At a byte >= 0x80 inside a string: copy one UTF-8 character, or U+FFFD for a bad byte. */
static int j_utf8(struct jp *p, struct sbuf *o)
{
	uint8_t c = p->s[p->i], lo = 0x80, hi = 0xbf;
	size_t len, k;

	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0; /* overlong */
		else if (c == 0xed)
			hi = 0x9f; /* surrogates */
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90; /* overlong */
		else if (c == 0xf4)
			hi = 0x8f; /* past U+10FFFF */
	} else {
		goto bad;
	}
	for (k = 1; k < len; k++) {
		if (p->i + k >= p->n)
			return j_end(p); /* cut inside the character, hence inside the string */
		c = p->s[p->i + k];
		if (c < (k == 1 ? lo : 0x80) || c > (k == 1 ? hi : 0xbf))
			goto bad;
	}
	sbuf_put(o, &p->s[p->i], len);
	p->i += len;
	return J_OK;
bad:
	sbuf_put_cp(o, REPLACEMENT_CHAR);
	p->i++;
	return J_OK;
}

/* At an opening quote. */
static int j_string(struct jp *p, struct sbuf *o)
{
	int r;

	p->i++;
	for (;;) {
		uint8_t c;

		if (p->i >= p->n)
			return j_end(p);
		c = p->s[p->i];
		if (c == '"') {
			p->i++;
			return J_OK;
		}
		if (c < 0x20)
			return J_ERR;
		if (c == '\\')
			r = j_escape(p, o);
		else if (c >= 0x80)
			r = j_utf8(p, o);
		else {
			sbuf_put(o, &c, 1);
			p->i++;
			r = J_OK;
		}
		if (r != J_OK)
			return r;
	}
}

static bool is_digit(uint8_t c)
{
	return c >= '0' && c <= '9';
}

/* Digits at p->i; at least one is needed. */
static int j_digits(struct jp *p)
{
	if (p->i >= p->n)
		return j_end(p);
	if (!is_digit(p->s[p->i]))
		return J_ERR;
	while (p->i < p->n && is_digit(p->s[p->i]))
		p->i++;
	return J_OK;
}

/* At '-' or a digit. The number is written to o as it appears in the text. */
static int j_number(struct jp *p, struct sbuf *o)
{
	size_t start = p->i;
	int r;

	if (p->s[p->i] == '-')
		p->i++;
	if (p->i < p->n && p->s[p->i] == '0')
		p->i++;
	else if ((r = j_digits(p)) != J_OK)
		return r;
	if (p->i < p->n && p->s[p->i] == '.') {
		p->i++;
		if ((r = j_digits(p)) != J_OK)
			return r;
	}
	if (p->i < p->n && (p->s[p->i] == 'e' || p->s[p->i] == 'E')) {
		p->i++;
		if (p->i < p->n && (p->s[p->i] == '+' || p->s[p->i] == '-'))
			p->i++;
		if ((r = j_digits(p)) != J_OK)
			return r;
	}
	if (p->i >= p->n && !p->complete)
		return J_END; /* more digits may follow past the prefix */
	for (; start < p->i; start++)
		sbuf_put(o, &p->s[start], 1);
	return J_OK;
}

static int j_literal(struct jp *p, const char *lit)
{
	size_t k, len = strlen(lit);

	for (k = 0; k < len; k++) {
		if (p->i + k >= p->n)
			return j_end(p);
		if (p->s[p->i + k] != (uint8_t)lit[k])
			return J_ERR;
	}
	p->i += len;
	return J_OK;
}

/* Past JSON_DEPTH_MAX: at '{' or '[', find the matching close by counting brackets. */
static int j_skip_deep(struct jp *p)
{
	size_t depth = 0;
	bool in_str = false, esc = false;

	for (; p->i < p->n; p->i++) {
		uint8_t c = p->s[p->i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == '"') {
			in_str = true;
		} else if (c == '{' || c == '[') {
			depth++;
		} else if ((c == '}' || c == ']') && --depth == 0) {
			p->i++;
			return J_OK;
		}
	}
	return j_end(p);
}

static int j_object(struct jp *p, int depth, int kind);
static int j_array(struct jp *p, int depth, bool rooms);

/* Any value, checked and dropped (or, for a string or number, written to o). */
static int j_value(struct jp *p, int depth, struct sbuf *o)
{
	j_ws(p);
	if (p->i >= p->n)
		return j_end(p);
	switch (p->s[p->i]) {
	case '{':
		return j_object(p, depth + 1, OBJ_OTHER);
	case '[':
		return j_array(p, depth + 1, false);
	case '"':
		return j_string(p, o);
	case 't':
		return j_literal(p, "true");
	case 'f':
		return j_literal(p, "false");
	case 'n':
		return j_literal(p, "null");
	default:
		if (p->s[p->i] == '-' || is_digit(p->s[p->i]))
			return j_number(p, o);
		return J_ERR;
	}
}

/* An id value: a string or a number lands in out (whole values only), anything else "". */
static int j_id(struct jp *p, int depth, char *out)
{
	char tmp[WS_ID_MAX];
	struct sbuf o;
	uint8_t c;
	int r;

	j_ws(p);
	if (p->i >= p->n)
		return j_end(p);
	c = p->s[p->i];
	sbuf_init(&o, (c == '"' || c == '-' || is_digit(c)) ? tmp : NULL, sizeof(tmp));
	r = j_value(p, depth, &o);
	if (r == J_OK)
		memcpy(out, o.buf ? tmp : "", o.buf ? o.len + 1 : 1);
	return r;
}

/* At '['. With rooms set, string elements go to m->rooms. */
static int j_array(struct jp *p, int depth, bool rooms)
{
	struct ws_message *m = p->m;
	int r;

	if (depth > JSON_DEPTH_MAX)
		return j_skip_deep(p);
	p->i++;
	j_ws(p);
	if (p->i >= p->n)
		return j_end(p);
	if (p->s[p->i] == ']') {
		p->i++;
		return J_OK;
	}
	for (;;) {
		j_ws(p);
		if (rooms && m->nrooms < WS_ROOMS_MAX && p->i < p->n && p->s[p->i] == '"') {
			char tmp[WS_ID_MAX];
			struct sbuf o;

			sbuf_init(&o, tmp, sizeof(tmp));
			r = j_string(p, &o);
			if (r == J_OK)
				memcpy(m->rooms[m->nrooms++], tmp, o.len + 1);
		} else {
			r = j_value(p, depth, NULL);
		}
		if (r != J_OK)
			return r;
		j_ws(p);
		if (p->i >= p->n)
			return j_end(p);
		if (p->s[p->i] == ']') {
			p->i++;
			return J_OK;
		}
		if (p->s[p->i] != ',')
			return J_ERR;
		p->i++;
	}
}

/* The value of key in an object of this kind; the ':' has been passed. */
static int j_member(struct jp *p, int depth, int kind, const char *key)
{
	struct ws_message *m = p->m;
	bool top = kind == OBJ_TOP;
	uint8_t c;

	if (top && !strcmp(key, "type"))
		return j_id(p, depth, m->type);
	if (top && !strcmp(key, "group_id"))
		return j_id(p, depth, m->group_id);
	if (top && !strcmp(key, "message_id")) {
		p->top_mid = true;
		return j_id(p, depth, m->message_id);
	}
	if (kind == OBJ_DATA && !strcmp(key, "message_id"))
		return j_id(p, depth, p->data_mid);
	j_ws(p);
	if (p->i >= p->n)
		return j_end(p);
	c = p->s[p->i];
	if (top && !strcmp(key, "rooms")) {
		memset(m->rooms, 0, sizeof(m->rooms));
		m->nrooms = 0;
		if (c == '[')
			return j_array(p, depth + 1, true);
	}
	if (top && !strcmp(key, "data") && c == '{')
		return j_object(p, depth + 1, OBJ_DATA);
	return j_value(p, depth, NULL);
}

/* At '{'. */
static int j_object(struct jp *p, int depth, int kind)
{
	char key[JSON_KEY_MAX];
	struct sbuf o;
	int r;

	if (depth > JSON_DEPTH_MAX)
		return j_skip_deep(p);
	p->i++;
	j_ws(p);
	if (p->i >= p->n)
		return j_end(p);
	if (p->s[p->i] == '}') {
		p->i++;
		return J_OK;
	}
	for (;;) {
		j_ws(p);
		if (p->i >= p->n)
			return j_end(p);
		if (p->s[p->i] != '"')
			return J_ERR;
		sbuf_init(&o, key, sizeof(key));
		r = j_string(p, &o);
		if (r != J_OK)
			return r;
		if (o.full)
			key[0] = '\0'; /* longer than any key looked for */
		j_ws(p);
		if (p->i >= p->n)
			return j_end(p);
		if (p->s[p->i] != ':')
			return J_ERR;
		p->i++;
		r = j_member(p, depth, kind, key);
		if (r != J_OK)
			return r;
		j_ws(p);
		if (p->i >= p->n)
			return j_end(p);
		if (p->s[p->i] == '}') {
			p->i++;
			return J_OK;
		}
		if (p->s[p->i] != ',')
			return J_ERR;
		p->i++;
	}
}

static void clear_json(struct ws_message *m)
{
	memset(m->type, 0, sizeof(m->type));
	memset(m->group_id, 0, sizeof(m->group_id));
	memset(m->message_id, 0, sizeof(m->message_id));
	memset(m->rooms, 0, sizeof(m->rooms));
	m->nrooms = 0;
	m->json = false;
}

void ws__json_extract(const uint8_t *text, size_t len, bool complete, struct ws_message *m)
{
	struct jp p = { .s = text, .n = len, .complete = complete, .m = m };
	int r;

	clear_json(m);
	j_ws(&p);
	if (p.i >= p.n || p.s[p.i] != '{')
		return;
	r = j_object(&p, 1, OBJ_TOP);
	if (r == J_OK) {
		j_ws(&p);
		if (p.i < p.n)
			r = J_ERR; /* something after the object */
	}
	if (r == J_ERR) {
		clear_json(m);
		return;
	}
	m->json = true;
	if (!p.top_mid)
		memcpy(m->message_id, p.data_mid, sizeof(m->message_id));
}
