/* QEMU as the supervisor's child, in the jail toolchain/boot/jail.ts decided
 * (sv.h): the --file descriptors opened here (read-only, as the supervisor)
 * and inherited at their numbers, the --own paths (the channel directory and
 * the sockets we made) handed to QEMU's user, then setgroups/setgid/setuid to
 * --gid/--uid before exec. PR_SET_PDEATHSIG: QEMU never outlives us.
 * PR_SET_THP_DISABLE (kept across exec): QEMU madvises its TCG code buffer
 * (and anonymous guest RAM) for transparent huge pages, so every 2 MiB it
 * touches costs 2 MiB; without them an idle template clone costs ~3.4 MiB
 * less PSS for the same CPU time (README, Measurements: Density). stdin is
 * /dev/null; stdout and stderr are ours (supervisor.log). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include "sv.h"

void hand_over(void)
{
	if (sv.uid < 0)
		return;
	for (int i = 0; i < sv.nown; i++)
		if (chown(sv.own[i], (uid_t)sv.uid, (gid_t)sv.gid) < 0)
			sv_log("chown %s: %s", sv.own[i], strerror(errno));
}

/* In the child: each file onto its number (via high numbers, so none clobbers another). */
static void place_files(const int *fds)
{
	int high[SV_MAX_FILES];
	for (int i = 0; i < sv.nfiles; i++)
		high[i] = fcntl(fds[i], F_DUPFD, 100);
	for (int i = 0; i < sv.nfiles; i++) {
		dup2(high[i], sv.files[i].child_fd);
		close(high[i]);
	}
}

/* Returns 0, or the errno of the step that failed. */
static int become_jailed(void)
{
	if (sv.uid < 0)
		return 0;
	if (setgroups(0, NULL) < 0 || setgid((gid_t)sv.gid) < 0 || setuid((uid_t)sv.uid) < 0)
		return errno;
	return 0;
}

static void child(int report, const int *fds, pid_t parent)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0);
	if (getppid() != parent)
		_exit(125);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	signal(SIGPIPE, SIG_DFL);
	int nul = open("/dev/null", O_RDONLY);
	dup2(nul, 0);
	place_files(fds);
	int e = become_jailed();
	if (!e) {
		execvp(sv.qemu_argv[0], sv.qemu_argv);
		e = errno;
	}
	if (write(report, &e, sizeof e) < 0) { /* the parent then reads EOF */ }
	_exit(127);
}

int spawn_qemu(void)
{
	int fds[SV_MAX_FILES], p[2];
	for (int i = 0; i < sv.nfiles; i++) {
		fds[i] = open(sv.files[i].path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			int e = errno;
			sv_log("open %s: %s", sv.files[i].path, strerror(e));
			return e;
		}
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return errno;
	pid_t parent = getpid(), pid = fork();
	if (pid < 0)
		return errno;
	if (pid == 0)
		child(p[1], fds, parent);
	close(p[1]);
	for (int i = 0; i < sv.nfiles; i++)
		close(fds[i]);
	int e = 0;
	ssize_t r = read(p[0], &e, sizeof e);
	close(p[0]);
	sv.qemu.pid = pid;
	proc_start_time(pid, &sv.qemu.start);
	return r == sizeof e ? e : 0;
}
