/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * OTLP/HTTP trace exporter (OTLP specification 1.x, "OTLP/HTTP"): spans taken from the
 * queue of telemetry/spans.c in batches (batch_spans, or whatever is queued after
 * batch_delay_ms) and POSTed to the configured URL as an ExportTraceServiceRequest,
 * binary protobuf or JSON, gzip-compressed when asked. One thread of its own: a slow or
 * absent collector never blocks the event loop or a scrape.
 *
 * Retries (the specification's retryable cases): connection errors and timeouts, 429,
 * 502, 503 and 504, after Retry-After when the answer has one, else after an exponential
 * backoff with jitter; a batch still failing after retry_max_s is dropped. Other answers
 * drop the batch (reason "rejected"). A 2xx with a partial_success counts its rejected
 * spans as dropped ("partial_success") and the rest as exported.
 */
#ifndef FOGPROBE_EXPORT_OTLP_H
#define FOGPROBE_EXPORT_OTLP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "lib/config.h"
#include "lib/strbuf.h"
#include "telemetry/metrics.h"
#include "telemetry/spans.h"

#define OTLP_BACKOFF_INITIAL_MS 1000
#define OTLP_BACKOFF_MAX_MS 8000

/* What every span's resource says besides service.name. */
struct otlp_resource {
	const struct config *cfg; /* service names; otlp.resource_attributes */
	const char *host_name;
	const char *version;
};

/* Encode spans as an ExportTraceServiceRequest (one ResourceSpans per service and
 * container/pod, in order of first appearance) into out (appended). 0 or -ENOMEM. Pure. */
int otlp__encode(const struct otlp_resource *res, const struct span *spans, size_t n,
		 enum otlp_protocol proto, struct strbuf *out);

enum otlp_outcome { OTLP_OK, OTLP_RETRY, OTLP_FAIL };

/* The fate of one export request: transport_ok false for a connection error or a
 * timeout (curl's), else the HTTP status. Pure. */
enum otlp_outcome otlp__classify(bool transport_ok, long status);

/* The wait before retry number `attempt` (0 first): OTLP_BACKOFF_INITIAL_MS doubled per
 * attempt up to OTLP_BACKOFF_MAX_MS, times a jitter in [0.5, 1) from jitter01 in [0, 1).
 * Pure. */
uint64_t otlp__backoff_ms(unsigned attempt, double jitter01);

/* A Retry-After value (delay-seconds or an HTTP-date, RFC 9110 section 10.2.3) in ms
 * from now_unix; -1 when absent or not understood. */
int64_t otlp__retry_after_ms(const char *value, int64_t now_unix);

/* The rejected_spans of an ExportTraceServiceResponse body (protobuf or JSON); 0 when
 * it has no partial_success, -1 when the body cannot be read. Pure. */
int64_t otlp__rejected(const void *body, size_t len, enum otlp_protocol proto);

struct otlp_exporter;

/* Starts the exporter thread. NULL with err filled on failure. duration: the family of
 * otlp__register (may be NULL). reg: told which spans were exported, for its exemplars
 * (may be NULL). */
struct otlp_exporter *otlp__start(const struct config *cfg, struct spans *sp, struct metrics *reg,
				  struct metric_family *duration, char *err, size_t errlen);
/* Stops it: queued spans and the batch in hand are counted as dropped ("shutdown"). */
void otlp__stop(struct otlp_exporter *e); /* accepts NULL */

/* fogprobe_otlp_export_duration_seconds (registered even with no exporter running, so
 * that `fogprobe metrics` lists it). */
struct metric_family *otlp__register(struct metrics *reg);

#endif
