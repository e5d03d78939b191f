// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/lib/config.c: valid configs, the default, and every error with its exact
 * "name:line:column: message". Columns were counted by hand from the texts below
 * (1-based, one per character, a UTF-8 sequence counting once, as jansson counts).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "lib/config.h"
#include "lib/digest.h"

#define ERRLEN 512

/* Common prefix of service texts: the value of "ports" would start at column 51. */
#define SVC_A "{\"services\":[{\"name\":\"a\",\"protocol\":\"tcp\","
/* ... and the value of "comm" or "cgroup" at column 63 or 65. */
#define SVC_H "{\"services\":[{\"name\":\"a\",\"protocol\":\"http\","
#define SVC_W "{\"services\":[{\"name\":\"a\",\"protocol\":\"websocket\","
#define SVC_A_PORTS SVC_A "\"ports\":[80],"
/* ... and a top-level key after the services at column 58, its value at 58 + len + 3. */
#define SVC_A_DONE SVC_A "\"ports\":[80]}],"

static struct config *new_config(void)
{
	struct config *cfg = malloc(sizeof(*cfg));

	assert_non_null(cfg);
	memset(cfg, 0xa5, sizeof(*cfg)); /* the loader must not rely on a zeroed struct */
	return cfg;
}

/* what: shown on failure, for table-driven callers */
static void expect_error_for(const char *what, const char *text, const char *want)
{
	struct config *cfg = new_config();
	char err[ERRLEN] = "";
	int ret;

	ret = config__load_string(text, "t.json", cfg, err, sizeof(err));
	if (ret != -EINVAL || strcmp(err, want))
		print_error("case \"%s\": got %d \"%s\"\n", what, ret, err);
	assert_int_equal(ret, -EINVAL);
	assert_string_equal(err, want);
	free(cfg);
}

static void expect_error(const char *text, const char *want)
{
	expect_error_for(text, text, want);
}

static struct config *expect_ok(const char *text)
{
	struct config *cfg = new_config();
	char err[ERRLEN] = "";
	int ret;

	ret = config__load_string(text, "t.json", cfg, err, sizeof(err));
	if (ret)
		print_error("unexpected error %d: %s\nin: %s\n", ret, err, text);
	assert_int_equal(ret, 0);
	return cfg;
}

struct error_case {
	const char *name;
	const char *text;
	const char *want; /* the exact message */
};

