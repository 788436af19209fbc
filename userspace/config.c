// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The configuration file of `flowtap run` (docs/config.md): one
 * "key = value" per line, '#' starts a comment line. Values are parsed by
 * the same typed parsers as the command line, so a duration or a size reads
 * the same in both places. One table lists every key.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "collector.h"
#include "log.h"

#define FT_CONFIG_MAX_BYTES (1 << 20)
#define FT_CONFIG_LINE_MAX  4096
#define MAX_DURATION	    (30 * 86400.0)

enum cfg_type {
	CFG_BOOL,
	CFG_UINT,
	CFG_DURATION,
	CFG_SIZE,
	CFG_PATH,
	CFG_ADDRPORT, /* also sets the bool at aux */
	CFG_IFACE,
	CFG_HOOK,
	CFG_FACILITY,
	CFG_TRANSPORT,
	CFG_PERCENT,
	CFG_CONTAINERS, /* yes / no / auto */
	CFG_STRING,	/* aux: the field's size */
};

struct cfg_key {
	const char *name;
	enum cfg_type type;
	size_t off;
	size_t aux;		/* CFG_ADDRPORT: offset of the enable flag; CFG_STRING: size */
	unsigned long min, max; /* CFG_UINT / CFG_SIZE / CFG_PERCENT */
};

#define OFF(f) offsetof(struct ft_run_config, f)

static const struct cfg_key keys[] = {
    {"interface", CFG_IFACE, OFF(ifaces)},
    {"hook", CFG_HOOK, OFF(hook)},
    {"interval", CFG_DURATION, OFF(interval)},
    {"syslog", CFG_BOOL, OFF(syslog)},
    {"syslog_top", CFG_UINT, OFF(sl.top), 0, 0, 10000},
    {"syslog_facility", CFG_FACILITY, OFF(sl.facility)},
    {"syslog_max_lines", CFG_UINT, OFF(sl.max_lines), 0, 1, 1000000},
    {"syslog_ended", CFG_BOOL, OFF(sl.ended)},
    {"flow_log", CFG_PATH, OFF(flow_log)},
    {"flow_log_max_size", CFG_SIZE, OFF(flow_log_size), 0, 0, 1UL << 40},
    {"flow_log_keep", CFG_UINT, OFF(flow_log_keep), 0, 0, 1000},
    {"http_log", CFG_BOOL, OFF(http_log)},
    {"ipfix", CFG_ADDRPORT, OFF(ipfix_dst), OFF(ipfix)},
    {"ipfix_transport", CFG_TRANSPORT, OFF(ipfix_tcp)},
    {"ipfix_domain", CFG_UINT, OFF(ipfix_domain), 0, 0, 0xffffffffUL},
    {"ipfix_template_refresh", CFG_DURATION, OFF(ipfix_template_refresh)},
    {"metrics", CFG_ADDRPORT, OFF(metrics_addr), OFF(metrics)},
    {"metrics_retention", CFG_DURATION, OFF(metrics_retention)},
    {"containers", CFG_CONTAINERS, OFF(containers)},
    {"containers_include", CFG_STRING, OFF(containers_include), FT_RUN_PATTERNS_MAX},
    {"containers_exclude", CFG_STRING, OFF(containers_exclude), FT_RUN_PATTERNS_MAX},
    {"keep", CFG_BOOL, OFF(keep)},
    {"checkpoint", CFG_BOOL, OFF(checkpoint)},
    {"flow_table_size", CFG_UINT, OFF(flow_table_size), 0, 1, 1UL << 26},
    {"idle_timeout_tcp", CFG_DURATION, OFF(coll.to.idle_tcp)},
    {"idle_timeout_udp", CFG_DURATION, OFF(coll.to.idle_udp)},
    {"idle_timeout_icmp", CFG_DURATION, OFF(coll.to.idle_icmp)},
    {"idle_timeout_other", CFG_DURATION, OFF(coll.to.idle_other)},
    {"tcp_fin_timeout", CFG_DURATION, OFF(coll.to.tcp_fin)},
    {"tcp_rst_timeout", CFG_DURATION, OFF(coll.to.tcp_rst)},
    {"active_timeout", CFG_DURATION, OFF(coll.to.active)},
    {"tcp_handshake_timeout", CFG_DURATION, OFF(coll.tcp_handshake)},
    {"table_high_water", CFG_PERCENT, OFF(coll.high_water), 0, 1, 100},
    {"table_low_water", CFG_PERCENT, OFF(coll.low_water), 0, 1, 100},
};

