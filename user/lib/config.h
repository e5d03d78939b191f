/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Daemon configuration: a JSON file parsed with jansson.
 *   {"listen": "HOST:PORT",
 *    "services": [{"name": "betanet", "protocol": "betanet", "ports": [9001, 9002, 9003],
 *                  "comm": ["mixnode"], "cgroup": "/kubepods",
 *                  "check": {"connect": true, "interval_s": 10, "timeout_ms": 1000}}],
 *    "host": {"enabled": true, "root": "/host", "filesystems_exclude": "^/(dev|proc)($|/)",
 *             "fstypes_exclude": "^(proc|sysfs)$", "network_devices_exclude": "^lo$"},
 *    "containers": {"enabled": true, "max": 1024}}
 * Errors name the file, line and column of the offending value.
 */
#ifndef FOGPROBE_LIB_CONFIG_H
#define FOGPROBE_LIB_CONFIG_H

#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>

#include "lib/alert_rule.h"

#define CONFIG_MAX_SERVICES 32 /* == FP_MAX_SERVICES */
#define CONFIG_MAX_PORTS 64
#define CONFIG_MAX_COMM 4 /* == FP_MAX_COMM_MATCH */
#define CONFIG_NAME_LEN 64
#define CONFIG_COMM_LEN 16 /* TASK_COMM_LEN, NUL included */
#define CONFIG_CGROUP_LEN 256
#define CONFIG_LISTEN_LEN 128
#define CONFIG_DEFAULT_LISTEN "0.0.0.0:9477"
#define CONFIG_REGEX_LEN 512
#define CONFIG_ROOT_LEN 200
#define CONFIG_MAX_CONTAINERS 4096
#define CONFIG_DEFAULT_CONTAINERS 1024

/*
 * The defaults of Debian's prometheus-node-exporter 1.5 (its --help): the same filesystems
 * and interfaces as the node_exporter that runs next to the services today. Upstream's
 * defaults differ a little (they keep /run, /mnt, /media and lo).
 */
#define CONFIG_DEFAULT_MOUNTS_EXCLUDE                                                      \
	"^/(dev|proc|run|sys|mnt|media|var/lib/docker/.+|var/lib/containers/storage/.+)($|/)"
#define CONFIG_DEFAULT_FSTYPES_EXCLUDE                                                     \
	"^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|"      \
	"hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|"  \
	"selinuxfs|squashfs|sysfs|tracefs)$"
#define CONFIG_DEFAULT_NETDEV_EXCLUDE "^lo$"
#define CONFIG_MAX_ROUTES 32 /* route patterns per service */
#define CONFIG_MAX_WS_PATHS 8 /* WebSocket path prefixes per service */
#define CONFIG_ROUTE_LEN 128
#define CONFIG_DEFAULT_MAX_PATHS 200
#define CONFIG_DEFAULT_MAX_ROOMS 50
#define CONFIG_DEFAULT_WS_IDLE_S 120
#define CONFIG_DEFAULT_INFLATE_CONNS 128 /* permessage-deflate connections inflated at once */
#define CONFIG_MAX_INFLATE_CONNS 65536
#define CONFIG_DEFAULT_INFLATE_MESSAGE (1U << 20) /* websockets' and uvicorn's max_size */
#define CONFIG_MIN_INFLATE_MESSAGE 1024
#define CONFIG_MAX_INFLATE_MESSAGE (64U << 20)
#define CONFIG_CAPTURE_MAX 16384 /* == FP_L7_CAP_MAX */

#define CONFIG_ADDR_LEN 64
#define CONFIG_CHECK_DEFAULT_ADDR "127.0.0.1"
#define CONFIG_CHECK_DEFAULT_INTERVAL_S 10
#define CONFIG_CHECK_DEFAULT_TIMEOUT_MS 1000

enum fp_protocol {
	FP_PROTO_TCP = 0,
	FP_PROTO_BETANET,
	FP_PROTO_HTTP,
	FP_PROTO_WEBSOCKET,
};

