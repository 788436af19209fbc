// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include "log.h"
#include "opts.h"

int ft_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	unsigned long v;
	char *end;

	/* strtoul skips blanks and accepts a sign: only digits may start. */
	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || (max && v > max))
		return -EINVAL;
	*out = v;
	return 0;
}

int ft_parse_duration(const char *s, double *out)
{
	static const struct {
		const char *suffix;
		double mult;
	} units[] = {{"", 1}, {"s", 1}, {"ms", 1e-3}, {"m", 60}, {"h", 3600}};
	char *end;
	double v;
	size_t i;

	if (!s || !(isdigit((unsigned char)*s) || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v) || v < 0)
		return -EINVAL;
	for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (!strcmp(end, units[i].suffix)) {
			/* "1e308h" is finite in hours but not in seconds. */
			if (!isfinite(v * units[i].mult))
				return -EINVAL;
			*out = v * units[i].mult;
			return 0;
		}
	}
	return -EINVAL;
}

int ft_parse_size(const char *s, unsigned long *out)
{
	unsigned long v, mult = 1;
	char *end;

	if (!s || !isdigit((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		mult = 1UL << 10;
		break;
	case 'm':
	case 'M':
		mult = 1UL << 20;
		break;
	case 'g':
	case 'G':
		mult = 1UL << 30;
		break;
	case 0:
		break;
	default:
		return -EINVAL;
	}
	if (*end && end[1] && strcmp(end + 1, "B") && strcmp(end + 1, "iB"))
		return -EINVAL;
	if (v > ~0UL / mult)
		return -EINVAL;
	*out = v * mult;
	return 0;
}

int ft_parse_addrport(const char *s, struct ft_addrport *out)
{
	char host[64];
	const char *colon, *h = s;
	unsigned long port;
	size_t hl;

	memset(out, 0, sizeof(*out));
	if (!s || strlen(s) >= sizeof(out->text))
		return -EINVAL;
	colon = strrchr(s, ':');
	if (!colon || ft_parse_uint(colon + 1, 65535, &port))
		return -EINVAL;
	hl = colon - s;
	if (hl >= 2 && s[0] == '[' && s[hl - 1] == ']') {
		h = s + 1;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return -EINVAL;
	memcpy(host, h, hl);
	host[hl] = 0;
	if (!hl)
		strcpy(host, "127.0.0.1"); /* ":PORT" stays on loopback */
	struct sockaddr_in *sin = (struct sockaddr_in *)&out->ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&out->ss;

	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		out->len = sizeof(*sin6);
	} else {
		return -EINVAL;
	}
	snprintf(out->text, sizeof(out->text), "%s", s);
	return 0;
}

unsigned int ft_addrport_port(const struct ft_addrport *a)
{
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)&a->ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)&a->ss)->sin_port);
}

int ft_parse_iface(const char *s, struct ft_iface *out)
{
	if (!s || strlen(s) >= IF_NAMESIZE)
		return -EINVAL;
	out->ifindex = if_nametoindex(s);
	if (!out->ifindex)
		return -ENODEV;
	snprintf(out->name, sizeof(out->name), "%s", s);
	return 0;
}

/* "100ms", "5s", "2m", "1h": a bound for a message. */
static void ft_fmt_ms(unsigned long ms, char *buf, size_t len)
{
	if (ms && !(ms % 3600000))
		snprintf(buf, len, "%luh", ms / 3600000);
	else if (ms && !(ms % 60000))
		snprintf(buf, len, "%lum", ms / 60000);
	else if (!(ms % 1000))
		snprintf(buf, len, "%lus", ms / 1000);
	else
		snprintf(buf, len, "%lums", ms);
}

/* " (MIN..MAX)" for an option with bounds, "" otherwise. */
static void ft_opt_range(const struct ft_opt *o, char *buf, size_t len)
{
	char lo[32], hi[32];

	buf[0] = 0;
	switch (o->type) {
	case FT_OPT_UINT:
	case FT_OPT_SIZE:
		if (!o->min && !o->max)
			return;
		snprintf(lo, sizeof(lo), "%lu", o->min);
		snprintf(hi, sizeof(hi), "%lu", o->max);
		snprintf(buf, len, " (%s..%s)", lo, o->max ? hi : "");
		return;
	case FT_OPT_DURATION:
		if (!o->min && !o->max)
			return;
		ft_fmt_ms(o->min, lo, sizeof(lo));
		ft_fmt_ms(o->max, hi, sizeof(hi));
		snprintf(buf, len, " (%s..%s)", lo, o->max ? hi : "");
		return;
	default:
		return;
	}
}

