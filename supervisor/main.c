/* hyperbuild-supervisor's start-up and poll loop (sv.h says what it is).
 *
 *   hyperbuild-supervisor --dir DIR --version V [--log-max BYTES] [--timeout-ms MS]
 *       [--tty] [--rm] [--name-link PATH] [--ready-fd FD]
 *       [--uid N --gid N] [--file FD=PATH]... [--own PATH]...
 *       [--restore STATE --qmp PATH --incoming PATH [--hostfwd RULE]...] -- QEMU ARGV...
 *
 * In DIR (the VM's state directory, made by toolchain/vm/) it reads `spec`
 * (the runtime spec), listens on chan/{ctl,out,err,con}.sock (QEMU connects)
 * and monitor.sock, hands the --own paths to --uid/--gid, starts QEMU as its
 * child in its jail (spawn.c), and runs the guest link until the VM has ended.
 * With --restore, QEMU is a VM template's clone: restore.c loads the saved
 * state and adds the port forwards over QMP before the link starts. The
 * ready fd gets one line: `running` once the app started, else `exited CODE
 * OUTCOME MESSAGE`, or `restore-failed WHY` (QEMU killed, nothing recorded:
 * hyperbuild starts a cold supervisor in the same directory). SIGTERM/SIGINT/SIGHUP to the supervisor stop the VM like
 * `hyperbuild stop -t 10`; a second one kills it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv.h"

struct sv sv;

/* In chan/, the directory the jail hands to QEMU's user (made by hyperbuild, 0700). */
static const char *const SOCKETS[CH_N] = {"chan/ctl.sock", "chan/out.sock", "chan/err.sock", "chan/con.sock"};
#define REQUEST_SOCKET "monitor.sock"

static void usage(const char *why)
{
	dprintf(2, "hyperbuild-supervisor: %s\n", why);
	dprintf(2, "usage: hyperbuild-supervisor --dir DIR --version V [--log-max BYTES] [--timeout-ms MS] [--tty] [--rm] [--name-link PATH] [--ready-fd FD] [--uid N --gid N] [--file FD=PATH]... [--own PATH]... [--restore STATE --qmp PATH --incoming PATH [--hostfwd RULE]...] -- ARGV...\n");
	exit(2);
}

static void parse_args(int argc, char **argv)
{
	sv.log_max = 1 << 20;
	sv.ready_fd = -1;
	sv.uid = sv.gid = -1;
	int i = 1;
	for (; i < argc && strcmp(argv[i], "--"); i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--tty")) { sv.tty = 1; continue; }
		if (!strcmp(a, "--rm")) { sv.rm = 1; continue; }
		if (!v)
			usage("missing value");
		if (!strcmp(a, "--dir")) sv.dir = v;
		else if (!strcmp(a, "--version")) sv.version = v;
		else if (!strcmp(a, "--log-max")) sv.log_max = atoll(v);
		else if (!strcmp(a, "--timeout-ms")) sv.timeout_ms = atol(v);
		else if (!strcmp(a, "--name-link")) sv.name_link = v;
		else if (!strcmp(a, "--ready-fd")) sv.ready_fd = atoi(v);
		else if (!strcmp(a, "--uid")) sv.uid = atol(v);
		else if (!strcmp(a, "--gid")) sv.gid = atol(v);
		else if (!strcmp(a, "--own") && sv.nown < SV_MAX_FILES) sv.own[sv.nown++] = v;
		else if (!strcmp(a, "--restore")) sv.restore_state = v;
		else if (!strcmp(a, "--qmp")) sv.restore_qmp = v;
		else if (!strcmp(a, "--incoming")) sv.restore_incoming = v;
		else if (!strcmp(a, "--hostfwd") && sv.nhostfwd < SV_MAX_HOSTFWD) sv.hostfwd[sv.nhostfwd++] = v;
		else if (!strcmp(a, "--file") && sv.nfiles < SV_MAX_FILES && strchr(v, '=')) {
			sv.files[sv.nfiles].child_fd = atoi(v);
			sv.files[sv.nfiles++].path = strchr(v, '=') + 1;
		} else usage(a);
		i++;
	}
	if (i + 1 >= argc || !sv.dir || !sv.version || sv.log_max < 4096)
		usage("--dir, --version and a command after -- are required; --log-max is at least 4096");
	if (sv.restore_state && (!sv.restore_qmp || !sv.restore_incoming))
		usage("--restore needs --qmp and --incoming");
	sv.qemu_argv = argv + i + 1;
}

void ready_report(const char *line)
{
	if (sv.ready_fd < 0)
		return;
	if (write(sv.ready_fd, line, strlen(line)) < 0) { /* starter gone: nothing to tell */ }
	close(sv.ready_fd);
	sv.ready_fd = -1;
}

