/* SPDX-License-Identifier: GPL-2.0-only */
/* Logging: text or JSON lines on stderr; libbpf's output routed one level down. */
#ifndef FOGPROBE_LIB_LOG_H
#define FOGPROBE_LIB_LOG_H

enum log_level { LOG_WARN = 0, LOG_INFO = 1, LOG_DEBUG = 2 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

void log__setup(enum log_level level, enum log_format format);
enum log_level log__level(void);
void log__print(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...) log__print(LOG_WARN, __VA_ARGS__)
#define pr_info(...) log__print(LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__print(LOG_DEBUG, __VA_ARGS__)

#endif
