/*
 * Starting the app (app_spawn.c): its environment, stdio (pipes, or a
 * pseudo-terminal), user, working directory, and execve with the app's PATH.
 * Running it afterwards (copying output, host frames, reaping) is app.c.
 */
#ifndef HYPERSTART_APP_SPAWN_H
#define HYPERSTART_APP_SPAWN_H

#include <sys/types.h>

#include "spec.h"
#include "user.h"

struct app_proc {
	pid_t pid;
	int out, err;  /* our ends of the app's stdout/stderr (tty: out is the pty master); -1 */
	int in;        /* where stdin bytes go: a pipe, the pty master, or -1 */
	int is_pty;
	int slave_fd;  /* a pty slave we hold until the app exits, so the master never reads EIO early; -1 */
	int report;    /* read end of the child's exec report pipe */
};

/* Fork the app. with_host: its stdin is a pipe fed by the host, else
 * /dev/null. HyperStart failures (no command, workdir, pipes) hs_fail(). */
void app_start(const struct spec *s, const struct creds *c, int with_host, struct app_proc *a);
/* Wait for the child's execve: 1 when it runs, 0 when it could not exec (it
 * then exits 126/127 on its own). A failure before exec is hs_fail(). */
int app_wait_exec(const struct spec *s, struct app_proc *a);

#endif
