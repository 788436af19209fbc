/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * One table of subcommands and typed options, parsed in one place. Each
 * command describes its options with offsets into its own config struct;
 * the parser validates values (interfaces exist, numbers in range,
 * addresses parse) so commands receive only good input.
 */
#ifndef FT_OPTS_H
#define FT_OPTS_H

#include <stdbool.h>
#include <stdio.h>
#include <stddef.h>
#include <net/if.h>
#include <sys/socket.h>

#define FT_MAX_IFACE_ARGS 64

enum ft_opt_type {
	FT_OPT_FLAG,	 /* bool */
	FT_OPT_UINT,	 /* unsigned long, 0..max */
	FT_OPT_STRING,	 /* const char * */
	FT_OPT_IFACE,	 /* struct ft_iface_list (repeatable) */
	FT_OPT_CHOICE,	 /* int: index into choices */
	FT_OPT_DURATION, /* double seconds: "10", "1.5s", "500ms", "2m", "1h" */
	FT_OPT_SIZE,	 /* unsigned long bytes: "64k", "1M", "1G" (binary) */
	FT_OPT_ADDRPORT, /* struct ft_addrport: "127.0.0.1:9477", "[::1]:9477", ":9477" */
};

struct ft_iface {
	int ifindex;
	char name[IF_NAMESIZE];
};

struct ft_iface_list {
	size_t n;
	struct ft_iface v[FT_MAX_IFACE_ARGS];
};

struct ft_addrport {
	struct sockaddr_storage ss;
	socklen_t len;
	char text[80];
};

struct ft_opt {
	const char *name; /* long name without "--" */
	int short_name;	  /* 0: none */
	enum ft_opt_type type;
	size_t off;
	const char *metavar;
	const char *help;
	const char *const *choices; /* FT_OPT_CHOICE, NULL-terminated */
	unsigned long max;	    /* FT_OPT_UINT / FT_OPT_SIZE: 0 means no bound */
	/* FT_OPT_UINT / FT_OPT_SIZE: the smallest value. FT_OPT_DURATION: min
	 * and max in milliseconds (max 0: no bound). A value out of range is
	 * refused by the parser, so a command never mistakes an explicit 0
	 * for "not given". */
	unsigned long min;
};

struct ft_cmd {
	const char *name;
	const char *args;    /* positional arguments, for usage */
	const char *summary; /* one line */
	const struct ft_opt *opts;
	size_t cfg_size;
	int min_args, max_args; /* positional; max -1: unbounded */
	/* argv holds the positional arguments only. Returns the exit code. */
	int (*run)(void *cfg, int argc, char **argv);
};

/* A command that parses its own argv (argv[0] is its name). */
typedef int (*ft_raw_cmd_fn)(int argc, char **argv);

#define FT_OPT_END                                                                                 \
	{                                                                                          \
		0                                                                                  \
	}

/* Parses argv (argv[0] is the command name) into a zeroed cfg and runs the
 * command. Usage errors print one line and return 2. */
int ft_cmd_exec(const struct ft_cmd *cmd, int argc, char **argv);
void ft_cmd_usage(const struct ft_cmd *cmd, FILE *f);

/* s with control and non-ASCII bytes escaped (\xNN) and cut to fit buf, for
 * quoting user input in a message that must stay one line. */
const char *ft_printable(const char *s, char *buf, unsigned long len);

/* Typed value parsers, also for config files. 0 or -EINVAL. */
int ft_parse_uint(const char *s, unsigned long max, unsigned long *out);
int ft_parse_duration(const char *s, double *out);
int ft_parse_size(const char *s, unsigned long *out);
int ft_parse_addrport(const char *s, struct ft_addrport *out);
int ft_parse_iface(const char *s, struct ft_iface *out);
/* The port of a parsed address, host order. */
unsigned int ft_addrport_port(const struct ft_addrport *a);

#endif
