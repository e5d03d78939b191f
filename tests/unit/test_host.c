// SPDX-License-Identifier: GPL-2.0-only
/*
 * user/collect/host.c parsers against fixture text in the kernel's formats (proc(5)):
 * /proc/stat, /proc/meminfo, /proc/loadavg, /proc/<pid>/mountinfo (with escapes and
 * optional fields), /proc/net/dev, cgroup key-value files, and container ids and pod
 * uids from the cgroup paths of docker, containerd, cri-o, podman and kubepods; then the
 * readers on a fake procfs, rootfs and cgroup trees in a temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "collect/host.h"

#define HEX64 "3f4a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a"

static void stat_cpus_and_counters(void **state)
{
	static const char text[] =
		"cpu  10132153 290696 3084719 46828483 16683 0 25195 0 175628 0\n"
		"cpu0 1393280 32966 572056 13343292 6130 0 17875 0 23933 0\n"
		"cpu1 1335186 40600 574543 13383519 3839 0 6420 7 151695 0\n"
		"intr 199292311 35 0 0 0\n"
		"ctxt 333585289\n"
		"btime 1700000000\n"
		"processes 268050\n"
		"procs_running 3\n"
		"procs_blocked 1\n"
		"softirq 1 2 3\n";
	struct host_cpu cpus[4];
	struct host_stat st;
	size_t n;

	(void)state;
	assert_int_equal(host_parse_stat(text, cpus, 4, &n, &st), 0);
	assert_int_equal(n, 2);
	assert_int_equal(cpus[0].id, 0);
	assert_int_equal(cpus[0].ticks[HOST_CPU_USER], 1393280);
	assert_int_equal(cpus[0].ticks[HOST_CPU_IDLE], 13343292);
	assert_int_equal(cpus[0].ticks[HOST_CPU_SOFTIRQ], 17875);
	assert_int_equal(cpus[1].id, 1);
	assert_int_equal(cpus[1].ticks[HOST_CPU_STEAL], 7);
	assert_int_equal(cpus[1].ticks[HOST_CPU_NICE], 40600);
	assert_int_equal(st.ctxt, 333585289);
	assert_int_equal(st.boot_time, 1700000000);
	assert_int_equal(st.forks, 268050);
	assert_int_equal(st.procs_running, 3);
	assert_int_equal(st.procs_blocked, 1);
	/* more CPUs than room: counted up to max, no overflow */
	assert_int_equal(host_parse_stat(text, cpus, 1, &n, &st), 0);
	assert_int_equal(n, 1);
	/* garbage */
	assert_int_equal(host_parse_stat("cpu0 x y\n", cpus, 4, &n, &st), -EINVAL);
	assert_int_equal(host_parse_stat("nothing here\n", cpus, 4, &n, &st), -EINVAL);
	assert_int_equal(host_parse_stat("cpu0 1 2\n", cpus, 4, &n, &st), -EINVAL);
}

static void meminfo_kib_to_bytes(void **state)
{
	static const char text[] = "MemTotal:       24684084 kB\n"
				   "MemFree:        23524404 kB\n"
				   "MemAvailable:   24025344 kB\n"
				   "Buffers:            4704 kB\n"
				   "Cached:           676716 kB\n"
				   "SwapCached:           0 kB\n"
				   "SwapTotal:             0 kB\n"
				   "SwapFree:              0 kB\n"
				   "HugePages_Total:       0\n";
	struct host_meminfo m;

	(void)state;
	assert_int_equal(host_parse_meminfo(text, &m), 0);
	assert_int_equal(m.bytes[HOST_MEM_TOTAL], 24684084ULL * 1024);
	assert_int_equal(m.bytes[HOST_MEM_AVAILABLE], 24025344ULL * 1024);
	assert_int_equal(m.bytes[HOST_MEM_CACHED], 676716ULL * 1024);
	assert_int_equal(m.have, (1u << HOST_MEM_FIELDS) - 1);
	/* "SwapCached" must not be taken for "Cached" */
	assert_int_equal(host_parse_meminfo("SwapCached: 5 kB\n", &m), -EINVAL);
	assert_int_equal(host_parse_meminfo("MemTotal: x kB\n", &m), -EINVAL);
}