static const struct error_case error_cases[] = {
	{ "auth_not_object", SVC_A_DONE "\"auth\":1}",
	  "t.json:1:65: auth must be an object" },
	{ "auth_no_type", SVC_A_DONE "\"auth\":{}}",
	  "t.json:1:65: auth needs a type: basic or bearer" },
	{ "auth_bad_type", SVC_A_DONE "\"auth\":{\"type\":\"digest\"}}",
	  "t.json:1:73: type must be basic or bearer" },
	{ "auth_basic_no_user", SVC_A_DONE "\"auth\":{\"type\":\"basic\",\"password\":\"x\"}}",
	  "t.json:1:65: auth type basic needs a username" },
	{ "auth_user_colon",
	  SVC_A_DONE "\"auth\":{\"type\":\"basic\",\"username\":\"a:b\",\"password\":\"x\"}}",
	  "t.json:1:92: username must be a non-empty string without ':'" },
	{ "auth_no_secret", SVC_A_DONE "\"auth\":{\"type\":\"bearer\"}}",
	  "t.json:1:65: auth type bearer needs one of token, token_file, token_sha256" },
	{ "auth_two_secrets",
	  SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token\":\"x\",\"token_file\":\"/f\"}}",
	  "t.json:1:94: token and token_file: give one of them" },
	{ "auth_wrong_kind", SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"password\":\"x\"}}",
	  "t.json:1:82: password is for type basic" },
	{ "auth_user_bearer",
	  SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"username\":\"u\",\"token\":\"x\"}}",
	  "t.json:1:82: username is for type basic" },
	{ "auth_empty_secret", SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token\":\"\"}}",
	  "t.json:1:90: token must be a non-empty string" },
	{ "auth_bad_hash",
	  SVC_A_DONE "\"auth\":{\"type\":\"basic\",\"username\":\"u\",\"password_sha256\":\"abc\"}}",
	  "t.json:1:114: password_sha256 must be 64 hex digits (sha256sum)" },
	{ "auth_missing_file",
	  SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token_file\":\"/nonexistent/fp-token\"}}",
	  "t.json:1:95: token_file /nonexistent/fp-token: No such file or directory" },
	{ "auth_file_not_regular",
	  SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token_file\":\"/dev/null\"}}",
	  "t.json:1:95: token_file /dev/null: not a regular file" },
	{ "auth_unknown_key", SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"tokn\":\"x\"}}",
	  "t.json:1:82: unknown key \"tokn\" in auth (expected type, username, password, "
	  "password_file, password_sha256, token, token_file, token_sha256)" },
	{ "tls_not_object", SVC_A_DONE "\"tls\":\"x\"}", "t.json:1:64: tls must be an object" },
	{ "tls_half", SVC_A_DONE "\"tls\":{\"cert_file\":\"/c\"}}",
	  "t.json:1:64: tls needs both cert_file and key_file" },
	{ "tls_empty_path", SVC_A_DONE "\"tls\":{\"cert_file\":\"\",\"key_file\":\"/k\"}}",
	  "t.json:1:77: cert_file must be a file path" },
	{ "tls_missing_key",
	  SVC_A_DONE "\"tls\":{\"cert_file\":\"/dev/null\",\"key_file\":\"/nonexistent/k\"}}",
	  "t.json:1:100: key_file /nonexistent/k: No such file or directory" },
	{ "syntax", "{\"a\": x}", "t.json:1:7: invalid token near 'x'" },
	{ "syntax_multiline", "{\n  \"services\": tru\n}",
	  "t.json:2:17: invalid token near 'tru'" },
	{ "syntax_empty", "", "t.json:1:0: '[' or '{' expected near end of file" },
	{ "syntax_trailing", "{\"services\":[]} x", "t.json:1:17: end of file expected near 'x'" },
	{ "syntax_nul_escape", "{\"listen\":\"\\u0000\"}",
	  "t.json:1:18: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"\\u0000\"'" },
	{ "duplicate_json_key", "{\"services\":[],\"services\":[]}",
	  "t.json:1:25: duplicate object key near '\"services\"'" },
	{ "not_object", "[1]", "t.json:1:1: config must be a JSON object" },
	{ "not_object_indented", "\n  [1]", "t.json:2:3: config must be a JSON object" },
	{ "unknown_top_key", "{\"listen\":\":1\",\"extra\":1}",
	  "t.json:1:16: unknown key \"extra\" (expected listen, tls, auth, services, host, containers, alerts, otlp)" },
	{ "unknown_top_key_quoted", "{\"a\\\"\\n\":1}",
	  "t.json:1:2: unknown key \"a\\\"\\x0a\" (expected listen, tls, auth, services, host, containers, alerts, otlp)" },
	{ "unknown_service_key", SVC_A "\"ports\":[80],\"port\":81}]}",
	  "t.json:1:56: unknown key \"port\" in service (expected name, protocol, ports, comm, "
	  "cgroup, routes, paths, max_paths, max_rooms, framework, capture, idle_timeout_s, "
	  "inflate_max_connections, inflate_max_message, check)" },
	{ "inflate_on_http", SVC_H "\"ports\":[80],\"inflate_max_connections\":1}]}",
	  "t.json:1:57: inflate_max_connections applies to websocket services only" },
	{ "inflate_conns_too_many", SVC_W "\"ports\":[80],\"inflate_max_connections\":65537}]}",
	  "t.json:1:88: inflate_max_connections 65537 is out of range 0..65536" },
	{ "inflate_message_small", SVC_W "\"ports\":[80],\"inflate_max_message\":1023}]}",
	  "t.json:1:84: inflate_max_message 1023 is out of range 1024..67108864" },
	{ "route_not_path", SVC_H "\"ports\":[80],\"routes\":[\"/a\",\"b\"]}]}",
	  "t.json:1:72: routes entry must start with \"/\"" },
	{ "routes_on_tcp", SVC_A "\"ports\":[80],\"routes\":[\"/a\"]}]}",
	  "t.json:1:56: routes applies to http and websocket services only" },
	{ "max_paths_zero", SVC_H "\"ports\":[80],\"max_paths\":0}]}",
	  "t.json:1:69: max_paths 0 is out of range 1..10000" },
	{ "framework_unknown", SVC_H "\"ports\":[80],\"framework\":\"rails\"}]}",
	  "t.json:1:69: framework must be \"nextjs\" or \"none\"" },
	{ "host_not_object", SVC_A_DONE "\"host\":1}", "t.json:1:65: host must be an object" },
	{ "host_unknown_key", SVC_A_DONE "\"host\":{\"enable\":true}}",
	  "t.json:1:66: unknown key \"enable\" in host (expected enabled, root, "
	  "filesystems_exclude, fstypes_exclude, network_devices_exclude)" },
	{ "host_enabled_not_bool", SVC_A_DONE "\"host\":{\"enabled\":1}}",
	  "t.json:1:76: enabled must be true or false" },
	{ "host_root_relative", SVC_A_DONE "\"host\":{\"root\":\"host\"}}",
	  "t.json:1:73: root must be an absolute path" },
	{ "host_bad_regex", SVC_A_DONE "\"host\":{\"enabled\":true,\"fstypes_exclude\":\"(a\"}}",
	  "t.json:1:99: fstypes_exclude is not a valid regex: Unmatched ( or \\(" },
	{ "host_regex_not_string", SVC_A_DONE "\"host\":{\"filesystems_exclude\":[]}}",
	  "t.json:1:88: filesystems_exclude must be a string (a POSIX extended regex)" },
	{ "containers_max_zero", SVC_A_DONE "\"containers\":{\"max\":0}}",
	  "t.json:1:78: max 0 is out of range 1..4096" },
	{ "containers_max_string", SVC_A_DONE "\"containers\":{\"max\":\"1\"}}",
	  "t.json:1:78: max must be an integer in 1..4096" },
	{ "containers_network_unknown", SVC_A_DONE "\"containers\":{\"network\":\"veth\"}}",
	  "t.json:1:82: unknown network \"veth\" (expected one of auto, cgroup, netns)" },
	{ "containers_network_not_string", SVC_A_DONE "\"containers\":{\"network\":1}}",
	  "t.json:1:82: network must be a string, one of auto, cgroup, netns" },
	{ "containers_unknown_key", SVC_A_DONE "\"containers\":{\"enabled\":false,\"limit\":3}}",
	  "t.json:1:88: unknown key \"limit\" in containers (expected enabled, max, network)" },
	/* "check": its value starts at column 64 after SVC_A_PORTS */
	{ "check_not_object", SVC_A_PORTS "\"check\":1}]}", "t.json:1:64: check must be an object" },
	{ "check_missing_connect", SVC_A_PORTS "\"check\":{}}]}",
	  "t.json:1:64: check is missing \"connect\"" },
	{ "check_connect_not_bool", SVC_A_PORTS "\"check\":{\"connect\":1}}]}",
	  "t.json:1:75: connect must be true or false" },
	{ "check_interval_zero", SVC_A_PORTS "\"check\":{\"connect\":true,\"interval_s\":0}}]}",
	  "t.json:1:93: interval_s 0 is out of range 1..3600" },
	{ "check_timeout_not_int", SVC_A_PORTS "\"check\":{\"connect\":true,\"timeout_ms\":\"5\"}}]}",
	  "t.json:1:93: timeout_ms must be an integer in 1..60000" },
	{ "check_timeout_too_long",
	  SVC_A_PORTS "\"check\":{\"connect\":true,\"interval_s\":1,\"timeout_ms\":1000}}]}",
	  "t.json:1:108: timeout_ms (1000) must be shorter than interval_s (1 s)" },
	/* the default timeout (1000 ms) against a short interval: the interval is at fault */
	{ "check_interval_below_default_timeout",
	  SVC_A_PORTS "\"check\":{\"connect\":true,\"interval_s\":1}}]}",
	  "t.json:1:93: timeout_ms (1000) must be shorter than interval_s (1 s)" },
	{ "check_port_not_service", SVC_A_PORTS "\"check\":{\"connect\":true,\"port\":81}}]}",
	  "t.json:1:87: check port 81 is not one of the service's ports" },
	{ "check_address_name",
	  SVC_A_PORTS "\"check\":{\"connect\":true,\"address\":\"localhost\"}}]}",
	  "t.json:1:90: address must be a numeric IPv4 or IPv6 address" },
	{ "check_unknown_key", SVC_A_PORTS "\"check\":{\"connect\":true,\"host\":\"x\"}}]}",
	  "t.json:1:80: unknown key \"host\" in check (expected connect, interval_s, timeout_ms, "
	  "address, port)" },
	{ "missing_services", "{\"listen\":\":80\"}", "t.json:1:1: missing services" },
	{ "missing_services_multiline", "\n{\n}", "t.json:2:1: missing services" },
	{ "services_not_array", "{\"services\": {}}",
	  "t.json:1:14: services must be an array of service objects" },
	{ "services_empty", "{\"services\": []}", "t.json:1:14: services list is empty" },
	{ "services_empty_crlf", "{\r\n\"services\": []\r\n}",
	  "t.json:2:13: services list is empty" },
	{ "service_not_object", "{\"services\":[1]}", "t.json:1:14: service must be an object" },
	{ "missing_name", "{\"services\":[{\"protocol\":\"tcp\",\"ports\":[80]}]}",
	  "t.json:1:14: service is missing \"name\"" },
	{ "missing_protocol", "{\"services\":[{\"name\":\"a\",\"ports\":[80]}]}",
	  "t.json:1:14: service is missing \"protocol\"" },
	{ "missing_ports", SVC_A "\"comm\":[\"x\"]}]}",
	  "t.json:1:14: service is missing \"ports\"" },
	{ "bad_name", "{\"services\":[{\"name\":\"a b\",\"protocol\":\"tcp\",\"ports\":[80]}]}",
	  "t.json:1:22: service name must match [A-Za-z0-9_.-]{1,63}" },
	{ "empty_name", "{\"services\":[{\"name\":\"\",\"protocol\":\"tcp\",\"ports\":[80]}]}",
	  "t.json:1:22: service name must match [A-Za-z0-9_.-]{1,63}" },
	{ "name_not_string", "{\"services\":[{\"name\":7,\"protocol\":\"tcp\",\"ports\":[80]}]}",
	  "t.json:1:22: service name must match [A-Za-z0-9_.-]{1,63}" },
	{ "duplicate_name",
	  SVC_A "\"ports\":[80]},{\"name\":\"a\",\"protocol\":\"tcp\",\"ports\":[81]}]}",
	  "t.json:1:65: duplicate service name \"a\"" },
	{ "bad_protocol", "{\"services\":[{\"name\":\"a\",\"protocol\":\"udp\",\"ports\":[80]}]}",
	  "t.json:1:37: unknown protocol \"udp\" (expected one of tcp, betanet, http, websocket)" },
	{ "protocol_not_string", "{\"services\":[{\"name\":\"a\",\"protocol\":1,\"ports\":[80]}]}",
	  "t.json:1:37: protocol must be a string, one of tcp, betanet, http, websocket" },
	{ "ports_not_array", SVC_A "\"ports\":80}]}",
	  "t.json:1:51: ports must be an array of port numbers" },
	{ "ports_empty", SVC_A "\"ports\":[]}]}", "t.json:1:51: ports list is empty" },
	{ "port_zero", SVC_A "\"ports\":[80, 0]}]}",
	  "t.json:1:56: port 0 is out of range 1..65535" },
	{ "port_70000", SVC_A "\"ports\":[70000]}]}",
	  "t.json:1:52: port 70000 is out of range 1..65535" },
	{ "port_negative", SVC_A "\"ports\":[-1]}]}",
	  "t.json:1:52: port -1 is out of range 1..65535" },
	{ "port_real", SVC_A "\"ports\":[80.0]}]}",
	  "t.json:1:52: port must be an integer in 1..65535" },
	{ "port_string", SVC_A "\"ports\":[\"80\"]}]}",
	  "t.json:1:52: port must be an integer in 1..65535" },
	{ "port_duplicate", SVC_A "\"ports\":[80,81,80]}]}", "t.json:1:58: duplicate port 80" },
	{ "comm_not_array", SVC_A_PORTS "\"comm\":\"x\"}]}",
	  "t.json:1:63: comm must be an array of process names" },
	{ "comm_list_empty", SVC_A_PORTS "\"comm\":[]}]}", "t.json:1:63: comm list is empty" },
	{ "comm_entry_empty", SVC_A_PORTS "\"comm\":[\"\"]}]}",
	  "t.json:1:64: comm entry is empty" },
	{ "comm_entry_not_string", SVC_A_PORTS "\"comm\":[1]}]}",
	  "t.json:1:64: comm entry must be a string" },
	{ "comm_too_long", SVC_A_PORTS "\"comm\":[\"a\",\"0123456789abcdef\"]}]}",
	  "t.json:1:68: comm \"0123456789abcdef\" is longer than 15 bytes (TASK_COMM_LEN - 1)" },
	{ "comm_too_long_utf8", SVC_A_PORTS "\"comm\":[\"ééééééééé\"]}]}",
	  "t.json:1:64: comm \"ééééééééé\" is longer than 15 bytes (TASK_COMM_LEN - 1)" },
	{ "comm_too_many", SVC_A_PORTS "\"comm\":[\"a\",\"b\",\"c\",\"d\",\"e\"]}]}",
	  "t.json:1:80: too many comm entries (at most 4)" },
	{ "cgroup_not_string", SVC_A_PORTS "\"cgroup\":1}]}",
	  "t.json:1:65: cgroup must be a string" },
	{ "cgroup_relative", SVC_A_PORTS "\"cgroup\":\"kubepods\"}]}",
	  "t.json:1:65: cgroup must be an absolute path (start with \"/\")" },
	{ "cgroup_dotdot", SVC_A_PORTS "\"cgroup\":\"/a/../b\"}]}",
	  "t.json:1:65: cgroup must not contain \".\" or \"..\" components" },
	{ "cgroup_dotdot_end", SVC_A_PORTS "\"cgroup\":\"/a/..\"}]}",
	  "t.json:1:65: cgroup must not contain \".\" or \"..\" components" },
	{ "cgroup_dot", SVC_A_PORTS "\"cgroup\":\"/./a\"}]}",
	  "t.json:1:65: cgroup must not contain \".\" or \"..\" components" },
	{ "listen_no_port", "{\"listen\":\"9477\",\"services\":[]}",
	  "t.json:1:11: listen must be \"HOST:PORT\", \"[IPv6]:PORT\" or \":PORT\" with a port in "
	  "1..65535" },
	{ "listen_not_string", "{\"listen\":9477,\"services\":[]}",
	  "t.json:1:11: listen must be \"HOST:PORT\", \"[IPv6]:PORT\" or \":PORT\" with a port in "
	  "1..65535" },
	/* positions found through a key written with escapes, and past tricky strings */
	{ "escaped_key", SVC_A "\"p\\u006frts\":[0]}]}",
	  "t.json:1:57: port 0 is out of range 1..65535" },
	{ "skip_tricky_string",
	  SVC_A_PORTS
	  "\"comm\":[\"x]},{\\\"\"]},{\"name\":\"b\",\"protocol\":\"tcp\",\"ports\":[0]}]}",
	  "t.json:1:114: port 0 is out of range 1..65535" },
	/* 6 bytes but 5 characters before the port: jansson counts characters */
	{ "utf8_column",
	  "{\"services\":[{\"comm\":[\"café\"],\"name\":\"a\",\"protocol\":\"tcp\","
	  "\"ports\":[0]}]}",
	  "t.json:1:68: port 0 is out of range 1..65535" },
	{ "escape_column",
	  "{\"services\":[{\"comm\":[\"caf\\u00e9\"],\"name\":\"a\",\"protocol\":\"tcp\","
	  "\"ports\":[0]}]}",
	  "t.json:1:73: port 0 is out of range 1..65535" },
	{ "second_service_line",
	  "{\n  \"services\": [\n    {\"name\": \"a\", \"protocol\": \"tcp\", \"ports\": [80]},\n"
	  "    {\"name\": \"b\", \"protocol\": \"tcp\", \"ports\": [80, 65536]}\n  ]\n}\n",
	  "t.json:4:52: port 65536 is out of range 1..65535" },
};

