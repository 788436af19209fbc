// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * The JSON-lines flow log: one object per line, written per interval and
 * flushed before the collector commits, rotated by size (FILE -> FILE.1 ->
 * ... -> FILE.keep, the oldest dropped). SIGHUP reopens the file for
 * external rotation. Opened with O_NOFOLLOW: a symlink planted at the log
 * path is refused, not followed.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include "collector.h"
#include "containers.h"
#include "log.h"
#include "output.h"

struct ft_flowlog {
	char *path;
	unsigned long max_size; /* 0: never rotate */
	unsigned int keep;
	FILE *f;
	unsigned long size;
	bool failed; /* reported the last write error already */
};

static int ft_flowlog_openfile(struct ft_flowlog *l)
{
	struct stat st;
	int fd;

	fd = open(l->path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	l->f = fdopen(fd, "a");
	if (!l->f) {
		close(fd);
		return -errno;
	}
	l->size = st.st_size;
	return 0;
}

struct ft_flowlog *ft_flowlog_open(const char *path, unsigned long max_size, unsigned int keep,
				   int *err)
{
	struct ft_flowlog *l = calloc(1, sizeof(*l));

	*err = -ENOMEM;
	if (!l)
		return NULL;
	l->path = strdup(path);
	l->max_size = max_size;
	l->keep = keep;
	if (!l->path) {
		free(l);
		return NULL;
	}
	*err = ft_flowlog_openfile(l);
	if (*err) {
		free(l->path);
		free(l);
		return NULL;
	}
	return l;
}

int ft_flowlog_reopen(struct ft_flowlog *l)
{
	if (l->f)
		fclose(l->f);
	l->f = NULL;
	return ft_flowlog_openfile(l);
}

void ft_flowlog_close(struct ft_flowlog *l)
{
	if (!l)
		return;
	if (l->f)
		fclose(l->f);
	free(l->path);
	free(l);
}

/* FILE.(i) -> FILE.(i+1) from the oldest down; then FILE -> FILE.1. With
 * keep 0 the file is truncated instead. */
static int ft_flowlog_rotate(struct ft_flowlog *l)
{
	size_t len = strlen(l->path) + 16;
	char *from = malloc(len), *to = malloc(len);
	unsigned int i;
	int err = 0;

	if (!from || !to) {
		err = -ENOMEM;
		goto out;
	}
	fclose(l->f);
	l->f = NULL;
	if (!l->keep) {
		if (truncate(l->path, 0))
			err = -errno;
	} else {
		for (i = l->keep; i > 1; i--) {
			snprintf(from, len, "%s.%u", l->path, i - 1);
			snprintf(to, len, "%s.%u", l->path, i);
			rename(from, to); /* may not exist yet */
		}
		snprintf(to, len, "%s.1", l->path);
		if (rename(l->path, to))
			err = -errno;
	}
	if (!err || !l->f)
		err = ft_flowlog_openfile(l) ?: err;
out:
	free(from);
	free(to);
	return err;
}

/* On a container veth: its name (also once it is gone), the container's
 * labels and the direction as the container sees it. */
static void ft_record_labels(const struct ft_report *r, const struct ft_cflow *f, json_object *o)
{
	const struct ft_cveth *v = ft_report_veth(r, f->f.key.ifindex);

	if (!v)
		return;
	json_object_object_add(o, "iface", json_object_new_string(v->ifname));
	ft_ct_labels_json(&v->labels, o);
	json_object_object_add(o, "container_direction",
			       json_object_new_string(ft_ct_dir_name(f->f.key.dir)));
}

json_object *ft_record_json(const struct ft_report *r, const struct ft_cflow *f)
{
	json_object *o = ft_flow_json(&f->f);
	const char *reason = ft_end_reason_name(f->reason);

	/* ft_flow_json converts with the clock of its own call; the record
	 * uses the report's so every line of an interval agrees. */
	json_object_object_add(o, "first_seen",
			       json_object_new_double(ft_report_epoch(r, f->f.v.first_ns)));
	json_object_object_add(o, "last_seen",
			       json_object_new_double(ft_report_epoch(r, f->f.v.last_ns)));
	json_object_object_add(o, "packets_delta", json_object_new_uint64(ft_cflow_dpackets(f)));
	json_object_object_add(o, "bytes_delta", json_object_new_uint64(ft_cflow_dbytes(f)));
	json_object_object_add(o, "end_reason", *reason ? json_object_new_string(reason) : NULL);
	json_object_object_add(o, "time", json_object_new_double(ft_report_epoch(r, r->now_ns)));
	ft_record_labels(r, f, o);
	return o;
}

static int ft_flowlog_line(struct ft_flowlog *l, const char *s)
{
	size_t n = strlen(s) + 1;

	if (l->max_size && l->size && l->size + n > l->max_size) {
		int err = ft_flowlog_rotate(l);

		if (err)
			return err;
	}
	if (!l->f)
		return -EBADF;
	if (fputs(s, l->f) == EOF || fputc('\n', l->f) == EOF)
		return -errno ?: -EIO;
	l->size += n;
	return 0;
}

int ft_flowlog_sample(struct ft_flowlog *l, const struct ft_http_event *e)
{
	json_object *o = ft_http_json(e);
	int err;

	json_object_object_add(o, "type", json_object_new_string("http_sample"));
	err = ft_flowlog_line(l, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return err;
}

int ft_flowlog_write(struct ft_flowlog *l, const struct ft_report *r)
{
	size_t i;
	int err = 0;

	if (!l->f && (err = ft_flowlog_openfile(l)))
		goto out;
	for (i = 0; i < r->nrecs && !err; i++) {
		json_object *o = ft_record_json(r, r->recs[i]);

		if (r->counted)
			json_object_object_add(o, "dedup_counted",
					       json_object_new_boolean(r->counted[i]));
		err = ft_flowlog_line(l, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
		json_object_put(o);
	}
	if (!err && l->f && fflush(l->f))
		err = -errno;
out:
	if (err && !l->failed)
		pr_err("flow log %s: %s (records are lost until it is writable)\n", l->path,
		       strerror(-err));
	else if (!err && l->failed)
		pr_warn("flow log %s: writable again\n", l->path);
	l->failed = err != 0;
	if (err && l->f) {
		/* Drop what could not be written, so the next interval starts
		 * on a clean line. */
		clearerr(l->f);
		fflush(l->f);
	}
	return err;
}
