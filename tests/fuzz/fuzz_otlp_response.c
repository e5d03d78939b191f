// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer target: otlp__rejected, the reader of a collector's ExportTraceServiceResponse,
 * on any bytes, as protobuf and as JSON. Checked besides memory errors: the result is -1
 * or a count >= 0, and the same bytes give the same answer twice.
 */
#include <stdint.h>
#include <stdlib.h>

#include "export/otlp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int64_t a = otlp__rejected(data, size, OTLP_HTTP_PROTOBUF);
	int64_t b = otlp__rejected(data, size, OTLP_HTTP_JSON);

	if (a < -1 || b < -1)
		abort();
	if (a != otlp__rejected(data, size, OTLP_HTTP_PROTOBUF))
		abort();
	return 0;
}
