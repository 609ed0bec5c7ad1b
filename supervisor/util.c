/* The supervisor's bottom layer (sv.h): growable buffers, clocks, whole-file
 * reads, the one atomic file write (temp beside the target, fsync, rename),
 * process start times from /proc, and its own diagnostics (stderr, which is
 * supervisor.log in the VM's state directory). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sv.h"

void buf_add(struct buf *b, const void *p, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = (b->len + n) * 2 + 256;
		unsigned char *q = realloc(b->p, cap);
		if (!q) {
			sv_log("out of memory");
			_exit(125);
		}
		b->p = q;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

void buf_drop(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->p, b->p + n, b->len - n);
	b->len -= n;
}

void buf_free(struct buf *b)
{
	free(b->p);
	*b = (struct buf){0};
}

long mono_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000L + t.tv_nsec / 1000000L;
}

void utc_now(char out[40])
{
	struct timespec t;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &t);
	gmtime_r(&t.tv_sec, &tm);
	size_t n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, 40 - n, ".%09ldZ", t.tv_nsec);
}

int read_whole(const char *path, struct buf *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	unsigned char chunk[65536];
	ssize_t r;
	while ((r = read(fd, chunk, sizeof chunk)) > 0)
		buf_add(out, chunk, r);
	int e = errno;
	close(fd);
	errno = e;
	return r < 0 ? -1 : 0;
}

static int write_all_fd(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		n -= w;
	}
	return 0;
}

int write_file_atomic(const char *path, const char *data, size_t len)
{
	char tmp[256];
	snprintf(tmp, sizeof tmp, ".%s.tmp-%d", path, (int)getpid());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int bad = write_all_fd(fd, data, len) < 0 || fsync(fd) < 0;
	bad |= close(fd) < 0;
	if (bad || rename(tmp, path) < 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

int proc_start_time(pid_t pid, unsigned long long *start)
{
	char path[64];
	struct buf b = {0};
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if (read_whole(path, &b) < 0 || !b.len)
		return buf_free(&b), -1;
	buf_add(&b, "", 1);
	/* comm may hold spaces and parentheses: fields count from the last ')'. */
	char *p = strrchr((char *)b.p, ')');
	int field = 2;
	while (p && *p && field < 22) {
		p = strchr(p + 1, ' ');
		if (p)
			field++;
	}
	int ok = p && field == 22;
	if (ok)
		*start = strtoull(p + 1, NULL, 10);
	buf_free(&b);
	return ok ? 0 : -1;
}

void sv_log(const char *fmt, ...)
{
	char when[40], line[1024];
	va_list ap;
	utc_now(when);
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	dprintf(2, "%s hyperbuild-supervisor: %s\n", when, line);
}
