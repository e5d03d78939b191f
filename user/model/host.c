// SPDX-License-Identifier: GPL-2.0-only
#include "model/host.h"

const char *const host_cpu_mode_names[HOST_CPU_MODES] = {
	"user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};

const char *const host_mem_names[HOST_MEM_FIELDS] = {
	"MemTotal", "MemFree", "MemAvailable", "Buffers", "Cached", "SwapTotal", "SwapFree",
};
