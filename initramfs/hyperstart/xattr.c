/* Extended attributes (file capabilities, SELinux labels...) that the image
 * carries but a newc initramfs cannot: the build records them in the spec. */
#include <errno.h>
#include <string.h>
#include <sys/xattr.h>

#include "hs.h"
#include "log.h"
#include "util.h"

void apply_xattrs(const struct spec *s)
{
	for (size_t i = 0; i < s->nxattrs; i++) {
		const struct xattr_rec *x = &s->xattrs[i];
		if (lsetxattr(x->path, x->name, x->value.data, x->value.len, 0) < 0)
			hs_fail("xattr %s on %s: %s", x->name, x->path, strerror(errno));
		hs_log("xattr %s on %s", x->name, x->path);
	}
}
