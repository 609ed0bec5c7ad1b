/*
 * HyperStart's bottom layer: memory, whole writes, directories, clocks, file
 * reading, and the fatal exit. It calls no other HyperStart module; what
 * "fatal" means (report to the host, power off) is a hook main.c registers.
 */
#ifndef HYPERSTART_UTIL_H
#define HYPERSTART_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* Ends the process; never returns. Registered by main.c; exec.c swaps in its
 * own while it sets up an exec (a failure there must not end the VM). */
typedef void (*hs_fatal_fn)(const char *msg);
/* Returns the hook it replaces. */
hs_fatal_fn hs_set_fatal(hs_fatal_fn fn);
/* Calls the fatal hook with msg; without one (host unit tests) exits 125. */
void hs_die(const char *msg) __attribute__((noreturn));

/* Allocation never fails: out of memory is fatal (console line + hs_die). */
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

int write_all(int fd, const void *buf, size_t len);
/* mkdir -p; returns 0 or -1 with errno set. */
int mkdir_p(const char *path, mode_t mode);

/* CLOCK_MONOTONIC in milliseconds, and a sleep in milliseconds. */
long now_ms(void);
void sleep_ms(long ms);

struct blob {
	char *data; /* always NUL-terminated one byte past len, for convenience */
	size_t len;
};
/* Read a whole file; returns 0, or -1 with errno set. */
int read_file(const char *path, struct blob *out);

#endif