static int listen_unix(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
	unlink(path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 16) < 0) {
		sv_log("listen %s: %s", path, strerror(errno));
		exit(125);
	}
	return fd;
}

static void setup_signals(void)
{
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGCHLD);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	sigprocmask(SIG_BLOCK, &s, NULL);
	sv.sigfd = signalfd(-1, &s, SFD_NONBLOCK | SFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);
}

static void start(void)
{
	if (chdir(sv.dir) < 0 || read_whole("spec", &sv.spec) < 0) {
		sv_log("cannot use %s/spec: %s", sv.dir, strerror(errno));
		exit(125);
	}
	if (sv.ready_fd >= 0)
		fcntl(sv.ready_fd, F_SETFD, FD_CLOEXEC);
	sv.self.pid = getpid();
	proc_start_time(sv.self.pid, &sv.self.start);
	for (int t = 0; t < T_N; t++)
		sv.deadline[t] = -1;
	setup_signals();
	for (int c = 0; c < CH_N; c++) {
		sv.listen[c] = listen_unix(SOCKETS[c]);
		sv.conn[c] = -1;
	}
	sv.req_listen = listen_unix(REQUEST_SOCKET);
	sv.qmp_listen = sv.restore_state ? listen_unix(sv.restore_qmp) : -1;
	hand_over();
	logfile_open(&sv.applog, "container.log", "container.log.1", sv.log_max, 1);
	logfile_open(&sv.conlog, "console.log", "console.log.1", sv.log_max, 0);
	status_write("starting");
	int e = spawn_qemu();
	if (e) {
		char msg[300];
		snprintf(msg, sizeof msg, "cannot start %s: %s", sv.qemu_argv[0], strerror(e));
		link_decide(125, "vm-died", msg);
		sv.state = L_DONE;
		return;
	}
	status_write("starting");
	if (sv.timeout_ms > 0)
		set_timer(T_TIMEOUT, sv.timeout_ms);
}

static void on_signals(void)
{
	struct signalfd_siginfo si;
	while (read(sv.sigfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			int st;
			if (!sv.qemu_exited && waitpid(sv.qemu.pid, &st, WNOHANG) == sv.qemu.pid) {
				sv.qemu_status = st;
				link_vm_exited();
			}
			while (waitpid(-1, &st, WNOHANG) > 0)
				;
		} else if (!sv.stop_requested && sv.state <= L_RUNNING) {
			link_stop(10000, SIGTERM);
		} else {
			link_kill_vm();
			link_decide(137, "stop-killed", "the supervisor was signalled twice; the VM was killed");
		}
	}
}

static void accept_channel(int c)
{
	int fd = accept4(sv.listen[c], NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	sv.conn[c] = fd;
	close(sv.listen[c]);
	sv.listen[c] = -1;
	unlink(SOCKETS[c]); /* one peer per channel: nobody else gets in */
}

static void read_channel(int c)
{
	unsigned char b[65536];
	ssize_t r = read(sv.conn[c], b, sizeof b);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		close(sv.conn[c]);
		sv.conn[c] = -1;
		return;
	}
	switch (c) {
	case CH_CTL: link_ctl_bytes(b, r); break;
	case CH_OUT: logfile_app(&sv.applog, "stdout", b, r); link_output(0, r); break;
	case CH_ERR: logfile_app(&sv.applog, "stderr", b, r); link_output(1, r); break;
	default: logfile_raw(&sv.conlog, b, r); break;
	}
}

static void flush_ctl(void)
{
	ssize_t w = write(sv.conn[CH_CTL], sv.ctl_out.p, sv.ctl_out.len);
	if (w > 0)
		buf_drop(&sv.ctl_out, w);
}

enum { W_SIG, W_LISTEN, W_CONN = W_LISTEN + CH_N, W_REQ = W_CONN + CH_N, W_CLIENT };

struct pollset {
	struct pollfd pf[W_CLIENT + SV_MAX_CLIENTS];
	int who[W_CLIENT + SV_MAX_CLIENTS];
	int n;
};

static void add(struct pollset *ps, int fd, short ev, int who)
{
	ps->pf[ps->n] = (struct pollfd){.fd = fd, .events = ev};
	ps->who[ps->n++] = who;
}

