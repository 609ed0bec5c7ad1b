/* Starting a detached VM from a VM template (sv.h; the foreground boot does
 * the same in toolchain/boot/backends/qemu-template.ts). QEMU was spawned
 * with the template's RAM file mapped copy-on-write, `-incoming defer` and a
 * QMP monitor that connects to --qmp; this runs the fixed QMP sequence, every
 * read and write bounded by one deadline:
 *
 *   greeting, qmp_capabilities, migrate-set-capabilities (x-ignore-shared,
 *   events), migrate-incoming unix:--incoming, the template's state file
 *   streamed into that socket, the MIGRATION event `completed`, one HMP
 *   `hostfwd_add` per --hostfwd rule (human-monitor-command), cont.
 *
 * The guest does not say `H` again: the link then sends `S` unprompted
 * (link_restored). QMP replies are read by their first key (`return`, `error`,
 * `event`), one JSON object per line; nothing else is parsed. On failure the
 * caller kills QEMU and reports `restore-failed WHY` on the ready fd, and
 * hyperbuild drops the template and starts a cold supervisor instead. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv.h"

/* The whole restore; a 2-core host under TCG load may be slow (qemu-template.ts uses the same). */
#define RESTORE_MS 30000
/* A QMP line longer than this is not an answer to our commands. */
#define QMP_LINE_MAX 65536

static struct {
	int fd;
	struct buf in;
	long deadline;
	size_t used; /* bytes of q.in the last line took */
	char migration[32]; /* the last MIGRATION status seen */
} q = {.fd = -1};

static void add_str(struct buf *b, const char *s)
{
	buf_add(b, s, strlen(s));
}

static int fail(char *why, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, n, fmt, ap);
	va_end(ap);
	return -1;
}

/* QEMU ended (reaped here, so the main loop knows): nothing will answer. */
static int qemu_gone(void)
{
	int st;
	if (!sv.qemu_exited && waitpid(sv.qemu.pid, &st, WNOHANG) == sv.qemu.pid) {
		sv.qemu_exited = 1;
		sv.qemu_status = st;
	}
	return sv.qemu_exited;
}

/* 0 once fd is ready for ev; -1 past the deadline or when QEMU exited (why says which). */
static int wait_fd(int fd, short ev, const char *what, char *why, size_t n)
{
	for (;;) {
		long left = q.deadline - mono_ms();
		if (left <= 0)
			return fail(why, n, "QEMU did not %s within %d ms", what, RESTORE_MS);
		struct pollfd p = {.fd = fd, .events = ev};
		int r = poll(&p, 1, left < 100 ? (int)left : 100);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return fail(why, n, "poll: %s", strerror(errno));
		if (qemu_gone())
			return fail(why, n, "QEMU exited before it could %s (see supervisor.log)", what);
	}
}

/* The value after "key": in line: a JSON string's text (escapes kept), else the raw token start. */
static int json_text(const char *line, const char *key, char *out, size_t n)
{
	char k[64];
	snprintf(k, sizeof k, "\"%s\"", key);
	const char *p = strstr(line, k);
	if (!p)
		return -1;
	p += strlen(k);
	while (*p == ' ' || *p == ':')
		p++;
	size_t i = 0;
	if (*p == '"')
		for (p++; *p && *p != '"' && i + 1 < n; p++) {
			if (*p == '\\' && p[1])
				p++;
			out[i++] = *p;
		}
	else
		for (; *p && *p != ',' && *p != '}' && i + 1 < n; p++)
			out[i++] = *p;
	out[i] = 0;
	return 0;
}

/* The next line from the monitor (NUL-terminated in q.in, dropped by the next call); NULL on failure. */
static const char *next_line(const char *what, char *why, size_t n)
{
	buf_drop(&q.in, q.used);
	q.used = 0;
	for (;;) {
		unsigned char *nl = q.in.len ? memchr(q.in.p, '\n', q.in.len) : NULL;
		if (nl) {
			*nl = 0;
			q.used = (size_t)(nl - q.in.p) + 1;
			return (const char *)q.in.p;
		}
		if (q.in.len > QMP_LINE_MAX) {
			fail(why, n, "an oversized line from QEMU's monitor");
			return NULL;
		}
		if (wait_fd(q.fd, POLLIN, what, why, n) < 0)
			return NULL;
		unsigned char b[4096];
		ssize_t r = read(q.fd, b, sizeof b);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			fail(why, n, "QEMU closed its monitor while it should %s (see supervisor.log)", what);
			return NULL;
		}
		buf_add(&q.in, b, (size_t)r);
	}
}

static int starts(const char *line, const char *key)
{
	char k[64];
	snprintf(k, sizeof k, "{\"%s\"", key);
	return !strncmp(line, k, strlen(k));
}

/* Events are skipped, a MIGRATION status is remembered. */
static int is_event(const char *line)
{
	char name[64];
	if (strstr(line, "\"event\"") == NULL || starts(line, "return") || starts(line, "error"))
		return 0;
	if (json_text(line, "event", name, sizeof name) == 0 && !strcmp(name, "MIGRATION"))
		json_text(line, "status", q.migration, sizeof q.migration);
	return 1;
}