void ft_run_config_default(struct ft_run_config *c)
{
	memset(c, 0, sizeof(*c));
	c->hook = FT_RUN_HOOK_AUTO;
	c->interval = 10;
	c->sl.facility = ft_syslog_facility("daemon");
	c->sl.top = 10;
	c->sl.max_lines = 100;
	c->flow_log_size = 100UL << 20;
	c->flow_log_keep = 5;
	c->ipfix_domain = 1;
	c->ipfix_template_refresh = 60;
	c->checkpoint = true;
	ft_coll_cfg_default(&c->coll);
}

static int cfg_bool(const char *v, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	size_t i;

	for (i = 0; i < 4; i++) {
		if (!strcmp(v, yes[i])) {
			*out = true;
			return 0;
		}
		if (!strcmp(v, no[i])) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

/* Stores one value; on error writes the reason (without the location). */
static int cfg_store(struct ft_run_config *c, const struct cfg_key *k, const char *v, char *why,
		     size_t wl)
{
	char *field = (char *)c + k->off;
	unsigned long u;
	double d;
	int f;

	switch (k->type) {
	case CFG_BOOL:
		if (cfg_bool(v, (bool *)field))
			goto bad;
		return 0;
	case CFG_UINT:
	case CFG_PERCENT:
		if (ft_parse_uint(v, 0, &u) || u < k->min || (k->max && u > k->max))
			goto range;
		if (k->type == CFG_PERCENT)
			*(unsigned int *)field = u;
		else
			*(unsigned long *)field = u;
		return 0;
	case CFG_SIZE:
		if (ft_parse_size(v, &u) || u < k->min || (k->max && u > k->max))
			goto range;
		*(unsigned long *)field = u;
		return 0;
	case CFG_DURATION:
		if (ft_parse_duration(v, &d) || d <= 0 || d > MAX_DURATION) {
			snprintf(why, wl, "%s: '%s' is not a duration in (0, 30d]", k->name, v);
			return -EINVAL;
		}
		*(double *)field = d;
		return 0;
	case CFG_PATH:
		if (!*v || strlen(v) >= sizeof(c->flow_log))
			goto bad;
		snprintf(field, sizeof(c->flow_log), "%s", v);
		return 0;
	case CFG_ADDRPORT:
		if (ft_parse_addrport(v, (struct ft_addrport *)field))
			goto bad;
		*(bool *)((char *)c + k->aux) = true;
		return 0;
	case CFG_IFACE: {
		struct ft_iface_list *l = (struct ft_iface_list *)field;

		if (l->n >= FT_MAX_IFACE_ARGS) {
			snprintf(why, wl, "at most %d interfaces", FT_MAX_IFACE_ARGS);
			return -EINVAL;
		}
		if (ft_parse_iface(v, &l->v[l->n])) {
			snprintf(why, wl, "no such interface '%.*s'", IF_NAMESIZE * 2, v);
			return -EINVAL;
		}
		l->n++;
		return 0;
	}
	case CFG_HOOK:
		if (!strcmp(v, "auto"))
			*(int *)field = FT_RUN_HOOK_AUTO;
		else if (!strcmp(v, "xdp"))
			*(int *)field = FT_RUN_HOOK_XDP;
		else if (!strcmp(v, "tc"))
			*(int *)field = FT_RUN_HOOK_TC;
		else
			goto bad;
		return 0;
	case CFG_FACILITY:
		f = ft_syslog_facility(v);
		if (f < 0)
			goto bad;
		*(int *)field = f;
		return 0;
	case CFG_TRANSPORT:
		if (strcmp(v, "udp") && strcmp(v, "tcp"))
			goto bad;
		*(bool *)field = !strcmp(v, "tcp");
		return 0;
	case CFG_CONTAINERS: {
		bool on;

		if (!strcmp(v, "auto"))
			*(int *)field = FT_RUN_CT_AUTO;
		else if (!cfg_bool(v, &on))
			*(int *)field = on ? FT_RUN_CT_ON : FT_RUN_CT_OFF;
		else
			goto bad;
		return 0;
	}
	case CFG_STRING:
		if (strlen(v) >= k->aux) {
			snprintf(why, wl, "%s: at most %zu characters", k->name, k->aux - 1);
			return -EINVAL;
		}
		snprintf(field, k->aux, "%s", v);
		return 0;
	}
bad:
	snprintf(why, wl, "invalid value '%.64s' for %s", v, k->name);
	return -EINVAL;
range:
	snprintf(why, wl, "invalid value '%.64s' for %s (%lu..%lu)", v, k->name, k->min, k->max);
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = 0;
	return s;
}

static int cfg_line(struct ft_run_config *c, char *line, char *why, size_t wl)
{
	char *eq, *key, *val;
	size_t i;

	line = trim(line);
	if (!*line || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (!eq) {
		snprintf(why, wl, "expected 'key = value'");
		return -EINVAL;
	}
	*eq = 0;
	key = trim(line);
	val = trim(eq + 1);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(key, keys[i].name))
			return cfg_store(c, &keys[i], val, why, wl);
	snprintf(why, wl, "unknown key '%.64s'", key);
	return -EINVAL;
}

/* Checks across keys, once the whole file is read. */
static int cfg_check(const struct ft_run_config *c, char *why, size_t wl)
{
	if (c->coll.low_water > c->coll.high_water) {
		snprintf(why, wl, "table_low_water (%u) above table_high_water (%u)",
			 c->coll.low_water, c->coll.high_water);
		return -EINVAL;
	}
	return 0;
}

int ft_config_parse(struct ft_run_config *c, const char *text, size_t len, const char *name,
		    char *err, size_t errlen)
{
	char line[FT_CONFIG_LINE_MAX], why[256];
	size_t pos = 0, lineno = 0;
	int ret;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = (nl ? (size_t)(nl - text) : len) - pos;

		lineno++;
		if (n >= sizeof(line)) {
			snprintf(err, errlen, "%s:%zu: line too long", name, lineno);
			return -EINVAL;
		}
		memcpy(line, text + pos, n);
		line[n] = 0;
		pos += n + 1;
		if (strlen(line) != n) {
			snprintf(err, errlen, "%s:%zu: NUL byte in line", name, lineno);
			return -EINVAL;
		}
		ret = cfg_line(c, line, why, sizeof(why));
		if (ret) {
			snprintf(err, errlen, "%s:%zu: %s", name, lineno, why);
			return ret;
		}
	}
	ret = cfg_check(c, why, sizeof(why));
	if (ret)
		snprintf(err, errlen, "%s: %s", name, why);
	return ret;
}

int ft_config_load(struct ft_run_config *c, const char *path)
{
	char err[512];
	struct stat st;
	char *buf = NULL;
	ssize_t n;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_err("run: config %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || st.st_size > FT_CONFIG_MAX_BYTES) {
		pr_err("run: config %s: not a regular file of at most 1 MiB\n", path);
		close(fd);
		return -EINVAL;
	}
	buf = malloc(st.st_size + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = read(fd, buf, st.st_size);
	close(fd);
	if (n < 0) {
		ret = -errno;
		pr_err("run: config %s: %s\n", path, strerror(errno));
		free(buf);
		return ret;
	}
	ret = ft_config_parse(c, buf, n, path, err, sizeof(err));
	if (ret)
		pr_err("run: config %s\n", err);
	free(buf);
	return ret;
}
