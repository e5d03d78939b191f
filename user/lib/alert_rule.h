/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * An alert rule as data: what the config parser produces and the rule engine
 * (telemetry/alerts.c) evaluates. The expression is a fixed shape that covers the Fog
 * Compute rules without a query language:
 *
 *   scale * (complement ? 1 - v : v)  cmp  threshold   [and guard]
 *
 * where v is, per series or per group of `by` labels, a gauge, a rate or increase over a
 * window, a histogram quantile over a window, or the ratio of two of these.
 */
#ifndef FOGPROBE_LIB_ALERT_RULE_H
#define FOGPROBE_LIB_ALERT_RULE_H

#define ALERT_NAME_LEN 64
#define ALERT_METRIC_LEN 128
#define ALERT_VALUE_LEN 128
#define ALERT_SUMMARY_LEN 256
#define ALERT_TEXT_LEN 768
#define ALERT_URL_LEN 256
#define ALERT_MAX_METRICS 2 /* series of these metrics are summed */
#define ALERT_MAX_MATCHERS 4
#define ALERT_MAX_BY 4
#define ALERT_MAX_LABELS 4
#define ALERT_MAX_RULES 64
#define ALERT_MAX_WINDOW_S 86400.0

enum alert_fn { ALERT_FN_GAUGE, ALERT_FN_RATE, ALERT_FN_INCREASE, ALERT_FN_QUANTILE };
enum alert_match { ALERT_MATCH_EQ, ALERT_MATCH_NE, ALERT_MATCH_RE, ALERT_MATCH_NRE };
enum alert_cmp { ALERT_GT, ALERT_LT, ALERT_GE, ALERT_LE, ALERT_EQ, ALERT_NE };
enum alert_agg { ALERT_AGG_NONE, ALERT_AGG_SUM, ALERT_AGG_AVG };

struct alert_matcher {
	char label[ALERT_NAME_LEN];
	enum alert_match op;
	char value[ALERT_VALUE_LEN]; /* a regex is anchored at both ends, as in PromQL */
};

struct alert_selector {
	char metric[ALERT_MAX_METRICS][ALERT_METRIC_LEN];
	int n_metrics;
	struct alert_matcher match[ALERT_MAX_MATCHERS];
	int n_match;
};

struct alert_expr {
	enum alert_fn fn;
	struct alert_selector sel;
	double window_s; /* rate, increase, quantile */
	double quantile; /* histogram_quantile's phi */
	int ratio; /* v = fn(sel) / fn(den); groups whose denominator is 0 have no value */
	struct alert_selector den;
	enum alert_agg agg; /* over the series, keeping the `by` labels */
	char by[ALERT_MAX_BY][ALERT_NAME_LEN];
	int n_by;
	int complement;
	double scale; /* 0 means 1 */
	enum alert_cmp cmp;
	double threshold;
	/* and: some series of guard (same labels when guard_same) is cmp'ed true */
	int guard;
	struct alert_selector guard_sel;
	enum alert_cmp guard_cmp;
	double guard_threshold;
	int guard_same;
};

/* Which fields a config entry sets (an entry naming a default rule overrides these). */
enum {
	ALERT_SET_EXPR = 1 << 0,
	ALERT_SET_FOR = 1 << 1,
	ALERT_SET_THRESHOLD = 1 << 2,
	ALERT_SET_WINDOW = 1 << 3,
	ALERT_SET_LABELS = 1 << 4,
	ALERT_SET_ANNOTATIONS = 1 << 5,
	ALERT_SET_DISABLED = 1 << 6,
};

struct alert_rule {
	char name[ALERT_NAME_LEN];
	struct alert_expr expr;
	double for_s;
	char label_names[ALERT_MAX_LABELS][ALERT_NAME_LEN];
	char label_values[ALERT_MAX_LABELS][ALERT_VALUE_LEN];
	int n_labels;
	char summary[ALERT_SUMMARY_LEN]; /* Prometheus templates: {{ $labels.x }}, {{ $value }} */
	char description[ALERT_TEXT_LEN];
	char runbook_url[ALERT_URL_LEN];
	int disabled;
	unsigned int set; /* ALERT_SET_* */
};

const char *alert_cmp__name(enum alert_cmp c);
const char *alert_fn__name(enum alert_fn f);

#endif
