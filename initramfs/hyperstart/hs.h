/*
 * HyperStart: PID 1 of a hyperbuild VM. See PROTOCOL.md for the contract
 * with the host. This header is the only place the modules meet.
 */
#ifndef HYPERSTART_HS_H
#define HYPERSTART_HS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HS_VERSION "hyperstart 1"
#define HS_SPEC_FILE "/.hyperstart/spec"
/* Docker's default PATH, used when the app's environment has none. */
#define HS_DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- log.c: diagnostics and fatal errors -------------------------------- */
extern int hs_debug;
void hs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hs_console(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Report a HyperStart failure (F frame or console line) and power off. */
void hs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
int write_all(int fd, const void *buf, size_t len);
/* mkdir -p; returns 0 or -1 with errno set. */
int mkdir_p(const char *path, mode_t mode);

/* ---- spec.c: spec records ------------------------------------------------ */
struct blob {
	char *data; /* always NUL-terminated one byte past len, for convenience */
	size_t len;
};

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
};

/* Parse buf into s (which must be zeroed). Returns NULL or an error message. */
const char *spec_parse(struct spec *s, const char *buf, size_t len);
/* Take the runtime keys (arg env workdir user hostname tty net dns volume) from rt. */
void spec_take_runtime(struct spec *s, struct spec *rt);
int read_file(const char *path, struct blob *out);

/* ---- mounts.c ------------------------------------------------------------ */
void mount_early(void);   /* /proc /sys /dev: needed for everything else */
void mount_late(void);    /* /dev/pts /dev/shm and the /dev symlinks */
void rootdisk_switch(const char *dev, const char *fstype);
void mount_volumes(const struct spec *s);

/* ---- modules.c / xattr.c -------------------------------------------------- */
void load_modules(const struct spec *s);
void apply_xattrs(const struct spec *s);

/* ---- net.c ---------------------------------------------------------------- */
void net_setup(const struct spec *s);
void set_hostname(const char *name);

/* ---- user.c ----------------------------------------------------------------- */
struct creds {
	uid_t uid;
	gid_t gid;
	gid_t *groups; size_t ngroups;
	char *home; /* from passwd, "/" if unknown */
};
void resolve_user(const char *spec, struct creds *c);

/* ---- channel.c -------------------------------------------------------------- */
struct channel {
	int ctl, out, err; /* -1 when absent */
	/* partially received control frame */
	unsigned char *rbuf; size_t rlen, rcap;
};
extern struct channel hs_chan;
void channel_open(void);
int channel_send(char type, const void *payload, uint32_t len);
/* Block until the host connects to ctl (the port reports POLLHUP until then). */
void channel_wait_host(void);
int channel_wait_host_for(long timeout_ms); /* 0 connected, -1 timed out */
/* Read what is available on ctl; returns 0 ok, -1 on EOF/hangup, -2 when nothing read (EAGAIN). */
int channel_fill(void);
/* Pop one complete frame; returns 1 and fills type, payload, len; else 0. */
int channel_next(char *type, unsigned char **payload, uint32_t *len);

/* ---- app.c ------------------------------------------------------------------ */
/* Run the app and return its mapped exit code; sets byte counts. */
int app_run(const struct spec *s, const struct creds *c, uint64_t *nout, uint64_t *nerr);

/* ---- power.c ---------------------------------------------------------------- */
void power_off(void) __attribute__((noreturn));

#endif