static void valid_check(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = expect_ok("{\"services\":[{\"name\":\"a\",\"protocol\":\"tcp\",\"ports\":[80,81],"
			"\"check\":{\"connect\":true}},"
			"{\"name\":\"b\",\"protocol\":\"tcp\",\"ports\":[90,91],"
			"\"check\":{\"connect\":true,\"interval_s\":2,\"timeout_ms\":1999,"
			"\"address\":\"::1\",\"port\":91}},"
			"{\"name\":\"c\",\"protocol\":\"tcp\",\"ports\":[92]}]}");
	/* defaults: the first port, loopback, 10 s, 1 s */
	assert_int_equal(cfg->services[0].check.connect, 1);
	assert_int_equal(cfg->services[0].check.port, 80);
	assert_string_equal(cfg->services[0].check.address, "127.0.0.1");
	assert_int_equal(cfg->services[0].check.interval_s, 10);
	assert_int_equal(cfg->services[0].check.timeout_ms, 1000);
	assert_int_equal(cfg->services[1].check.connect, 1);
	assert_int_equal(cfg->services[1].check.port, 91);
	assert_string_equal(cfg->services[1].check.address, "::1");
	assert_int_equal(cfg->services[1].check.interval_s, 2);
	assert_int_equal(cfg->services[1].check.timeout_ms, 1999);
	/* no check object: no check, even though the struct was filled with 0xa5 */
	assert_int_equal(cfg->services[2].check.connect, 0);
	free(cfg);
}

