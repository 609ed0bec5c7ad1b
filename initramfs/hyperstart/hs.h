/*
 * HyperStart: PID 1 of a hyperbuild VM (PROTOCOL.md is the contract with the
 * host). This header declares the boot steps main.c runs in order, one file
 * each: mounts.c, modules.c, xattr.c, fresh.c, net.c, power.c. The layers they stand
 * on have their own headers, lowest first: util.h, log.h, protocol.h, spec.h,
 * channel.h, user.h, app_spawn.h, app.h.
 */
#ifndef HYPERSTART_HS_H
#define HYPERSTART_HS_H

#include "spec.h"

/* ---- mounts.c ------------------------------------------------------------ */
void mount_early(void);   /* /proc /sys /dev: needed for everything else */
void mount_late(void);    /* /dev/pts /dev/shm and the /dev symlinks */
void rootdisk_switch(const char *dev, const char *fstype);
void mount_volumes(const struct spec *s);

/* ---- modules.c / xattr.c -------------------------------------------------- */
void load_modules(const struct spec *s);
void apply_xattrs(const struct spec *s);

/* ---- fresh.c ---------------------------------------------------------------- */
/* The host's clock and entropy from the runtime spec; fatal when they cannot be applied. */
void fresh_apply(const struct spec *rt);

/* ---- net.c ---------------------------------------------------------------- */
void net_setup(const struct spec *s);
void set_hostname(const char *name);

/* ---- power.c ---------------------------------------------------------------- */
void power_off(void) __attribute__((noreturn));

#endif