static int send_all(int fd, const void *p, size_t len, const char *what, char *why, size_t n)
{
	const unsigned char *c = p;
	while (len) {
		if (wait_fd(fd, POLLOUT, what, why, n) < 0)
			return -1;
		ssize_t w = write(fd, c, len);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w < 0)
			return fail(why, n, "%s: %s", what, strerror(errno));
		c += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Run one command (its JSON object); its `return` value's text into ret. */
static int qmp(const char *command_json, char *ret, size_t retn, char *why, size_t n)
{
	char cmd[48] = "";
	json_text(command_json, "execute", cmd, sizeof cmd);
	char what[80];
	snprintf(what, sizeof what, "answer %s", cmd);
	if (send_all(q.fd, command_json, strlen(command_json), what, why, n) < 0 || send_all(q.fd, "\n", 1, what, why, n) < 0)
		return -1;
	for (;;) {
		const char *line = next_line(what, why, n);
		if (!line)
			return -1;
		if (is_event(line))
			continue;
		if (starts(line, "return")) {
			if (ret && json_text(line, "return", ret, retn) < 0)
				ret[0] = 0;
			return 0;
		}
		if (starts(line, "error")) {
			char desc[200] = "";
			json_text(line, "desc", desc, sizeof desc);
			return fail(why, n, "QMP %s: %s", cmd, desc);
		}
	}
}

static int accept_monitor(char *why, size_t n)
{
	if (wait_fd(sv.qmp_listen, POLLIN, "connect to its monitor", why, n) < 0)
		return -1;
	q.fd = accept4(sv.qmp_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (q.fd < 0)
		return fail(why, n, "accept on the monitor socket: %s", strerror(errno));
	for (;;) {
		const char *line = next_line("greet on its monitor", why, n);
		if (!line)
			return -1;
		if (starts(line, "QMP"))
			return qmp("{\"execute\":\"qmp_capabilities\"}", NULL, 0, why, n);
	}
}

/* Connect to QEMU's incoming socket and write the template's device state into it. */
static int stream_state(char *why, size_t n)
{
	int file = open(sv.restore_state, O_RDONLY | O_CLOEXEC);
	if (file < 0)
		return fail(why, n, "open %s: %s", sv.restore_state, strerror(errno));
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	snprintf(a.sun_path, sizeof a.sun_path, "%s", sv.restore_incoming);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int rc = 0;
	if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
		rc = fail(why, n, "connect %s: %s", sv.restore_incoming, strerror(errno));
	unsigned char b[65536];
	ssize_t r = 0;
	while (rc == 0 && (r = read(file, b, sizeof b)) > 0)
		rc = send_all(s, b, (size_t)r, "read the template's state", why, n);
	if (rc == 0 && r < 0)
		rc = fail(why, n, "read %s: %s", sv.restore_state, strerror(errno));
	close(file);
	if (s >= 0)
		close(s);
	return rc;
}

static int wait_migration(char *why, size_t n)
{
	while (strcmp(q.migration, "completed")) {
		if (!strcmp(q.migration, "failed") || !strcmp(q.migration, "cancelled"))
			return fail(why, n, "QEMU migration %s (the template does not fit this QEMU or machine)", q.migration);
		const char *line = next_line("load the template", why, n);
		if (!line)
			return -1;
		is_event(line);
	}
	return 0;
}

static int add_forwards(char *why, size_t n)
{
	for (int i = 0; i < sv.nhostfwd; i++) {
		struct buf c = {0};
		char rule[200], said[200];
		snprintf(rule, sizeof rule, "hostfwd_add net0 %s", sv.hostfwd[i]);
		add_str(&c, "{\"execute\":\"human-monitor-command\",\"arguments\":{\"command-line\":");
		json_string(&c, rule);
		buf_add(&c, "}}", 3); /* with its NUL */
		int rc = qmp((const char *)c.p, said, sizeof said, why, n);
		buf_free(&c);
		if (rc < 0)
			return -1;
		if (said[0])
			return fail(why, n, "%s: %s", rule, said);
	}
	return 0;
}

int restore_vm(char *why, size_t n)
{
	q.deadline = mono_ms() + RESTORE_MS;
	struct buf inc = {0};
	add_str(&inc, "{\"execute\":\"migrate-incoming\",\"arguments\":{\"uri\":");
	char uri[160];
	snprintf(uri, sizeof uri, "unix:%s", sv.restore_incoming);
	json_string(&inc, uri);
	buf_add(&inc, "}}", 3);
	int rc = accept_monitor(why, n);
	if (rc == 0)
		rc = qmp("{\"execute\":\"migrate-set-capabilities\",\"arguments\":{\"capabilities\":["
			 "{\"capability\":\"x-ignore-shared\",\"state\":true},{\"capability\":\"events\",\"state\":true}]}}",
			 NULL, 0, why, n);
	if (rc == 0)
		rc = qmp((const char *)inc.p, NULL, 0, why, n);
	if (rc == 0)
		rc = stream_state(why, n);
	if (rc == 0)
		rc = wait_migration(why, n);
	if (rc == 0)
		rc = add_forwards(why, n);
	if (rc == 0)
		rc = qmp("{\"execute\":\"cont\"}", NULL, 0, why, n);
	buf_free(&inc);
	buf_free(&q.in);
	if (q.fd >= 0)
		close(q.fd);
	close(sv.qmp_listen);
	sv.qmp_listen = -1;
	unlink(sv.restore_qmp);
	return rc;
}