static void run_error_case(void **state)
{
	const struct error_case *c = *state;

	expect_error_for(c->name, c->text, c->want);
}

/* listen values that are refused; column 11 in {"listen":VALUE,...} */
static void error_listen_values(void **state)
{
	static const char *const bad[] = {
		"",	   "9477",	"host:0",	 "host:65536", "host:",
		"::1:80",  "[::1]80",	"[]:80",	 "host:+80",   "host:080000",
		"[::1:80", "[x::1]:80", "[fe80::1%]:80", "ho st:80",   "[1.2.3.4]:80",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), "{\"listen\":\"%s\",\"services\":[]}", bad[i]);
		expect_error_for(bad[i], text,
				 "t.json:1:11: listen must be \"HOST:PORT\", \"[IPv6]:PORT\" or "
				 "\":PORT\" with a port in 1..65535");
	}
}

static void error_listen_too_long(void **state)
{
	char text[512], host[200];

	(void)state;
	memset(host, 'h', sizeof(host));
	host[CONFIG_LISTEN_LEN - 3] = '\0'; /* "h...h:80" is CONFIG_LISTEN_LEN bytes */
	snprintf(text, sizeof(text), "{\"listen\":\"%s:80\",\"services\":[]}", host);
	expect_error(text, "t.json:1:11: listen is longer than 127 bytes");
}

static void error_name_too_long(void **state)
{
	char text[512], name[CONFIG_NAME_LEN + 1];

	(void)state;
	memset(name, 'n', CONFIG_NAME_LEN);
	name[CONFIG_NAME_LEN] = '\0';
	snprintf(text, sizeof(text),
		 "{\"services\":[{\"name\":\"%s\",\"protocol\":\"tcp\",\"ports\":[80]}]}", name);
	expect_error(text, "t.json:1:22: service name must match [A-Za-z0-9_.-]{1,63}");
}

static void error_cgroup_too_long(void **state)
{
	char text[1024], cg[CONFIG_CGROUP_LEN + 1];

	(void)state;
	memset(cg, 'c', CONFIG_CGROUP_LEN);
	cg[0] = '/';
	cg[CONFIG_CGROUP_LEN] = '\0';
	snprintf(text, sizeof(text), SVC_A_PORTS "\"cgroup\":\"%s\"}]}", cg);
	expect_error(text, "t.json:1:65: cgroup is longer than 255 bytes");
}

/* Long keys are cut in messages, never inside a UTF-8 sequence. */
static void error_long_key_cut(void **state)
{
	char text[512], key[256], want[512];
	int i;

	(void)state;
	memset(key, 'k', 60);
	key[60] = '\0';
	snprintf(text, sizeof(text), "{\"%s\":1}", key);
	key[42] = '\0';
	snprintf(want, sizeof(want),
		 "t.json:1:2: unknown key \"%s...\" (expected listen, tls, auth, services, host, containers, alerts, otlp)", key);
	expect_error(text, want);

	/* 30 "é": 21 whole ones fit */
	for (i = 0; i < 30; i++)
		memcpy(key + 2 * i, "é", 2);
	key[60] = '\0';
	snprintf(text, sizeof(text), "{\"%s\":1}", key);
	key[42] = '\0';
	snprintf(want, sizeof(want),
		 "t.json:1:2: unknown key \"%s...\" (expected listen, tls, auth, services, host, containers, alerts, otlp)", key);
	expect_error(text, want);

	/* "k" then 30 "é": the 21st would be split, so 20 are shown */
	key[0] = 'k';
	for (i = 0; i < 30; i++)
		memcpy(key + 1 + 2 * i, "é", 2);
	key[61] = '\0';
	snprintf(text, sizeof(text), "{\"%s\":1}", key);
	key[41] = '\0';
	snprintf(want, sizeof(want),
		 "t.json:1:2: unknown key \"%s...\" (expected listen, tls, auth, services, host, containers, alerts, otlp)", key);
	expect_error(text, want);
}

/* One service per line: the 33rd (index 32) starts line 34. */
static void error_too_many_services(void **state)
{
	char text[8192];
	size_t o = 0;
	int i;

	(void)state;
	o += snprintf(text + o, sizeof(text) - o, "{\"services\":[\n");
	for (i = 0; i <= CONFIG_MAX_SERVICES; i++)
		o += snprintf(text + o, sizeof(text) - o,
			      "{\"name\":\"s%d\",\"protocol\":\"tcp\",\"ports\":[%d]}%s\n", i,
			      i + 1, i < CONFIG_MAX_SERVICES ? "," : "");
	snprintf(text + o, sizeof(text) - o, "]}\n");
	expect_error(text, "t.json:34:1: too many services (at most 32)");

	/* exactly CONFIG_MAX_SERVICES is fine */
	o = 0;
	o += snprintf(text + o, sizeof(text) - o, "{\"services\":[\n");
	for (i = 0; i < CONFIG_MAX_SERVICES; i++)
		o += snprintf(text + o, sizeof(text) - o,
			      "{\"name\":\"s%d\",\"protocol\":\"tcp\",\"ports\":[%d]}%s\n", i,
			      i + 1, i < CONFIG_MAX_SERVICES - 1 ? "," : "");
	snprintf(text + o, sizeof(text) - o, "]}\n");
	free(expect_ok(text));
}

