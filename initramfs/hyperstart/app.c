/* Running the app: fork/exec with Docker's semantics, a pty in tty mode, and
 * an event loop that copies the app's output to the host, forwards control
 * frames (K W I E) and reaps every zombie (we are PID 1).
 *
 * The app never writes to the ports directly: it gets pipes (or a pty) and we
 * copy, so we can count the bytes for X and know when the output has been
 * fully delivered. */

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"

/* What the child tells us through a CLOEXEC pipe when it cannot exec: EOF on
 * that pipe means execve succeeded. */
enum { STAGE_SETUP = 1, STAGE_EXEC = 2 };
struct child_err {
	int stage, err;
	char what[200];
};

/* Bytes the host sent for stdin (I frames) that the app has not read yet. */
static struct {
	int fd; /* pipe write end or pty master; -1 when closed/unused */
	int is_pty;
	int eof_pending; /* E received: close once the queue is empty */
	char *buf;
	size_t len, cap;
} in;

/* A one-way byte copier with a single buffer: read only when it is empty, so
 * a slow reader on one side applies back-pressure to the writer on the other. */
struct pump {
	int src, dst;
	int hups; /* consecutive polls that found the host side closed */
	size_t off, len;
	uint64_t count;
	char buf[65536];
};

static struct pump out_pump, err_pump;

static int pump_done(const struct pump *p)
{
	return p->src < 0 && p->len == 0;
}

static void pump_read(struct pump *p)
{
	ssize_t r = read(p->src, p->buf, sizeof p->buf);
	if (r > 0) {
		p->off = 0;
		p->len = r;
	} else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
		/* EOF, or EIO from a pty master once every slave fd is closed. */
		if (in.fd == p->src)
			in.fd = -1; /* the pty master was also the stdin target */
		close(p->src);
		p->src = -1;
	}
}

static void pump_write(struct pump *p)
{
	ssize_t w = write(p->dst, p->buf + p->off, p->len);
	if (w > 0) {
		p->off += w;
		p->len -= w;
		p->count += w;
	} else if (w < 0 && errno != EAGAIN && errno != EINTR) {
		p->len = 0; /* the host is gone: drop rather than hang */
	}
}

static void stdin_close(void)
{
	if (in.fd >= 0 && !in.is_pty)
		close(in.fd);
	in.fd = -1;
	in.len = 0;
}

static void stdin_flush(void)
{
	while (in.fd >= 0 && in.len) {
		ssize_t w = write(in.fd, in.buf, in.len);
		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			stdin_close(); /* EPIPE: the app closed its stdin */
			return;
		}
		memmove(in.buf, in.buf + w, in.len - w);
		in.len -= w;
	}
	if (in.fd >= 0 && in.eof_pending && !in.len)
		stdin_close();
}

static pid_t app_pid;
static int app_status, app_exited;
static int ctl_alive;

static void handle_frame(char type, const unsigned char *p, uint32_t len)
{
	switch (type) {
	case 'K':
		if (len >= 4 && !app_exited) {
			int sig = (int)((uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3]);
			/* The app leads its own process group (setsid); fall back to
			 * the pid if it moved itself elsewhere. */
			if (kill(-app_pid, sig) < 0)
				kill(app_pid, sig);
			hs_log("signal %d to app", sig);
		}
		break;
	case 'W':
		if (len >= 4 && in.is_pty && out_pump.src >= 0) {
			struct winsize ws = {.ws_row = p[0] << 8 | p[1], .ws_col = p[2] << 8 | p[3]};
			/* The kernel sends SIGWINCH to the foreground group for us. */
			ioctl(out_pump.src, TIOCSWINSZ, &ws);
		}
		break;
	case 'I':
		if (in.fd < 0)
			break;
		if (in.len + len > in.cap) {
			in.cap = (in.len + len) * 2;
			in.buf = xrealloc(in.buf, in.cap);
		}
		memcpy(in.buf + in.len, p, len);
		in.len += len;
		stdin_flush();
		break;
	case 'E':
		/* A terminal has no EOF of its own; in tty mode the host sends ^D. */
		if (!in.is_pty) {
			in.eof_pending = 1;
			stdin_flush();
		}
		break;
	default:
		break; /* S and B mean nothing while the app runs */
	}
}

