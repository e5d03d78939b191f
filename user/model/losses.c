// SPDX-License-Identifier: GPL-2.0-only
#include "model/losses.h"

const char *const loss_reason_names[LOSS_REASONS] = {
	[LOSS_RINGBUF_FULL] = "ringbuf_full",
	[LOSS_LISTENER_MAP_FULL] = "listener_map_full",
	[LOSS_FLOW_MAP_UPDATE] = "flow_map_update",
	[LOSS_TUPLE_MAP_UPDATE] = "tuple_map_update",
	[LOSS_FLOW_EVICTED] = "flow_evicted",
	[LOSS_FLOW_UNCLOSED] = "flow_unclosed",
	[LOSS_CGROUP_MAP_FULL] = "cgroup_map_full",
	[LOSS_OLDER_SOCKET_MAP_FULL] = "older_socket_map_full",
	[LOSS_L7_RINGBUF_FULL] = "l7_ringbuf_full",
	[LOSS_L7_STREAM_TABLE_FULL] = "l7_stream_table_full",
	[LOSS_L7_MALFORMED] = "l7_malformed",
	[LOSS_L7_DESYNC] = "l7_desync",
	[LOSS_PROC_RINGBUF_FULL] = "proc_ringbuf_full",
	[LOSS_PROC_TASK_MAP_FULL] = "proc_task_map_full",
	[LOSS_RUNQUEUE_START_MAP_FULL] = "runqueue_start_map_full",
	[LOSS_RUNQUEUE_WAITS_MERGED] = "runqueue_waits_merged",
	[LOSS_PROC_MALFORMED] = "proc_malformed",
	[LOSS_TLS_UNKNOWN_SOCKET] = "tls_unknown_socket",
	[LOSS_TLS_SESSION_JOINED] = "tls_session_joined",
	[LOSS_TLS_RINGBUF_FULL] = "tls_ringbuf_full",
	[LOSS_BPF_RECURSION] = "bpf_recursion",
	[LOSS_WS_INFLATE_EVICTED] = "ws_inflate_evicted",
	[LOSS_WS_INFLATE_TOO_BIG] = "ws_inflate_too_big",
};
