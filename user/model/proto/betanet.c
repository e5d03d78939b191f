// SPDX-License-Identifier: GPL-2.0-only
/*
 * Betanet wire parser: a per-direction state machine over chunks whose tail may be a gap.
 *
 * Decisions the wire format leaves open (see betanet.h for the format itself):
 * - The advertisement is not parsed. Its first captured byte after JSON whitespace
 *   (RFC 8259: space, tab, LF, CR) must be '{'. If a gap comes before that byte the check
 *   is given up: later captured bytes are mid-document and prove nothing.
 * - A version byte is valid when its high nibble is 1 (0x10..0x1f), so 0 in
 *   betanet_dir.version means "not seen yet".
 * - A request header is checked for version 0x01 and type 1..3 only; flags, layer and the
 *   payload length are reported as sent (cover traffic may pad beyond payload_len).
 * - A handshake error (ADVERT_TOO_BIG, BAD_HANDSHAKE, VERSION_MISMATCH) sets p->failed and
 *   stops both directions: the connection is not a Betanet session (the node closes it),
 *   so the other direction's bytes would only be parsed as noise. BAD_FRAME and DESYNC
 *   stop only their own direction: a capture gap on requests says nothing about responses.
 * - DESYNC is never a handshake error, even before the version byte: it is a limit of the
 *   capture, not a misbehaving peer.
 * - If a caller passes captured > total, the captured bytes did pass: total is raised to
 *   captured.
 *
 * Cost: captured bytes of fixed-size fields (lengths, headers, version) and of the
 * advertisement's opening are handled one by one; body bytes are counted off in one step
 * per frame. A gap can finish at most the current body: what follows it is a length
 * prefix or a version byte, which cannot be skipped without losing sync, so a gap costs
 * O(1).
 */
#include <string.h>

#include "model/proto/betanet.h"

enum {
	ST_ADVERT_LEN = 0, /* zero: a zeroed parser expects the advertisement length */
	ST_ADVERT_OPEN, /* advert body, its opening '{' not seen yet */
	ST_ADVERT_BODY, /* advert body, counting bytes off */
	ST_VERSION,
	ST_FRAME_LEN,
	ST_FRAME_HDR, /* requests only */
	ST_FRAME_BODY,
};

#define LEN_PREFIX 4
#define HEADER_VERSION 0x01

_Static_assert(BETANET_HEADER_LEN <= sizeof(((struct betanet_dir *)0)->buf), "header fits buf");
_Static_assert(BETANET_HEADER_LEN <= 255 && LEN_PREFIX <= 255, "need is a u8");

/* What every event of one feed call shares. */
struct feed {
	struct betanet_parser *p;
	bool from_server;
	uint64_t ts_ns;
	betanet_event_fn fn;
	void *ctx;
};

static void emit(const struct feed *f, struct betanet_event *ev)
{
	ev->from_server = f->from_server;
	ev->ts_ns = f->ts_ns;
	if (f->fn)
		f->fn(f->ctx, ev);
}

static bool is_handshake_error(enum betanet_error e)
{
	return e == BETANET_ERR_ADVERT_TOO_BIG || e == BETANET_ERR_BAD_HANDSHAKE ||
	       e == BETANET_ERR_VERSION_MISMATCH;
}

/* Stop the direction being fed (both of them for a handshake error), then report. */
static void fail(const struct feed *f, enum betanet_error e)
{
	struct betanet_parser *p = f->p;
	struct betanet_event ev = { .type = BETANET_EV_ERROR, .error = e };

	p->dir[f->from_server].stopped = true;
	if (is_handshake_error(e)) {
		p->failed = true;
		p->dir[0].stopped = true;
		p->dir[1].stopped = true;
	}
	emit(f, &ev);
}

static uint32_t be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint16_t be16(const uint8_t *b)
{
	return (uint16_t)(b[0] << 8 | b[1]);
}

static void expect_field(struct betanet_dir *d, uint8_t state, uint8_t len)
{
	d->state = state;
	d->need = len;
}

static void frame_done(const struct feed *f, struct betanet_dir *d)
{
	struct betanet_event ev = {
		.type = BETANET_EV_FRAME,
		.wire_len = LEN_PREFIX + d->len,
	};

	if (f->from_server) {
		ev.frame_type = BETANET_RESPONSE;
	} else {
		/* buf still holds the header: the next length prefix has not started */
		ev.frame_type = (enum betanet_frame_type)d->buf[1];
		ev.layer = d->buf[3];
		ev.payload_len = be16(&d->buf[4]);
	}
	expect_field(d, ST_FRAME_LEN, LEN_PREFIX);
	emit(f, &ev);
}

/* k (<= d->left) body bytes passed, captured or not. */
static void body_pass(const struct feed *f, struct betanet_dir *d, uint32_t k)
{
	d->left -= k;
	if (d->left)
		return;
	if (d->state == ST_FRAME_BODY)
		frame_done(f, d);
	else
		d->state = ST_VERSION;
}

static void version_byte(const struct feed *f, struct betanet_dir *d, uint8_t v)
{
	struct betanet_parser *p = f->p;
	const struct betanet_dir *other = &p->dir[!f->from_server];
	struct betanet_event ev = { .type = BETANET_EV_HANDSHAKE_DONE, .version = v };

	if ((v >> 4) != 1) {
		fail(f, BETANET_ERR_BAD_HANDSHAKE);
		return;
	}
	d->version = v;
	expect_field(d, ST_FRAME_LEN, LEN_PREFIX);
	/*
	 * The second version byte decides. The other side may already be sending frames,
	 * or even have stopped on a frame error: its version byte still stands.
	 */
	if (!other->version)
		return;
	if (other->version != v) {
		fail(f, BETANET_ERR_VERSION_MISMATCH);
		return;
	}
	p->handshake_done = true;
	emit(f, &ev);
}

