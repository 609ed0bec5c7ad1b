/*
 * Additional processes in the running VM (exec.c; PROTOCOL.md "Exec"): the
 * host's N frame starts one (its own spec records: arg, env, workdir, user,
 * tty), i/e/k/w feed its stdin, end it, signal it, size its terminal; its
 * output goes back as o frames and its exit code as x, each tagged with the
 * exec id the host chose. app.c's event loop polls their descriptors.
 */
#ifndef HYPERSTART_EXEC_H
#define HYPERSTART_EXEC_H

#include <poll.h>
#include <stdint.h>
#include <sys/types.h>

/* At most this many at once; one more is refused with x 125. */
#define EXEC_MAX 16
/* Descriptors one exec may need polled (stdout, stderr, stdin). */
#define EXEC_POLL_MAX (EXEC_MAX * 3)

/* An exec frame (N i e k w) from the host. */
void exec_frame(char type, const unsigned char *p, uint32_t len);
/* Add the descriptors to poll at pf[n..]; returns the new n. */
int exec_poll_add(struct pollfd *pf, int n);
/* Act on the revents of pf[from..to). */
void exec_poll_service(const struct pollfd *pf, int from, int to);
/* A reaped child: 1 when it was an exec (its x goes out once its output has). */
int exec_reaped(pid_t pid, int status);

#endif
