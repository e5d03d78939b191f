// SPDX-License-Identifier: GPL-2.0-only
/*
 * fogprobe's command line: options and a table of subcommands. The daemon lives in
 * daemon.c (lifecycle), loop.c, refresh.c; `check` in check.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/libbpf.h>
#include <l7.h> /* include/l7.h: the capture limits */

#include "collect/probe.h"
#include "daemon.h"
#include "lib/config.h"
#include "lib/log.h"

struct command {
	const char *name;
	int (*fn)(struct daemon *d);
	bool needs_config;
	const char *help;
};

static const struct command commands[] = {
	{ "run", cmd_run, true, "run the probe daemon (the default)" },
	{ "check", cmd_check, false, "report the hooks this kernel offers" },
	{ "metrics", cmd_metrics, true, "list the metric families: name, type, labels, help" },
	{ "rules", cmd_rules, true, "print the alert rules in effect (defaults + config), as JSON" },
};

struct option_help {
	struct option opt;
	char short_name;
	const char *arg;
	const char *help; /* lines after the first are indented under it */
};

#define OPT_ARG(l, s, a, h) { { l, required_argument, NULL, s }, (char)(s < 128 ? s : 0), a, h }
#define OPT_FLAG(l, s, h) { { l, no_argument, NULL, s }, (char)(s < 128 ? s : 0), NULL, h }

static const struct option_help options[] = {
	OPT_ARG("config", 'c', "FILE", "JSON config (default: built-in Fog Compute services)"),
	OPT_ARG("listen", 'l', "HOST:PORT", "metrics endpoint (default " CONFIG_DEFAULT_LISTEN
					    "; overrides config)"),
	OPT_ARG("log-format", 256 + 'F', "FORMAT", "text (default) or json"),
	OPT_ARG("capture-bytes", 256 + 'B', "N",
		"L7 payload prefix captured per read/write for services\n"
		"without their own \"capture\" (default %d for Betanet,\n"
		"%d for HTTP, %d for WebSocket, at most %d)"),
	OPT_ARG("routing-timeout", 256 + 'R', "S",
		"Betanet request without a response after S seconds is\n"
		"a routing failure (default 5)"),
	OPT_ARG("events", 256 + 'E', "FILE",
		"crash/OOM/exit events as JSON lines: - for stdout\n"
		"(default), none to keep them for /api/events only"),
	OPT_ARG("disable-hooks", 256 + 'D', "LIST",
		"comma-separated hook prefixes not to use, e.g.\n"
		"tp_btf (forces the tracepoint fallbacks), iter,\n"
		"syscall, uprobe, tracepoint/syscalls (see fogprobe check)"),
	OPT_ARG("host-root", 256 + 'H', "DIR",
		"the host's / as mounted here (e.g. /host in a pod):\n"
		"host metrics read DIR/proc, DIR/sys and mounts under DIR"),
	OPT_FLAG("bpf-stats", 256 + 'S',
		 "measure the run time of every BPF program on the host\n"
		 "while running (kernel.bpf_stats_enabled), for\n"
		 "fogprobe_bpf_program_run*: off by default, as each run\n"
		 "of any BPF program then pays two clock reads"),
	OPT_FLAG("verbose", 'v', "debug logging, libbpf's included"),
	OPT_FLAG("version", 'V', "print the version and exit"),
	OPT_FLAG("help", 'h', "print this help and exit"),
};
#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

