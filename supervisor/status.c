/* status.json (sv.h status_write): the VM's state as the supervisor knows it,
 * rewritten whole and renamed into place at each change, so a reader (`ps`,
 * `wait`, `rm`) sees the old state or the new, never half of one. Fields:
 * state (starting|running|exited), supervisor and qemu {pid, start} (start =
 * /proc/PID/stat field 22, so a reused pid is never mistaken for ours),
 * startedAt (the app's R), and once exited: finishedAt, exitCode, outcome,
 * message. toolchain/vm/records.ts reads it. */
#include <stdio.h>
#include <string.h>

#include "sv.h"

/* A JSON string body: quotes, backslashes and control bytes escaped. */
void json_string(struct buf *b, const char *s)
{
	buf_add(b, "\"", 1);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		char esc[8];
		if (c == '"' || c == '\\') {
			esc[0] = '\\', esc[1] = (char)c;
			buf_add(b, esc, 2);
		} else if (c < 0x20) {
			snprintf(esc, sizeof esc, "\\u%04x", c);
			buf_add(b, esc, 6);
		} else {
			buf_add(b, s, 1);
		}
	}
	buf_add(b, "\"", 1);
}

static void field(struct buf *b, const char *name, const char *fmt_value)
{
	char head[64];
	int n = snprintf(head, sizeof head, ",\"%s\":", name);
	buf_add(b, head, n);
	buf_add(b, fmt_value, strlen(fmt_value));
}

static void proc_field(struct buf *b, const char *name, const struct proc_id *p)
{
	char v[96];
	snprintf(v, sizeof v, "{\"pid\":%d,\"start\":%llu}", (int)p->pid, p->start);
	field(b, name, v);
}

static void exit_fields(struct buf *b)
{
	char when[40], v[32];
	utc_now(when);
	buf_add(b, ",\"finishedAt\":", 14);
	json_string(b, when);
	snprintf(v, sizeof v, "%d", sv.exit_code);
	field(b, "exitCode", v);
	buf_add(b, ",\"outcome\":", 11);
	json_string(b, sv.outcome);
	if (sv.message[0]) {
		buf_add(b, ",\"message\":", 11);
		json_string(b, sv.message);
	}
}

void status_write(const char *state)
{
	struct buf b = {0};
	buf_add(&b, "{\"state\":", 9);
	json_string(&b, state);
	proc_field(&b, "supervisor", &sv.self);
	if (sv.qemu.pid > 0)
		proc_field(&b, "qemu", &sv.qemu);
	if (sv.started_at[0]) {
		buf_add(&b, ",\"startedAt\":", 13);
		json_string(&b, sv.started_at);
	}
	if (!strcmp(state, "exited"))
		exit_fields(&b);
	buf_add(&b, "}\n", 2);
	if (write_file_atomic("status.json", (const char *)b.p, b.len) < 0)
		sv_log("cannot write status.json");
	buf_free(&b);
}
