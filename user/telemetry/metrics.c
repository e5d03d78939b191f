// SPDX-License-Identifier: GPL-2.0-only
/*
 * Metric registry and its Prometheus text 0.0.4 / OpenMetrics 1.0 renderer.
 *
 * Families keep creation order so an exposition reads the same scrape after scrape. Each
 * family owns its series: a dense array in first-use order (the render order) plus an
 * open-addressing hash table over the label values for O(1) updates from the collectors.
 * A series carries its label set pre-escaped, so a render is pure appends into one strbuf
 * with no allocation per sample.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/ids.h"
#include "telemetry/metrics.h"

/* Long enough for "-1.2345678901234567e-308" and any 64-bit integer. */
#define NUM_BUF 32
/* Bounds the fixed buffers used to compare sample names; real names are far shorter. */
#define NAME_MAX_LEN 200

/* A bucket's exemplar: the candidate (the latest observation offered one) becomes the
 * published one once its span was exported (metrics__exemplars_confirm). */
struct exemplar_slot {
	struct metrics_exemplar cand, pub;
	bool has_cand, has_pub;
};

struct series {
	uint64_t hash;
	struct exemplar_slot *ex; /* histogram: n_buckets + 1 once an exemplar is offered */
	double value; /* counter, gauge */
	double sum; /* histogram */
	uint64_t *counts; /* histogram: n_buckets + 1, non-cumulative, last = +Inf */
	const char *key; /* raw label values, each NUL-terminated, back to back */
	const char *lbl; /* `a="x",b="y"`: escaped once here instead of at every scrape */
	size_t lbl_len;
	uint64_t data[]; /* storage for counts, key and lbl: one allocation per series */
};

struct metric_family {
	struct metrics *m;
	char *name;
	size_t name_len;
	size_t base_len; /* name without the counter _total: the OpenMetrics family name */
	char *help; /* as given, for metrics__each_family() */
	char *help_text; /* escaped for 0.0.4: backslash, newline */
	char *help_om; /* escaped for OpenMetrics: also double quote (escaped-string) */
	enum metric_type type;
	size_t n_labels;
	char *label_names[METRICS_MAX_LABELS];
	size_t n_buckets;
	double buckets[METRICS_MAX_BUCKETS];
	char le_text[METRICS_MAX_BUCKETS][NUM_BUF];
	char le_om[METRICS_MAX_BUCKETS][NUM_BUF];

	struct series **series; /* first-use order */
	size_t n_series;
	size_t cap_series;
	uint32_t *slots; /* index into series + 1; 0 = empty */
	size_t n_slots; /* power of two, at least twice n_series */
	uint64_t dropped; /* new series refused at the cap: which family lost data */
	struct series *last; /* the series found last: a busy one is updated many times in a
				row, and its key compared costs less than a hash and a probe */
};

struct metrics {
	pthread_mutex_t lock;
	size_t max_series;
	struct metric_family **fams;
	size_t n_fams;
	size_t cap_fams;
};

/* ---- number formatting ------------------------------------------------------------- */

static size_t fmt_u64(char *buf, uint64_t v)
{
	char tmp[NUM_BUF];
	size_t n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (i = 0; i < n; i++)
		buf[i] = tmp[n - 1 - i];
	buf[n] = '\0';
	return n;
}

/*
 * Shortest of %.15g, %.16g, %.17g that strtod reads back as v: 15 digits keep decimals
 * people type short (0.1 stays "0.1"), 17 always round-trip. That costs up to three
 * printf and three strtod calls per value, 10 ms for 10k measured gauges, so num_digits()
 * computes the same digits with integer arithmetic where metrics live, and falls back here.
 */
static int fmt_precision(char *buf, double v)
{
	int p;

	for (p = 15; p < 17; p++) {
		snprintf(buf, NUM_BUF, "%.*g", p, v);
		if (strtod(buf, NULL) == v)
			return p;
	}
	return 17;
}

typedef unsigned __int128 u128;

static u128 pow10_u128(int k)
{
	static const uint64_t p[20] = {
		1ULL,
		10ULL,
		100ULL,
		1000ULL,
		10000ULL,
		100000ULL,
		1000000ULL,
		10000000ULL,
		100000000ULL,
		1000000000ULL,
		10000000000ULL,
		100000000000ULL,
		1000000000000ULL,
		10000000000000ULL,
		100000000000000ULL,
		1000000000000000ULL,
		10000000000000000ULL,
		100000000000000000ULL,
		1000000000000000000ULL,
		10000000000000000000ULL,
	};

	return k < 20 ? p[k] : (u128)p[19] * p[k - 19];
}

/*
 * v = m * 2^-s rounded to n significant digits (q * 10^-(n-1-*x)), exactly as printf
 * rounds (to nearest, ties to even), and whether strtod would read q back as v.
 * Requires 1e-5 <= v < 1e15 so that m * 10^k (k <= 21) and q << s (s <= 69) fit 128 bits.
 */
