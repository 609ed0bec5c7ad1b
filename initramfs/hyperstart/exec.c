/* Additional processes in the running VM (exec.h). Each is started like the
 * app (app_spawn.c: environment, user, working directory, pipes or a pty, its
 * own session) but a failure to set it up must never end the VM: while one
 * is set up, the fatal hook (util.h) is one that jumps back here, and the
 * failure becomes the exec's own `x 125` with the message on its stderr.
 * Output is sent as `o` frames as it comes (a stream at EOF sends nothing
 * more); `x` follows once the process is reaped and both streams are at EOF. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "app_spawn.h"
#include "channel.h"
#include "exec.h"
#include "log.h"
#include "protocol.h"
#include "spec.h"
#include "user.h"
#include "util.h"

#define EXEC_CHUNK 32768

struct exec_proc {
	int used, exited, reported;
	uint32_t id;
	pid_t pid;
	int status;
	int out, err, in, is_pty, slave_fd; /* -1 when closed */
	char *q;                            /* stdin bytes not yet written */
	size_t qlen, qcap;
	int eof_pending;
};

static struct exec_proc execs[EXEC_MAX];
static jmp_buf setup_jump;
static char setup_msg[300];

static struct exec_proc *find(uint32_t id)
{
	for (int i = 0; i < EXEC_MAX; i++)
		if (execs[i].used && execs[i].id == id)
			return &execs[i];
	return NULL;
}

static void send_id(char type, uint32_t id, const void *p, size_t n)
{
	unsigned char *b = xmalloc(EXEC_ID_BYTES + n + 1);
	exec_id_encode(b, id);
	if (n)
		memcpy(b + EXEC_ID_BYTES, p, n);
	channel_send(type, b, (uint32_t)(EXEC_ID_BYTES + n));
	free(b);
}

static void send_output(uint32_t id, int stream, const char *p, size_t n)
{
	unsigned char *b = xmalloc(EXEC_ID_BYTES + 1 + n);
	exec_id_encode(b, id);
	b[EXEC_ID_BYTES] = (unsigned char)stream;
	memcpy(b + EXEC_ID_BYTES + 1, p, n);
	channel_send(FRAME_EXEC_OUTPUT, b, (uint32_t)(EXEC_ID_BYTES + 1 + n));
	free(b);
}

static void send_exit(uint32_t id, uint32_t code)
{
	unsigned char c[4] = {code >> 24, code >> 16, code >> 8, code};
	send_id(FRAME_EXEC_EXIT, id, c, sizeof c);
}

/* A setup failure (hs_fail) while an exec is being started lands here. */
static void setup_fatal(const char *msg)
{
	snprintf(setup_msg, sizeof setup_msg, "%s", msg);
	longjmp(setup_jump, 1);
}

static void refuse(uint32_t id, const char *why)
{
	char line[400];
	int n = snprintf(line, sizeof line, "hyperstart: exec: %s\n", why);
	send_output(id, EXEC_STREAM_STDERR, line, n > (int)sizeof line - 1 ? sizeof line - 1 : (size_t)n);
	send_exit(id, 125);
}

/* Parse, resolve and fork; a failure jumps back to exec_start (the hook). */
static void spawn(struct exec_proc *x, const unsigned char *p, uint32_t len)
{
	struct spec s = {0};
	struct creds c = {0};
	const char *err = spec_parse(&s, (const char *)p, len);
	if (err)
		hs_fail("%s", err);
	resolve_user(s.user, &c);
	struct app_proc a;
	app_start(&s, &c, 1, &a);
	*x = (struct exec_proc){.used = 1, .id = x->id, .pid = a.pid, .out = a.out, .err = a.err,
				.in = a.in, .is_pty = a.is_pty, .slave_fd = a.slave_fd};
	if (app_wait_exec(&s, &a))
		send_id(FRAME_EXEC_STARTED, x->id, NULL, 0);
}

static void close_fds(struct exec_proc *x)
{
	int fds[4] = {x->out, x->err, x->in == x->out ? -1 : x->in, x->slave_fd};
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	x->out = x->err = x->in = x->slave_fd = -1;
}

static void exec_start(uint32_t id, const unsigned char *p, uint32_t len)
{
	struct exec_proc *x = NULL;
	for (int i = 0; i < EXEC_MAX && !x; i++)
		if (!execs[i].used)
			x = &execs[i];
	if (find(id) || !x) {
		refuse(id, find(id) ? "exec id already in use" : "too many processes at once");
		return;
	}
	*x = (struct exec_proc){.used = 1, .id = id, .out = -1, .err = -1, .in = -1, .slave_fd = -1};
	hs_fatal_fn previous = hs_set_fatal(setup_fatal);
	if (setjmp(setup_jump) == 0) {
		spawn(x, p, len);
		hs_set_fatal(previous);
		hs_log("exec %u: pid %d", id, (int)x->pid);
		return;
	}
	hs_set_fatal(previous);
	/* A child already forked (a failed chdir or setuid in it) is reaped
	 * later and forgotten: its x 125 is this one. */
	close_fds(x);
	x->reported = 1;
	x->used = x->pid > 0;
	refuse(id, setup_msg);
}