/* One port per line: port 65 (index 64) is on line 66. */
static void error_too_many_ports(void **state)
{
	char text[4096];
	size_t o = 0;
	int i;

	(void)state;
	o += snprintf(text + o, sizeof(text) - o, SVC_A "\"ports\":[\n");
	for (i = 1; i <= CONFIG_MAX_PORTS + 1; i++)
		o += snprintf(text + o, sizeof(text) - o, "%d%s\n", i,
			      i <= CONFIG_MAX_PORTS ? "," : "");
	snprintf(text + o, sizeof(text) - o, "]}]}\n");
	expect_error(text, "t.json:66:1: too many ports (at most 64 per service)");
}

static void error_unreadable_file(void **state)
{
	struct config *cfg = new_config();
	char err[ERRLEN];

	(void)state;
	assert_int_equal(config__load_file("/nonexistent/fogprobe.json", cfg, err, sizeof(err)),
			 -ENOENT);
	assert_string_equal(err, "/nonexistent/fogprobe.json: No such file or directory");
	assert_int_equal(config__load_file("/", cfg, err, sizeof(err)), -EISDIR);
	assert_string_equal(err, "/: Is a directory");
	free(cfg);
}

static int write_temp(char *path, const char *text)
{
	int fd = mkstemp(path);
	size_t len = strlen(text);

	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

/* File errors carry the path as name. */
static void error_file_position(void **state)
{
	char path[] = "/tmp/test_config_XXXXXX";
	struct config *cfg = new_config();
	char err[ERRLEN], want[ERRLEN];

	(void)state;
	assert_int_equal(write_temp(path, "{\n  \"services\": [\n    {\"name\": \"a\", "
					  "\"protocol\": \"tls\", \"ports\": [443]}\n  ]\n}\n"),
			 0);
	assert_int_equal(config__load_file(path, cfg, err, sizeof(err)), -EINVAL);
	snprintf(
		want, sizeof(want),
		"%s:3:31: unknown protocol \"tls\" (expected one of tcp, betanet, http, websocket)",
		path);
	assert_string_equal(err, want);
	unlink(path);
	free(cfg);
}

/* A short or absent error buffer is truncated or ignored, never overrun. */
static void error_small_buffer(void **state)
{
	struct config *cfg = new_config();
	char err[8], big[64];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(config__load_string("{}", "t.json", cfg, err, 4), -EINVAL);
	assert_string_equal(err, "t.j");
	assert_int_equal(err[4], 'x');
	assert_int_equal(config__load_string("{", "t.json", cfg, err, 4), -EINVAL);
	assert_string_equal(err, "t.j");
	assert_int_equal(config__load_string("{}", "t.json", cfg, NULL, 0), -EINVAL);
	assert_int_equal(config__load_string("{}", NULL, cfg, big, sizeof(big)), -EINVAL);
	assert_string_equal(big, "<string>:1:1: missing services");
	free(cfg);
}

static void valid_minimal(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = expect_ok("{\"services\":[{\"name\":\"a\",\"protocol\":\"tcp\",\"ports\":[80]}]}");
	assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
	assert_int_equal(cfg->n_services, 1);
	assert_string_equal(cfg->services[0].name, "a");
	assert_int_equal(cfg->services[0].protocol, FP_PROTO_TCP);
	assert_int_equal(cfg->services[0].n_ports, 1);
	assert_int_equal(cfg->services[0].ports[0], 80);
	assert_int_equal(cfg->services[0].n_comm, 0);
	assert_string_equal(cfg->services[0].cgroup, "");
	free(cfg);
}

static void valid_full(void **state)
{
	struct config *cfg;
	const struct service_config *s;

	(void)state;
	cfg = expect_ok(
		"{\n"
		"  \"listen\": \"[::1]:9477\",\n"
		"  \"services\": [\n"
		"    {\"name\": \"mix_node.1\", \"protocol\": \"betanet\",\n"
		"     \"ports\": [1, 65535, 9001], \"comm\": [\"mixnode\", \"0123456789abcde\"],\n"
		"     \"cgroup\": \"/kubepods/burstable/\"},\n"
		"    {\"cgroup\": \"//a//b.c/\", \"ports\": [443], \"protocol\": \"websocket\",\n"
		"     \"name\": \"ws\", \"comm\": [\"a\", \"b\", \"c\", \"d\"],\n"
		"     \"inflate_max_connections\": 0, \"inflate_max_message\": 4096},\n"
		"    {\"name\": \"root\", \"protocol\": \"http\", \"ports\": [80], "
		"\"cgroup\": \"/\"},\n"
		"    {\"name\": \"dots\", \"protocol\": \"http\", \"ports\": [81], "
		"\"cgroup\": \"/a..b/...\"},\n"
		"    {\"name\": \"slashes\", \"protocol\": \"tcp\", \"ports\": [82], "
		"\"cgroup\": \"///\"}\n"
		"  ]\n"
		"}\n");
	assert_string_equal(cfg->listen, "[::1]:9477");
	assert_int_equal(cfg->n_services, 5);

	s = &cfg->services[0];
	assert_string_equal(s->name, "mix_node.1");
	assert_int_equal(s->protocol, FP_PROTO_BETANET);
	assert_int_equal(s->n_ports, 3);
	assert_int_equal(s->ports[0], 1);
	assert_int_equal(s->ports[1], 65535);
	assert_int_equal(s->ports[2], 9001);
	assert_int_equal(s->n_comm, 2);
	assert_string_equal(s->comm[0], "mixnode");
	assert_string_equal(s->comm[1], "0123456789abcde");
	assert_string_equal(s->cgroup, "/kubepods/burstable");

	s = &cfg->services[1];
	assert_string_equal(s->name, "ws");
	assert_int_equal(s->protocol, FP_PROTO_WEBSOCKET);
	assert_int_equal(s->ws_inflate_conns, 0);
	assert_int_equal(s->ws_inflate_message, 4096);
	assert_int_equal(s->n_comm, 4);
	assert_string_equal(s->comm[3], "d");
	assert_string_equal(s->cgroup, "/a/b.c");

	assert_int_equal(cfg->services[2].protocol, FP_PROTO_HTTP);
	assert_string_equal(cfg->services[2].cgroup, "/");
	assert_string_equal(cfg->services[3].cgroup, "/a..b/...");
	assert_string_equal(cfg->services[4].cgroup, "/");
	free(cfg);
}

static void valid_limits(void **state)
{
	char text[1024], cg[CONFIG_CGROUP_LEN], name[CONFIG_NAME_LEN];
	struct config *cfg;

	(void)state;
	memset(cg, 'c', sizeof(cg));
	cg[0] = '/';
	cg[CONFIG_CGROUP_LEN - 1] = '\0';
	memset(name, 'n', sizeof(name));
	name[CONFIG_NAME_LEN - 1] = '\0';
	snprintf(text, sizeof(text),
		 "{\"services\":[{\"name\":\"%s\",\"protocol\":\"tcp\",\"ports\":[80],"
		 "\"cgroup\":\"%s\"}]}",
		 name, cg);
	cfg = expect_ok(text);
	assert_string_equal(cfg->services[0].name, name);
	assert_string_equal(cfg->services[0].cgroup, cg);
	free(cfg);
}

static void valid_listen_values(void **state)
{
	static const char *const good[] = {
		":9477",
		"127.0.0.1:1",
		"localhost:65535",
		"[::]:80",
		"[fe80::1%eth0]:80",
		"[::ffff:1.2.3.4]:8080",
		"node-1.example.org:9477",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		char text[256];
		struct config *cfg;

		snprintf(text, sizeof(text),
			 "{\"listen\":\"%s\",\"services\":[{\"name\":\"a\",\"protocol\":\"tcp\","
			 "\"ports\":[80]}]}",
			 good[i]);
		cfg = expect_ok(text);
		assert_string_equal(cfg->listen, good[i]);
		free(cfg);
	}
}

static void check_default(const struct config *cfg)
{
	static const struct {
		const char *name;
		enum fp_protocol protocol;
		int n_ports;
		uint16_t ports[3];
	} want[] = {
		{ "betanet", FP_PROTO_BETANET, 3, { 9001, 9002, 9003 } },
		{ "betanet-stats", FP_PROTO_HTTP, 1, { 9000 } },
		{ "backend", FP_PROTO_WEBSOCKET, 1, { 8000 } },
		{ "control-panel", FP_PROTO_HTTP, 1, { 3000 } },
	};
	int i, j;

	assert_string_equal(cfg->listen, CONFIG_DEFAULT_LISTEN);
	assert_int_equal(cfg->n_services, 4);
	for (i = 0; i < 4; i++) {
		const struct service_config *s = &cfg->services[i];

		assert_string_equal(s->name, want[i].name);
		assert_int_equal(s->protocol, want[i].protocol);
		assert_int_equal(s->n_ports, want[i].n_ports);
		for (j = 0; j < s->n_ports; j++)
			assert_int_equal(s->ports[j], want[i].ports[j]);
		assert_int_equal(s->n_comm, 0);
		assert_string_equal(s->cgroup, "");
	}
	assert_int_equal(cfg->services[2].n_ws_paths, 2);
	assert_string_equal(cfg->services[2].ws_paths[0], "/api/bitchat/ws/");
	assert_int_equal(cfg->services[2].ws_inflate_conns, CONFIG_DEFAULT_INFLATE_CONNS);
	assert_int_equal(cfg->services[2].ws_inflate_message, CONFIG_DEFAULT_INFLATE_MESSAGE);
	assert_int_equal(cfg->services[3].framework, FP_FRAMEWORK_NEXTJS);
	assert_string_equal(cfg->services[3].routes[0], "/api/betanet/nodes/[id]");
	assert_int_equal(cfg->services[3].max_paths, CONFIG_DEFAULT_MAX_PATHS);
}

static void default_config(void **state)
{
	struct config *cfg = new_config();

	(void)state;
	config__default(cfg);
	check_default(cfg);
	free(cfg);
}

/* deploy/fogprobe.json is the default, byte for byte: same parse, same meaning. */
static void default_matches_deploy_file(void **state)
{
	struct config *a = new_config(), *b = new_config();
	char err[ERRLEN];
	int ret;

	(void)state;
	ret = config__load_file("deploy/fogprobe.json", a, err, sizeof(err));
	if (ret == -ENOENT) {
		free(a);
		free(b);
		skip(); /* not run from the source tree */
	}
	assert_int_equal(ret, 0);
	check_default(a);
	memset(b, 0, sizeof(*b));
	config__default(b);
	assert_memory_equal(a, b, sizeof(*a));
	free(a);
	free(b);
}

/* Host and container metrics are on by default, with node_exporter's exclusions. */
static void host_defaults_and_off_switch(void **state)
{
	struct config *cfg = new_config();

	(void)state;
	config__default(cfg);
	assert_int_equal(cfg->host.enabled, 1);
	assert_string_equal(cfg->host.root, "");
	assert_string_equal(cfg->host.mounts_exclude, CONFIG_DEFAULT_MOUNTS_EXCLUDE);
	assert_string_equal(cfg->host.fstypes_exclude, CONFIG_DEFAULT_FSTYPES_EXCLUDE);
	assert_string_equal(cfg->host.netdev_exclude, "^lo$");
	assert_int_equal(cfg->containers.enabled, 1);
	assert_int_equal(cfg->containers.max, CONFIG_DEFAULT_CONTAINERS);
	assert_int_equal(cfg->containers.network, CONTAINER_NETWORK_AUTO);
	free(cfg);

	cfg = expect_ok(SVC_A_DONE "\"host\":{\"enabled\":false,\"root\":\"/host\","
			"\"filesystems_exclude\":\"\",\"network_devices_exclude\":\"^veth\"},"
			"\"containers\":{\"enabled\":false,\"max\":7,\"network\":\"netns\"}}");
	assert_int_equal(cfg->host.enabled, 0);
	assert_string_equal(cfg->host.root, "/host");
	assert_string_equal(cfg->host.mounts_exclude, "");
	assert_string_equal(cfg->host.fstypes_exclude, CONFIG_DEFAULT_FSTYPES_EXCLUDE);
	assert_string_equal(cfg->host.netdev_exclude, "^veth");
	assert_int_equal(cfg->containers.enabled, 0);
	assert_int_equal(cfg->containers.max, 7);
	assert_int_equal(cfg->containers.network, CONTAINER_NETWORK_NETNS);
	free(cfg);
}

/* The secret is kept as its SHA-256 (the digests: sha256sum of the same bytes). */
static void valid_auth_tls(void **state)
{
	/* printf 'x' | sha256sum; printf 'secret' | sha256sum */
	static const char x_hex[] =
		"2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881";
	static const char secret_hex[] =
		"2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";
	char err[ERRLEN] = "", path[] = "/tmp/fp-secret.XXXXXX", text[512];
	struct config *cfg = new_config();
	uint8_t want[32];
	int fd;

	(void)state;
	assert_int_equal(config__load_string(SVC_A_DONE "\"auth\":{\"type\":\"basic\","
						       "\"username\":\"prom\",\"password\":\"x\"},"
						       "\"tls\":{\"cert_file\":\"/dev/null\","
						       "\"key_file\":\"/dev/null\"}}",
					     "t.json", cfg, err, sizeof(err)),
			 0);
	assert_int_equal(cfg->auth.type, AUTH_BASIC);
	assert_string_equal(cfg->auth.username, "prom");
	assert_int_equal(digest__from_hex(x_hex, want), 0);
	assert_memory_equal(cfg->auth.secret_sha256, want, 32);
	assert_string_equal(cfg->tls.cert_file, "/dev/null");
	assert_string_equal(cfg->tls.key_file, "/dev/null");

	/* a file's first line, without its line end */
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "secret\r\nmore\n", 13), 13);
	close(fd);
	snprintf(text, sizeof(text),
		 SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token_file\":\"%s\"}}", path);
	assert_int_equal(config__load_string(text, "t.json", cfg, err, sizeof(err)), 0);
	unlink(path);
	assert_int_equal(cfg->auth.type, AUTH_BEARER);
	assert_int_equal(digest__from_hex(secret_hex, want), 0);
	assert_memory_equal(cfg->auth.secret_sha256, want, 32);
	assert_string_equal(cfg->auth.secret_file, path);

	snprintf(text, sizeof(text),
		 SVC_A_DONE "\"auth\":{\"type\":\"bearer\",\"token_sha256\":\"%s\"}}", secret_hex);
	assert_int_equal(config__load_string(text, "t.json", cfg, err, sizeof(err)), 0);
	assert_memory_equal(cfg->auth.secret_sha256, want, 32);
	assert_string_equal(cfg->auth.secret_file, "");

	/* none given: no auth, no TLS */
	assert_int_equal(config__load_string(SVC_A_DONE "\"listen\":\":1\"}", "t.json", cfg, err,
					     sizeof(err)),
			 0);
	assert_int_equal(cfg->auth.type, AUTH_NONE);
	assert_string_equal(cfg->tls.cert_file, "");
	free(cfg);
}

