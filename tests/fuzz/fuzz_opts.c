// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The option table parser (userspace/opts.c): the typed value parsers on
 * one string, then ft_cmd_exec on an argv made of the input's
 * NUL-separated pieces, against a command that has an option of every
 * type. The command's run() checks that only valid values got through.
 *
 * Input: byte 0 bit 0 = parse the argv a second time in the same process
 * (ft_cmd_exec must not carry state from one call to the next), the rest:
 * NUL-separated arguments; the first is also fed to every value parser.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <netinet/in.h>
#include "fuzz.h"
#include "log.h"
#include "opts.h"

#define MAX_ARGS   40
#define UINT_MAX_T 1000
#define SIZE_MAX_T (64UL << 20)

/* opts.c logs through ft_log: format every message (so ASan and UBSan
 * see the arguments), print none. */
enum ft_log_level ft_log_level = FT_LOG_WARN;

void ft_log(enum ft_log_level level, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	(void)level;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
}

struct t_cfg {
	bool flag;
	unsigned long u, unbounded, size;
	const char *str;
	struct ft_iface_list ifaces;
	int choice;
	double dur;
	struct ft_addrport addr;
};

static const char *const choices[] = {"one", "two", "three", NULL};

static const struct ft_opt t_opts[] = {
    {"flag", 'f', FT_OPT_FLAG, offsetof(struct t_cfg, flag), NULL, "a flag"},
    {"uint", 'u', FT_OPT_UINT, offsetof(struct t_cfg, u), "N", "bounded", NULL, UINT_MAX_T},
    {"count", 'c', FT_OPT_UINT, offsetof(struct t_cfg, unbounded), "N", "unbounded"},
    {"size", 's', FT_OPT_SIZE, offsetof(struct t_cfg, size), "SIZE", "size", NULL, SIZE_MAX_T},
    {"string", 'S', FT_OPT_STRING, offsetof(struct t_cfg, str), "STR", "string"},
    {"interface", 'i', FT_OPT_IFACE, offsetof(struct t_cfg, ifaces), "IFACE", "iface"},
    {"choice", 'C', FT_OPT_CHOICE, offsetof(struct t_cfg, choice), "WORD", "choice", choices},
    {"interval", 'd', FT_OPT_DURATION, offsetof(struct t_cfg, dur), "TIME", "duration"},
    {"listen", 'l', FT_OPT_ADDRPORT, offsetof(struct t_cfg, addr), "ADDR:PORT", "address"},
    FT_OPT_END,
};

static const char *t_buf; /* the arguments, NUL-separated */
static size_t t_len;

/* What one parse produced, to compare two parses of the same argv. */
struct t_result {
	int ret;
	int log_level;
	int ran;
	struct t_cfg cfg; /* .str as an offset into t_buf */
};
static struct t_result t_res;

static void check_addrport(const struct ft_addrport *a)
{
	const struct sockaddr_in *sin = (const void *)&a->ss;

	FUZZ_CHECK((a->ss.ss_family == AF_INET && a->len == sizeof(struct sockaddr_in)) ||
		       (a->ss.ss_family == AF_INET6 && a->len == sizeof(struct sockaddr_in6)),
		   "family %u len %u", a->ss.ss_family, a->len);
	FUZZ_CHECK(memchr(a->text, 0, sizeof(a->text)), "text not terminated");
	/* sin_port and sin6_port share their offset. */
	FUZZ_CHECK(ntohs(sin->sin_port) == strtoul(strrchr(a->text, ':') + 1, NULL, 0),
		   "port %u from '%s'", ntohs(sin->sin_port), a->text);
}

static int t_run(void *p, int argc, char **argv)
{
	struct t_cfg *c = p;
	size_t i;

	FUZZ_CHECK(argc >= 0 && argc <= 2, "argc %d", argc);
	for (i = 0; i < (size_t)argc; i++)
		FUZZ_CHECK(argv[i], "positional %zu is NULL", i);
	FUZZ_CHECK(c->u <= UINT_MAX_T, "--uint %lu", c->u);
	FUZZ_CHECK(c->size <= SIZE_MAX_T, "--size %lu", c->size);
	FUZZ_CHECK(c->choice >= 0 && c->choice < 3, "--choice %d", c->choice);
	FUZZ_CHECK(isfinite(c->dur) && c->dur >= 0, "--interval %g", c->dur);
	FUZZ_CHECK(c->ifaces.n <= FT_MAX_IFACE_ARGS, "%zu interfaces", c->ifaces.n);
	for (i = 0; i < c->ifaces.n; i++)
		FUZZ_CHECK(c->ifaces.v[i].ifindex > 0 &&
			       memchr(c->ifaces.v[i].name, 0, IF_NAMESIZE),
			   "interface %zu", i);
	if (c->str)
		FUZZ_CHECK(c->str >= t_buf && c->str <= t_buf + t_len,
			   "--string does not point into argv");
	if (c->addr.len)
		check_addrport(&c->addr);
	t_res.ran = 1;
	t_res.cfg = *c;
	t_res.cfg.str = (const char *)(c->str ? c->str - t_buf + 1 : 0);
	return 0;
}