/* Optional synthetic check: a TCP connect to address:port of the service itself. */
struct service_check {
	int connect; /* 0: no check */
	char address[CONFIG_ADDR_LEN]; /* numeric IPv4 or IPv6 */
	uint16_t port; /* one of the service's ports (default: the first) */
	int interval_s;
	int timeout_ms; /* < interval_s * 1000 */
};

enum fp_framework {
	FP_FRAMEWORK_NONE = 0,
	FP_FRAMEWORK_NEXTJS, /* nextjs_ families: API routes vs page routes */
};

struct service_config {
	char name[CONFIG_NAME_LEN];
	enum fp_protocol protocol;
	uint16_t ports[CONFIG_MAX_PORTS];
	int n_ports;
	char comm[CONFIG_MAX_COMM][CONFIG_COMM_LEN];
	int n_comm;
	char cgroup[CONFIG_CGROUP_LEN]; /* "" = any cgroup */
	/* http / websocket */
	char routes[CONFIG_MAX_ROUTES][CONFIG_ROUTE_LEN]; /* "/api/nodes/[id]" patterns */
	int n_routes;
	char ws_paths[CONFIG_MAX_WS_PATHS][CONFIG_ROUTE_LEN]; /* "paths": prefixes */
	int n_ws_paths;
	uint32_t max_paths; /* distinct path labels; more go to "other" */
	uint32_t max_rooms; /* distinct room_id labels; more go to "other" */
	uint32_t ws_idle_s; /* a WebSocket silent this long then closed: idle_timeout */
	uint32_t ws_inflate_conns; /* permessage-deflate connections inflated at once */
	uint32_t ws_inflate_message; /* inflated bytes of one message at most */
	uint32_t capture; /* payload prefix bytes per read/write; 0: by protocol */
	enum fp_framework framework;
	struct service_check check;
	/* Removed by a reload: its id stays taken (its counters and its connections keep
	 * it) but no new socket is classified into it. The parser never sets it. */
	int removed;
};

/* Host metrics (node_exporter names). Off for operators who run node_exporter. */
struct host_config {
	int enabled;
	char root[CONFIG_ROOT_LEN]; /* the host's / as mounted here; "" = "/" */
	char mounts_exclude[CONFIG_REGEX_LEN]; /* POSIX extended regexes */
	char fstypes_exclude[CONFIG_REGEX_LEN];
	char netdev_exclude[CONFIG_REGEX_LEN];
};

/* Container metrics (cAdvisor names) for container-like and service cgroups. */
/* Where container_network_* come from. auto: the network namespace where the probe does
 * not count packets anyway (its socket counters come from the kernel's), else per cgroup. */
enum container_network {
	CONTAINER_NETWORK_AUTO,
	CONTAINER_NETWORK_CGROUP, /* BPF cgroup_skb: bytes of each cgroup's sockets */
	CONTAINER_NETWORK_NETNS, /* the interfaces of the container's network namespace */
};
#define CONFIG_CONTAINER_NETWORKS "auto, cgroup, netns"

struct containers_config {
	int enabled;
	int max; /* cgroups tracked at most; the rest are counted */
	enum container_network network;
};

/* The endpoint's TLS: PEM files read when the server starts. Both or neither. */
#define CONFIG_PATH_LEN 256
struct tls_config {
	char cert_file[CONFIG_PATH_LEN];
	char key_file[CONFIG_PATH_LEN];
};

/*
 * Credentials every path but /healthz and /readyz needs. The secret (a password or a
 * bearer token) is kept only as its SHA-256: from "password"/"token", from the first line
 * of "password_file"/"token_file", or given as "password_sha256"/"token_sha256".
 */
enum auth_type { AUTH_NONE = 0, AUTH_BASIC, AUTH_BEARER };
#define CONFIG_USER_LEN 128
struct auth_config {
	enum auth_type type;
	char username[CONFIG_USER_LEN]; /* basic only */
	uint8_t secret_sha256[32];
	char secret_file[CONFIG_PATH_LEN]; /* "" unless read from a file (re-read at reload) */
};