static void protocol_names(void **state)
{
	(void)state;
	assert_string_equal(config__protocol_name(FP_PROTO_TCP), "tcp");
	assert_string_equal(config__protocol_name(FP_PROTO_BETANET), "betanet");
	assert_string_equal(config__protocol_name(FP_PROTO_HTTP), "http");
	assert_string_equal(config__protocol_name(FP_PROTO_WEBSOCKET), "websocket");
	assert_string_equal(config__protocol_name((enum fp_protocol)42), "unknown");
}

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* ---- otlp ---- */

#define OTLP_PRE SVC_A_DONE "\"otlp\":"

static void otlp_section(void **state)
{
	struct config *cfg = new_config();
	char err[ERRLEN] = "";

	(void)state;
	assert_int_equal(config__load_string(SVC_A_DONE "\"listen\":\"127.0.0.1:1\"}", "t.json", cfg,
					     err, sizeof(err)), 0);
	assert_int_equal(cfg->otlp.enabled, 0); /* no section: off */
	assert_int_equal(config__load_string(
		OTLP_PRE "{\"endpoint\":\"https://c.example:4318/\",\"protocol\":\"http/json\","
		"\"headers\":{\"Authorization\":\"Bearer x\"},\"compression\":\"gzip\","
		"\"timeout_ms\":2500,\"sample_ratio\":0.25,\"keep_slower_than_ms\":800,"
		"\"queue_spans\":100,\"batch_spans\":10,\"batch_delay_ms\":50,"
		"\"resource_attributes\":{\"deployment.environment\":\"prod\"}}}",
		"t.json", cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->otlp.enabled, 1);
	assert_string_equal(cfg->otlp.url, "https://c.example:4318/v1/traces");
	assert_int_equal(cfg->otlp.protocol, OTLP_HTTP_JSON);
	assert_int_equal(cfg->otlp.n_headers, 1);
	assert_string_equal(cfg->otlp.headers[0].key, "Authorization");
	assert_string_equal(cfg->otlp.headers[0].value, "Bearer x");
	assert_int_equal(cfg->otlp.gzip, 1);
	assert_int_equal(cfg->otlp.timeout_ms, 2500);
	assert_true(cfg->otlp.sample_ratio == 0.25);
	assert_int_equal(cfg->otlp.keep_slower_ms, 800);
	assert_int_equal(cfg->otlp.queue_spans, 100);
	assert_int_equal(cfg->otlp.batch_spans, 10);
	assert_int_equal(cfg->otlp.batch_delay_ms, 50);
	assert_string_equal(cfg->otlp.resource[0].value, "prod");
	/* privacy by default: no peer address; TCP connection spans off */
	assert_int_equal(cfg->otlp.peer_address, 0);
	assert_int_equal(cfg->otlp.tcp_spans, 0);
	assert_int_equal(cfg->otlp.peer_prefix_ipv4, 32);
	assert_int_equal(cfg->otlp.peer_prefix_ipv6, 128);
	assert_int_equal(config__load_string(
		OTLP_PRE "{\"peer_address\":true,\"peer_prefix_ipv4\":24,\"peer_prefix_ipv6\":48,"
		"\"tcp_spans\":true}}", "t.json", cfg, err, sizeof(err)), 0);
	assert_int_equal(cfg->otlp.peer_address, 1);
	assert_int_equal(cfg->otlp.tcp_spans, 1);
	assert_int_equal(cfg->otlp.peer_prefix_ipv4, 24);
	assert_int_equal(cfg->otlp.peer_prefix_ipv6, 48);
	assert_int_equal(config__load_string(
		OTLP_PRE "{\"traces_endpoint\":\"http://h/custom\",\"enabled\":false}}", "t.json",
		cfg, err, sizeof(err)), 0);
	assert_string_equal(cfg->otlp.url, "http://h/custom");
	assert_int_equal(cfg->otlp.enabled, 0);
	free(cfg);
}

static void otlp_errors(void **state)
{
	(void)state;
	/* the section's value starts at column 65, its first key at 66 */
	expect_error(OTLP_PRE "{\"endpoint\":\"ftp://x\"}}",
		     "t.json:1:77: endpoint must start with http:// or https://");
	expect_error(OTLP_PRE "{\"protocol\":\"grpc\"}}",
		     "t.json:1:77: protocol must be \"http/protobuf\" or \"http/json\"");
	expect_error(OTLP_PRE "{\"sample_ratio\":1.5}}",
		     "t.json:1:81: sample_ratio 1.5 is out of range 0..1");
	expect_error(OTLP_PRE "{\"headers\":{\"a b\":\"x\"}}}",
		     "t.json:1:77: headers: not a valid header name");
	expect_error(OTLP_PRE "{\"queue_spans\":5,\"batch_spans\":6}}",
		     "t.json:1:96: batch_spans 6 is larger than queue_spans 5");
	expect_error(OTLP_PRE "{\"tcp_spans\":1}}", "t.json:1:78: tcp_spans must be true or false");
	expect_error(OTLP_PRE "{\"compression\":\"br\"}}",
		     "t.json:1:80: compression must be \"gzip\" or \"none\"");
	expect_error(OTLP_PRE "{\"endpoit\":\"http://x\"}}",
		     "t.json:1:66: unknown key \"endpoit\" in otlp (expected enabled, endpoint, "
		     "traces_endpoint, protocol, headers, compression, timeout_ms, "
		     "resource_attributes, sample_ratio, keep_slower_than_ms, queue_spans, "
		     "batch_spans, batch_delay_ms, retry_max_s, tcp_spans, peer_address, "
		     "peer_prefix_ipv4, peer_prefix_ipv6)");
	expect_error(OTLP_PRE "{\"peer_prefix_ipv4\":33}}",
		     "t.json:1:85: peer_prefix_ipv4 33 is out of range 0..32");
}

static const char *const *env_vars;

static const char *fake_env(const char *name)
{
	const char *const *v;

	for (v = env_vars; *v; v += 2)
		if (!strcmp(v[0], name))
			return v[1];
	return NULL;
}

static void otlp_env(void **state)
{
	static const char *const vars[] = {
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf",
		"OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/json", /* the signal's wins */
		"OTEL_EXPORTER_OTLP_HEADERS", "api-key=a%20b, x-tenant = t1",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "gzip",
		"OTEL_EXPORTER_OTLP_TIMEOUT", "3000",
		"OTEL_RESOURCE_ATTRIBUTES", "deployment.environment=staging,k8s.cluster.name=c1",
		"OTEL_TRACES_SAMPLER", "parentbased_traceidratio",
		"OTEL_TRACES_SAMPLER_ARG", "0.5",
		"OTEL_BSP_MAX_QUEUE_SIZE", "64", "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "8",
		NULL,
	};
	static const char *const file_wins[] = {
		"OTEL_EXPORTER_OTLP_ENDPOINT", "http://env:4318", "OTEL_TRACES_EXPORTER", "none",
		NULL,
	};
	static const char *const bad[][3] = {
		{ "OTEL_EXPORTER_OTLP_PROTOCOL", "grpc",
		  "OTEL_EXPORTER_OTLP_PROTOCOL: only \"http/protobuf\" and \"http/json\" are supported" },
		{ "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "collector:4318",
		  "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: must start with http:// or https://" },
		{ "OTEL_EXPORTER_OTLP_HEADERS", "novalue",
		  "OTEL_EXPORTER_OTLP_HEADERS: an entry is not key=value" },
		{ "OTEL_EXPORTER_OTLP_TIMEOUT", "10s",
		  "OTEL_EXPORTER_OTLP_TIMEOUT: must be milliseconds in 1..600000" },
		{ "OTEL_TRACES_SAMPLER", "jaeger_remote",
		  "OTEL_TRACES_SAMPLER: supported: always_on, always_off, traceidratio and their "
		  "parentbased_ forms" },
	};
	struct config *cfg = new_config();
	char err[ERRLEN] = "";
	const char *one[3];
	size_t i;

	(void)state;
	assert_int_equal(config__load_string(SVC_A_DONE "\"listen\":\"127.0.0.1:1\"}", "t.json", cfg,
					     err, sizeof(err)), 0);
	env_vars = vars;
	assert_int_equal(config__otlp_env(&cfg->otlp, fake_env, err, sizeof(err)), 0);
	assert_int_equal(cfg->otlp.enabled, 1);
	assert_string_equal(cfg->otlp.url, "http://collector:4318/v1/traces");
	assert_int_equal(cfg->otlp.protocol, OTLP_HTTP_JSON);
	assert_int_equal(cfg->otlp.n_headers, 2);
	assert_string_equal(cfg->otlp.headers[0].value, "a b");
	assert_string_equal(cfg->otlp.headers[1].key, "x-tenant");
	assert_int_equal(cfg->otlp.gzip, 1);
	assert_int_equal(cfg->otlp.timeout_ms, 3000);
	assert_int_equal(cfg->otlp.n_resource, 2);
	assert_string_equal(cfg->otlp.resource[1].value, "c1");
	assert_true(cfg->otlp.sample_ratio == 0.5);
	assert_int_equal(cfg->otlp.queue_spans, 64);
	assert_int_equal(cfg->otlp.batch_spans, 8);

	/* what the file says wins */
	assert_int_equal(config__load_string(OTLP_PRE "{\"endpoint\":\"http://file\"}}", "t.json",
					     cfg, err, sizeof(err)), 0);
	env_vars = file_wins;
	assert_int_equal(config__otlp_env(&cfg->otlp, fake_env, err, sizeof(err)), 0);
	assert_string_equal(cfg->otlp.url, "http://file/v1/traces");
	assert_int_equal(cfg->otlp.enabled, 0); /* OTEL_TRACES_EXPORTER=none */

	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		assert_int_equal(config__load_string(SVC_A_DONE "\"listen\":\"127.0.0.1:1\"}",
						     "t.json", cfg, err, sizeof(err)), 0);
		one[0] = bad[i][0];
		one[1] = bad[i][1];
		one[2] = NULL;
		env_vars = one;
		assert_int_equal(config__otlp_env(&cfg->otlp, fake_env, err, sizeof(err)), -EINVAL);
		assert_string_equal(err, bad[i][2]);
	}
	free(cfg);
}