/* A length prefix or request header is complete in d->buf. */
static void field_done(const struct feed *f, struct betanet_dir *d)
{
	uint32_t n;

	switch (d->state) {
	case ST_ADVERT_LEN:
		n = be32(d->buf);
		if (n == 0) {
			fail(f, BETANET_ERR_BAD_HANDSHAKE);
			return;
		}
		if (n > BETANET_MAX_ADVERT) {
			fail(f, BETANET_ERR_ADVERT_TOO_BIG);
			return;
		}
		d->len = d->left = n;
		d->state = ST_ADVERT_OPEN;
		return;
	case ST_FRAME_LEN:
		n = be32(d->buf);
		if (n == 0 || n > BETANET_MAX_BODY || (!f->from_server && n < BETANET_HEADER_LEN)) {
			fail(f, BETANET_ERR_BAD_FRAME);
			return;
		}
		d->len = d->left = n;
		if (f->from_server)
			d->state = ST_FRAME_BODY;
		else
			expect_field(d, ST_FRAME_HDR, BETANET_HEADER_LEN);
		return;
	case ST_FRAME_HDR:
		if (d->buf[0] != HEADER_VERSION || d->buf[1] < BETANET_DATA ||
		    d->buf[1] > BETANET_COVER) {
			fail(f, BETANET_ERR_BAD_FRAME);
			return;
		}
		d->state = ST_FRAME_BODY;
		body_pass(f, d, BETANET_HEADER_LEN); /* a header-only body ends here */
		return;
	}
}

static bool json_space(uint8_t c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Consume at least one of the n > 0 captured bytes at b; returns how many. */
static size_t step(const struct feed *f, struct betanet_dir *d, const uint8_t *b, size_t n)
{
	size_t k;

	switch (d->state) {
	case ST_ADVERT_LEN:
	case ST_FRAME_LEN:
	case ST_FRAME_HDR: {
		uint8_t size = d->state == ST_FRAME_HDR ? BETANET_HEADER_LEN : LEN_PREFIX;

		k = n < d->need ? n : d->need;
		memcpy(&d->buf[size - d->need], b, k);
		d->need -= (uint8_t)k;
		if (!d->need)
			field_done(f, d);
		return k;
	}
	case ST_ADVERT_OPEN:
		if (json_space(b[0])) {
			if (d->left == 1) /* all whitespace: not an object */
				fail(f, BETANET_ERR_BAD_HANDSHAKE);
			else
				d->left--;
			return 1;
		}
		if (b[0] != '{') {
			fail(f, BETANET_ERR_BAD_HANDSHAKE);
			return 1;
		}
		d->state = ST_ADVERT_BODY;
		body_pass(f, d, 1);
		return 1;
	case ST_ADVERT_BODY:
	case ST_FRAME_BODY:
		k = n < d->left ? n : d->left;
		body_pass(f, d, (uint32_t)k);
		return k;
	case ST_VERSION:
		version_byte(f, d, b[0]);
		return 1;
	}
	return n; /* unreachable: every state is handled above */
}

/* gap > 0 bytes passed uncaptured. */
static void skip_gap(const struct feed *f, struct betanet_dir *d, size_t gap)
{
	size_t k;

	switch (d->state) {
	case ST_ADVERT_OPEN:
		d->state = ST_ADVERT_BODY; /* the opening fell in the gap: unchecked */
		/* fallthrough */
	case ST_ADVERT_BODY:
	case ST_FRAME_BODY:
		k = gap < d->left ? gap : d->left;
		body_pass(f, d, (uint32_t)k);
		gap -= k;
		break;
	}
	/* what is left covers a length, header or version byte: frame boundaries are lost */
	if (gap && !d->stopped)
		fail(f, BETANET_ERR_DESYNC);
}

void betanet__init(struct betanet_parser *p)
{
	memset(p, 0, sizeof(*p));
	expect_field(&p->dir[0], ST_ADVERT_LEN, LEN_PREFIX);
	expect_field(&p->dir[1], ST_ADVERT_LEN, LEN_PREFIX);
}

void betanet__feed(struct betanet_parser *p, bool from_server, const uint8_t *data,
		   size_t captured, size_t total, uint64_t ts_ns, betanet_event_fn fn, void *ctx)
{
	const struct feed f = { p, from_server, ts_ns, fn, ctx };
	struct betanet_dir *d = &p->dir[from_server];
	size_t i = 0;

	if (total < captured)
		total = captured;
	while (i < captured && !d->stopped)
		i += step(&f, d, data + i, captured - i);
	if (total > captured && !d->stopped)
		skip_gap(&f, d, total - captured);
}

bool betanet__stopped(const struct betanet_parser *p, bool from_server)
{
	return p->dir[from_server].stopped;
}

const char *betanet__error_name(enum betanet_error e)
{
	static const char *const names[] = {
		[BETANET_ERR_NONE] = "none",
		[BETANET_ERR_ADVERT_TOO_BIG] = "advert_too_big",
		[BETANET_ERR_BAD_HANDSHAKE] = "bad_handshake",
		[BETANET_ERR_VERSION_MISMATCH] = "version_mismatch",
		[BETANET_ERR_BAD_FRAME] = "bad_frame",
		[BETANET_ERR_DESYNC] = "desync",
	};

	if ((unsigned int)e >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[e];
}

const char *betanet__frame_type_name(enum betanet_frame_type t)
{
	switch (t) {
	case BETANET_DATA:
		return "data";
	case BETANET_CONTROL:
		return "control";
	case BETANET_COVER:
		return "cover";
	case BETANET_RESPONSE:
		return "response";
	}
	return "unknown";
}
