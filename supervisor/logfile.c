/* The VM's log files (sv.h struct logfile): container.log holds the app's
 * output as conmon's k8s-file records, `TIME STREAM F|P BYTES\n` (TIME RFC 3339
 * UTC with nanoseconds; F ends a line, P is a partial line whose bytes
 * continue in the next record), so stdout and stderr stay in order and
 * `logs --since` can filter; console.log holds the guest console raw. Each
 * file is bounded: before a write would take it past `max` bytes it becomes
 * PATH.1 (replacing the older one), so at most 2 x max bytes are kept. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sv.h"

void logfile_open(struct logfile *l, const char *path, const char *old, long long max, int records)
{
	*l = (struct logfile){.path = path, .old = old, .max = max, .records = records};
	l->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (l->fd < 0)
		sv_log("cannot open %s: %s", path, strerror(errno));
	off_t end = l->fd >= 0 ? lseek(l->fd, 0, SEEK_END) : 0;
	l->size = end > 0 ? end : 0;
}

static void rotate_if_needed(struct logfile *l, size_t n)
{
	if (l->fd < 0 || l->size == 0 || l->size + (long long)n <= l->max)
		return;
	close(l->fd);
	if (rename(l->path, l->old) < 0)
		sv_log("cannot rotate %s: %s", l->path, strerror(errno));
	logfile_open(l, l->path, l->old, l->max, l->records);
}

static void put(struct logfile *l, const void *p, size_t n)
{
	const char *c = p;
	while (l->fd >= 0 && n) {
		ssize_t w = write(l->fd, c, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* A full disk loses log bytes, never the VM. */
			sv_log("write %s: %s", l->path, strerror(errno));
			return;
		}
		c += w;
		n -= w;
		l->size += w;
	}
}

static void record(struct logfile *l, const char *when, const char *stream, char tag,
		   const unsigned char *p, size_t n)
{
	char head[96];
	int h = snprintf(head, sizeof head, "%s %s %c ", when, stream, tag);
	rotate_if_needed(l, h + n + 1);
	/* One write per record, so a reader never sees half of one. */
	struct buf rec = {0};
	buf_add(&rec, head, h);
	buf_add(&rec, p, n);
	buf_add(&rec, "\n", 1);
	put(l, rec.p, rec.len);
	buf_free(&rec);
}

void logfile_app(struct logfile *l, const char *stream, const unsigned char *p, size_t n)
{
	char when[40];
	utc_now(when);
	while (n) {
		const unsigned char *nl = memchr(p, '\n', n);
		size_t take = nl ? (size_t)(nl - p) : n;
		record(l, when, stream, nl ? 'F' : 'P', p, take);
		take += nl ? 1 : 0;
		p += take;
		n -= take;
	}
}

void logfile_raw(struct logfile *l, const unsigned char *p, size_t n)
{
	rotate_if_needed(l, n);
	put(l, p, n);
}
