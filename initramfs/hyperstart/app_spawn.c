/* Starting the app (app_spawn.h): fork/exec with Docker's semantics — the
 * spec's environment plus PATH and HOME, its own session, the user and
 * working directory, PATH search with the app's PATH — and stdio as pipes, or
 * a pseudo-terminal in tty mode. The app never writes to the ports directly:
 * app.c copies its output, so it can count bytes for X. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "app_spawn.h"
#include "log.h"
#include "util.h"

/* Docker's default PATH, used when the app's environment has none. */
#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* What the child tells us through a CLOEXEC pipe when it cannot exec: EOF on
 * that pipe means execve succeeded. */
enum { STAGE_SETUP = 1, STAGE_EXEC = 2 };
struct child_err {
	int stage, err;
	char what[200];
};

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
		env[n++] = "PATH=" DEFAULT_PATH;
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

/* execve() of cmd in directory p[0..dlen) (empty: cwd); returns errno. */
static int exec_in(const char *p, size_t dlen, const char *cmd, char **argv, char **env)
{
	char full[4096];
	size_t clen = strlen(cmd);
	if (dlen + clen + 2 > sizeof full)
		return ENAMETOOLONG;
	if (dlen) {
		memcpy(full, p, dlen);
		full[dlen] = '/';
		memcpy(full + dlen + 1, cmd, clen + 1);
	} else {
		memcpy(full, cmd, clen + 1); /* empty element = cwd */
	}
	execve(full, argv, env);
	return errno;
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
		path = DEFAULT_PATH;
	int seen_eacces = 0;
	for (const char *p = path;; p++) {
		const char *colon = strchrnul(p, ':');
		int e = exec_in(p, colon - p, cmd, argv, env);
		switch (e) {
		case EACCES:
			seen_eacces = 1;
			/* fallthrough */
		case ENOENT: case ENOTDIR: case ELOOP: case ENAMETOOLONG:
			break;
		default:
			return e; /* found, but cannot run it (ENOEXEC...) */
		}
		if (!*colon)
			break;
		p = colon;
	}
	return seen_eacces ? EACCES : ENOENT;
}

/* In the child: fds[0..2] become stdio (in two passes, so a source fd that
 * is also a target is never clobbered before it is copied); or the pty slave,
 * made the controlling terminal. Returns NULL, or what failed (errno set). */
static const char *child_stdio(int fds[3], const char *slave)
{
	if (slave) {
		int t = open(slave, O_RDWR);
		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
			return "open terminal";
		fds[0] = fds[1] = fds[2] = t;
	}
	int tmp[3];
	for (int i = 0; i < 3; i++)
		tmp[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 3);
	for (int i = 0; i < 3; i++)
		if (tmp[i] < 0 || dup2(tmp[i], i) < 0)
			return "set up stdio";
	return NULL;
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
	const char *failed = child_stdio(fds, slave);
	if (failed) {
		child_report(report, STAGE_SETUP, errno, failed);
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

/* tty mode: a pty whose master carries output and input; returns the slave's path. */
static const char *open_pty(struct app_proc *a)
{
	const char *slave;
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0 || !(slave = ptsname(m)))
		hs_fail("pseudo-terminal: %s", strerror(errno));
	slave = xstrdup(slave);
	/* Hold a slave fd until the app exits, so the master never reads
	 * EIO before the child has opened its side. */
	a->slave_fd = open(slave, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (a->slave_fd < 0)
		hs_fail("open %s: %s", slave, strerror(errno));
	struct winsize ws = {.ws_row = 24, .ws_col = 80}; /* until W says otherwise */
	ioctl(m, TIOCSWINSZ, &ws);
	set_nonblock(m);
	a->out = m;
	a->in = m;
	a->is_pty = 1;
	return slave;
}

/* Pipes: child ends into child_fds (closed by us after fork: parent_close). */
static void open_pipes(struct app_proc *a, int with_host, int child_fds[3], int parent_close[3])
{
	int po[2], pe[2];
	xpipe(po);
	xpipe(pe);
	child_fds[1] = parent_close[1] = po[1];
	child_fds[2] = parent_close[2] = pe[1];
	a->out = po[0];
	a->err = pe[0];
	set_nonblock(po[0]);
	set_nonblock(pe[0]);
	if (with_host) {
		/* A pipe fed by I frames and closed by E. A host with
		 * nothing to give sends E right after R: the app reads EOF,
		 * as from the /dev/null of `docker run` without -i. */
		int pi[2];
		xpipe(pi);
		child_fds[0] = parent_close[0] = pi[0];
		a->in = pi[1];
		set_nonblock(pi[1]);
	} else {
		/* No host to feed stdin: /dev/null. */
		child_fds[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (child_fds[0] < 0)
			hs_fail("/dev/null: %s", strerror(errno));
		parent_close[0] = child_fds[0];
	}
}

static void check_command(const struct spec *s)
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
}

void app_start(const struct spec *s, const struct creds *c, int with_host, struct app_proc *a)
{
	check_command(s);
	char **env = build_env(s, c);
	int child_fds[3] = {-1, -1, -1}, parent_close[3] = {-1, -1, -1};
	const char *slave = NULL;
	*a = (struct app_proc){.out = -1, .err = -1, .in = -1, .slave_fd = -1};
	if (s->tty)
		slave = open_pty(a);
	else
		open_pipes(a, with_host, child_fds, parent_close);

	int rep[2];
	xpipe(rep);
	a->pid = fork();
	if (a->pid < 0)
		hs_fail("fork: %s", strerror(errno));
	if (a->pid == 0) {
		close(rep[0]);
		child(s, c, env, child_fds, slave, rep[1]);
	}
	close(rep[1]);
	a->report = rep[0];
	for (int i = 0; i < 3; i++)
		if (parent_close[i] >= 0)
			close(parent_close[i]);
}

int app_wait_exec(const struct spec *s, struct app_proc *a)
{
	struct child_err ce;
	ssize_t r;
	while ((r = read(a->report, &ce, sizeof ce)) < 0 && errno == EINTR)
		;
	close(a->report);
	a->report = -1;
	if (r == (ssize_t)sizeof ce && ce.stage == STAGE_SETUP)
		hs_fail("%s: %s", ce.what, strerror(ce.err));
	if (r <= 0) {
		hs_log("started %s (pid %d)", s->args[0], (int)a->pid);
		return 1;
	}
	hs_log("cannot exec %s: %s", s->args[0], strerror(ce.err));
	return 0;
}
