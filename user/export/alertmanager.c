// SPDX-License-Identifier: GPL-2.0-only
/*
 * Alertmanager v2 and webhook delivery: a bounded queue and one thread with libcurl.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "export/alertmanager.h"
#include "lib/log.h"

struct item {
	char *key;
	char *json;
	uint64_t seq;
	bool firing;
};

struct notifier {
	struct alerts_config cfg; /* receivers, timeout, queue size */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stopping;
	struct item *q; /* cfg.queue items, oldest first */
	size_t len;
	uint64_t next_seq;
	struct metric_family *f_sent, *f_dropped, *f_queue, *f_cap, *f_webhook;
	/* the webhook thread's own: the state last posted per alert, so that a chat gets a
	 * message per change, not per resend */
	struct posted {
		uint64_t hash;
		bool firing;
	} posted[NOTIFIER_WEBHOOK_SEEN];
	size_t n_posted;
};

static const struct metric_def defs[] = {
	{ "fogprobe_alert_notifications_total",
	  "Batches of alerts posted to each Alertmanager, by result: success (2xx), failed "
	  "(connection error, timeout or 5xx: retried), rejected (4xx: not retried)",
	  METRIC_COUNTER, { "result" }, NULL, 0, offsetof(struct notifier, f_sent) },
	{ "fogprobe_alert_notifications_dropped_total",
	  "Alerts dropped before delivery: queue_full (the oldest queued one when the queue "
	  "is full), rejected (refused with a 4xx by every Alertmanager)",
	  METRIC_COUNTER, { "reason" }, NULL, 0, offsetof(struct notifier, f_dropped) },
	{ "fogprobe_alert_queue_length", "Alerts queued for delivery", METRIC_GAUGE, { NULL },
	  NULL, 0, offsetof(struct notifier, f_queue) },
	{ "fogprobe_alert_queue_capacity", "Alerts the delivery queue holds at most",
	  METRIC_GAUGE, { NULL }, NULL, 0, offsetof(struct notifier, f_cap) },
	{ "fogprobe_alert_webhook_notifications_total",
	  "Messages posted to the Slack-compatible webhook, by result (success, failed, "
	  "rejected)",
	  METRIC_COUNTER, { "result" }, NULL, 0, offsetof(struct notifier, f_webhook) },
};

struct notifier *notifier__new(struct metrics *reg, const struct alerts_config *cfg, char *err,
			       size_t errlen)
{
	struct notifier *n = calloc(1, sizeof(*n));

	if (!n || !(n->q = calloc(cfg->queue > 0 ? cfg->queue : 1, sizeof(*n->q))) ||
	    metrics__register(reg, n, defs, ARRAY_LEN(defs))) {
		snprintf(err, errlen, "alert delivery: %s", strerror(ENOMEM));
		if (n)
			free(n->q);
		free(n);
		return NULL;
	}
	n->cfg = *cfg;
	if (n->cfg.queue <= 0)
		n->cfg.queue = 1;
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->cond, NULL);
	metrics__set(n->f_queue, NULL, 0);
	metrics__set(n->f_cap, NULL, n->cfg.queue);
	return n;
}

static void item_free(struct item *it)
{
	free(it->key);
	free(it->json);
}

static void queue_remove(struct notifier *n, size_t i)
{
	item_free(&n->q[i]);
	memmove(&n->q[i], &n->q[i + 1], (n->len - i - 1) * sizeof(*n->q));
	n->len--;
}

void notifier__send(void *ctx, const char *key, const char *alert_json, bool firing)
{
	struct notifier *n = ctx;
	char *copy, *kcopy;
	bool dropped = false;
	size_t i;

	if (!n || (!n->cfg.n_alertmanagers && !n->cfg.webhook.url[0]))
		return;
	copy = strdup(alert_json);
	kcopy = strdup(key);
	if (!copy || !kcopy) {
		free(copy), free(kcopy);
		return;
	}
	pthread_mutex_lock(&n->lock);
	for (i = 0; i < n->len; i++)
		if (!strcmp(n->q[i].key, key))
			break;
	if (i < n->len) { /* a newer state of a queued alert: it replaces that one */
		item_free(&n->q[i]);
		n->q[i] = (struct item){ kcopy, copy, n->next_seq++, firing };
	} else {
		if (n->len == (size_t)n->cfg.queue) {
			for (i = 0; i < n->len && n->q[i].firing; i++)
				;
			queue_remove(n, i < n->len ? i : 0);
			dropped = true;
		}
		n->q[n->len++] = (struct item){ kcopy, copy, n->next_seq++, firing };
	}
	pthread_cond_signal(&n->cond);
	metrics__set(n->f_queue, NULL, (double)n->len);
	pthread_mutex_unlock(&n->lock);
	if (dropped)
		metrics__add(n->f_dropped, METRICS_LABELS("queue_full"), 1);
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud)
{
	(void)p, (void)ud;
	return size * nmemb;
}

