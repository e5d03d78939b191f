// SPDX-License-Identifier: GPL-2.0-only
/* user/model/services.c: table building (with a fake cgroup tree) and classification. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "collect/services.h"

static struct config *new_config(void)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	assert_non_null(cfg);
	return cfg;
}

static struct service_tables *new_tables(void)
{
	struct service_tables *t = malloc(sizeof(*t));

	assert_non_null(t);
	memset(t, 0xa5, sizeof(*t)); /* build must zero what it does not set */
	return t;
}

/* ports: 0-terminated; comm: NULL-terminated or NULL; cgroup: NULL for any. */
static void add_service(struct config *cfg, const char *name, const uint16_t *ports,
			const char *const *comm, const char *cgroup)
{
	struct service_config *s = &cfg->services[cfg->n_services++];

	snprintf(s->name, sizeof(s->name), "%s", name);
	for (; *ports; ports++)
		s->ports[s->n_ports++] = *ports;
	for (; comm && *comm; comm++)
		snprintf(s->comm[s->n_comm++], sizeof(s->comm[0]), "%s", *comm);
	if (cgroup)
		snprintf(s->cgroup, sizeof(s->cgroup), "%s", cgroup);
}

#define PORTS(...) ((const uint16_t[]){ __VA_ARGS__, 0 })
#define COMMS(...) ((const char *const[]){ __VA_ARGS__, NULL })

/* Fake cgroup hierarchy of a socket: ids[level], and the levels asked for. */
struct fake_cgroup {
	uint64_t ids[8];
	int depth; /* levels 0..depth exist */
	int asked[8];
	int n_asked;
};

static uint64_t fake_ancestor(int level, void *ctx)
{
	struct fake_cgroup *cg = ctx;

	if (cg->n_asked < 8)
		cg->asked[cg->n_asked++] = level;
	if (level < 0 || level > cg->depth)
		return 0;
	return cg->ids[level];
}

static void build(const struct config *cfg, struct service_tables *t)
{
	assert_int_equal(services__build(cfg, "/nonexistent-cgroot", t), 0);
}

static void classify_by_lport_and_rport(void **state)
{
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	int server = -1;

	(void)state;
	add_service(cfg, "web", PORTS(80, 443), NULL, NULL);
	add_service(cfg, "db", PORTS(5432), NULL, NULL);
	build(cfg, t);
	assert_int_equal(t->n_services, 2);
	assert_int_equal(t->port_mask[80], 1U << 0);
	assert_int_equal(t->port_mask[443], 1U << 0);
	assert_int_equal(t->port_mask[5432], 1U << 1);
	assert_int_equal(t->port_mask[0], 0);
	assert_int_equal(t->port_mask[65535], 0);

	assert_int_equal(services__classify(t, 443, 50000, NULL, NULL, NULL, &server), 0);
	assert_int_equal(server, 1);
	assert_int_equal(services__classify(t, 50000, 80, NULL, NULL, NULL, &server), 0);
	assert_int_equal(server, 0);
	assert_int_equal(services__classify(t, 50000, 5432, NULL, NULL, NULL, &server), 1);
	assert_int_equal(server, 0);
	assert_int_equal(services__classify(t, 5432, 1, NULL, NULL, NULL, &server), 1);
	assert_int_equal(server, 1);
	/* both ends on a service port: the local one makes it the server */
	assert_int_equal(services__classify(t, 80, 80, NULL, NULL, NULL, &server), 0);
	assert_int_equal(server, 1);
	assert_int_equal(services__classify(t, 50000, 50001, NULL, NULL, NULL, &server), -1);
	assert_int_equal(services__classify(t, 0, 0, NULL, NULL, NULL, NULL), -1);
	assert_int_equal(services__classify(t, 80, 0, NULL, NULL, NULL, NULL), 0);
	free(cfg);
	free(t);
}

static void classify_first_match_order(void **state)
{
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	int server = -1;

	(void)state;
	add_service(cfg, "s0", PORTS(81), NULL, NULL);
	add_service(cfg, "s1", PORTS(80, 81), NULL, NULL);
	add_service(cfg, "s2", PORTS(80), NULL, NULL);
	build(cfg, t);
	assert_int_equal(t->port_mask[80], (1U << 1) | (1U << 2));
	assert_int_equal(t->port_mask[81], (1U << 0) | (1U << 1));

	assert_int_equal(services__classify(t, 80, 50000, NULL, NULL, NULL, &server), 1);
	assert_int_equal(server, 1);
	/* lowest id wins even when it only lists the remote port */
	assert_int_equal(services__classify(t, 80, 81, NULL, NULL, NULL, &server), 0);
	assert_int_equal(server, 0);
	assert_int_equal(services__classify(t, 81, 80, NULL, NULL, NULL, &server), 0);
	assert_int_equal(server, 1);
	free(cfg);
	free(t);
}

