/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef FT_LOG_H
#define FT_LOG_H

enum ft_log_level {
	FT_LOG_ERROR,
	FT_LOG_WARN,
	FT_LOG_INFO,
	FT_LOG_DEBUG,
};

/* Messages at or below this level are printed (stderr). -v raises it. */
extern enum ft_log_level ft_log_level;

void ft_log(enum ft_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Routes libbpf's and libxdp's messages through ft_log, one level lower. */
void ft_log_setup_libs(void);

#define pr_err(...)   ft_log(FT_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...)  ft_log(FT_LOG_WARN, __VA_ARGS__)
#define pr_info(...)  ft_log(FT_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) ft_log(FT_LOG_DEBUG, __VA_ARGS__)

#endif