/* First line of a file (a secret), without its newline. */
static int read_secret(const char *path, char *out, size_t size)
{
	FILE *f = fopen(path, "re");
	int ok;

	if (!f)
		return -errno;
	ok = fgets(out, (int)size, f) != NULL;
	fclose(f);
	if (!ok)
		return -EINVAL;
	out[strcspn(out, "\r\n")] = '\0';
	return 0;
}

/* POST body to r (path appended to its url). HTTP status, or -1 on a transport error. */
static long post(const struct notifier *n, const struct alert_receiver *r, const char *path,
		 const char *body, char *why, size_t whylen)
{
	struct curl_slist *hdr = NULL;
	char url[CONFIG_URL_LEN + 32], secret[512], auth[600];
	CURL *c = curl_easy_init();
	long status = -1;
	CURLcode rc;
	size_t ul;

	if (!c) {
		snprintf(why, whylen, "curl_easy_init failed");
		return -1;
	}
	snprintf(url, sizeof(url), "%s", r->url);
	ul = strlen(url);
	if (ul && url[ul - 1] == '/' && path[0] == '/')
		url[--ul] = '\0';
	snprintf(url + ul, sizeof(url) - ul, "%s", path);
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "User-Agent: fogprobe/" FOGPROBE_VERSION);
	if (r->bearer_token_file[0]) {
		if (read_secret(r->bearer_token_file, secret, sizeof(secret))) {
			snprintf(why, whylen, "cannot read %s", r->bearer_token_file);
			goto out;
		}
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", secret);
		hdr = curl_slist_append(hdr, auth);
	}
	if (r->username[0]) {
		if (read_secret(r->password_file, secret, sizeof(secret))) {
			snprintf(why, whylen, "cannot read %s", r->password_file);
			goto out;
		}
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(c, CURLOPT_PASSWORD, secret);
	}
	if (r->ca_file[0])
		curl_easy_setopt(c, CURLOPT_CAINFO, r->ca_file);
	if (r->insecure_skip_verify) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(n->cfg.timeout_s * 1000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	rc = curl_easy_perform(c);
	if (rc != CURLE_OK) {
		snprintf(why, whylen, "%s", curl_easy_strerror(rc));
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		snprintf(why, whylen, "HTTP %ld", status);
	}
out:
	memset(secret, 0, sizeof(secret));
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	return status;
}

/* A Slack message for one alert: "[FIRING] name: summary" */
static char *slack_text(const char *alert_json, bool *resolved_out)
{
	json_t *a = json_loads(alert_json, 0, NULL), *o;
	const char *name, *summary, *ends;
	char text[1024], *s = NULL;
	struct timespec now;
	bool resolved = false;

	if (!a)
		return NULL;
	name = json_string_value(json_object_get(json_object_get(a, "labels"), "alertname"));
	summary = json_string_value(json_object_get(json_object_get(a, "annotations"), "summary"));
	ends = json_string_value(json_object_get(a, "endsAt"));
	if (ends) {
		struct tm tm = { 0 };

		clock_gettime(CLOCK_REALTIME, &now);
		if (strptime(ends, "%Y-%m-%dT%H:%M:%S", &tm))
			resolved = timegm(&tm) <= now.tv_sec;
	}
	*resolved_out = resolved;
	snprintf(text, sizeof(text), "[%s] %s: %s", resolved ? "RESOLVED" : "FIRING",
		 name ? name : "?", summary ? summary : "");
	o = json_pack("{s:s}", "text", text);
	if (o)
		s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	json_decref(a);
	return s;
}

static const char *result_of(long status)
{
	return status >= 200 && status < 300 ? "success" :
	       status >= 400 && status < 500 ? "rejected" :
					       "failed";
}