#define CONFIG_MAX_ALERT_RULES 32 /* entries of alerts.rules */
#define CONFIG_MAX_ALERTMANAGERS 4
#define CONFIG_URL_LEN 512 /* Alertmanager, webhook and OTLP URLs */
#define CONFIG_DEFAULT_ALERT_INTERVAL_S 15.0
#define CONFIG_DEFAULT_ALERT_RESEND_S 60.0
#define CONFIG_DEFAULT_ALERT_TIMEOUT_S 10.0
#define CONFIG_DEFAULT_ALERT_QUEUE 256

/* An Alertmanager (v2 API) or a Slack-compatible webhook that alerts are sent to. */
struct alert_receiver {
	char url[CONFIG_URL_LEN]; /* http(s)://host:port[/prefix]; /api/v2/alerts is added */
	char username[ALERT_NAME_LEN]; /* basic auth with password_file */
	char password_file[CONFIG_PATH_LEN];
	char bearer_token_file[CONFIG_PATH_LEN];
	char ca_file[CONFIG_PATH_LEN]; /* TLS: trust this CA instead of the system's */
	int insecure_skip_verify;
};

/*
 * "alerts": {"enabled": true, "interval": "15s", "instance": "node-1",
 *            "rules": [{"alert": "BetanetLowPeerCount", "for": "1m"}, ...],
 *            "alertmanagers": [{"url": "http://127.0.0.1:9093"}], "resend": "1m",
 *            "timeout": "10s", "queue": 256, "webhook": {"url": "https://hooks..."}}
 * rules: an entry naming a default rule overrides the keys it gives (or disables it);
 * any other entry is a new rule and needs an expr.
 */
struct alerts_config {
	int enabled;
	double interval_s;
	char instance[ALERT_VALUE_LEN]; /* "" = the host name */
	struct alert_rule rules[CONFIG_MAX_ALERT_RULES];
	int n_rules;
	struct alert_receiver alertmanagers[CONFIG_MAX_ALERTMANAGERS];
	int n_alertmanagers;
	struct alert_receiver webhook; /* url "" = none */
	double resend_s;
	double timeout_s;
	int queue;
};

#define CONFIG_MAX_KV 16 /* OTLP headers, resource attributes */
#define CONFIG_KV_LEN 256
#define CONFIG_OTLP_DEFAULT_ENDPOINT "http://localhost:4318" /* the OTLP/HTTP default */
#define CONFIG_OTLP_DEFAULT_TIMEOUT_MS 10000
#define CONFIG_OTLP_DEFAULT_QUEUE 2048 /* OTEL_BSP_MAX_QUEUE_SIZE default */
#define CONFIG_OTLP_DEFAULT_BATCH 512 /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE default */
#define CONFIG_OTLP_DEFAULT_DELAY_MS 5000 /* OTEL_BSP_SCHEDULE_DELAY default */
#define CONFIG_OTLP_DEFAULT_RETRY_S 300
#define CONFIG_OTLP_MAX_QUEUE (1U << 20)

enum otlp_protocol { OTLP_HTTP_PROTOBUF = 0, OTLP_HTTP_JSON };

/* Which otlp keys the file set (they win over OTEL_* variables). */
enum {
	OTLP_SET_ENABLED = 1 << 0,
	OTLP_SET_ENDPOINT = 1 << 1,
	OTLP_SET_PROTOCOL = 1 << 2,
	OTLP_SET_HEADERS = 1 << 3,
	OTLP_SET_COMPRESSION = 1 << 4,
	OTLP_SET_TIMEOUT = 1 << 5,
	OTLP_SET_RESOURCE = 1 << 6,
	OTLP_SET_SAMPLE = 1 << 7,
	OTLP_SET_QUEUE = 1 << 8,
	OTLP_SET_BATCH = 1 << 9,
	OTLP_SET_DELAY = 1 << 10,
};