static bool round_digits(uint64_t m, int s, int n, int *x, uint64_t *q_out)
{
	u128 num, q, r, half, lhs, diff, p10k;
	int k, tries;

	for (tries = 0; tries < 4; tries++) {
		k = n - 1 - *x;
		num = (u128)m * pow10_u128(k);
		q = num >> s;
		/* The log10 guess can be one off near a power of ten. */
		if (q >= pow10_u128(n)) {
			(*x)++;
			continue;
		}
		if (q < pow10_u128(n - 1)) {
			(*x)--;
			continue;
		}
		r = num - (q << s);
		half = (u128)1 << (s - 1);
		if (r > half || (r == half && (q & 1)))
			q++;

		/* Read back: |q*10^-k - v| against half the gap to v's neighbours, scaled by
		 * 10^k * 2^s. Below a power of two the lower gap is half as wide. */
		lhs = q << s;
		p10k = pow10_u128(k);
		diff = lhs > num ? lhs - num : num - lhs;
		*q_out = (uint64_t)q;
		if (q == pow10_u128(n)) {
			*q_out = (uint64_t)(q / 10);
			(*x)++;
		}
		if (lhs < num && m == 1ULL << 52)
			return 4 * diff <= p10k;
		return 2 * diff < p10k || (2 * diff == p10k && !(m & 1));
	}
	return false;
}

/*
 * Significant digits of the shortest %.15g..%.17g rendering of v (> 0, finite), trailing
 * zeros dropped, and its decimal exponent. Returns the digit count.
 */
static int num_digits(double v, char digits[18], int *x)
{
	char tmp[NUM_BUF], *e, *p;
	uint64_t m, q;
	int n, ex, nd, i;

	if (v >= 1e-5 && v < 1e15) {
		m = (uint64_t)ldexp(frexp(v, &ex), 53);
		for (n = 15; n <= 17; n++) {
			*x = (int)floor(log10(v));
			if (round_digits(m, 53 - ex, n, x, &q))
				goto have_q;
		}
	}
	snprintf(tmp, sizeof(tmp), "%.*e", fmt_precision(tmp, v) - 1, v);
	e = strchr(tmp, 'e');
	*x = atoi(e + 1);
	nd = 0;
	for (p = tmp; p < e; p++)
		if (*p >= '0' && *p <= '9')
			digits[nd++] = *p;
	goto strip;

have_q:
	for (i = n - 1; i >= 0; i--) {
		digits[i] = (char)('0' + q % 10);
		q /= 10;
	}
	nd = n;
strip:
	while (nd > 1 && digits[nd - 1] == '0')
		nd--;
	digits[nd] = '\0';
	return nd;
}

/*
 * printf-style layout of d.ddd * 10^x: exponent form ("1.5e-07", two exponent digits at
 * least) when x < -4 or x >= exp_at, else fixed without trailing zeros.
 */
static size_t fmt_layout(char *buf, bool neg, const char *digits, int nd, int x, int exp_at)
{
	char *o = buf;
	int i;

	if (neg)
		*o++ = '-';
	if (x < -4 || x >= exp_at) {
		*o++ = digits[0];
		if (nd > 1) {
			*o++ = '.';
			memcpy(o, digits + 1, (size_t)nd - 1);
			o += nd - 1;
		}
		o += sprintf(o, "e%c%02d", x < 0 ? '-' : '+', x < 0 ? -x : x);
		return (size_t)(o - buf);
	}
	if (x < 0) {
		*o++ = '0';
		*o++ = '.';
		for (i = 0; i < -x - 1; i++)
			*o++ = '0';
		memcpy(o, digits, (size_t)nd);
		o += nd;
	} else {
		for (i = 0; i <= x; i++)
			*o++ = i < nd ? digits[i] : '0';
		if (nd > x + 1) {
			*o++ = '.';
			memcpy(o, digits + x + 1, (size_t)(nd - x - 1));
			o += nd - x - 1;
		}
	}
	*o = '\0';
	return (size_t)(o - buf);
}

/* Sample values and 0.0.4 le labels: "42", "0.005", "1.5e-07", "+Inf", "NaN". */
static size_t fmt_double(char *buf, double v)
{
	char digits[18];
	int nd, x;

	if (isnan(v))
		return (size_t)snprintf(buf, NUM_BUF, "NaN");
	if (isinf(v))
		return (size_t)snprintf(buf, NUM_BUF, v > 0 ? "+Inf" : "-Inf");
	/* Counters and histogram counts are integral: print them as integers, never 1e+15. */
	if (v == trunc(v) && fabs(v) < 0x1p63) {
		if (v < 0) {
			buf[0] = '-';
			return 1 + fmt_u64(buf + 1, (uint64_t)-v);
		}
		return fmt_u64(buf, (uint64_t)v);
	}
	nd = num_digits(fabs(v), digits, &x);
	/* %.Pg switches to an exponent at x >= P, and P is 15 unless more digits were needed. */
	return fmt_layout(buf, v < 0, digits, nd, x, nd > 15 ? nd : 15);
}

/*
 * OpenMetrics 1.0 "Canonical Numbers" for le: Go's shortest %g (exponent when it is below
 * -4 or at least 6) with ".0" appended when there is neither a point nor an exponent, so
 * 1 -> "1.0", 0.005 -> "0.005", 100000 -> "100000.0", 1e6 -> "1e+06", 1e-5 -> "1e-05".
 */
static void fmt_canonical(char *buf, double v)
{
	char digits[18];
	size_t n;
	int nd, x;

	if (isnan(v) || isinf(v)) {
		fmt_double(buf, v);
		return;
	}
	if (v == 0) {
		snprintf(buf, NUM_BUF, "0.0");
		return;
	}
	nd = num_digits(fabs(v), digits, &x);
	n = fmt_layout(buf, v < 0, digits, nd, x, 6);
	if (!memchr(buf, '.', n) && !memchr(buf, 'e', n))
		memcpy(buf + n, ".0", 3);
}

/* ---- validation and escaping ------------------------------------------------------- */