/* Act on the complete frames already received. Some may have arrived with S
 * (a host sends W right away), before this loop ever polled ctl. */
static void handle_buffered(void)
{
	char type;
	unsigned char *p;
	uint32_t n;
	while (hs_chan.ctl >= 0 && channel_next(&type, &p, &n))
		handle_frame(type, p, n);
}

static void drain_ctl(void)
{
	for (;;) {
		int r = channel_fill();
		if (r == -1) {
			/* Host hung up: keep running the app, just stop listening. */
			ctl_alive = 0;
			break;
		}
		if (r == -2)
			break;
	}
	handle_buffered();
}

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);
	for (; env && *env; env++)
		if (!strncmp(*env, name, n) && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

/* The app's environment: exactly the spec's, plus PATH (Docker's default) and
 * HOME (from passwd, as runc does) when the spec has none. */
static char **build_env(const struct spec *s, const struct creds *c)
{
	char **env = xmalloc((s->nenv + 3) * sizeof *env);
	size_t n = 0;
	for (size_t i = 0; i < s->nenv; i++)
		env[n++] = s->env[i];
	env[n] = NULL;
	if (!env_get(env, "PATH"))
		env[n++] = "PATH=" HS_DEFAULT_PATH;
	env[n] = NULL;
	if (!env_get(env, "HOME")) {
		char *h = xmalloc(strlen(c->home) + 6);
		sprintf(h, "HOME=%s", c->home);
		env[n++] = h;
	}
	env[n] = NULL;
	return env;
}

static void child_report(int fd, int stage, int err, const char *what)
{
	struct child_err ce = {.stage = stage, .err = err};
	snprintf(ce.what, sizeof ce.what, "%s", what);
	write_all(fd, &ce, sizeof ce);
}

/* execvp() with the APP's PATH (not ours) and without its /bin/sh fallback
 * for ENOEXEC, which Docker does not do either. Returns the errno to report. */
static int exec_search(char **argv, char **env)
{
	const char *cmd = argv[0];
	if (strchr(cmd, '/')) {
		execve(cmd, argv, env);
		return errno;
	}
	const char *path = env_get(env, "PATH");
	if (!path)
		path = HS_DEFAULT_PATH;
	int seen_eacces = 0;
	size_t clen = strlen(cmd);
	for (const char *p = path;; p++) {
		const char *colon = strchrnul(p, ':');
		size_t dlen = colon - p;
		char full[4096];
		if (dlen + clen + 2 <= sizeof full) {
			if (dlen) {
				memcpy(full, p, dlen);
				full[dlen] = '/';
				memcpy(full + dlen + 1, cmd, clen + 1);
			} else {
				memcpy(full, cmd, clen + 1); /* empty element = cwd */
			}
			execve(full, argv, env);
			switch (errno) {
			case EACCES:
				seen_eacces = 1;
				/* fallthrough */
			case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG:
				break;
			default:
				return errno; /* found, but cannot run it (ENOEXEC...) */
			}
		}
		if (!*colon)
			break;
		p = colon;
	}
	return seen_eacces ? EACCES : ENOENT;
}

static void child(const struct spec *s, const struct creds *c, char **env,
		  int fds[3], const char *slave, int report)
{
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);

	/* Own session and process group: K goes to the whole group, and in tty
	 * mode the pty becomes the controlling terminal. */
	setsid();
	if (slave) {
		int t = open(slave, O_RDWR);
		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0) {
			child_report(report, STAGE_SETUP, errno, "open terminal");
			_exit(125);
		}
		fds[0] = fds[1] = fds[2] = t;
	}
	/* dup2 in two passes so a source fd that is also a target (0-2) is
	 * never clobbered before it is copied. */
	int tmp[3];
	for (int i = 0; i < 3; i++)
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < 3; i++)
		if (tmp[i] < 0 || dup2(tmp[i], i) < 0) {
			child_report(report, STAGE_SETUP, errno, "set up stdio");
			_exit(125);
		}

	if (s->workdir && chdir(s->workdir) < 0) {
		child_report(report, STAGE_SETUP, errno, "chdir to working directory");
		_exit(125);
	}
	if (setgroups(c->ngroups, c->groups) < 0 || setgid(c->gid) < 0 || setuid(c->uid) < 0) {
		child_report(report, STAGE_SETUP, errno, "set user");
		_exit(125);
	}
	int e = exec_search(s->args, env);
	/* This goes to the app's own stderr, where the user looks (Docker-like). */
	char msg[512];
	int n = snprintf(msg, sizeof msg, "hyperstart: %s: %s\n", s->args[0],
			 e == ENOENT ? "not found" : strerror(e));
	write_all(2, msg, n > (int)sizeof msg - 1 ? (int)sizeof msg - 1 : n);
	child_report(report, STAGE_EXEC, e, s->args[0]);
	_exit(e == ENOENT ? 127 : 126);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

