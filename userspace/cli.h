/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
#ifndef FT_CLI_H
#define FT_CLI_H

#include <signal.h>
#include <net/if.h>
#include <stdbool.h>
#include "opts.h"

/* Subcommands, each in its own file; listed once in cli.c. */
extern const struct ft_cmd ft_cmd_attach, ft_cmd_detach, ft_cmd_status, ft_cmd_stats, ft_cmd_flows,
    ft_cmd_containers, ft_cmd_http, ft_cmd_metrics, ft_cmd_top;

int ft_main(int argc, char **argv);

/* The pin root: FLOWTAP_PIN_ROOT (tests use a private one) or FT_PIN_ROOT. */
const char *ft_pin_root(void);
/* Human name of an ifindex ("if7" when it is gone). */
const char *ft_ifname(int ifindex, char *buf);

/* Set by SIGINT/SIGTERM once ft_signals_init() ran; loops poll it. */
extern volatile sig_atomic_t ft_stop;
void ft_signals_init(void);

/* Checks the capabilities a command needs before it touches anything, so
 * an unprivileged user gets one clear line. */
int ft_require_caps(const char *cmd, bool net_admin);

/* Prints the one error line for a failed BPF/system call. */
int ft_fail(const char *cmd, const char *what, int err);

#endif