static bool name_valid(const char *s)
{
	size_t i;

	if (!s || !*s || strlen(s) > NAME_MAX_LEN)
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
			     c == ':';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool label_name_valid(const char *s)
{
	size_t i;

	/* Names starting with "__" are reserved for Prometheus' own use (__name__ etc.). */
	if (!s || !*s || (s[0] == '_' && s[1] == '_'))
		return false;
	for (i = 0; s[i]; i++) {
		char c = s[i];
		bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';

		if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
			return false;
	}
	return true;
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && !strcmp(s + n - k, suffix);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, surrogates), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	unsigned char c = s[0];

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		return (s[1] & 0xc0) == 0x80 ? 2 : 0;
	if (c >= 0xe0 && c <= 0xef) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xe0 && s[1] < 0xa0) || (c == 0xed && s[1] > 0x9f))
			return 0;
		return 3;
	}
	if (c >= 0xf0 && c <= 0xf4) {
		if ((s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 || (s[3] & 0xc0) != 0x80)
			return 0;
		if ((c == 0xf0 && s[1] < 0x90) || (c == 0xf4 && s[1] > 0x8f))
			return 0;
		return 4;
	}
	return 0;
}

static bool utf8_valid(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n;

	while (*p) {
		n = utf8_seq(p);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

/*
 * Prometheus rejects a whole scrape on one invalid UTF-8 label value, and OpenMetrics
 * calls such an exposition erroneous in its entirety: replace each bad byte by U+FFFD.
 */
static char *utf8_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char *out, *o;
	size_t n;

	out = malloc(strlen(s) * 3 + 1);
	if (!out)
		return NULL;
	o = out;
	while (*p) {
		n = utf8_seq(p);
		if (n) {
			memcpy(o, p, n);
			o += n;
			p += n;
		} else {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			p++;
		}
	}
	*o = '\0';
	return out;
}

/* quote: also escape '"' (label values, OpenMetrics HELP); 0.0.4 HELP leaves it alone. */
static void escape(struct strbuf *sb, const char *s, bool quote)
{
	const char *run = s;

	for (; *s; s++) {
		const char *rep;

		if (*s == '\\')
			rep = "\\\\";
		else if (*s == '\n')
			rep = "\\n";
		else if (*s == '"' && quote)
			rep = "\\\"";
		else
			continue;
		strbuf__append(sb, run, (size_t)(s - run));
		strbuf__append(sb, rep, 2);
		run = s + 1;
	}
	strbuf__append(sb, run, (size_t)(s - run));
}

static char *escape_dup(const char *s, bool quote)
{
	struct strbuf sb;

	strbuf__init(&sb);
	escape(&sb, s, quote);
	strbuf__append(&sb, "", 0); /* a buffer even for "" */
	if (sb.oom) {
		strbuf__free(&sb);
		return NULL;
	}
	return sb.buf;
}

/* ---- registry ---------------------------------------------------------------------- */

struct metrics *metrics__new(size_t max_series_per_family)
{
	struct metrics *m;

	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	if (pthread_mutex_init(&m->lock, NULL)) {
		free(m);
		return NULL;
	}
	m->max_series = max_series_per_family ? max_series_per_family : METRICS_DEFAULT_MAX_SERIES;
	/* Slots hold 32-bit indexes. */
	if (m->max_series > UINT32_MAX / 4)
		m->max_series = UINT32_MAX / 4;
	return m;
}

static void family__free_series(struct metric_family *f)
{
	size_t i;

	for (i = 0; i < f->n_series; i++) {
		free(f->series[i]->ex);
		free(f->series[i]);
	}
	f->n_series = 0;
	f->last = NULL;
	if (f->slots)
		memset(f->slots, 0, f->n_slots * sizeof(*f->slots));
}

static void family__free(struct metric_family *f)
{
	size_t i;

	if (!f)
		return;
	family__free_series(f);
	free(f->series);
	free(f->slots);
	for (i = 0; i < f->n_labels; i++)
		free(f->label_names[i]);
	free(f->name);
	free(f->help);
	free(f->help_text);
	free(f->help_om);
	free(f);
}

void metrics__free(struct metrics *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->n_fams; i++)
		family__free(m->fams[i]);
	free(m->fams);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

/*
 * Every name a family puts on the wire, family lines included, so that no two families can
 * produce the same sample name (a 0.0.4 parser would merge them, OpenMetrics forbids it).
 */
static size_t family_wire_names(const char *name, enum metric_type type,
				char out[4][NAME_MAX_LEN + 16])
{
	size_t n = strlen(name);

	switch (type) {
	case METRIC_COUNTER:
		snprintf(out[0], sizeof(out[0]), "%s", name);
		snprintf(out[1], sizeof(out[1]), "%.*s", (int)(n - 6), name);
		return 2;
	case METRIC_GAUGE:
		snprintf(out[0], sizeof(out[0]), "%s", name);
		return 1;
	case METRIC_HISTOGRAM:
		snprintf(out[0], sizeof(out[0]), "%s", name);
		snprintf(out[1], sizeof(out[1]), "%s_bucket", name);
		snprintf(out[2], sizeof(out[2]), "%s_sum", name);
		snprintf(out[3], sizeof(out[3]), "%s_count", name);
		return 4;
	}
	return 0;
}

static bool family_clashes(const struct metric_family *f, struct metric_family *const *fams,
			   size_t n)
{
	char a[4][NAME_MAX_LEN + 16], b[4][NAME_MAX_LEN + 16];
	size_t na, nb, i, j, k;

	na = family_wire_names(f->name, f->type, a);
	for (k = 0; k < n; k++) {
		nb = family_wire_names(fams[k]->name, fams[k]->type, b);
		for (i = 0; i < na; i++)
			for (j = 0; j < nb; j++)
				if (!strcmp(a[i], b[j]))
					return true;
	}
	return false;
}

static int family_check(const char *name, enum metric_type type, const char *const *label_names,
			size_t n_labels, const double *buckets, size_t n_buckets)
{
	size_t i, j;

	if (!name_valid(name))
		return -EINVAL;
	if (type == METRIC_COUNTER && (!has_suffix(name, "_total") || !strcmp(name, "_total")))
		return -EINVAL;
	if (type != METRIC_COUNTER && type != METRIC_GAUGE && type != METRIC_HISTOGRAM)
		return -EINVAL;
	if (n_labels > METRICS_MAX_LABELS || (n_labels && !label_names))
		return -EINVAL;
	for (i = 0; i < n_labels; i++) {
		if (!label_name_valid(label_names[i]))
			return -EINVAL;
		/* le is the histogram's own bucket label. */
		if (type == METRIC_HISTOGRAM && !strcmp(label_names[i], "le"))
			return -EINVAL;
		for (j = 0; j < i; j++)
			if (!strcmp(label_names[i], label_names[j]))
				return -EINVAL;
	}
	if (type != METRIC_HISTOGRAM)
		return n_buckets ? -EINVAL : 0;
	if (n_buckets > METRICS_MAX_BUCKETS || (n_buckets && !buckets))
		return -EINVAL;
	for (i = 0; i < n_buckets; i++) {
		/* +Inf is implicit; NaN has no place in an order. */
		if (!isfinite(buckets[i]) || (i > 0 && !(buckets[i] > buckets[i - 1])))
			return -EINVAL;
	}
	return 0;
}

/* A family not yet in the registry: 0 or -errno. */
static int family__new(struct metrics *m, const char *name, const char *help,
		       enum metric_type type, const char *const *label_names, size_t n_labels,
		       const double *buckets, size_t n_buckets, struct metric_family **out)
{
	struct metric_family *f = NULL;
	size_t i;
	int err;

	err = family_check(name, type, label_names, n_labels, buckets, n_buckets);
	if (err)
		return err;

	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->m = m;
	f->type = type;
	f->name = strdup(name);
	f->help = strdup(help ? help : "");
	f->help_text = escape_dup(help ? help : "", false);
	f->help_om = escape_dup(help ? help : "", true);
	if (!f->name || !f->help || !f->help_text || !f->help_om)
		goto nomem;
	f->name_len = strlen(name);
	f->base_len = f->name_len - (type == METRIC_COUNTER ? strlen("_total") : 0);
	for (i = 0; i < n_labels; i++) {
		f->label_names[i] = strdup(label_names[i]);
		if (!f->label_names[i])
			goto nomem;
		f->n_labels = i + 1;
	}
	f->n_buckets = n_buckets;
	for (i = 0; i < n_buckets; i++) {
		f->buckets[i] = buckets[i];
		fmt_double(f->le_text[i], buckets[i]);
		fmt_canonical(f->le_om[i], buckets[i]);
	}
	*out = f;
	return 0;

nomem:
	family__free(f);
	return -ENOMEM;
}

/*
 * Append fams[0..n) to the registry, or none of them: one lock for the check and the
 * append, so that two tables registered at once cannot both take a name.
 */
static int registry__add(struct metrics *m, struct metric_family *const *fams, size_t n)
{
	struct metric_family **grown;
	size_t i, cap;
	int err = 0;

	pthread_mutex_lock(&m->lock);
	for (i = 0; i < n; i++) {
		if (family_clashes(fams[i], m->fams, m->n_fams) ||
		    family_clashes(fams[i], fams, i)) {
			err = -EEXIST;
			goto unlock;
		}
	}
	if (m->n_fams + n > m->cap_fams) {
		for (cap = m->cap_fams ? m->cap_fams : 16; cap < m->n_fams + n; cap *= 2)
			;
		grown = realloc(m->fams, cap * sizeof(*grown));
		if (!grown) {
			err = -ENOMEM;
			goto unlock;
		}
		m->fams = grown;
		m->cap_fams = cap;
	}
	memcpy(m->fams + m->n_fams, fams, n * sizeof(*fams));
	m->n_fams += n;
unlock:
	pthread_mutex_unlock(&m->lock);
	return err;
}

struct metric_family *metrics__family(struct metrics *m, const char *name, const char *help,
				      enum metric_type type, const char *const *label_names,
				      size_t n_labels, const double *buckets, size_t n_buckets)
{
	struct metric_family *f = NULL;
	int err = -EINVAL;

	if (m)
		err = family__new(m, name, help, type, label_names, n_labels, buckets, n_buckets,
				  &f);
	if (!err)
		err = registry__add(m, &f, 1);
	if (err) {
		family__free(f);
		errno = -err;
		return NULL;
	}
	return f;
}

static size_t def_labels(const struct metric_def *d)
{
	size_t n = 0;

	while (n < METRICS_MAX_LABELS && d->labels[n])
		n++;
	return n;
}

int metrics__register(struct metrics *m, void *owner, const struct metric_def *defs, size_t n)
{
	struct metric_family **fams;
	size_t i;
	int err = 0;

	if (!m || !owner || (n && !defs))
		return -EINVAL;
	if (!n)
		return 0;
	fams = calloc(n, sizeof(*fams));
	if (!fams)
		return -ENOMEM;
	for (i = 0; i < n && !err; i++)
		err = family__new(m, defs[i].name, defs[i].help, defs[i].type, defs[i].labels,
				  def_labels(&defs[i]), defs[i].buckets, defs[i].n_buckets,
				  &fams[i]);
	if (!err)
		err = registry__add(m, fams, n);
	if (err) {
		for (i = 0; i < n; i++)
			family__free(fams[i]);
		free(fams);
		return err;
	}
	for (i = 0; i < n; i++)
		memcpy((char *)owner + defs[i].offset, &fams[i], sizeof(fams[i]));
	free(fams);
	return 0;
}

/* ---- series ------------------------------------------------------------------------ */

static uint64_t key_mix(uint64_t h, uint64_t w)
{
	h = (h ^ w) * 0xbf58476d1ce4e5b9ULL;
	return h ^ (h >> 31);
}

/* Every series update hashes its label values: eight bytes a step, each value's length
 * first (("ab","c") and ("a","bc") differ). lens gets the lengths, for key_equal. */
static uint64_t key_hash(const char *const *vals, size_t n, size_t *lens)
{
	uint64_t h = 0x9e3779b97f4a7c15ULL, w;
	size_t i, len;

	for (i = 0; i < n; i++) {
		const char *p = vals[i];

		len = lens[i] = strlen(p);
		h = key_mix(h, len);
		for (; len >= 8; len -= 8, p += 8) {
			memcpy(&w, p, 8);
			h = key_mix(h, w);
		}
		if (len) { /* in a register: a short copy to memory read back whole stalls */
			for (w = 0; len; len--)
				w = w << 8 | (unsigned char)p[len - 1];
			h = key_mix(h, w);
		}
	}
	return h;
}

/* The series' key holds the values one after another, each with its NUL. */
static bool key_equal(const struct series *s, const char *const *vals, const size_t *lens,
		      size_t n)
{
	const char *p = s->key;
	size_t i;

	for (i = 0; i < n; i++) {
		if (memcmp(p, vals[i], lens[i] + 1))
			return false;
		p += lens[i] + 1;
	}
	return true;
}

static struct series *family__lookup(struct metric_family *f, const char *const *vals,
				     const size_t *lens, uint64_t h)
{
	size_t mask = f->n_slots - 1, i;
	struct series *s;

	if (!f->n_slots)
		return NULL;
	for (i = h & mask; f->slots[i]; i = (i + 1) & mask) {
		s = f->series[f->slots[i] - 1];
		if (s->hash == h && key_equal(s, vals, lens, f->n_labels))
			return s;
	}
	return NULL;
}

static int family__grow(struct metric_family *f)
{
	struct series **series;
	uint32_t *slots;
	size_t n_slots, i, j;

	if (f->n_series == f->cap_series) {
		size_t cap = f->cap_series ? f->cap_series * 2 : 8;

		series = realloc(f->series, cap * sizeof(*series));
		if (!series)
			return -ENOMEM;
		f->series = series;
		f->cap_series = cap;
	}
	/* Load factor at most 1/2 keeps linear probing short. */
	if ((f->n_series + 1) * 2 <= f->n_slots)
		return 0;
	n_slots = f->n_slots ? f->n_slots * 2 : 16;
	slots = calloc(n_slots, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (i = 0; i < f->n_series; i++) {
		for (j = f->series[i]->hash & (n_slots - 1); slots[j]; j = (j + 1) & (n_slots - 1))
			;
		slots[j] = (uint32_t)(i + 1);
	}
	free(f->slots);
	f->slots = slots;
	f->n_slots = n_slots;
	return 0;
}

static int family__insert(struct metric_family *f, const char *const *vals, uint64_t h,
			  struct series **out)
{
	size_t counts_sz = 0, key_len = 0, i, j;
	struct strbuf lbl;
	struct series *s;
	char *p;
	int err;

	err = family__grow(f);
	if (err)
		return err;

	strbuf__init(&lbl);
	for (i = 0; i < f->n_labels; i++) {
		if (i)
			strbuf__append(&lbl, ",", 1);
		strbuf__puts(&lbl, f->label_names[i]);
		strbuf__append(&lbl, "=\"", 2);
		escape(&lbl, vals[i], true);
		strbuf__append(&lbl, "\"", 1);
		key_len += strlen(vals[i]) + 1;
	}
	if (lbl.oom) {
		strbuf__free(&lbl);
		return -ENOMEM;
	}
	if (f->type == METRIC_HISTOGRAM)
		counts_sz = (f->n_buckets + 1) * sizeof(uint64_t);

	s = calloc(1, sizeof(*s) + counts_sz + key_len + lbl.len + 1);
	if (!s) {
		strbuf__free(&lbl);
		return -ENOMEM;
	}
	s->hash = h;
	p = (char *)s->data;
	if (counts_sz) {
		s->counts = s->data;
		p += counts_sz;
	}
	s->key = p;
	for (i = 0; i < f->n_labels; i++) {
		size_t n = strlen(vals[i]) + 1;

		memcpy(p, vals[i], n);
		p += n;
	}
	s->lbl = p;
	s->lbl_len = lbl.len;
	if (lbl.len)
		memcpy(p, lbl.buf, lbl.len);
	strbuf__free(&lbl);

	f->series[f->n_series] = s;
	for (j = h & (f->n_slots - 1); f->slots[j]; j = (j + 1) & (f->n_slots - 1))
		;
	f->slots[j] = (uint32_t)(f->n_series + 1);
	f->n_series++;
	*out = s;
	return 0;
}

/* Is s's key vals? */
static bool key_is(const struct series *s, const char *const *vals, size_t n)
{
	const char *p = s->key;
	size_t i;

	for (i = 0; i < n; i++, p += strlen(p) + 1)
		if (strcmp(p, vals[i]))
			return false;
	return true;
}

/* Find or create the series for vals; registry lock held. */
static int family__series(struct metric_family *f, const char *const *vals, struct series **out)
{
	const char *clean[METRICS_MAX_LABELS];
	char *owned[METRICS_MAX_LABELS] = { 0 };
	size_t lens[METRICS_MAX_LABELS];
	bool dirty = false;
	size_t i;
	uint64_t h;
	int err = 0;

	if (f->n_labels && !vals)
		return -EINVAL;
	for (i = 0; i < f->n_labels; i++)
		if (!vals[i])
			return -EINVAL;

	if (f->last && key_is(f->last, vals, f->n_labels)) {
		*out = f->last;
		return 0;
	}
	h = key_hash(vals, f->n_labels, lens);
	*out = family__lookup(f, vals, lens, h);
	if (*out) {
		f->last = *out;
		return 0;
	}

	/* Rare path: invalid UTF-8 values are stored (and found) under their cleaned form. */
	for (i = 0; i < f->n_labels; i++) {
		clean[i] = vals[i];
		if (utf8_valid(vals[i]))
			continue;
		owned[i] = utf8_sanitize(vals[i]);
		if (!owned[i]) {
			err = -ENOMEM;
			goto cleanup;
		}
		clean[i] = owned[i];
		dirty = true;
	}
	if (dirty) {
		vals = clean;
		h = key_hash(vals, f->n_labels, lens);
		*out = family__lookup(f, vals, lens, h);
		if (*out)
			goto cleanup;
	}

	if (f->n_series >= f->m->max_series) {
		f->dropped++;
		err = -ENOSPC;
		goto cleanup;
	}
	err = family__insert(f, vals, h, out);
	if (!err)
		f->last = *out;
cleanup:
	for (i = 0; i < f->n_labels; i++)
		free(owned[i]);
	return err;
}

int metrics__set(struct metric_family *f, const char *const *label_values, double v)
{
	struct series *s;
	int err;

	if (!f || f->type == METRIC_HISTOGRAM)
		return -EINVAL;
	/* A counter total is a non-NaN count starting from 0 (OpenMetrics, Counter). */
	if (f->type == METRIC_COUNTER && !(v >= 0))
		return -EINVAL;
	pthread_mutex_lock(&f->m->lock);
	err = family__series(f, label_values, &s);
	if (!err)
		s->value = v;
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

int metrics__add(struct metric_family *f, const char *const *label_values, double delta)
{
	struct series *s;
	int err;

	if (!f || f->type == METRIC_HISTOGRAM)
		return -EINVAL;
	if (f->type == METRIC_COUNTER && !(delta >= 0))
		return -EINVAL;
	pthread_mutex_lock(&f->m->lock);
	err = family__series(f, label_values, &s);
	if (!err)
		s->value += delta;
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

int metrics__observe(struct metric_family *f, const char *const *label_values, double v)
{
	struct series *s;
	size_t i;
	int err;

	/* NaN would poison _sum for good; OpenMetrics forbids a NaN sum. */
	if (!f || f->type != METRIC_HISTOGRAM || isnan(v))
		return -EINVAL;
	for (i = 0; i < f->n_buckets; i++)
		if (v <= f->buckets[i])
			break;
	pthread_mutex_lock(&f->m->lock);
	err = family__series(f, label_values, &s);
	if (!err) {
		s->counts[i]++;
		s->sum += v;
	}
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

/* ex on the bucket of v (counted there when count), under the registry's lock */
static int exemplar_at(struct metric_family *f, const char *const *label_values, double v,
		       const struct metrics_exemplar *ex, bool count, bool published)
{
	struct exemplar_slot *slot;
	struct series *s;
	size_t i;
	int err;

	for (i = 0; i < f->n_buckets; i++)
		if (v <= f->buckets[i])
			break;
	pthread_mutex_lock(&f->m->lock);
	err = family__series(f, label_values, &s);
	if (!err) {
		if (count) {
			s->counts[i]++;
			s->sum += v;
		}
		if (!s->ex)
			s->ex = calloc(f->n_buckets + 1, sizeof(*s->ex));
		if (s->ex) {
			slot = &s->ex[i];
			if (published) {
				slot->pub = *ex;
				slot->pub.value = v;
				slot->has_pub = true;
			} else {
				slot->cand = *ex;
				slot->cand.value = v;
				slot->has_cand = true;
			}
		}
	}
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

int metrics__observe_exemplar(struct metric_family *f, const char *const *label_values, double v,
			      const struct metrics_exemplar *ex)
{
	if (!f || f->type != METRIC_HISTOGRAM || isnan(v))
		return -EINVAL;
	if (!ex)
		return metrics__observe(f, label_values, v);
	return exemplar_at(f, label_values, v, ex, true, false);
}

int metrics__hist_exemplar(struct metric_family *f, const char *const *label_values, double v,
			   const struct metrics_exemplar *ex, bool published)
{
	if (!f || f->type != METRIC_HISTOGRAM || isnan(v) || !ex)
		return -EINVAL;
	return exemplar_at(f, label_values, v, ex, false, published);
}

void metrics__exemplars_confirm(struct metrics *m, const uint64_t *sorted_ids, size_t n)
{
	size_t i, j, k;

	if (!m || !n)
		return;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_fams; i++) {
		struct metric_family *f = m->fams[i];

		if (f->type != METRIC_HISTOGRAM)
			continue;
		for (j = 0; j < f->n_series; j++) {
			struct series *s = f->series[j];
			if (!s->ex)
				continue;
			for (k = 0; k <= f->n_buckets; k++) {
				if (!s->ex[k].has_cand)
					continue;
				if (ids__has(sorted_ids, n, ids__of(s->ex[k].cand.span_id))) {
					s->ex[k].pub = s->ex[k].cand;
					s->ex[k].has_pub = true;
					s->ex[k].has_cand = false;
				}
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}

int metrics__hist_set(struct metric_family *f, const char *const *label_values,
		      const uint64_t *counts, double sum)
{
	struct series *s;
	int err;

	if (!f || f->type != METRIC_HISTOGRAM || !counts || isnan(sum))
		return -EINVAL;
	pthread_mutex_lock(&f->m->lock);
	err = family__series(f, label_values, &s);
	if (!err) {
		memcpy(s->counts, counts, (f->n_buckets + 1) * sizeof(*counts));
		s->sum = sum;
	}
	pthread_mutex_unlock(&f->m->lock);
	return err;
}

void metrics__clear(struct metric_family *f)
{
	if (!f)
		return;
	pthread_mutex_lock(&f->m->lock);
	family__free_series(f);
	pthread_mutex_unlock(&f->m->lock);
}

void metrics__each_family(struct metrics *m, void (*fn)(void *ctx, const struct metric_info *fi),
			  void *ctx)
{
	struct metric_family *f;
	struct metric_info fi;
	size_t i;

	if (!m || !fn)
		return;
	/*
	 * Families are never removed and their names, help and labels never change, so a
	 * family found under the lock stays valid after it; the lock is taken per family
	 * because fn may call back into the registry (and m->fams may move meanwhile).
	 */
	for (i = 0;; i++) {
		pthread_mutex_lock(&m->lock);
		if (i >= m->n_fams) {
			pthread_mutex_unlock(&m->lock);
			return;
		}
		f = m->fams[i];
		fi = (struct metric_info){
			.name = f->name,
			.help = f->help,
			.type = f->type,
			.label_names = (const char *const *)f->label_names,
			.n_labels = f->n_labels,
			.series_dropped = f->dropped,
		};
		pthread_mutex_unlock(&m->lock);
		fn(ctx, &fi);
	}
}

/* ---- rendering --------------------------------------------------------------------- */

int metrics__read(struct metrics *m, const char *name,
		  void (*fn)(void *ctx, const struct metric_info *fi, const struct metric_sample *s),
		  void *ctx)
{
	const char *vals[METRICS_MAX_LABELS];
	struct metric_family *f = NULL;
	struct metric_info fi;
	size_t i, j;

	if (!m || !name || !fn)
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_fams && !f; i++)
		if (!strcmp(m->fams[i]->name, name))
			f = m->fams[i];
	if (!f) {
		pthread_mutex_unlock(&m->lock);
		return -ENOENT;
	}
	fi = (struct metric_info){ .name = f->name, .help = f->help, .type = f->type,
				   .label_names = (const char *const *)f->label_names,
				   .n_labels = f->n_labels, .series_dropped = f->dropped };
	for (i = 0; i < f->n_series; i++) {
		const struct series *s = f->series[i];
		const char *k = s->key;
		struct metric_sample ms = { .label_values = vals, .value = s->value,
					    .counts = s->counts, .sum = s->sum,
					    .buckets = f->buckets, .n_buckets = f->n_buckets };

		for (j = 0; j < f->n_labels; j++) {
			vals[j] = k;
			k += strlen(k) + 1;
		}
		fn(ctx, &fi, &ms);
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static const char *type_name(enum metric_type type)
{
	switch (type) {
	case METRIC_COUNTER:
		return "counter";
	case METRIC_GAUGE:
		return "gauge";
	case METRIC_HISTOGRAM:
		return "histogram";
	}
	return "untyped";
}

static void put(char **o, const char *s, size_t n)
{
	memcpy(*o, s, n);
	*o += n;
}

/*
 * name{labels[,le="x"]} value\n. Assembled on the stack and appended once: a scrape of 10k
 * histograms is 140k lines, and ten strbuf calls per line cost more than the rest.
 */
static void render_sample_ex(struct strbuf *out, const struct metric_family *f,
			     const char *suffix, const struct series *s, const char *le,
			     const char *num, size_t num_len, const char *ex, size_t ex_len)
{
	size_t suffix_len, le_len = le ? strlen(le) : 0;
	char line[512], *o = line;

	if (!suffix)
		suffix = "";
	suffix_len = strlen(suffix);

	if (f->name_len + suffix_len + s->lbl_len + le_len + num_len + ex_len + 16 > sizeof(line)) {
		strbuf__append(out, f->name, f->name_len);
		strbuf__append(out, suffix, suffix_len);
		if (s->lbl_len || le) {
			strbuf__append(out, "{", 1);
			strbuf__append(out, s->lbl, s->lbl_len);
			if (le) {
				if (s->lbl_len)
					strbuf__append(out, ",", 1);
				strbuf__append(out, "le=\"", 4);
				strbuf__append(out, le, le_len);
				strbuf__append(out, "\"", 1);
			}
			strbuf__append(out, "}", 1);
		}
		strbuf__append(out, " ", 1);
		strbuf__append(out, num, num_len);
		strbuf__append(out, ex, ex_len);
		strbuf__append(out, "\n", 1);
		return;
	}
	put(&o, f->name, f->name_len);
	put(&o, suffix, suffix_len);
	if (s->lbl_len || le) {
		*o++ = '{';
		put(&o, s->lbl, s->lbl_len);
		if (le) {
			if (s->lbl_len)
				*o++ = ',';
			put(&o, "le=\"", 4);
			put(&o, le, le_len);
			*o++ = '"';
		}
		*o++ = '}';
	}
	*o++ = ' ';
	put(&o, num, num_len);
	put(&o, ex, ex_len);
	*o++ = '\n';
	strbuf__append(out, line, (size_t)(o - line));
}

static void render_sample(struct strbuf *out, const struct metric_family *f, const char *suffix,
			  const struct series *s, const char *le, const char *num, size_t num_len)
{
	render_sample_ex(out, f, suffix, s, le, num, num_len, "", 0);
}

static void hex(const uint8_t *b, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		out[2 * i] = digits[b[i] >> 4];
		out[2 * i + 1] = digits[b[i] & 15];
	}
	out[2 * n] = 0;
}

/* OpenMetrics exemplar: " # {trace_id="...",span_id="..."} value timestamp" */
static size_t fmt_exemplar(char *out, const struct metrics_exemplar *e)
{
	char tid[33], sid[17], v[NUM_BUF], ts[NUM_BUF];

	hex(e->trace_id, 16, tid);
	hex(e->span_id, 8, sid);
	fmt_double(v, e->value);
	snprintf(ts, sizeof(ts), "%.3f", e->ts);
	return (size_t)sprintf(out, " # {trace_id=\"%s\",span_id=\"%s\"} %s %s", tid, sid, v, ts);
}

static void render_histogram(struct strbuf *out, const struct metric_family *f,
			     const struct series *s, enum metrics_format fmt)
{
	char num[NUM_BUF];
	uint64_t total = 0;
	size_t i, n;

	for (i = 0; i <= f->n_buckets; i++) {
		const char *le;

		total += s->counts[i];
		if (i == f->n_buckets)
			le = "+Inf";
		else
			le = fmt == METRICS_OPENMETRICS ? f->le_om[i] : f->le_text[i];
		n = fmt_u64(num, total);
		if (fmt == METRICS_OPENMETRICS && s->ex && s->ex[i].has_pub) {
			char ex[160];
			size_t ex_len = fmt_exemplar(ex, &s->ex[i].pub);

			render_sample_ex(out, f, "_bucket", s, le, num, n, ex, ex_len);
		} else {
			render_sample(out, f, "_bucket", s, le, num, n);
		}
	}
	/*
	 * OpenMetrics: with a negative bucket the sum is no longer a counter and MUST NOT be
	 * exposed; parsers then also refuse a _count without _sum, and le="+Inf" says it.
	 */
	if (fmt == METRICS_OPENMETRICS && f->n_buckets && f->buckets[0] < 0)
		return;
	n = fmt_double(num, s->sum);
	render_sample(out, f, "_sum", s, NULL, num, n);
	n = fmt_u64(num, total);
	render_sample(out, f, "_count", s, NULL, num, n);
}

/*
 * Families without series still get their HELP/TYPE lines: both formats allow an empty
 * family, and a dashboard can tell "probe knows this metric, nothing seen yet" from "old
 * probe". 0.0.4 writes HELP then TYPE under the sample name (counters keep _total);
 * OpenMetrics writes TYPE then HELP (its SHOULD order) under the name without _total.
 * Empty help prints no HELP line, which OpenMetrics defines as the same thing.
 */
static void render_family(struct strbuf *out, const struct metric_family *f,
			  enum metrics_format fmt)
{
	bool om = fmt == METRICS_OPENMETRICS;
	size_t name_len = om ? f->base_len : f->name_len;
	const char *help = om ? f->help_om : f->help_text;
	char num[NUM_BUF];
	size_t i, n;

	if (!om && *help) {
		strbuf__append(out, "# HELP ", 7);
		strbuf__append(out, f->name, name_len);
		strbuf__append(out, " ", 1);
		strbuf__puts(out, help);
		strbuf__append(out, "\n", 1);
	}
	strbuf__append(out, "# TYPE ", 7);
	strbuf__append(out, f->name, name_len);
	strbuf__append(out, " ", 1);
	strbuf__puts(out, type_name(f->type));
	strbuf__append(out, "\n", 1);
	if (om && *help) {
		strbuf__append(out, "# HELP ", 7);
		strbuf__append(out, f->name, name_len);
		strbuf__append(out, " ", 1);
		strbuf__puts(out, help);
		strbuf__append(out, "\n", 1);
	}

	for (i = 0; i < f->n_series; i++) {
		const struct series *s = f->series[i];

		if (f->type == METRIC_HISTOGRAM) {
			render_histogram(out, f, s, fmt);
			continue;
		}
		n = fmt_double(num, s->value);
		render_sample(out, f, NULL, s, NULL, num, n);
	}
}

int metrics__render(struct metrics *m, struct strbuf *out, enum metrics_format fmt)
{
	size_t i;

	if (!m || !out || (fmt != METRICS_TEXT_004 && fmt != METRICS_OPENMETRICS))
		return -EINVAL;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->n_fams; i++)
		render_family(out, m->fams[i], fmt);
	pthread_mutex_unlock(&m->lock);
	if (fmt == METRICS_OPENMETRICS)
		strbuf__puts(out, "# EOF\n");
	strbuf__append(out, "", 0); /* out->buf is a string even for an empty registry */
	/* An exposition cut short by ENOMEM must not be served as if complete. */
	return out->oom ? -ENOMEM : 0;
}
