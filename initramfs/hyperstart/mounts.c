/* Filesystems. Like Docker we mount only the kernel's API filesystems
 * (/proc /sys /dev /dev/pts /dev/shm) and leave the image's own directories,
 * /tmp and /run included, exactly as the image has them. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "log.h"
#include "util.h"

static void do_mount(const char *src, const char *dst, const char *type,
		     unsigned long flags, const char *data)
{
	if (mkdir_p(dst, 0755) < 0)
		hs_fail("mkdir %s: %s", dst, strerror(errno));
	if (mount(src, dst, type, flags, data) < 0 && errno != EBUSY)
		hs_fail("mount %s on %s: %s", type, dst, strerror(errno));
	hs_log("mounted %s on %s", type, dst);
}

/* The kernel opens /dev/console for PID 1 only if the initramfs has it; make
 * sure fds 0-2 exist so diagnostics and dup2() targets are valid. */
static void ensure_console(void)
{
	if (fcntl(2, F_GETFD) >= 0)
		return;
	int fd = open("/dev/console", O_RDWR | O_NOCTTY);
	if (fd < 0)
		fd = open("/dev/null", O_RDWR);
	for (int i = 0; i < 3 && fd >= 0; i++)
		if (fcntl(i, F_GETFD) < 0)
			dup2(fd, i);
	if (fd > 2)
		close(fd);
}

void mount_early(void)
{
	const unsigned long common = MS_NOSUID | MS_NODEV | MS_NOEXEC;
	do_mount("proc", "/proc", "proc", common, NULL);
	do_mount("sysfs", "/sys", "sysfs", common, NULL);
	do_mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
	ensure_console();
}

static void symlink_force(const char *target, const char *path)
{
	unlink(path);
	if (symlink(target, path) < 0)
		hs_fail("symlink %s: %s", path, strerror(errno));
}

void mount_late(void)
{
	/* gid 5 = tty, as Docker and every distro expects for pty slaves. */
	do_mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		 "newinstance,ptmxmode=0666,mode=0620,gid=5");
	do_mount("shm", "/dev/shm", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
	/* Route /dev/ptmx to our devpts instance rather than devtmpfs' node. */
	symlink_force("pts/ptmx", "/dev/ptmx");
	symlink_force("/proc/self/fd", "/dev/fd");
	symlink_force("/proc/self/fd/0", "/dev/stdin");
	symlink_force("/proc/self/fd/1", "/dev/stdout");
	symlink_force("/proc/self/fd/2", "/dev/stderr");
	if (access("/proc/kcore", F_OK) == 0)
		symlink_force("/proc/kcore", "/dev/core");
}

static void move_api_mount(const char *from, const char *root, const char *name)
{
	char to[256];
	snprintf(to, sizeof to, "%s%s", root, name);
	if (mkdir_p(to, 0755) < 0)
		hs_fail("mkdir %s: %s", to, strerror(errno));
	if (mount(from, to, NULL, MS_MOVE, NULL) < 0)
		hs_fail("move %s to %s: %s", from, to, strerror(errno));
}

/* Disk rootfs bundles: the image lives on a block device. Mount it read-only
 * under a tmpfs overlay (so the app can write, and the disk stays pristine
 * and shareable), then make it / the way switch_root does: MS_MOVE + chroot
 * (pivot_root does not work on the initramfs rootfs). */
void rootdisk_switch(const char *dev, const char *fstype)
{
	const char *lower = "/.hyperstart/mnt/lower", *rw = "/.hyperstart/mnt/rw",
		   *root = "/.hyperstart/mnt/root";
	/* The block driver may still be probing; wait up to 5 s for the node. */
	for (int i = 0; i < 500 && access(dev, F_OK) < 0; i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	do_mount(dev, lower, fstype, MS_RDONLY, NULL);
	do_mount("tmpfs", rw, "tmpfs", 0, "mode=0755");
	if (mkdir_p("/.hyperstart/mnt/rw/upper", 0755) < 0 ||
	    mkdir_p("/.hyperstart/mnt/rw/work", 0755) < 0)
		hs_fail("mkdir overlay dirs: %s", strerror(errno));
	do_mount("overlay", root, "overlay", 0,
		 "lowerdir=/.hyperstart/mnt/lower,upperdir=/.hyperstart/mnt/rw/upper,"
		 "workdir=/.hyperstart/mnt/rw/work");
	move_api_mount("/proc", root, "/proc");
	move_api_mount("/sys", root, "/sys");
	move_api_mount("/dev", root, "/dev");
	if (chdir(root) < 0 || mount(".", "/", NULL, MS_MOVE, NULL) < 0 ||
	    chroot(".") < 0 || chdir("/") < 0)
		hs_fail("switch to root disk: %s", strerror(errno));
	hs_log("switched root to %s (%s)", dev, fstype);
}

void mount_volumes(const struct spec *s)
{
	for (size_t i = 0; i < s->nvolumes; i++) {
		const struct volume *v = &s->volumes[i];
		if (v->path[0] != '/')
			hs_fail("volume %s: guest path '%s' is not absolute", v->tag, v->path);
		if (mkdir_p(v->path, 0755) < 0)
			hs_fail("volume %s: mkdir %s: %s", v->tag, v->path, strerror(errno));
		if (mount(v->tag, v->path, "9p", v->readonly ? MS_RDONLY : 0,
			  "trans=virtio,version=9p2000.L,msize=512000") < 0)
			hs_fail("volume %s: mount 9p on %s: %s", v->tag, v->path, strerror(errno));
		hs_log("volume %s on %s (%s)", v->tag, v->path, v->readonly ? "ro" : "rw");
	}
}
