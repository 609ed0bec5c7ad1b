/* Kernel modules for modular kernels (e.g. Debian's cloud kernel, where
 * virtio_pci and virtio_console are modules). The build orders the `module`
 * records by dependency, so we just load them in order; no modprobe, no
 * modules.dep in the guest. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "hs.h"
#include "log.h"
#include "util.h"

void load_modules(const struct spec *s)
{
	for (size_t i = 0; i < s->nmodules; i++) {
		const char *path = s->modules[i];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			hs_fail("module %s: %s", path, strerror(errno));
		long r = syscall(SYS_finit_module, fd, "", 0);
		int e = errno;
		close(fd);
		/* EEXIST: built into this kernel or already loaded; that is fine. */
		if (r < 0 && e != EEXIST)
			hs_fail("module %s: finit_module: %s", path, strerror(e));
		hs_log("module %s %s", path, r < 0 ? "already loaded" : "loaded");
	}
}
