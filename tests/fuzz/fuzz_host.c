// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: the host file parsers (stat, meminfo, loadavg, mountinfo, net/dev,
 * cgroup key-value files) and the cgroup path parser on arbitrary text. Besides memory
 * errors it checks what callers rely on: counts within the caller's bounds, strings
 * terminated within their arrays, ids and uids in their exact formats.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collect/host.h"

static void check_terminated(const char *s, size_t size)
{
	if (!memchr(s, '\0', size))
		abort();
}

static void check_ref(const struct cgroup_ref *r)
{
	size_t i, n = strlen(r->container_id);

	if (n && n != 64)
		abort();
	for (i = 0; i < n; i++)
		if (!isxdigit((unsigned char)r->container_id[i]) ||
		    isupper((unsigned char)r->container_id[i]))
			abort();
	n = strlen(r->pod_uid);
	if (n && (n != 36 || r->pod_uid[8] != '-' || r->pod_uid[13] != '-' ||
		  r->pod_uid[18] != '-' || r->pod_uid[23] != '-'))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct host_cpu cpus[8];
	static struct host_mount mounts[8];
	static struct host_netdev devs[8];
	struct host_meminfo mem;
	struct host_loadavg load;
	struct host_stat st;
	struct cgroup_ref ref;
	size_t n, bad, i;
	uint64_t v;
	char *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';

	if (!host_parse_stat(text, cpus, 8, &n, &st) && n > 8)
		abort();
	host_parse_meminfo(text, &mem);
	if (!host_parse_loadavg(text, &load) &&
	    (load.load[0] < 0 || load.load[1] < 0 || load.load[2] < 0))
		abort();
	host_parse_mountinfo(text, mounts, 8, &n, &bad);
	if (n > 8)
		abort();
	for (i = 0; i < n; i++) {
		check_terminated(mounts[i].device, sizeof(mounts[i].device));
		check_terminated(mounts[i].fstype, sizeof(mounts[i].fstype));
		check_terminated(mounts[i].mountpoint, sizeof(mounts[i].mountpoint));
		if (mounts[i].mountpoint[0] != '/')
			abort();
	}
	if (!host_parse_netdev(text, devs, 8, &n)) {
		if (n > 8)
			abort();
		for (i = 0; i < n; i++)
			if (!devs[i].name[0])
				abort();
	}
	host_parse_keyed(text, "usage_usec", &v);
	host_cgroup_ref(text, &ref);
	check_ref(&ref);
	free(text);
	return 0;
}