static void loadavg(void **state)
{
	struct host_loadavg l;

	(void)state;
	assert_int_equal(host_parse_loadavg("0.67 0.52 0.51 2/345 12345\n", &l), 0);
	assert_true(l.load[0] == 0.67 && l.load[1] == 0.52 && l.load[2] == 0.51);
	assert_int_equal(l.running, 2);
	assert_int_equal(l.threads, 345);
	assert_int_equal(host_parse_loadavg("0.67 0.52\n", &l), -EINVAL);
	assert_int_equal(host_parse_loadavg("0.1 0.2 0.3 2 345\n", &l), -EINVAL);
}

static void mountinfo_fields_escapes_optional(void **state)
{
	/* proc(5)'s example, a mount point with a space and a tab, no optional fields,
	 * a read-only superblock, and a line cut short */
	static const char text[] =
		"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n"
		"40 1 0:50 / /media/my\\040disk\\011x rw,relatime shared:5 unbindable - vfat /dev/sdb1 rw\n"
		"41 1 0:51 / /sys rw,nosuid - sysfs sysfs rw\n"
		"42 1 0:52 / /ro ro,relatime - ext4 /dev/sdc ro\n"
		"43 1 0:53 / /sb rw,relatime - ext4 /dev/sdd ro,errors=remount-ro\n"
		"44 1 0:54 / /broken rw\n";
	struct host_mount m[8];
	size_t n, bad;

	(void)state;
	assert_int_equal(host_parse_mountinfo(text, m, 8, &n, &bad), 0);
	assert_int_equal(n, 5);
	assert_int_equal(bad, 1);
	assert_string_equal(m[0].mountpoint, "/mnt2");
	assert_string_equal(m[0].fstype, "ext3");
	assert_string_equal(m[0].device, "/dev/root");
	assert_false(m[0].ro);
	assert_string_equal(m[1].mountpoint, "/media/my disk\tx");
	assert_string_equal(m[1].device, "/dev/sdb1");
	assert_string_equal(m[2].fstype, "sysfs");
	assert_true(m[3].ro);
	assert_true(m[4].ro); /* read-only superblock, read-write mount */
	/* a relative mount point is not a mount point */
	assert_int_equal(host_parse_mountinfo_line("1 2 0:1 / rel rw - ext4 x rw", &m[0]), -EINVAL);
}