static void build(struct pollset *ps)
{
	ps->n = 0;
	add(ps, sv.sigfd, POLLIN, W_SIG);
	for (int c = 0; c < CH_N; c++) {
		if (sv.listen[c] >= 0)
			add(ps, sv.listen[c], POLLIN, W_LISTEN + c);
		if (sv.conn[c] < 0)
			continue;
		short ev = (c != CH_CTL || clients_backlog() < SV_CLIENT_BACKLOG) ? POLLIN : 0;
		if (c == CH_CTL && sv.ctl_out.len)
			ev |= POLLOUT;
		add(ps, sv.conn[c], ev, W_CONN + c);
	}
	add(ps, sv.req_listen, POLLIN, W_REQ);
	for (int i = 0; i < SV_MAX_CLIENTS; i++) {
		struct client *c = sv.clients[i];
		if (!c)
			continue;
		/* Exec stdin waits while ctl has a backlog (back-pressure to the client). */
		short in = (c->kind != C_EXEC || sv.ctl_out.len < SV_CLIENT_BACKLOG) ? POLLIN : 0;
		add(ps, c->fd, in | (c->out.len ? POLLOUT : 0), W_CLIENT + i);
	}
}

static int poll_timeout(void)
{
	long now = mono_ms(), best = -1;
	for (int t = 0; t < T_N; t++)
		if (sv.deadline[t] >= 0 && (best < 0 || sv.deadline[t] < best))
			best = sv.deadline[t];
	return best < 0 ? -1 : best <= now ? 0 : (int)(best - now);
}

static void dispatch(const struct pollset *ps)
{
	for (int i = 0; i < ps->n; i++) {
		short re = ps->pf[i].revents;
		int who = ps->who[i];
		if (!re)
			continue;
		if (who == W_SIG) on_signals();
		else if (who < W_CONN) accept_channel(who - W_LISTEN);
		else if (who < W_REQ) {
			int c = who - W_CONN;
			if (sv.conn[c] >= 0 && (re & (POLLIN | POLLHUP | POLLERR)))
				read_channel(c);
			if (c == CH_CTL && sv.conn[c] >= 0 && (re & POLLOUT))
				flush_ctl();
		} else if (who == W_REQ) clients_accept();
		else if (sv.clients[who - W_CLIENT]) clients_service(who - W_CLIENT, re);
	}
}

static void fire_timers(void)
{
	long now = mono_ms();
	for (int t = 0; t < T_N; t++)
		if (sv.deadline[t] >= 0 && sv.deadline[t] <= now)
			link_timer((enum timer)t);
}

static int channels_open(void)
{
	for (int c = 0; c < CH_N; c++)
		if (sv.conn[c] >= 0)
			return 1;
	return 0;
}

static void run_loop(void)
{
	while (sv.state != L_DONE) {
		struct pollset ps;
		build(&ps);
		if (poll(ps.pf, ps.n, poll_timeout()) < 0 && errno != EINTR) {
			sv_log("poll: %s", strerror(errno));
			link_kill_vm();
			link_decide(125, "vm-died", "the supervisor failed (poll)");
		}
		dispatch(&ps);
		fire_timers();
		if (sv.qemu_exited && !channels_open())
			link_finish();
	}
}

static void empty_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[512];
	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path) < 0 && errno == EISDIR)
			rmdir(path);
	}
	if (d)
		closedir(d);
}

/* --rm: the state directory and the name link go when the VM ends. */
static void remove_state(void)
{
	if (sv.name_link)
		unlink(sv.name_link);
	empty_dir("chan");
	rmdir("chan");
	empty_dir(".");
	if (chdir("/") == 0 && rmdir(sv.dir) < 0)
		sv_log("cannot remove %s: %s", sv.dir, strerror(errno));
}

/* The clone could not be restored: QEMU goes, and so does every trace of this attempt but the logs. */
static void abandon_restore(const char *why)
{
	sv_log("VM template not restored: %s", why);
	link_kill_vm();
	if (!sv.qemu_exited && sv.qemu.pid > 0)
		waitpid(sv.qemu.pid, NULL, 0);
	for (int c = 0; c < CH_N; c++)
		unlink(SOCKETS[c]);
	unlink(REQUEST_SOCKET);
	char line[600];
	snprintf(line, sizeof line, "restore-failed %s\n", why);
	ready_report(line);
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	start();
	if (sv.restore_state && sv.state != L_DONE) {
		char why[400];
		long t = mono_ms();
		if (restore_vm(why, sizeof why) < 0) {
			abandon_restore(why);
			return 0;
		}
		sv_log("restored from the VM template in %ld ms", mono_ms() - t);
		link_restored();
	}
	run_loop();
	/* QEMU is gone; make sure (a kill above may still be in flight). */
	if (!sv.qemu_exited && sv.qemu.pid > 0) {
		kill(sv.qemu.pid, SIGKILL);
		waitpid(sv.qemu.pid, NULL, 0);
	}
	status_write("exited");
	char line[700];
	snprintf(line, sizeof line, "exited %d %s %s\n", sv.exit_code, sv.outcome, sv.message);
	ready_report(line);
	unlink(REQUEST_SOCKET);
	clients_finish();
	close(sv.req_listen);
	if (sv.rm)
		remove_state();
	return 0;
}