static const struct CMUnitTest other_tests[] = {
	cmocka_unit_test(valid_minimal),
	cmocka_unit_test(valid_full),
	cmocka_unit_test(valid_limits),
	cmocka_unit_test(valid_check),
	cmocka_unit_test(valid_listen_values),
	cmocka_unit_test(default_config),
	cmocka_unit_test(default_matches_deploy_file),
	cmocka_unit_test(protocol_names),
	cmocka_unit_test(valid_auth_tls),
	cmocka_unit_test(host_defaults_and_off_switch),
	cmocka_unit_test(error_listen_values),
	cmocka_unit_test(error_listen_too_long),
	cmocka_unit_test(error_name_too_long),
	cmocka_unit_test(error_long_key_cut),
	cmocka_unit_test(error_cgroup_too_long),
	cmocka_unit_test(error_too_many_services),
	cmocka_unit_test(error_too_many_ports),
	cmocka_unit_test(error_unreadable_file),
	cmocka_unit_test(error_file_position),
	cmocka_unit_test(error_small_buffer),
	cmocka_unit_test(otlp_section),
	cmocka_unit_test(otlp_errors),
	cmocka_unit_test(otlp_env),
};

int main(void)
{
	/* one named test per row of error_cases, so that a failure names its case */
	struct CMUnitTest tests[ARRAY_SIZE(other_tests) + ARRAY_SIZE(error_cases)];
	size_t i;

	memcpy(tests, other_tests, sizeof(other_tests));
	for (i = 0; i < ARRAY_SIZE(error_cases); i++) {
		struct CMUnitTest *t = &tests[ARRAY_SIZE(other_tests) + i];

		memset(t, 0, sizeof(*t));
		t->name = error_cases[i].name;
		t->test_func = run_error_case;
		t->initial_state = (void *)&error_cases[i];
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