static void classify_comm(void **state)
{
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	char raw[FP_COMM_LEN];
	int server = -1;

	(void)state;
	add_service(cfg, "nginx", PORTS(80), COMMS("nginx", "0123456789abcde"), NULL);
	add_service(cfg, "other", PORTS(80), NULL, NULL);
	build(cfg, t);
	assert_int_equal(t->match[0].n_comm, 2);
	assert_string_equal(t->match[0].comm[0], "nginx");
	assert_string_equal(t->match[0].comm[1], "0123456789abcde");
	assert_int_equal(t->match[1].n_comm, 0);

	assert_int_equal(services__classify(t, 80, 1, "nginx", NULL, NULL, &server), 0);
	assert_int_equal(services__classify(t, 80, 1, "0123456789abcde", NULL, NULL, &server), 0);
	/* exact names, not prefixes */
	assert_int_equal(services__classify(t, 80, 1, "nginx-worker", NULL, NULL, &server), 1);
	assert_int_equal(services__classify(t, 80, 1, "ngin", NULL, NULL, &server), 1);
	/* unknown comm cannot satisfy a comm list */
	assert_int_equal(services__classify(t, 80, 1, NULL, NULL, NULL, &server), 1);
	/* a kernel record's TASK_COMM_LEN buffer */
	memcpy(raw, "0123456789abcde", FP_COMM_LEN);
	assert_int_equal(services__classify(t, 80, 1, raw, NULL, NULL, &server), 0);
	/* no NUL in the buffer: compared within its TASK_COMM_LEN bytes only */
	memcpy(raw, "0123456789abcdef", FP_COMM_LEN);
	assert_int_equal(services__classify(t, 80, 1, raw, NULL, NULL, &server), 1);

	cfg->n_services = 1;
	build(cfg, t);
	assert_int_equal(services__classify(t, 80, 1, "curl", NULL, NULL, &server), -1);
	free(cfg);
	free(t);
}

static void classify_cgroup(void **state)
{
	struct service_tables *t = new_tables();
	struct fake_cgroup cg = { .ids = { 1, 100, 200, 300 }, .depth = 3 };
	int server = -1;

	(void)state;
	memset(t, 0, sizeof(*t));
	t->n_services = 3;
	t->port_mask[80] = 0x7;
	t->match[0] = (struct fp_svc_match){ .active = 1, .cg_level = 2, .cg_id = 999 };
	t->match[1] = (struct fp_svc_match){ .active = 1, .cg_level = 2, .cg_id = 200 };
	t->match[2] = (struct fp_svc_match){ .active = 1 };

	assert_int_equal(services__classify(t, 80, 1, NULL, fake_ancestor, &cg, &server), 1);
	assert_int_equal(server, 1);
	assert_int_equal(cg.n_asked, 2);
	assert_int_equal(cg.asked[0], 2);
	assert_int_equal(cg.asked[1], 2);

	/* socket in another subtree: only the service without a cgroup is left */
	cg.ids[2] = 201;
	assert_int_equal(services__classify(t, 80, 1, NULL, fake_ancestor, &cg, &server), 2);
	/* socket above the configured level: the ancestor is 0, no match */
	cg.ids[2] = 200;
	cg.depth = 1;
	assert_int_equal(services__classify(t, 80, 1, NULL, fake_ancestor, &cg, &server), 2);
	/* no way to learn the cgroup: cgroup services cannot match */
	assert_int_equal(services__classify(t, 80, 1, NULL, NULL, NULL, &server), 2);

	/* level 0 is the root: matches without asking */
	t->match[0] = (struct fp_svc_match){ .active = 1, .cg_level = 0 };
	cg.n_asked = 0;
	assert_int_equal(services__classify(t, 80, 1, NULL, fake_ancestor, &cg, &server), 0);
	assert_int_equal(cg.n_asked, 0);
	free(t);
}

/* cgroup and comm matchers must both hold */
static void classify_comm_and_cgroup(void **state)
{
	struct service_tables *t = new_tables();
	struct fake_cgroup cg = { .ids = { 1, 100 }, .depth = 1 };
	int server = -1;

	(void)state;
	memset(t, 0, sizeof(*t));
	t->n_services = 1;
	t->port_mask[9001] = 0x1;
	t->match[0] =
		(struct fp_svc_match){ .active = 1, .n_comm = 1, .cg_level = 1, .cg_id = 100 };
	strcpy(t->match[0].comm[0], "mixnode");

	assert_int_equal(services__classify(t, 9001, 1, "mixnode", fake_ancestor, &cg, &server), 0);
	assert_int_equal(services__classify(t, 9001, 1, "other", fake_ancestor, &cg, &server), -1);
	cg.ids[1] = 101;
	assert_int_equal(services__classify(t, 9001, 1, "mixnode", fake_ancestor, &cg, &server),
			 -1);
	free(t);
}