struct config_kv {
	char key[CONFIG_KV_LEN];
	char value[CONFIG_KV_LEN];
};

/* Spans of the HTTP exchanges, sent to an OTLP/HTTP collector. */
struct otlp_config {
	int enabled;
	char url[CONFIG_URL_LEN]; /* where the traces go: {endpoint}/v1/traces */
	enum otlp_protocol protocol;
	struct config_kv headers[CONFIG_MAX_KV];
	int n_headers;
	int gzip;
	uint32_t timeout_ms; /* one export request at most */
	struct config_kv resource[CONFIG_MAX_KV]; /* added to every span's resource */
	int n_resource;
	double sample_ratio; /* head sampling of traces without a caller's decision */
	uint32_t keep_slower_ms; /* exchanges this slow are always kept; 0: off */
	uint32_t queue_spans; /* spans waiting for export at most; more are dropped */
	uint32_t batch_spans; /* spans per export request at most */
	uint32_t batch_delay_ms; /* a partial batch leaves after this long */
	uint32_t retry_max_s; /* a batch retried this long is dropped */
	int tcp_spans; /* a span per closed connection of a service (sampled); off by default */
	int peer_address; /* network.peer.address on spans: off by default (privacy) */
	uint32_t peer_prefix_ipv4, peer_prefix_ipv6; /* bits kept of it (32, 128: all) */
	unsigned set; /* OTLP_SET_*: keys the file gave */
};

struct config {
	char listen[CONFIG_LISTEN_LEN];
	struct tls_config tls;
	struct auth_config auth;
	struct service_config services[CONFIG_MAX_SERVICES];
	int n_services;
	struct host_config host;
	struct containers_config containers;
	struct alerts_config alerts;
	struct otlp_config otlp;
};

/* Built-in default: the Fog Compute services of DESIGN.md. */
void config__default(struct config *cfg);

/*
 * Parse a config. Returns 0, or -EINVAL with err holding
 * "<name>:<line>:<column>: <message>" (-ENOENT etc. for unreadable files).
 */
int config__load_file(const char *path, struct config *cfg, char *err, size_t errlen);
int config__load_string(const char *text, const char *name, struct config *cfg, char *err,
			size_t errlen);

/*
 * Parse a JSON array of alert rules (the syntax of alerts.rules; every entry needs an
 * expr). 0, or -EINVAL with err as above.
 */
int config__load_alert_rules(const char *text, const char *name, struct alert_rule *rules,
			     int max, int *n, char *err, size_t errlen);
/* Prometheus duration ("90s", "5m", "1h30m") in seconds; -1 if invalid. */
double config__duration(const char *s);

const char *config__protocol_name(enum fp_protocol p);

/*
 * The standard OpenTelemetry variables, read through get (getenv in the daemon) for what
 * the file's otlp section did not set: OTEL_EXPORTER_OTLP_{,TRACES_}{ENDPOINT, PROTOCOL,
 * HEADERS, COMPRESSION, TIMEOUT}, OTEL_RESOURCE_ATTRIBUTES, OTEL_TRACES_SAMPLER(_ARG),
 * OTEL_BSP_{MAX_QUEUE_SIZE, MAX_EXPORT_BATCH_SIZE, SCHEDULE_DELAY}; OTEL_TRACES_EXPORTER
 * "none" turns export off, "otlp" on. An endpoint variable alone turns it on. Returns 0,
 * or -EINVAL with err "<VARIABLE>: <message>".
 */
int config__otlp_env(struct otlp_config *o, const char *(*get)(const char *name), char *err,
		     size_t errlen);

/* Does the service's protocol have a payload parser (its bytes are captured)? */
static inline bool config__l7(const struct service_config *sc)
{
	return sc->protocol == FP_PROTO_HTTP || sc->protocol == FP_PROTO_WEBSOCKET ||
	       sc->protocol == FP_PROTO_BETANET;
}

#endif
