/* HyperStart's primitives (util.h): allocation, write_all, mkdir_p, clocks,
 * read_file and the fatal hook. Nothing here logs or knows the host: the one
 * way up is hs_die(), which calls what main.c registered. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

static hs_fatal_fn fatal_hook;

hs_fatal_fn hs_set_fatal(hs_fatal_fn fn)
{
	hs_fatal_fn previous = fatal_hook;
	fatal_hook = fn;
	return previous;
}

void hs_die(const char *msg)
{
	if (fatal_hook)
		fatal_hook(msg);
	_exit(125); /* no hook (host unit tests), or a hook that returned */
}

static void out_of_memory(void)
{
	static const char line[] = "hyperstart: error: out of memory\n";
	write_all(2, line, sizeof line - 1);
	hs_die("out of memory");
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		out_of_memory();
	return p;
}

char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	return memcpy(xmalloc(n), s, n);
}

int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= w;
	}
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	char tmp[4096];
	size_t n = strlen(path);
	if (n >= sizeof tmp) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, mode) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	struct stat st;
	if (stat(tmp, &st) < 0)
		return -1;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return -1;
	}
	return 0;
}

long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void sleep_ms(long ms)
{
	nanosleep(&(struct timespec){ms / 1000, (ms % 1000) * 1000000L}, NULL);
}

int read_file(const char *path, struct blob *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 4096, len = 0;
	char *b = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			b = xrealloc(b, cap *= 2);
		ssize_t r = read(fd, b + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			free(b);
			errno = e;
			return -1;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	b[len] = 0;
	out->data = b;
	out->len = len;
	return 0;
}