static void classify_inactive_skipped(void **state)
{
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	int server = -1;

	(void)state;
	add_service(cfg, "s0", PORTS(80), NULL, NULL);
	add_service(cfg, "s1", PORTS(80), NULL, NULL);
	build(cfg, t);
	assert_int_equal(services__classify(t, 80, 1, NULL, NULL, NULL, &server), 0);
	t->match[0].active = 0;
	assert_int_equal(services__classify(t, 80, 1, NULL, NULL, NULL, &server), 1);
	t->match[1].active = 0;
	assert_int_equal(services__classify(t, 80, 1, NULL, NULL, NULL, &server), -1);
	free(cfg);
	free(t);
}

/* The last of FP_MAX_SERVICES ids uses bit 31. */
static void classify_last_service_id(void **state)
{
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	int i, server = -1;

	(void)state;
	for (i = 0; i < FP_MAX_SERVICES; i++) {
		char name[16];

		snprintf(name, sizeof(name), "s%d", i);
		add_service(cfg, name, PORTS((uint16_t)(1000 + i)), NULL, NULL);
	}
	build(cfg, t);
	assert_int_equal(t->port_mask[1000 + FP_MAX_SERVICES - 1], 1U << 31);
	assert_int_equal(services__classify(t, 1, 1000 + FP_MAX_SERVICES - 1, NULL, NULL, NULL,
					    &server),
			 FP_MAX_SERVICES - 1);
	assert_int_equal(server, 0);

	cfg->n_services = FP_MAX_SERVICES + 1;
	assert_int_equal(services__build(cfg, "/", t), -E2BIG);
	free(cfg);
	free(t);
}

static void build_cgroups(void **state)
{
	char root[] = "/tmp/test_services_XXXXXX";
	char path[512];
	struct config *cfg = new_config();
	struct service_tables *t = new_tables();
	struct stat st;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(root));
	snprintf(path, sizeof(path), "%s/a", root);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/a/b", root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	snprintf(path, sizeof(path), "%s/file", root);
	f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);

	add_service(cfg, "ab", PORTS(80), COMMS("x"), "/a/b");
	add_service(cfg, "missing", PORTS(81), NULL, "/a/c");
	add_service(cfg, "root", PORTS(82), NULL, "/");
	add_service(cfg, "file", PORTS(83), NULL, "/file");
	add_service(cfg, "below-file", PORTS(84), NULL, "/file/x");
	add_service(cfg, "any", PORTS(85), NULL, NULL);
	assert_int_equal(services__build(cfg, root, t), 0);
	assert_int_equal(t->n_services, 6);

	assert_int_equal(t->match[0].active, 1);
	assert_int_equal(t->match[0].cg_level, 2);
	assert_int_equal(t->match[0].cg_id, st.st_ino);
	assert_int_equal(t->match[0].n_comm, 1);
	assert_string_equal(t->match[0].comm[0], "x");

	assert_int_equal(t->match[1].active, 0);
	assert_int_equal(t->match[1].cg_level, 2);

	assert_int_equal(t->match[2].active, 1);
	assert_int_equal(t->match[2].cg_level, 0);

	assert_int_equal(t->match[3].active, 0);
	assert_int_equal(t->match[4].active, 0);

	assert_int_equal(t->match[5].active, 1);
	assert_int_equal(t->match[5].cg_level, 0);
	assert_int_equal(t->match[5].cg_id, 0);
	assert_int_equal(t->match[5].n_comm, 0);

	/* the ids the kernel would report for a socket in /a/b/pod */
	{
		struct fake_cgroup cg = { .ids = { 1, 10, st.st_ino, 30 }, .depth = 3 };
		int server = -1;

		assert_int_equal(services__classify(t, 80, 1, "x", fake_ancestor, &cg, &server), 0);
		assert_int_equal(services__classify(t, 81, 1, "x", fake_ancestor, &cg, &server),
				 -1);
	}

	/* the missing cgroup appears: a rebuild activates its service */
	snprintf(path, sizeof(path), "%s/a/c", root);
	assert_int_equal(mkdir(path, 0755), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(services__build(cfg, root, t), 0);
	assert_int_equal(t->match[1].active, 1);
	assert_int_equal(t->match[1].cg_id, st.st_ino);

	/* a cgroot with a trailing slash works too */
	snprintf(path, sizeof(path), "%s/", root);
	assert_int_equal(services__build(cfg, path, t), 0);
	assert_int_equal(t->match[1].active, 1);
	assert_int_equal(t->match[1].cg_id, st.st_ino);

	assert_int_equal(services__build(cfg, NULL, t), -EINVAL);

	snprintf(path, sizeof(path), "%s/a/c", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a/b", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/a", root);
	rmdir(path);
	snprintf(path, sizeof(path), "%s/file", root);
	unlink(path);
	rmdir(root);
	free(cfg);
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(classify_by_lport_and_rport),
		cmocka_unit_test(classify_first_match_order),
		cmocka_unit_test(classify_comm),
		cmocka_unit_test(classify_cgroup),
		cmocka_unit_test(classify_comm_and_cgroup),
		cmocka_unit_test(classify_inactive_skipped),
		cmocka_unit_test(classify_last_service_id),
		cmocka_unit_test(build_cgroups),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