static void xpipe(int p[2])
{
	if (pipe2(p, O_CLOEXEC) < 0)
		hs_fail("pipe: %s", strerror(errno));
}

int app_run(const struct spec *s, const struct creds *c, uint64_t *nout, uint64_t *nerr)
{
	if (!s->nargs || !s->args[0][0])
		hs_fail("no command to run (empty arg list)");
	if (s->workdir && s->workdir[0]) {
		/* Created as root like Docker's WORKDIR, before dropping privileges. */
		if (s->workdir[0] != '/')
			hs_fail("workdir '%s' is not absolute", s->workdir);
		if (mkdir_p(s->workdir, 0755) < 0)
			hs_fail("workdir %s: %s", s->workdir, strerror(errno));
	}
	char **env = build_env(s, c);

	/* Where the output goes: the ports, or the console without a channel. */
	int dst_out = hs_chan.out, dst_err = hs_chan.err;
	if (hs_chan.ctl < 0) {
		dst_out = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (dst_out < 0)
			dst_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
		dst_err = dst_out;
	}

	int child_fds[3], parent_close[3] = {-1, -1, -1};
	const char *slave = NULL;
	int slave_fd = -1;
	in.fd = -1;
	out_pump.src = err_pump.src = -1;
	if (s->tty) {
		int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || !(slave = ptsname(m)))
			hs_fail("pseudo-terminal: %s", strerror(errno));
		slave = xstrdup(slave);
		/* Hold a slave fd until the app exits, so the master never reads
		 * EIO before the child has opened its side. */
		slave_fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (slave_fd < 0)
			hs_fail("open %s: %s", slave, strerror(errno));
		struct winsize ws = {.ws_row = 24, .ws_col = 80}; /* until W says otherwise */
		ioctl(m, TIOCSWINSZ, &ws);
		set_nonblock(m);
		out_pump.src = m;
		in.fd = m;
		in.is_pty = 1;
	} else {
		int po[2], pe[2];
		xpipe(po);
		xpipe(pe);
		child_fds[1] = po[1];
		child_fds[2] = pe[1];
		parent_close[1] = po[1];
		parent_close[2] = pe[1];
		out_pump.src = po[0];
		err_pump.src = pe[0];
		set_nonblock(po[0]);
		set_nonblock(pe[0]);
		if (hs_chan.ctl >= 0) {
			/* A pipe fed by I frames and closed by E. A host with
			 * nothing to give sends E right after R: the app reads EOF,
			 * as from the /dev/null of `docker run` without -i. */
			int pi[2];
			xpipe(pi);
			child_fds[0] = pi[0];
			parent_close[0] = pi[0];
			in.fd = pi[1];
			set_nonblock(pi[1]);
		} else {
			/* No host to feed stdin: /dev/null. */
			child_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
			if (child_fds[0] < 0)
				hs_fail("/dev/null: %s", strerror(errno));
			parent_close[0] = child_fds[0];
		}
	}
	out_pump.dst = dst_out;
	err_pump.dst = dst_err;

	int rep[2];
	xpipe(rep);
	app_pid = fork();
	if (app_pid < 0)
		hs_fail("fork: %s", strerror(errno));
	if (app_pid == 0) {
		close(rep[0]);
		child(s, c, env, child_fds, slave, rep[1]);
	}
	close(rep[1]);
	for (int i = 0; i < 3; i++)
		if (parent_close[i] >= 0)
			close(parent_close[i]);
	/* Now that app_pid is known: a W sent with S sizes the terminal before
	 * the app is likely to look (and SIGWINCH covers it if not). */
	handle_buffered();

	/* Wait for exec (EOF) or the child's failure report. */
	struct child_err ce;
	ssize_t r;
	while ((r = read(rep[0], &ce, sizeof ce)) < 0 && errno == EINTR)
		;
	close(rep[0]);
	if (r == (ssize_t)sizeof ce && ce.stage == STAGE_SETUP)
		hs_fail("%s: %s", ce.what, strerror(ce.err));
	if (r <= 0) {
		hs_log("started %s (pid %d)", s->args[0], (int)app_pid);
		if (hs_chan.ctl >= 0)
			channel_send('R', NULL, 0);
	} else {
		hs_log("cannot exec %s: %s", s->args[0], strerror(ce.err));
	}

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		hs_fail("signalfd: %s", strerror(errno));
	ctl_alive = hs_chan.ctl >= 0;

	for (;;) {
		/* Reap first: SIGCHLD may have fired before signalfd existed. */
		int st;
		pid_t p;
		while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
			if (p == app_pid && !app_exited) {
				app_exited = 1;
				app_status = st;
				/* Like Docker: the container ends with its main process.
				 * Their output already written stays in the pipes. */
				kill(-1, SIGKILL);
				if (!in.is_pty)
					stdin_close();
				if (slave_fd >= 0)
					close(slave_fd);
				slave_fd = -1;
				hs_log("app exited (status 0x%x)", st);
			}
		}
		if (app_exited && pump_done(&out_pump) && pump_done(&err_pump))
			break;

		struct pollfd pf[7];
		struct pump *pumps[2] = {&out_pump, &err_pump};
		int n = 0, idx_src[2] = {-1, -1}, idx_dst[2] = {-1, -1}, idx_ctl = -1, idx_in = -1;
		pf[n++] = (struct pollfd){.fd = sfd, .events = POLLIN};
		for (int i = 0; i < 2; i++) {
			struct pump *pp = pumps[i];
			if (pp->len) {
				idx_dst[i] = n;
				pf[n++] = (struct pollfd){.fd = pp->dst, .events = POLLOUT};
			} else if (pp->src >= 0) {
				idx_src[i] = n;
				pf[n++] = (struct pollfd){.fd = pp->src, .events = POLLIN};
			}
		}
		/* Stop reading ctl while much stdin is queued: back-pressure to
		 * the host instead of unbounded memory. */
		if (ctl_alive && (in.len < (1u << 20) || app_exited)) {
			idx_ctl = n;
			pf[n++] = (struct pollfd){.fd = hs_chan.ctl, .events = POLLIN};
		}
		if (in.fd >= 0 && in.len && !in.is_pty) {
			idx_in = n;
			pf[n++] = (struct pollfd){.fd = in.fd, .events = POLLOUT};
		}
		if (poll(pf, n, in.is_pty && in.len ? 50 : -1) < 0) {
			if (errno == EINTR)
				continue;
			hs_fail("poll: %s", strerror(errno));
		}
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
		}
		for (int i = 0; i < 2; i++) {
			struct pump *pp = pumps[i];
			if (idx_src[i] >= 0 && pf[idx_src[i]].revents)
				pump_read(pp);
			if (idx_dst[i] >= 0 && pf[idx_dst[i]].revents) {
				if (pf[idx_dst[i]].revents & POLLOUT) {
					pp->hups = 0;
					pump_write(pp);
				} else if (++pp->hups > 250) {
					pp->len = 0; /* host gone for 5 s: drop, don't hang */
				} else {
					/* Not connected (yet?): a virtio port reports HUP
					 * without blocking, so wait here rather than spin. */
					nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
				}
			}
			/* Opportunistic write right after a read saves a poll round. */
			if (idx_src[i] >= 0 && pp->len)
				pump_write(pp);
		}
		if (idx_ctl >= 0 && pf[idx_ctl].revents)
			drain_ctl();
		if (idx_in >= 0 || (in.is_pty && in.len))
			stdin_flush();
	}
	close(sfd);
	if (hs_chan.ctl < 0)
		close(dst_out);
	*nout = out_pump.count;
	*nerr = err_pump.count;
	if (WIFSIGNALED(app_status))
		return 128 + WTERMSIG(app_status);
	return WEXITSTATUS(app_status);
}