static uint64_t hash_key(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* Was this state of the alert (its labels: the JSON up to "annotations") posted? Records
 * it. A full table is forgotten at once: a repeated message then, never a lost one. */
static bool webhook_seen(struct notifier *n, const char *alert_json, bool firing)
{
	const char *end = strstr(alert_json, "\"annotations\"");
	char *labels = strndup(alert_json, end ? (size_t)(end - alert_json) : strlen(alert_json));
	uint64_t h = labels ? hash_key(labels) : 0;
	size_t i;

	free(labels);
	for (i = 0; i < n->n_posted; i++)
		if (n->posted[i].hash == h) {
			if (n->posted[i].firing == firing)
				return true;
			n->posted[i].firing = firing;
			return false;
		}
	if (n->n_posted == NOTIFIER_WEBHOOK_SEEN)
		n->n_posted = 0;
	n->posted[n->n_posted++] = (struct posted){ h, firing };
	return false;
}

/* Deliver items; true when done with them (delivered or refused for good). */
static bool deliver(struct notifier *n, struct item *items, size_t k)
{
	struct strbuf body;
	char why[512];
	bool ok = false, rejected = n->cfg.n_alertmanagers > 0;
	size_t i;
	int a;

	strbuf__init(&body);
	strbuf__puts(&body, "[");
	for (i = 0; i < k; i++) {
		if (i)
			strbuf__puts(&body, ",");
		strbuf__puts(&body, items[i].json);
	}
	strbuf__puts(&body, "]");
	for (a = 0; a < n->cfg.n_alertmanagers; a++) {
		long st = post(n, &n->cfg.alertmanagers[a], "/api/v2/alerts", body.buf, why,
			       sizeof(why));
		const char *res = result_of(st);

		metrics__add(n->f_sent, METRICS_LABELS(res), 1);
		if (!strcmp(res, "success"))
			ok = true;
		else
			pr_info("alertmanager %s: %zu alerts not delivered: %s\n",
				n->cfg.alertmanagers[a].url, k, why);
		if (strcmp(res, "rejected"))
			rejected = false;
	}
	strbuf__free(&body);
	/* Slack has no batch: one message per alert, not retried (a chat is not a pager) */
	for (i = 0; n->cfg.webhook.url[0] && i < k; i++) {
		bool resolved;
		char *text = slack_text(items[i].json, &resolved);
		long st;

		if (!text || webhook_seen(n, items[i].json, !resolved)) {
			free(text);
			continue;
		}
		st = post(n, &n->cfg.webhook, "", text, why, sizeof(why));
		metrics__add(n->f_webhook, METRICS_LABELS(result_of(st)), 1);
		if (st < 200 || st >= 300)
			pr_info("webhook: alert not delivered: %s\n", why);
		free(text);
	}
	if (rejected)
		metrics__add(n->f_dropped, METRICS_LABELS("rejected"), (double)k);
	return ok || rejected || !n->cfg.n_alertmanagers;
}

static void *run(void *arg)
{
	struct notifier *n = arg;
	struct item batch[NOTIFIER_BATCH];
	double backoff = 0;

	pthread_mutex_lock(&n->lock);
	while (!n->stopping) {
		struct timespec until;
		size_t k, i;

		if (!n->len || backoff > 0) {
			clock_gettime(CLOCK_REALTIME, &until);
			if (backoff > 0) {
				until.tv_sec += (time_t)backoff;
				until.tv_nsec += (long)((backoff - (double)(time_t)backoff) * 1e9);
				if (until.tv_nsec >= 1000000000L)
					until.tv_sec++, until.tv_nsec -= 1000000000L;
				/* sleep the whole backoff, new alerts or not */
				while (!n->stopping &&
				       pthread_cond_timedwait(&n->cond, &n->lock, &until) == 0)
					;
			} else {
				until.tv_sec += 1;
				pthread_cond_timedwait(&n->cond, &n->lock, &until);
			}
			if (n->stopping || !n->len)
				continue;
		}
		/* copy the oldest items: the queue may drop them while we post */
		k = n->len < NOTIFIER_BATCH ? n->len : NOTIFIER_BATCH;
		for (i = 0; i < k; i++) {
			batch[i].json = strdup(n->q[i].json);
			batch[i].seq = n->q[i].seq;
		}
		pthread_mutex_unlock(&n->lock);
		for (i = 0; i < k && batch[i].json; i++)
			;
		bool done = i == k && deliver(n, batch, k);

		pthread_mutex_lock(&n->lock);
		if (done) {
			/* what was sent and not replaced meanwhile (same seq) */
			for (i = 0; i < n->len;) {
				size_t b;

				for (b = 0; b < k && batch[b].seq != n->q[i].seq; b++)
					;
				if (b < k)
					queue_remove(n, i);
				else
					i++;
			}
			backoff = 0;
		} else {
			backoff = backoff ? backoff * 2 : NOTIFIER_BACKOFF_MIN_S;
			if (backoff > NOTIFIER_BACKOFF_MAX_S)
				backoff = NOTIFIER_BACKOFF_MAX_S;
		}
		for (i = 0; i < k; i++)
			free(batch[i].json);
		metrics__set(n->f_queue, NULL, (double)n->len);
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int notifier__start(struct notifier *n)
{
	int e;

	if (!n || (!n->cfg.n_alertmanagers && !n->cfg.webhook.url[0]))
		return 0;
	if (curl_global_init(CURL_GLOBAL_DEFAULT))
		return -ENOMEM;
	e = pthread_create(&n->thread, NULL, run, n);
	if (e)
		return -e;
	n->started = true;
	return 0;
}

void notifier__free(struct notifier *n)
{
	size_t i;

	if (!n)
		return;
	if (n->started) {
		pthread_mutex_lock(&n->lock);
		n->stopping = true;
		pthread_cond_signal(&n->cond);
		pthread_mutex_unlock(&n->lock);
		pthread_join(n->thread, NULL);
		curl_global_cleanup();
	}
	for (i = 0; i < n->len; i++)
		item_free(&n->q[i]);
	free(n->q);
	free(n);
}
