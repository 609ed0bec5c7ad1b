/*
 * The spec HyperStart runs (spec.c): what the records of PROTOCOL.md "Spec
 * records" mean, parsed into struct spec. The record framing itself is in
 * protocol.c.
 */
#ifndef HYPERSTART_SPEC_H
#define HYPERSTART_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "util.h"

struct volume {
	char *tag, *path;
	int readonly;
};

struct xattr_rec {
	char *path, *name;
	struct blob value;
};

struct spec {
	char **args; size_t nargs;
	char **env; size_t nenv;
	char *workdir, *user, *hostname, *net;
	int tty;
	char **dns; size_t ndns;
	struct volume *volumes; size_t nvolumes;
	char **modules; size_t nmodules;
	struct xattr_rec *xattrs; size_t nxattrs;
	char *rootdisk_dev, *rootdisk_fstype;
	/* Fresh records: used only from the runtime spec (fresh.c). */
	int has_time;
	uint64_t time_ns;
	struct blob entropy; /* data NULL when absent */
};

/* Parse buf into s (which must be zeroed). Returns NULL or an error message. */
const char *spec_parse(struct spec *s, const char *buf, size_t len);
/* Take the runtime keys (arg env workdir user hostname tty net dns volume) from rt. */
void spec_take_runtime(struct spec *s, struct spec *rt);

#endif
