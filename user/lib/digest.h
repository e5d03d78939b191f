/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * SHA-256 (FIPS 180-4) and a constant-time comparison, for the endpoint's credentials:
 * a secret is kept only as its digest, and a presented one is hashed and compared in time
 * that depends on neither its length nor where it differs.
 */
#ifndef FOGPROBE_LIB_DIGEST_H
#define FOGPROBE_LIB_DIGEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SHA256_LEN 32

void sha256(const void *data, size_t len, uint8_t out[SHA256_LEN]);
/* a == b over n bytes, reading every byte whatever the first difference */
bool digest__equal(const uint8_t *a, const uint8_t *b, size_t n);
/* 64 hex digits (either case) -> out; 0 or -EINVAL */
int digest__from_hex(const char *hex, uint8_t out[SHA256_LEN]);

#endif
