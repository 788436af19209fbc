// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <stdarg.h>
#include <stdio.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>
#include "log.h"

enum ft_log_level ft_log_level = FT_LOG_WARN;

static void ft_vlog(enum ft_log_level level, const char *fmt, va_list ap)
{
	if (level > ft_log_level)
		return;
	fputs("flowtap: ", stderr);
	vfprintf(stderr, fmt, ap);
}

void ft_log(enum ft_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	ft_vlog(level, fmt, ap);
	va_end(ap);
}

/* The libraries' warnings are often expected (probing features); show
 * them only with -v, their debug output only with -vv. */
static int ft_libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	enum ft_log_level l = level == LIBBPF_WARN ? FT_LOG_INFO : FT_LOG_DEBUG;

	if (l > ft_log_level)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int ft_libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	enum ft_log_level l = level == LIBXDP_WARN ? FT_LOG_INFO : FT_LOG_DEBUG;

	if (l > ft_log_level)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void ft_log_setup_libs(void)
{
	libbpf_set_print(ft_libbpf_print);
	libxdp_set_print(ft_libxdp_print);
}