static int ft_opt_store(const struct ft_cmd *cmd, const struct ft_opt *o, const char *arg,
			void *cfg)
{
	char esc[256], range[80];
	char *field = (char *)cfg + o->off;
	unsigned long u;
	double d;
	size_t i;
	int err;

	switch (o->type) {
	case FT_OPT_FLAG:
		*(bool *)field = true;
		return 0;
	case FT_OPT_STRING:
		*(const char **)field = arg;
		return 0;
	case FT_OPT_UINT:
		if (ft_parse_uint(arg, o->max, &u) || u < o->min)
			goto bad;
		*(unsigned long *)field = u;
		return 0;
	case FT_OPT_SIZE:
		if (ft_parse_size(arg, &u) || (o->max && u > o->max) || u < o->min)
			goto bad;
		*(unsigned long *)field = u;
		return 0;
	case FT_OPT_DURATION:
		/* The tolerance keeps "100ms" at a bound of 100 ms. */
		if (ft_parse_duration(arg, &d) || d * 1e3 < o->min - 1e-6 ||
		    (o->max && d * 1e3 > o->max + 1e-6))
			goto bad;
		*(double *)field = d;
		return 0;
	case FT_OPT_ADDRPORT:
		if (ft_parse_addrport(arg, (struct ft_addrport *)field))
			goto bad;
		return 0;
	case FT_OPT_CHOICE:
		for (i = 0; o->choices[i]; i++) {
			if (!strcmp(o->choices[i], arg)) {
				*(int *)field = i;
				return 0;
			}
		}
		goto bad;
	case FT_OPT_IFACE: {
		struct ft_iface_list *l = (struct ft_iface_list *)field;

		if (l->n >= FT_MAX_IFACE_ARGS) {
			pr_err("%s: at most %d interfaces\n", cmd->name, FT_MAX_IFACE_ARGS);
			return -E2BIG;
		}
		err = ft_parse_iface(arg, &l->v[l->n]);
		if (err == -ENODEV) {
			pr_err("%s: no such interface '%s'\n", cmd->name,
			       ft_printable(arg, esc, sizeof(esc)));
			return err;
		}
		if (err)
			goto bad;
		l->n++;
		return 0;
	}
	}
bad:
	ft_opt_range(o, range, sizeof(range));
	pr_err("%s: invalid value '%s' for --%s%s\n", cmd->name,
	       ft_printable(arg, esc, sizeof(esc)), o->name, range);
	return -EINVAL;
}

void ft_cmd_usage(const struct ft_cmd *cmd, FILE *f)
{
	const struct ft_opt *o;

	fprintf(f, "usage: flowtap %s [options]%s%s\n  %s\n", cmd->name, cmd->args ? " " : "",
		cmd->args ? cmd->args : "", cmd->summary);
	for (o = cmd->opts; o && o->name; o++) {
		char lhs[64];

		snprintf(lhs, sizeof(lhs), "%s%c%s--%s%s%s", o->short_name ? "-" : "",
			 o->short_name ? o->short_name : ' ', o->short_name ? ", " : "  ", o->name,
			 o->metavar ? " " : "", o->metavar ? o->metavar : "");
		fprintf(f, "  %-30s %s\n", lhs + (o->short_name ? 0 : 1), o->help);
	}
	fprintf(f, "  %-30s %s\n  %-30s %s\n", "-v, --verbose", "more messages (twice: debug)",
		"-h, --help", "this help");
}

int ft_cmd_exec(const struct ft_cmd *cmd, int argc, char **argv)
{
	struct option lopts[64];
	char sopts[128] = "vh";
	const struct ft_opt *o;
	size_t n = 0, sl = 2;
	void *cfg;
	int c, idx, ret, verbose = 0;

	cfg = calloc(1, cmd->cfg_size ? cmd->cfg_size : 1);
	if (!cfg)
		return 1;
	for (o = cmd->opts; o && o->name && n < 60; o++, n++) {
		bool has_arg = o->type != FT_OPT_FLAG;

		lopts[n] = (struct option){o->name, has_arg ? required_argument : no_argument, NULL,
					   0x100 + (int)n};
		if (o->short_name && sl + 3 < sizeof(sopts)) {
			sopts[sl++] = o->short_name;
			if (has_arg)
				sopts[sl++] = ':';
		}
	}
	lopts[n++] = (struct option){"verbose", no_argument, NULL, 'v'};
	lopts[n++] = (struct option){"help", no_argument, NULL, 'h'};
	lopts[n] = (struct option){0};
	sopts[sl] = 0;

	/* 0, not 1: glibc then also forgets a half-parsed "-abc" of an earlier call. */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, sopts, lopts, &idx)) != -1) {
		const struct ft_opt *hit = NULL;

		if (c == 'v') {
			verbose++;
			continue;
		}
		if (c == 'h') {
			ft_cmd_usage(cmd, stdout);
			ret = 0;
			goto out;
		}
		if (c >= 0x100)
			hit = &cmd->opts[c - 0x100];
		for (o = cmd->opts; !hit && o && o->name; o++)
			if (o->short_name == c)
				hit = o;
		if (!hit) {
			if (c == '?' && optopt)
				pr_err("%s: unknown or incomplete option '-%c' (see --help)\n",
				       cmd->name, optopt);
			else
				pr_err("%s: unknown or incomplete option '%s' (see --help)\n",
				       cmd->name, argv[optind - 1]);
			ret = 2;
			goto out;
		}
		if (ft_opt_store(cmd, hit, optarg, cfg)) {
			ret = 2;
			goto out;
		}
	}
	/* Relative to the default, so parsing the same argv twice (fuzzers,
	 * tests) ends in the same state. */
	ft_log_level = verbose >= 2 ? FT_LOG_DEBUG : verbose ? FT_LOG_INFO : FT_LOG_WARN;
	argc -= optind;
	argv += optind;
	if (argc < cmd->min_args || (cmd->max_args >= 0 && argc > cmd->max_args)) {
		pr_err("%s: expected %s (see --help)\n", cmd->name,
		       cmd->args ? cmd->args : "no arguments");
		ret = 2;
		goto out;
	}
	ret = cmd->run(cfg, argc, argv);
out:
	free(cfg);
	return ret;
}

const char *ft_printable(const char *s, char *buf, unsigned long len)
{
	unsigned long o = 0;

	for (; s && *s && o + 5 < len; s++) {
		unsigned char c = *s;

		if (c >= 0x20 && c < 0x7f && c != '\\')
			buf[o++] = c;
		else
			o += snprintf(buf + o, len - o, "\\x%02x", c);
	}
	buf[o < len ? o : len - 1] = 0;
	return buf;
}