static void usage(FILE *out)
{
	size_t i;

	fprintf(out, "Usage: fogprobe [OPTIONS] [COMMAND]\n\nCommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %-24s %s\n", commands[i].name, commands[i].help);
	fprintf(out, "\nZero-instrumentation eBPF probe for the Fog Compute services: TCP loss,\n"
		     "latency and throughput, Betanet, HTTP(S) and BitChat messages, process and\n"
		     "host signals per service, served as Prometheus metrics.\n\nOptions:\n");
	for (i = 0; i < N_OPTIONS; i++) {
		const struct option_help *o = &options[i];
		char left[64], help[512], *line, *save = NULL;
		int first = 1;

		snprintf(left, sizeof(left), "%c%c%c --%s%s%s", o->short_name ? '-' : ' ',
			 o->short_name ? o->short_name : ' ', o->short_name ? ',' : ' ',
			 o->opt.name, o->arg ? " " : "", o->arg ? o->arg : "");
		snprintf(help, sizeof(help), o->help, FP_L7_CAP_DEFAULT, FP_L7_CAP_HTTP_DEFAULT,
			 FP_L7_CAP_WS_DEFAULT, FP_L7_CAP_MAX);
		for (line = strtok_r(help, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			fprintf(out, "  %-24s %s\n", first ? left : "", line);
			first = 0;
		}
	}
	fprintf(out,
		"\nEndpoints: /metrics (Prometheus text 0.0.4, OpenMetrics, gzip), /healthz, /readyz,\n"
		"/api/events (recent crash/OOM/exit/alert events, JSON; ?since=SEQ),\n"
		"/api/v1/alerts (the alert engine's pending and firing alerts, Prometheus format).\n"
		"Signals: SIGHUP reloads the config file; SIGTERM and SIGINT stop.\n"
		"Exit codes: 0 ok, 1 runtime error or kernel unsupported, 2 usage or config error.\n");
}

static int usage_error(const char *fmt, const char *arg)
{
	fprintf(stderr, "fogprobe: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	return 2;
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

int main(int argc, char **argv)
{
	static struct daemon d = { .opts = { .routing_timeout = 5, .events_path = "-" } };
	struct option longopts[N_OPTIONS + 1] = {};
	const char *config_path = NULL, *listen = NULL;
	const struct command *cmd = &commands[0];
	enum log_format fmt = LOG_FORMAT_TEXT;
	int verbose = 0, opt, e;
	char err[512], *end;
	size_t i;

	for (i = 0; i < N_OPTIONS; i++)
		longopts[i] = options[i].opt;
	while ((opt = getopt_long(argc, argv, "c:l:vVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config_path = d.opts.config_path = optarg; break;
		case 'l': listen = optarg; break;
		case 256 + 'F':
			if (strcmp(optarg, "json") && strcmp(optarg, "text"))
				return usage_error("--log-format must be text or json", NULL);
			fmt = strcmp(optarg, "json") ? LOG_FORMAT_TEXT : LOG_FORMAT_JSON;
			break;
		case 256 + 'D': d.opts.disable = optarg; break;
		case 256 + 'S': d.opts.bpf_stats = true; break;
		case 256 + 'E': d.opts.events_path = strcmp(optarg, "none") ? optarg : NULL; break;
		case 256 + 'B': {
			unsigned long v = strtoul(optarg, &end, 10);

			if (*end || v < 1 || v > FP_L7_CAP_MAX) {
				fprintf(stderr, "fogprobe: --capture-bytes must be 1..%d\n", FP_L7_CAP_MAX);
				return 2;
			}
			d.opts.capture_bytes = v;
			break;
		}
		case 256 + 'R':
			d.opts.routing_timeout = strtod(optarg, &end);
			if (*end || !(d.opts.routing_timeout > 0 && d.opts.routing_timeout <= 3600))
				return usage_error("--routing-timeout must be 0..3600 s", NULL);
			break;
		case 256 + 'H':
			if (optarg[0] != '/' || strlen(optarg) >= CONFIG_ROOT_LEN)
				return usage_error("--host-root must be an absolute path", NULL);
			d.opts.host_root = optarg;
			break;
		case 'v': verbose++; break;
		case 'V':
			printf("fogprobe %s (libbpf %u.%u)\n", FOGPROBE_VERSION,
			       libbpf_major_version(), libbpf_minor_version());
			return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	log__setup(verbose ? LOG_DEBUG : LOG_INFO, fmt);
	probe__libbpf_logging();
	if (optind < argc) {
		for (cmd = NULL, i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
			if (!strcmp(argv[optind], commands[i].name))
				cmd = &commands[i];
		if (!cmd || optind + 1 != argc) {
			usage_error("unknown command '%s'", argv[optind]);
			usage(stderr);
			return 2;
		}
	}
	if (cmd->needs_config) {
		e = config_path ? config__load_file(config_path, &d.cfg, err, sizeof(err)) :
				  (config__default(&d.cfg), 0);
		if (!e)
			e = config__otlp_env(&d.cfg.otlp, env_get, err, sizeof(err));
		if (e)
			return usage_error("%s", err);
		if (listen && strlen(listen) >= sizeof(d.cfg.listen))
			return usage_error("--listen value too long", NULL);
		if (listen)
			snprintf(d.cfg.listen, sizeof(d.cfg.listen), "%s", listen);
		d.opts.listen = listen;
	}
	return cmd->fn(&d);
}
