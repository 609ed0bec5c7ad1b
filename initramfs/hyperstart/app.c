/* Running the app (app.h): start it (app_spawn.c), then an event loop that
 * copies the app's output to the host ports (or the console), acts on control
 * frames (K W I E; exec frames go to exec.c) and reaps every zombie (we are PID 1). It ends when the
 * app has exited and all of its output has been written, so the byte counts
 * in X are what the host will have read. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include "app.h"
#include "app_spawn.h"
#include "channel.h"
#include "exec.h"
#include "log.h"
#include "protocol.h"
#include "util.h"

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
static struct pump *const pumps[2] = {&out_pump, &err_pump};

static pid_t app_pid;
static int app_status, app_exited;
static int slave_fd = -1; /* tty mode: held until the app exits */
static int ctl_alive;

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

static void stdin_queue(const unsigned char *p, uint32_t len)
{
	if (in.fd < 0)
		return;
	if (in.len + len > in.cap) {
		in.cap = (in.len + len) * 2;
		in.buf = xrealloc(in.buf, in.cap);
	}
	memcpy(in.buf + in.len, p, len);
	in.len += len;
	stdin_flush();
}

static void handle_frame(char type, const unsigned char *p, uint32_t len)
{
	int sig;
	unsigned short rows, cols;
	switch (type) {
	case FRAME_KILL:
		if (kill_payload_decode(p, len, &sig) == 0 && !app_exited) {
			/* The app leads its own process group (setsid); fall back to
			 * the pid if it moved itself elsewhere. */
			if (kill(-app_pid, sig) < 0)
				kill(app_pid, sig);
			hs_log("signal %d to app", sig);
		}
		break;
	case FRAME_WINSIZE:
		if (winsize_payload_decode(p, len, &rows, &cols) == 0 && in.is_pty && out_pump.src >= 0) {
			struct winsize ws = {.ws_row = rows, .ws_col = cols};
			/* The kernel sends SIGWINCH to the foreground group for us. */
			ioctl(out_pump.src, TIOCSWINSZ, &ws);
		}
		break;
	case FRAME_INPUT:
		stdin_queue(p, len);
		break;
	case FRAME_EOF:
		/* A terminal has no EOF of its own; in tty mode the host sends ^D. */
		if (!in.is_pty) {
			in.eof_pending = 1;
			stdin_flush();
		}
		break;
	case FRAME_EXEC_NEW: case FRAME_EXEC_INPUT: case FRAME_EXEC_EOF:
	case FRAME_EXEC_KILL: case FRAME_EXEC_WINSIZE:
		exec_frame(type, p, len);
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

/* waitpid every zombie; the app's own exit ends the container, as in Docker. */
static void reap(void)
{
	int st;
	pid_t p;
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (p != app_pid || app_exited) {
			exec_reaped(p, st);
			continue;
		}
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

/* What one poll() waits for: the signalfd, each pump's source or
 * destination, ctl, and the stdin target; -1 where not polled; then the
 * exec processes' descriptors from pf[exec_from] on (exec.c). */
struct pollset {
	struct pollfd pf[7 + EXEC_POLL_MAX];
	int n, src[2], dst[2], ctl, in, exec_from;
};

static int pollset_add(struct pollset *ps, int fd, short events)
{
	ps->pf[ps->n] = (struct pollfd){.fd = fd, .events = events};
	return ps->n++;
}

static void pollset_build(struct pollset *ps, int sfd)
{
	*ps = (struct pollset){.src = {-1, -1}, .dst = {-1, -1}, .ctl = -1, .in = -1};
	pollset_add(ps, sfd, POLLIN);
	for (int i = 0; i < 2; i++) {
		struct pump *pp = pumps[i];
		if (pp->len)
			ps->dst[i] = pollset_add(ps, pp->dst, POLLOUT);
		else if (pp->src >= 0)
			ps->src[i] = pollset_add(ps, pp->src, POLLIN);
	}
	/* Stop reading ctl while much stdin is queued: back-pressure to
	 * the host instead of unbounded memory. */
	if (ctl_alive && (in.len < (1u << 20) || app_exited))
		ps->ctl = pollset_add(ps, hs_chan.ctl, POLLIN);
	if (in.fd >= 0 && in.len && !in.is_pty)
		ps->in = pollset_add(ps, in.fd, POLLOUT);
	ps->exec_from = ps->n;
	if (!app_exited)
		ps->n = exec_poll_add(ps->pf, ps->n);
}

static void pump_service(struct pump *pp, const struct pollset *ps, int i)
{
	if (ps->src[i] >= 0 && ps->pf[ps->src[i]].revents)
		pump_read(pp);
	if (ps->dst[i] >= 0 && ps->pf[ps->dst[i]].revents) {
		if (ps->pf[ps->dst[i]].revents & POLLOUT) {
			pp->hups = 0;
			pump_write(pp);
		} else if (++pp->hups > 250) {
			pp->len = 0; /* host gone for 5 s: drop, don't hang */
		} else {
			/* Not connected (yet?): a virtio port reports HUP
			 * without blocking, so wait here rather than spin. */
			sleep_ms(20);
		}
	}
	/* Opportunistic write right after a read saves a poll round. */
	if (ps->src[i] >= 0 && pp->len)
		pump_write(pp);
}

static void event_loop(int sfd)
{
	for (;;) {
		/* Reap first: SIGCHLD may have fired before signalfd existed. */
		reap();
		if (app_exited && pump_done(&out_pump) && pump_done(&err_pump))
			return;
		struct pollset ps;
		pollset_build(&ps, sfd);
		if (poll(ps.pf, ps.n, in.is_pty && in.len ? 50 : -1) < 0) {
			if (errno == EINTR)
				continue;
			hs_fail("poll: %s", strerror(errno));
		}
		if (ps.pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof si) > 0)
				;
		}
		for (int i = 0; i < 2; i++)
			pump_service(pumps[i], &ps, i);
		exec_poll_service(ps.pf, ps.exec_from, ps.n);
		if (ps.ctl >= 0 && ps.pf[ps.ctl].revents)
			drain_ctl();
		if (ps.in >= 0 || (in.is_pty && in.len))
			stdin_flush();
	}
}

/* Start the app with its output going to dst_out/dst_err; sends R once it runs. */
static void start(const struct spec *s, const struct creds *c, int dst_out, int dst_err)
{
	struct app_proc a;
	app_start(s, c, hs_chan.ctl >= 0, &a);
	app_pid = a.pid;
	slave_fd = a.slave_fd;
	in.fd = a.in;
	in.is_pty = a.is_pty;
	out_pump.src = a.out;
	err_pump.src = a.err;
	out_pump.dst = dst_out;
	err_pump.dst = dst_err;
	/* Now that app_pid is known: a W sent with S sizes the terminal before
	 * the app is likely to look (and SIGWINCH covers it if not). */
	handle_buffered();
	if (app_wait_exec(s, &a) && hs_chan.ctl >= 0)
		channel_send(FRAME_READY, NULL, 0);
}

int app_run(const struct spec *s, const struct creds *c, uint64_t *nout, uint64_t *nerr)
{
	/* Where the output goes: the ports, or the console without a channel. */
	int dst_out = hs_chan.out, dst_err = hs_chan.err;
	if (hs_chan.ctl < 0) {
		dst_out = open("/dev/console", O_WRONLY | O_NOCTTY | O_CLOEXEC);
		if (dst_out < 0)
			dst_out = fcntl(1, F_DUPFD_CLOEXEC, 3);
		dst_err = dst_out;
	}
	start(s, c, dst_out, dst_err);

	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	int sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		hs_fail("signalfd: %s", strerror(errno));
	ctl_alive = hs_chan.ctl >= 0;
	event_loop(sfd);

	close(sfd);
	if (hs_chan.ctl < 0)
		close(dst_out);
	*nout = out_pump.count;
	*nerr = err_pump.count;
	if (WIFSIGNALED(app_status))
		return 128 + WTERMSIG(app_status);
	return WEXITSTATUS(app_status);
}
