// SPDX-License-Identifier: GPL-2.0-only
#include "model/conn.h"
#include "model/tcp_stats.h"

const uint64_t tcp_lat_bounds_us[TCP_LAT_BOUNDS] = {
	25,	50,	100,	 250,	  500,	   1000,    2500,    5000,    10000,
	25000,	50000,	100000, 250000, 500000, 1000000, 2500000, 5000000,
};

const char *const conn_event_names[CONN_EVENT_TYPES] = {
	"?", "open", "close", "connect_fail", "listen", "unlisten", "reset",
};