static const struct ft_cmd t_cmd = {
    .name = "fuzz",
    .args = "[A [B]]",
    .summary = "every option type",
    .opts = t_opts,
    .cfg_size = sizeof(struct t_cfg),
    .min_args = 0,
    .max_args = 2,
    .run = t_run,
};

/* A value parser accepted s: nothing negative may have wrapped around. */
static int has_minus(const char *s)
{
	return strchr(s, '-') != NULL;
}

static void check_values(const char *s)
{
	static const unsigned long maxes[] = {0, 1, 65535, 1UL << 26, ~0UL};
	struct ft_addrport ap;
	struct ft_iface ifc;
	unsigned long v;
	double d;
	size_t i;

	for (i = 0; i < sizeof(maxes) / sizeof(maxes[0]); i++) {
		if (ft_parse_uint(s, maxes[i], &v))
			continue;
		FUZZ_CHECK(!maxes[i] || v <= maxes[i], "uint %lu > max %lu", v, maxes[i]);
		FUZZ_CHECK_OPEN("uint-negative", !has_minus(s), "'%s' accepted as uint %lu", s, v);
	}
	if (!ft_parse_size(s, &v))
		FUZZ_CHECK_OPEN("size-negative", !has_minus(s), "'%s' accepted as size %lu", s, v);
	if (!ft_parse_duration(s, &d))
		FUZZ_CHECK_OPEN("duration-inf", isfinite(d) && d >= 0, "'%s' accepted as %g s", s,
				d);
	if (!ft_parse_addrport(s, &ap))
		check_addrport(&ap);
	if (!ft_parse_iface(s, &ifc))
		FUZZ_CHECK(ifc.ifindex > 0 && !strcmp(ifc.name, s), "iface '%s'", s);
}

/* glibc's getopt keeps a pointer into the last argv between calls unless
 * optind is set to 0; start each input from a clean state. */
static void reset_getopt(void)
{
	static char arg0[] = "x";
	static char *argv[] = {arg0, NULL};

	optind = 0;
	getopt(1, argv, "");
}

/* Returns the argument buffer for the caller to free: glibc is not
 * instrumented, so a stale pointer into a freed argv would go unseen;
 * one into a live argv shows as a different result. */
static char *run_argv(const uint8_t *data, size_t size, struct t_result *res)
{
	char *buf = malloc(size + 1), *argv[MAX_ARGS + 2];
	int argc = 0;
	size_t i = 0;

	if (!buf)
		return NULL;
	memcpy(buf, data, size);
	buf[size] = 0;
	argv[argc++] = (char *)"fuzz";
	while (i <= size && argc <= MAX_ARGS) {
		argv[argc++] = buf + i;
		i += strlen(buf + i) + 1;
	}
	argv[argc] = NULL;
	t_buf = buf;
	t_len = size;
	memset(&t_res, 0, sizeof(t_res));
	ft_log_level = FT_LOG_WARN;
	t_res.ret = ft_cmd_exec(&t_cmd, argc, argv);
	t_res.log_level = ft_log_level;
	FUZZ_CHECK(t_res.ret >= 0 && t_res.ret <= 2, "exit code %d", t_res.ret);
	*res = t_res;
	return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	struct t_result first = {}, second = {};
	char *argbuf[2] = {};
	char s[256];
	size_t n;

	if (!quiet) {
		/* --help prints the usage to stdout. */
		quiet = !!freopen("/dev/null", "w", stdout);
	}
	if (size < 1)
		return 0;
	n = strnlen((const char *)data + 1, size - 1);
	if (n < sizeof(s)) {
		memcpy(s, data + 1, n);
		s[n] = 0;
		check_values(s);
	}
	reset_getopt();
	argbuf[0] = run_argv(data + 1, size - 1, &first);
	if (data[0] & 1) {
		/* Without reset_getopt(): a second parse must not see the first
		 * (as when a config file or the collector parses options again). */
		if (fuzz_allowed("getopt-state"))
			reset_getopt();
		argbuf[1] = run_argv(data + 1, size - 1, &second);
		FUZZ_CHECK_OPEN("getopt-state", !memcmp(&first, &second, sizeof(first)),
				"second parse differs: exit %d/%d, log level %d/%d", first.ret,
				second.ret, first.log_level, second.log_level);
	}
	free(argbuf[0]);
	free(argbuf[1]);
	return 0;
}