static void netdev(void **state)
{
	static const char text[] =
		"Inter-|   Receive                                                |  Transmit\n"
		" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n"
		"    lo:  123456     789    0    0    0     0          0         0   123456     789    0    0    0     0       0          0\n"
		"  eth0: 305131970 6384 1 2 0 0 0 0 265132 3783 3 4 0 0 0 0\n";
	struct host_netdev d[4];
	size_t n;

	(void)state;
	assert_int_equal(host_parse_netdev(text, d, 4, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(d[0].name, "lo");
	assert_int_equal(d[0].rx_bytes, 123456);
	assert_string_equal(d[1].name, "eth0");
	assert_int_equal(d[1].rx_bytes, 305131970);
	assert_int_equal(d[1].rx_packets, 6384);
	assert_int_equal(d[1].rx_errs, 1);
	assert_int_equal(d[1].rx_drop, 2);
	assert_int_equal(d[1].tx_bytes, 265132);
	assert_int_equal(d[1].tx_packets, 3783);
	assert_int_equal(d[1].tx_errs, 3);
	assert_int_equal(d[1].tx_drop, 4);
	assert_int_equal(host_parse_netdev("  eth0: 1 2 3\n", d, 4, &n), -EINVAL);
}

static void keyed(void **state)
{
	static const char cpu_stat[] = "usage_usec 1727125\nuser_usec 748829\n"
				       "system_usec 978296\n";
	static const char mem_stat[] = "active_file 100\ninactive_file 4096\n"
				       "total_inactive_file 8192\n";
	uint64_t v;

	(void)state;
	assert_int_equal(host_parse_keyed(cpu_stat, "usage_usec", &v), 0);
	assert_int_equal(v, 1727125);
	assert_int_equal(host_parse_keyed(mem_stat, "inactive_file", &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(host_parse_keyed(mem_stat, "total_inactive_file", &v), 0);
	assert_int_equal(v, 8192);
	assert_int_equal(host_parse_keyed(mem_stat, "file", &v), -ENOENT);
}

struct ref_case {
	const char *path;
	bool container_like;
	const char *container_id;
	const char *pod_uid;
};

static void cgroup_refs(void **state)
{
	static const struct ref_case cases[] = {
		/* docker, cgroupfs and systemd drivers */
		{ "/docker/" HEX64, true, HEX64, "" },
		{ "/system.slice/docker-" HEX64 ".scope", true, HEX64, "" },
		/* containerd under kubelet's systemd driver */
		{ "/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod0d8ad0e4_6a2a_4bb5_8a4e_1e1ea5d4c2f3.slice/"
		  "cri-containerd-" HEX64 ".scope",
		  true, HEX64, "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		/* the pod's own cgroup */
		{ "/kubepods.slice/kubepods-besteffort.slice/"
		  "kubepods-besteffort-pod0d8ad0e4_6a2a_4bb5_8a4e_1e1ea5d4c2f3.slice",
		  true, "", "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		{ "/kubepods.slice/kubepods-pod0d8ad0e4_6a2a_4bb5_8a4e_1e1ea5d4c2f3.slice", true,
		  "", "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		/* cri-o; its monitor is not the container */
		{ "/kubepods.slice/kubepods-burstable.slice/"
		  "kubepods-burstable-pod0d8ad0e4_6a2a_4bb5_8a4e_1e1ea5d4c2f3.slice/crio-" HEX64
		  ".scope",
		  true, HEX64, "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		{ "/kubepods.slice/crio-conmon-" HEX64 ".scope", false, "", "" },
		/* kubelet's cgroupfs driver: uid with '-', container id bare */
		{ "/kubepods/burstable/pod0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3/" HEX64, true, HEX64,
		  "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		{ "/kubepods/pod0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3", true, "",
		  "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3" },
		{ "/machine.slice/libpod-" HEX64 ".scope", true, HEX64, "" },
		/* groupings and look-alikes are not containers */
		{ "/kubepods.slice/kubepods-burstable.slice", false, "", "" },
		{ "/kubepods/burstable", false, "", "" },
		{ "/system.slice/docker.service", false, "", "" },
		{ "/docker/" HEX64 "/child", false, "", "" },
		{ "/docker/3F4A0B9C8D7E6F5A4B3C2D1E0F9A8B7C6D5E4F3A2B1C0D9E8F7A6B5C4D3E2F1A", false,
		  "", "" },
		{ "/docker-" HEX64 ".scopex", false, "", "" },
		{ "/docker/abc", false, "", "" },
		{ "/kubepods/podnot-a-uid", false, "", "" },
		{ "/kubepods.slice/kubepods-burstable-pod0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3.slice",
		  false, "", "" },
		{ "/", false, "", "" },
		{ "", false, "", "" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct cgroup_ref r;
		bool got = host_cgroup_ref(cases[i].path, &r);

		if (got != cases[i].container_like || strcmp(r.container_id, cases[i].container_id) ||
		    strcmp(r.pod_uid, cases[i].pod_uid))
			print_error("%s: got %d id=\"%s\" pod=\"%s\"\n", cases[i].path, got,
				    r.container_id, r.pod_uid);
		assert_int_equal(got, cases[i].container_like);
		assert_string_equal(r.container_id, cases[i].container_id);
		assert_string_equal(r.pod_uid, cases[i].pod_uid);
	}
}


/* ---- readers on a fake tree ---- */

#define HEX2 "0000000000000000000000000000000000000000000000000000000000000002"
#define UID1 "0d8ad0e4-6a2a-4bb5-8a4e-1e1ea5d4c2f3"

static char tmp[64];

static void put(const char *rel, const char *text)
{
	char path[512], dir[512], *p;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	snprintf(dir, sizeof(dir), "%s", path);
	for (p = dir + strlen(tmp) + 1; (p = strchr(p, '/')); p++) {
		*p = '\0';
		mkdir(dir, 0755);
		*p = '/';
	}
	if (!text) {
		mkdir(path, 0755);
		return;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

static uint64_t ino(const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", tmp, rel);
	assert_int_equal(stat(path, &st), 0);
	return st.st_ino;
}

static void rm_tree(const char *rel)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s/%s'", tmp, rel);
	assert_int_equal(system(cmd), 0);
}

static int setup_tree(void **state)
{
	(void)state;
	snprintf(tmp, sizeof(tmp), "/tmp/fogprobe-unit.XXXXXX");
	if (!mkdtemp(tmp))
		return -1;
	put("proc/stat", "cpu  3 0 3 30 0 0 0 0 0 0\ncpu0 1 0 1 10 0 0 0 0 0 0\n"
			 "cpu1 2 0 2 20 0 0 0 0 0 0\nprocs_running 4\nbtime 1700000000\n");
	put("proc/meminfo", "MemTotal: 1000 kB\nMemFree: 100 kB\nMemAvailable: 500 kB\n");
	put("proc/loadavg", "1.50 0.50 0.25 4/100 999\n");
	/* "/" twice (one series), /proc and /run excluded, /data not there (error) */
	put("proc/1/mountinfo",
	    "1 0 8:0 / / rw - ext4 /dev/vda rw\n"
	    "2 1 0:1 / /proc rw - proc proc rw\n"
	    "3 1 0:2 / /run/user rw - tmpfs tmpfs rw\n"
	    "4 1 8:16 / /data ro - xfs /dev/vdb rw\n"
	    "5 1 8:0 / / rw - ext4 /dev/vda rw\n");
	put("proc/1/net/dev", "Inter-| Receive | Transmit\n face |bytes packets|bytes\n"
			      "    lo: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n"
			      "  eth0: 100 2 0 0 0 0 0 0 300 4 0 0 0 0 0 0\n");
	put("proc/42", NULL);
	put("proc/self", NULL);
	put("root", NULL);
	/* cgroup v2: a docker container, a pod with a container, a service, a unit */
	put("cg2/docker/" HEX64 "/cpu.stat", "usage_usec 2500000\nuser_usec 1\n");
	put("cg2/docker/" HEX64 "/memory.current", "1000000\n");
	put("cg2/docker/" HEX64 "/memory.stat", "active_file 5\ninactive_file 250000\n");
	put("cg2/kubepods/burstable/pod" UID1 "/cpu.stat", "usage_usec 7000000\n");
	put("cg2/kubepods/burstable/pod" UID1 "/" HEX2 "/cpu.stat", "usage_usec 6000000\n");
	put("cg2/kubepods/burstable/pod" UID1 "/" HEX2 "/sub", NULL);
	put("cg2/svc/app/cpu.stat", "usage_usec 1\n");
	put("cg2/system.slice/foo.service/cpu.stat", "usage_usec 1\n");
	/* cgroup v1 memory for the pod's container (no memory.current in v2 there) */
	put("v1mem/kubepods/burstable/pod" UID1 "/" HEX2 "/memory.usage_in_bytes", "5000\n");
	put("v1mem/kubepods/burstable/pod" UID1 "/" HEX2 "/memory.stat",
	    "inactive_file 7\ntotal_inactive_file 1000\n");
	return 0;
}

static int teardown_tree(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	return system(cmd) ? -1 : 0;
}

static struct host_collector *collector(int max)
{
	static const char *const extra[] = { "/svc/app" };
	char procfs[128], rootfs[128], cg2[128], v1mem[128], err[128] = "";
	struct host_collector_opts o = {
		.procfs = procfs, .rootfs = rootfs, .cgroup2_root = cg2,
		.cgroup_v1_cpu = "", .cgroup_v1_mem = v1mem,
		.mounts_exclude = "^/(proc|run)($|/)", .fstypes_exclude = "^proc$",
		.netdev_exclude = "^lo$", .max_containers = max,
		.extra_cgroups = extra, .n_extra = 1,
	};
	struct host_collector *h = NULL;

	snprintf(procfs, sizeof(procfs), "%s/proc", tmp);
	snprintf(rootfs, sizeof(rootfs), "%s/root", tmp);
	snprintf(cg2, sizeof(cg2), "%s/cg2", tmp);
	snprintf(v1mem, sizeof(v1mem), "%s/v1mem", tmp);
	assert_int_equal(host__new(&o, &h, err, sizeof(err)), 0);
	return h;
}

static void read_fake_host(void **state)
{
	struct host_collector *h = collector(0);
	const struct host_snapshot *s;

	(void)state;
	assert_int_equal(host__read(h, &s), 0);
	assert_int_equal(s->n_cpus, 2);
	assert_int_equal(s->cpus[1].ticks[HOST_CPU_IDLE], 20);
	assert_int_equal(s->stat.procs_running, 4);
	assert_int_equal(s->mem.bytes[HOST_MEM_AVAILABLE], 500 * 1024);
	assert_true(s->have_load && s->load.load[0] == 1.5);
	assert_int_equal(s->processes, 2); /* "1" and "42"; not "self" */
	assert_int_equal(s->n_fs, 2);
	assert_string_equal(s->fs[0].m.mountpoint, "/");
	assert_int_equal(s->fs[0].err, 0);
	assert_true(s->fs[0].size > 0 && s->fs[0].avail <= s->fs[0].size);
	assert_string_equal(s->fs[1].m.mountpoint, "/data");
	assert_int_equal(s->fs[1].err, -ENOENT);
	assert_true(s->fs[1].m.ro);
	assert_int_equal(s->n_net, 1);
	assert_string_equal(s->net[0].name, "eth0");
	assert_int_equal(s->net[0].tx_bytes, 300);
	host__free(h);
}

static const struct container_stats *find(const struct container_snapshot *cs, const char *path)
{
	size_t i;

	for (i = 0; i < cs->n; i++)
		if (!strcmp(cs->c[i].path, path))
			return &cs->c[i];
	return NULL;
}

static void read_fake_containers(void **state)
{
	const char *pod = "/kubepods/burstable/pod" UID1, *ctr = "/kubepods/burstable/pod" UID1 "/" HEX2;
	struct host_collector *h = collector(10);
	const struct container_snapshot *cs;
	const struct container_stats *c;
	struct cgroup_net net[3] = {
		{ .cgid = ino("cg2/kubepods/burstable/pod" UID1), .bytes = { 10, 20 } },
		{ .cgid = ino("cg2/kubepods/burstable/pod" UID1 "/" HEX2), .bytes = { 100, 200 } },
		{ .cgid = ino("cg2/kubepods/burstable/pod" UID1 "/" HEX2 "/sub"), .bytes = { 1, 2 } },
	};

	(void)state;
	assert_int_equal(host__containers(h, CONTAINER_NET_CGROUPS, net, 3, &cs), 0);
	assert_true(cs->complete);
	assert_int_equal(cs->n, 4); /* docker, pod, pod's container, the service */
	assert_int_equal(cs->dropped, 0);
	assert_null(find(cs, "/system.slice/foo.service"));

	c = find(cs, "/docker/" HEX64);
	assert_non_null(c);
	assert_string_equal(c->ref.container_id, HEX64);
	assert_true(c->have_cpu && c->cpu_seconds == 2.5);
	assert_true(c->have_mem && !c->v1);
	assert_int_equal(c->mem_usage, 1000000);
	assert_int_equal(c->mem_working_set, 750000);
	assert_true(c->have_net && c->net_bytes[0] == 0);

	c = find(cs, ctr);
	assert_non_null(c);
	assert_string_equal(c->ref.pod_uid, UID1);
	assert_true(c->have_cpu && c->cpu_seconds == 6.0);
	assert_true(c->have_mem && c->v1); /* memory from v1 */
	assert_int_equal(c->mem_usage, 5000);
	assert_int_equal(c->mem_working_set, 4000);
	assert_int_equal(c->net_bytes[0], 101); /* its own and its child's */
	assert_int_equal(c->net_bytes[1], 202);

	c = find(cs, pod);
	assert_non_null(c);
	assert_string_equal(c->ref.container_id, "");
	assert_int_equal(c->net_bytes[0], 111);
	assert_int_equal(c->net_bytes[1], 222);
	assert_non_null(find(cs, "/svc/app"));
	assert_true(host__cgroup_alive(h, net[1].cgid));

	/* The container goes; its counters are still in the map at the next scrape: the
	 * pod keeps them, and keeps them after they are deleted. */
	rm_tree("cg2/kubepods/burstable/pod" UID1 "/" HEX2);
	rm_tree("v1mem/kubepods");
	assert_int_equal(host__containers(h, CONTAINER_NET_CGROUPS, net, 3, &cs), 0);
	assert_null(find(cs, ctr));
	assert_false(host__cgroup_alive(h, net[1].cgid));
	assert_false(host__cgroup_alive(h, net[2].cgid));
	c = find(cs, pod);
	assert_non_null(c);
	assert_int_equal(c->net_bytes[0], 111);
	assert_int_equal(c->net_bytes[1], 222);
	net[0].bytes[0] = 15; /* then the pod sends 5 more itself */
	assert_int_equal(host__containers(h, CONTAINER_NET_CGROUPS, net, 1, &cs), 0);
	c = find(cs, pod);
	assert_non_null(c);
	assert_int_equal(c->net_bytes[0], 116);
	assert_int_equal(c->net_bytes[1], 222);
	host__free(h);

	/* at most 2: the other container-like cgroups are counted, not kept */
	h = collector(2);
	assert_int_equal(host__containers(h, CONTAINER_NET_CGROUPS, NULL, 0, &cs), 0);
	assert_int_equal(cs->n, 2);
	assert_int_equal(cs->dropped, 1); /* docker, pod, service: 3 */
	host__free(h);
}

/* The pid namespaces a process is in, from its status. */
static void nspid_levels(void **state)
{
	(void)state;
	assert_int_equal(host_parse_nspid("Name:\tx\nPid:\t7\nNSpid:\t7\nNSpgid:\t7\n"), 1);
	assert_int_equal(host_parse_nspid("Pid:\t4242\nNSpid:\t4242\t12\t1\nNSsid:\t1\n"), 3);
	assert_int_equal(host_parse_nspid("Name:\tx\nPid:\t7\n"), 0); /* before 4.1 */
	assert_int_equal(host_parse_nspid("NSpid:\n"), 0);
	assert_true(host__host_pids()); /* the tests run on the host */
}

/* Network bytes from namespaces: a container's are those of one of its processes' (found
 * below it for a pod) less lo; none in the host's namespace or without a process. */
static void containers_netns(void **state)
{
	static const char dev_fmt[] = "Inter-| Receive | Transmit\n face |bytes packets|bytes\n"
				      "    lo: 7 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n"
				      "  eth0: %d 2 0 0 0 0 0 0 %d 4 0 0 0 0 0 0\n"
				      "  eth1: 10 1 0 0 0 0 0 0 30 1 0 0 0 0 0 0\n";
	const char *pod = "/kubepods/burstable/pod" UID1, *ctr = "/kubepods/burstable/pod" UID1 "/" HEX2;
	struct host_collector *h = collector(10);
	const struct container_snapshot *cs;
	const struct container_stats *c;
	char path[2][512], dev[512];

	(void)state;
	put("proc/1/ns/net", "host");
	put("proc/42/ns/net", "a namespace of its own");
	snprintf(dev, sizeof(dev), dev_fmt, 1000, 3000);
	put("proc/42/net/dev", dev);
	/* 43 is in the host's namespace (the same inode) */
	put("proc/43/net/dev", dev);
	put("proc/43/ns", NULL);
	snprintf(path[0], sizeof(path[0]), "%s/proc/1/ns/net", tmp);
	snprintf(path[1], sizeof(path[1]), "%s/proc/43/ns/net", tmp);
	assert_int_equal(link(path[0], path[1]), 0);
	/* the pod has no process of its own: one of its container's children has */
	put("cg2/kubepods/burstable/pod" UID1 "/cgroup.procs", "");
	put("cg2/kubepods/burstable/pod" UID1 "/" HEX2 "/cgroup.procs", "");
	put("cg2/kubepods/burstable/pod" UID1 "/" HEX2 "/sub/cgroup.procs", "42\n");
	put("cg2/svc/app/cgroup.procs", "43\n");
	put("cg2/docker/" HEX64 "/cgroup.procs", "99\n"); /* gone: no /proc/99 */

	assert_int_equal(host__containers(h, CONTAINER_NET_NETNS, NULL, 0, &cs), 0);
	c = find(cs, ctr);
	assert_non_null(c);
	assert_true(c->have_net);
	assert_int_equal(c->net_bytes[0], 3030);
	assert_int_equal(c->net_bytes[1], 1010);
	c = find(cs, pod);
	assert_non_null(c);
	assert_true(c->have_net && c->net_bytes[0] == 3030 && c->net_bytes[1] == 1010);
	c = find(cs, "/svc/app");
	assert_non_null(c);
	assert_false(c->have_net);
	c = find(cs, "/docker/" HEX64);
	assert_non_null(c);
	assert_true(c->have_cpu && !c->have_net);

	/* read again at each scrape */
	snprintf(dev, sizeof(dev), dev_fmt, 2000, 5000);
	put("proc/42/net/dev", dev);
	assert_int_equal(host__containers(h, CONTAINER_NET_NETNS, NULL, 0, &cs), 0);
	c = find(cs, pod);
	assert_non_null(c);
	assert_int_equal(c->net_bytes[0], 5030);
	assert_int_equal(c->net_bytes[1], 2010);

	/* pid 1 not ours to look at: the host's namespace is our own */
	snprintf(path[1], sizeof(path[1]), "%s/proc/self/ns", tmp);
	assert_int_equal(mkdir(path[1], 0755), 0);
	snprintf(path[1], sizeof(path[1]), "%s/proc/self/ns/net", tmp);
	assert_int_equal(rename(path[0], path[1]), 0);
	assert_int_equal(host__containers(h, CONTAINER_NET_NETNS, NULL, 0, &cs), 0);
	c = find(cs, ctr);
	assert_non_null(c);
	assert_true(c->have_net && c->net_bytes[0] == 5030);
	c = find(cs, "/svc/app");
	assert_non_null(c);
	assert_false(c->have_net);
	host__free(h);
}

int main(void)
{
	static const struct CMUnitTest tests[] = {
		cmocka_unit_test(stat_cpus_and_counters),
		cmocka_unit_test(meminfo_kib_to_bytes),
		cmocka_unit_test(loadavg),
		cmocka_unit_test(mountinfo_fields_escapes_optional),
		cmocka_unit_test(netdev),
		cmocka_unit_test(keyed),
		cmocka_unit_test(cgroup_refs),
		cmocka_unit_test_setup_teardown(read_fake_host, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(read_fake_containers, setup_tree, teardown_tree),
		cmocka_unit_test_setup_teardown(containers_netns, setup_tree, teardown_tree),
		cmocka_unit_test(nspid_levels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
