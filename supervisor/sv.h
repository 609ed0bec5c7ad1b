/*
 * hyperbuild-supervisor: the small static C process that owns one detached VM
 * (`hyperbuild run -d`), in the spirit of Podman's conmon. It listens on the
 * VM's channel sockets, starts QEMU as its child, speaks the host side of the
 * HyperStart protocol (initramfs/hyperstart/PROTOCOL.md), writes the app's
 * output to size-bounded rotated log files, records the exit in status.json
 * (atomically) even when nobody is attached, and serves later hyperbuild
 * commands on monitor.sock (stop, kill, wait, exec). No Node process stays.
 *
 * This header is the state every part shares; each .c owns one concern:
 * util.c (buffers, clocks, files), logfile.c, status.c, spawn.c (QEMU in
 * its jail), restore.c (a VM started from a template: the QMP restore),
 * link.c (the guest link), clients.c (monitor.sock), main.c (start-up and
 * the poll loop).
 */
#ifndef SV_H
#define SV_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SV_MAX_CLIENTS 64
#define SV_MAX_FILES 8
#define SV_MAX_HOSTFWD 32
/* Stop reading ctl while a client has this much unsent output (back-pressure). */
#define SV_CLIENT_BACKLOG (1u << 20)

struct buf {
	unsigned char *p;
	size_t len, cap;
};

struct logfile {
	const char *path, *old;
	int fd;
	long long size, max;
	int records; /* 1: "TIME STREAM P|F bytes" lines; 0: raw bytes */
};

enum chan { CH_CTL, CH_OUT, CH_ERR, CH_CON, CH_N };

enum link_state {
	L_HELLO, L_SPEC_SENT, L_RUNNING, L_DRAINING, L_POWERING_OFF, L_STOPPING, L_DONE
};

enum timer { T_TIMEOUT, T_STOP, T_DRAIN, T_POWEROFF, T_FAILGRACE, T_EXITGRACE, T_N };

enum client_kind { C_REQUEST, C_WAITER, C_EXEC };

struct client {
	int fd;
	enum client_kind kind;
	struct buf in, out;
	uint32_t exec_id;
	int closing; /* close once out is flushed */
};

struct proc_id {
	pid_t pid;
	unsigned long long start; /* /proc/PID/stat field 22 */
};

struct sv {
	/* options */
	const char *version;
	long long log_max;
	long timeout_ms;
	int tty, rm;
	const char *name_link, *dir;
	char **qemu_argv;
	/* the jail (toolchain/boot/jail.ts): QEMU's identity, inherited files, what we hand over */
	long uid, gid;
	int nfiles, nown;
	struct { int child_fd; const char *path; } files[SV_MAX_FILES];
	const char *own[SV_MAX_FILES];
	/* a VM template clone (restore.c): the state file, QEMU's monitor and incoming sockets, port forwards */
	const char *restore_state, *restore_qmp, *restore_incoming;
	const char *hostfwd[SV_MAX_HOSTFWD];
	int nhostfwd, qmp_listen;
	/* channels */
	int ready_fd;
	struct buf spec;
	int listen[CH_N], conn[CH_N];
	int req_listen, sigfd;
	struct client *clients[SV_MAX_CLIENTS];
	/* QEMU */
	struct proc_id self, qemu;
	int qemu_exited, qemu_status;
	/* the guest link */
	struct buf ctl_in, ctl_out;
	enum link_state state;
	uint64_t counts[2];
	int have_report;
	uint32_t report_code;
	uint64_t announced[2];
	int decided, exit_code, stop_requested, pending_signal;
	long stop_ms;
	const char *outcome;
	char message[512];
	long deadline[T_N]; /* CLOCK_MONOTONIC ms; -1 when unset */
	uint32_t next_exec_id;
	char started_at[40];
	struct logfile applog, conlog;
};

extern struct sv sv;

/* util.c */
void buf_add(struct buf *b, const void *p, size_t n);
void buf_drop(struct buf *b, size_t n);
void buf_free(struct buf *b);
long mono_ms(void);
void utc_now(char out[40]); /* RFC 3339 with nanoseconds, UTC */
int read_whole(const char *path, struct buf *out);
int write_file_atomic(const char *path, const char *data, size_t len);
int proc_start_time(pid_t pid, unsigned long long *start);
void sv_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* logfile.c */
void logfile_open(struct logfile *l, const char *path, const char *old, long long max, int records);
void logfile_app(struct logfile *l, const char *stream, const unsigned char *p, size_t n);
void logfile_raw(struct logfile *l, const unsigned char *p, size_t n);

/* status.c: status.json, written whole and renamed into place */
void status_write(const char *state);
void json_string(struct buf *b, const char *s); /* a JSON string: quotes, backslashes, control bytes escaped */

/* link.c: the host side of the HyperStart conversation */
void link_ctl_bytes(const unsigned char *p, size_t n);
void link_restored(void); /* a template clone runs: send S without waiting for H */
void link_output(int stream, size_t n);
void link_timer(enum timer t);
void link_vm_exited(void);
void link_finish(void);
void link_stop(long ms, int sig);
int link_signal(int sig); /* 0 sent (or queued until R), -1 not running */
/* A new exec id while the app runs; -1 otherwise. */
int link_exec_open(uint32_t *id);
void link_send_id(char type, uint32_t id, const void *p, size_t n);
void link_send(char type, const void *p, size_t n);
void link_decide(int code, const char *outcome, const char *message);
void link_kill_vm(void);
void set_timer(enum timer t, long ms);
void clear_timer(enum timer t);

/* clients.c: monitor.sock */
void clients_accept(void);
void clients_service(int idx, short revents);
void clients_exec_frame(char type, uint32_t id, const unsigned char *p, size_t n);
void clients_finish(void);
size_t clients_backlog(void);
void client_frame(struct client *c, char type, const void *p, size_t n);

/* spawn.c: returns 0, or an errno when QEMU could not be started */
int spawn_qemu(void);
void hand_over(void);

/* restore.c: 0 once the clone runs; -1 with why filled */
int restore_vm(char *why, size_t n);

/* main.c */
void ready_report(const char *line);

#endif