static void stdin_close(struct exec_proc *x)
{
	if (x->in >= 0 && !x->is_pty)
		close(x->in);
	x->in = -1;
	x->qlen = 0;
}

static void stdin_flush(struct exec_proc *x)
{
	while (x->in >= 0 && x->qlen) {
		ssize_t w = write(x->in, x->q, x->qlen);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR)
				stdin_close(x); /* EPIPE: it closed its stdin */
			return;
		}
		memmove(x->q, x->q + w, x->qlen - w);
		x->qlen -= w;
	}
	if (x->in >= 0 && x->eof_pending && !x->qlen)
		stdin_close(x);
}

static void stdin_queue(struct exec_proc *x, const unsigned char *p, uint32_t n)
{
	if (x->in < 0)
		return;
	if (x->qlen + n > x->qcap) {
		x->qcap = (x->qlen + n) * 2;
		x->q = xrealloc(x->q, x->qcap);
	}
	memcpy(x->q + x->qlen, p, n);
	x->qlen += n;
	stdin_flush(x);
}

void exec_frame(char type, const unsigned char *p, uint32_t len)
{
	if (len < EXEC_ID_BYTES)
		return;
	uint32_t id = exec_id_decode(p);
	p += EXEC_ID_BYTES;
	len -= EXEC_ID_BYTES;
	if (type == FRAME_EXEC_NEW) {
		exec_start(id, p, len);
		return;
	}
	struct exec_proc *x = find(id);
	int sig;
	unsigned short rows, cols;
	if (!x || x->reported)
		return;
	if (type == FRAME_EXEC_INPUT)
		stdin_queue(x, p, len);
	else if (type == FRAME_EXEC_EOF && !x->is_pty) {
		x->eof_pending = 1;
		stdin_flush(x);
	}
	else if (type == FRAME_EXEC_KILL && kill_payload_decode(p, len, &sig) == 0 && !x->exited) {
		if (kill(-x->pid, sig) < 0)
			kill(x->pid, sig); /* it left its own process group */
	}
	else if (type == FRAME_EXEC_WINSIZE && x->is_pty && x->out >= 0 &&
		 winsize_payload_decode(p, len, &rows, &cols) == 0) {
		struct winsize ws = {.ws_row = rows, .ws_col = cols};
		ioctl(x->out, TIOCSWINSZ, &ws);
	}
}

/* Reaped and both streams at EOF: x, and the slot is free. */
static void maybe_finish(struct exec_proc *x)
{
	if (!x->exited || x->out >= 0 || x->err >= 0)
		return;
	if (!x->reported) {
		int st = x->status;
		send_exit(x->id, WIFSIGNALED(st) ? 128 + WTERMSIG(st) : WEXITSTATUS(st));
	}
	stdin_close(x);
	free(x->q);
	*x = (struct exec_proc){0};
}

int exec_reaped(pid_t pid, int status)
{
	for (int i = 0; i < EXEC_MAX; i++) {
		struct exec_proc *x = &execs[i];
		if (!x->used || x->pid != pid)
			continue;
		x->exited = 1;
		x->status = status;
		if (x->slave_fd >= 0)
			close(x->slave_fd); /* the master now reads EIO once drained */
		x->slave_fd = -1;
		maybe_finish(x);
		return 1;
	}
	return 0;
}

int exec_poll_add(struct pollfd *pf, int n)
{
	for (int i = 0; i < EXEC_MAX; i++) {
		struct exec_proc *x = &execs[i];
		if (!x->used)
			continue;
		if (x->out >= 0)
			pf[n++] = (struct pollfd){.fd = x->out, .events = POLLIN};
		if (x->err >= 0)
			pf[n++] = (struct pollfd){.fd = x->err, .events = POLLIN};
		if (x->in >= 0 && x->qlen && !x->is_pty)
			pf[n++] = (struct pollfd){.fd = x->in, .events = POLLOUT};
	}
	return n;
}

/* Read what a stream has and send it; at EOF (or EIO of a drained pty) close it. */
static void pump(struct exec_proc *x, int *fd, int stream)
{
	char buf[EXEC_CHUNK];
	ssize_t r = read(*fd, buf, sizeof buf);
	if (r > 0) {
		send_output(x->id, stream, buf, (size_t)r);
		return;
	}
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (x->is_pty && *fd == x->in)
		x->in = -1; /* the master was also the stdin target */
	close(*fd);
	*fd = -1;
	maybe_finish(x);
}

void exec_poll_service(const struct pollfd *pf, int from, int to)
{
	for (int k = from; k < to; k++) {
		if (!pf[k].revents)
			continue;
		for (int i = 0; i < EXEC_MAX; i++) {
			struct exec_proc *x = &execs[i];
			if (!x->used)
				continue;
			if (pf[k].fd == x->out)
				pump(x, &x->out, EXEC_STREAM_STDOUT);
			else if (pf[k].fd == x->err)
				pump(x, &x->err, EXEC_STREAM_STDERR);
			else if (pf[k].fd == x->in)
				stdin_flush(x);
			else
				continue;
			break;
		}
	}
}
