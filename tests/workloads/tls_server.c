// SPDX-License-Identifier: GPL-2.0-only
/*
 * A TLS server for tests/integration/test_tls.sh, built there with OpenSSL linked in
 * statically (the executable carries SSL_read & co. itself, no libssl is mapped). It
 * answers each request of a connection (bytes up to an empty line) with a fixed HTTP
 * 200 response through SSL_read_ex/SSL_write_ex, or SSL_read/SSL_write with --plain-api,
 * and prints the plaintext bytes it read and wrote: the test's ground truth.
 *
 * usage: tls_server PORT CERT KEY CONNECTIONS [--plain-api]
 */
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static const char response[] =
	"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Type: text/plain\r\n\r\nok\n";

static bool plain_api;

static int tls_read(SSL *ssl, char *buf, size_t len)
{
	size_t n = 0;

	if (plain_api)
		return SSL_read(ssl, buf, len);
	return SSL_read_ex(ssl, buf, len, &n) == 1 ? (int)n : -1;
}

static int tls_write(SSL *ssl, const char *buf, size_t len)
{
	size_t n = 0;

	if (plain_api)
		return SSL_write(ssl, buf, len);
	return SSL_write_ex(ssl, buf, len, &n) == 1 ? (int)n : -1;
}

/* One connection: requests end with an empty line; returns 0 when the peer is done. */
static int serve(SSL *ssl, unsigned long long *rd, unsigned long long *wr)
{
	char buf[16384];
	size_t have = 0;
	int n;

	if (SSL_accept(ssl) != 1)
		return -1;
	while ((n = tls_read(ssl, buf + have, sizeof(buf) - 1 - have)) > 0) {
		*rd += n;
		have += n;
		buf[have] = 0;
		if (!strstr(buf, "\r\n\r\n")) {
			if (have >= sizeof(buf) - 1)
				return -1;
			continue;
		}
		have = 0;
		n = tls_write(ssl, response, sizeof(response) - 1);
		if (n <= 0)
			return -1;
		*wr += n;
	}
	SSL_shutdown(ssl);
	return 0;
}

int main(int argc, char **argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	unsigned long long rd = 0, wr = 0;
	int s, one = 1, i, conns;
	SSL_CTX *ctx;

	if (argc < 5) {
		fprintf(stderr, "usage: %s PORT CERT KEY CONNECTIONS [--plain-api]\n", argv[0]);
		return 2;
	}
	plain_api = argc > 5 && !strcmp(argv[5], "--plain-api");
	conns = atoi(argv[4]);
	ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx || SSL_CTX_use_certificate_file(ctx, argv[2], SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, argv[3], SSL_FILETYPE_PEM) != 1) {
		ERR_print_errors_fp(stderr);
		return 1;
	}
	a.sin_port = htons(atoi(argv[1]));
	s = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (s < 0 || bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 64)) {
		perror("listen");
		return 1;
	}
	fprintf(stderr, "listening\n");
	for (i = 0; i < conns; i++) {
		int c = accept(s, NULL, NULL);
		SSL *ssl;

		if (c < 0) {
			perror("accept");
			return 1;
		}
		ssl = SSL_new(ctx);
		SSL_set_fd(ssl, c);
		if (serve(ssl, &rd, &wr))
			ERR_print_errors_fp(stderr);
		SSL_free(ssl);
		close(c);
	}
	printf("read %llu written %llu\n", rd, wr);
	SSL_CTX_free(ctx);
	close(s);
	return 0;
}
