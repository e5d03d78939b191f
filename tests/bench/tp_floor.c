// SPDX-License-Identifier: GPL-2.0-only
/*
 * tp_floor [--no-stats] OBJ: loads the BPF object (tests/bench/null_tp.bpf.c,
 * null_hooks.bpf.c), attaches every program, turns bpf_stats on as the daemon's
 * --bpf-stats does (not with --no-stats: as the daemon runs by default), prints "ready"
 * on stdout and waits for SIGTERM or SIGINT; then prints "program ns_per_event runs" for
 * each program that ran (with stats only).
 * At most 120 s: bounded even if nobody stops it.
 */
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

int main(int argc, char **argv)
{
	struct bpf_object *obj;
	struct bpf_program *p;
	bool stats = true;
	const char *path;
	int stats_fd = -1, i;

	if (argc == 3 && !strcmp(argv[1], "--no-stats"))
		stats = false;
	else if (argc != 2) {
		fprintf(stderr, "usage: tp_floor [--no-stats] OBJ\n");
		return 2;
	}
	path = argv[argc - 1];
	obj = bpf_object__open_file(path, NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "tp_floor: cannot load %s\n", path);
		return 1;
	}
	bpf_object__for_each_program(p, obj)
	{
		if (!bpf_program__attach(p)) {
			fprintf(stderr, "tp_floor: cannot attach %s\n", bpf_program__name(p));
			return 1;
		}
	}
	if (stats)
		stats_fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
	if (stats && stats_fd < 0)
		fprintf(stderr, "tp_floor: bpf_enable_stats failed (run times will be 0)\n");
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	printf("ready\n");
	fflush(stdout);
	for (i = 0; i < 1200 && !stop; i++)
		usleep(100000);
	bpf_object__for_each_program(p, obj)
	{
		struct bpf_prog_info info = {};
		__u32 len = sizeof(info);

		if (bpf_obj_get_info_by_fd(bpf_program__fd(p), &info, &len) || !info.run_cnt)
			continue;
		printf("%s %.1f %llu\n", bpf_program__name(p),
		       (double)info.run_time_ns / info.run_cnt, (unsigned long long)info.run_cnt);
	}
	bpf_object__close(obj);
	return 0;
}
