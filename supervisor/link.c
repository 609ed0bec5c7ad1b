/* The host side of the HyperStart conversation for a supervised VM (sv.h),
 * the same states and rules as toolchain/boot/guest-link.ts, in C:
 *
 *   hello --H/S--> spec-sent --R--> running --X--> draining --(output in)--> powering-off --B--> (VM exit) done
 *   F, a bad frame, --timeout, the stop timeout, a VM exit without X --> stopping --(VM exit)--> done
 *
 * Exit codes: the app's own (HyperStart maps signals to 128+N, 126/127);
 * 125 when HyperStart or the VM fails; 124 after --timeout; 137 when the app
 * outlived `stop -t` (as docker stop). The first decided outcome wins.
 * Exec frames (r o x, PROTOCOL.md "Exec") are routed to their client
 * (clients.c); the clock and entropy records are added to `S` as it is sent.
 * A template clone (restore.c) starts in spec-sent: `S` goes out unprompted. */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <time.h>

#include "protocol.h"
#include "sv.h"

#define OUTPUT_DRAIN_MS 5000
#define POWEROFF_MS 10000
#define FAILURE_GRACE_MS 3000
#define EXIT_GRACE_MS 300
void set_timer(enum timer t, long ms)
{
	sv.deadline[t] = mono_ms() + ms;
}

void clear_timer(enum timer t)
{
	sv.deadline[t] = -1;
}

void link_send(char type, const void *p, size_t n)
{
	unsigned char h[FRAME_HEADER_BYTES];
	frame_header_encode(h, type, (uint32_t)n);
	buf_add(&sv.ctl_out, h, sizeof h);
	if (n)
		buf_add(&sv.ctl_out, p, n);
}

void link_send_id(char type, uint32_t id, const void *p, size_t n)
{
	unsigned char h[FRAME_HEADER_BYTES], idb[EXEC_ID_BYTES];
	frame_header_encode(h, type, (uint32_t)(n + EXEC_ID_BYTES));
	exec_id_encode(idb, id);
	buf_add(&sv.ctl_out, h, sizeof h);
	buf_add(&sv.ctl_out, idb, sizeof idb);
	if (n)
		buf_add(&sv.ctl_out, p, n);
}

void link_kill_vm(void)
{
	if (sv.qemu.pid > 0 && !sv.qemu_exited)
		kill(sv.qemu.pid, SIGKILL); /* our unreaped child: the pid cannot be reused */
}

void link_decide(int code, const char *outcome, const char *message)
{
	if (!sv.decided) {
		sv.decided = 1;
		sv.exit_code = code;
		sv.outcome = outcome;
		snprintf(sv.message, sizeof sv.message, "%s", message ? message : "");
	}
	if (sv.state != L_DONE)
		sv.state = L_STOPPING;
}

static void fail_and_kill(int code, const char *outcome, const char *message)
{
	link_kill_vm();
	link_decide(code, outcome, message);
}

static int drained(void)
{
	return sv.counts[0] >= sv.announced[0] && sv.counts[1] >= sv.announced[1];
}

static void power_off(void)
{
	if (!drained())
		snprintf(sv.message, sizeof sv.message,
			 "app output may be truncated (stdout %llu/%llu, stderr %llu/%llu bytes)",
			 (unsigned long long)sv.counts[0], (unsigned long long)sv.announced[0],
			 (unsigned long long)sv.counts[1], (unsigned long long)sv.announced[1]);
	sv.state = L_POWERING_OFF;
	link_send(FRAME_BYE, NULL, 0);
	set_timer(T_POWEROFF, POWEROFF_MS);
	/* A template clone holds nothing worth a clean shutdown (read-only disks, no volumes), as guest-link.ts `disposable`. */
	if (sv.restore_state)
		link_kill_vm();
}

/* The runtime spec with the host's clock and fresh entropy, taken now
 * (PROTOCOL.md "Clock and entropy"; toolchain/boot/guest-freshness.ts). */
static void send_spec(void)
{
	unsigned char fresh[SPEC_FRESH_MAX], random[64];
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	size_t got = 0;
	while (got < sizeof random) {
		ssize_t r = getrandom(random + got, sizeof random - got, 0);
		if (r > 0)
			got += r;
	}
	uint64_t ns = (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
	size_t n = spec_fresh_encode(fresh, sizeof fresh, ns, random, sizeof random);
	unsigned char h[FRAME_HEADER_BYTES];
	frame_header_encode(h, FRAME_SPEC, (uint32_t)(sv.spec.len + n));
	buf_add(&sv.ctl_out, h, sizeof h);
	buf_add(&sv.ctl_out, sv.spec.p, sv.spec.len);
	buf_add(&sv.ctl_out, fresh, n);
}

static void on_hello(const unsigned char *p, uint32_t n)
{
	char want[64], msg[256];
	snprintf(want, sizeof want, "hyperstart %s", sv.version);
	if (n != strlen(want) || memcmp(p, want, n)) {
		snprintf(msg, sizeof msg, "the guest's HyperStart says '%.*s', this hyperbuild speaks protocol %s; rebuild the bundle",
			 (int)(n > 64 ? 64 : n), (const char *)p, sv.version);
		fail_and_kill(125, "hyperstart-failed", msg);
		return;
	}
	send_spec();
	sv.state = L_SPEC_SENT;
}

void link_restored(void)
{
	send_spec();
	sv.state = L_SPEC_SENT;
}

static void on_ready(void)
{
	sv.state = L_RUNNING;
	utc_now(sv.started_at);
	status_write("running");
	ready_report("running\n");
	if (sv.tty) {
		unsigned char ws[4] = {0, 24, 0, 80};
		link_send(FRAME_WINSIZE, ws, sizeof ws);
	}
	if (sv.pending_signal) {
		unsigned char k[4] = {0, 0, 0, (unsigned char)sv.pending_signal};
		link_send(FRAME_KILL, k, sizeof k);
	}
	/* Nobody types into a detached app: its stdin reads EOF, as docker run -d. */
	link_send(FRAME_EOF, NULL, 0);
}

static void on_exit_frame(const unsigned char *p, uint32_t n)
{
	if (exit_payload_decode(p, n, &sv.report_code, &sv.announced[0], &sv.announced[1]) < 0) {
		fail_and_kill(125, "hyperstart-failed", "malformed X frame");
		return;
	}
	sv.have_report = 1;
	sv.state = L_DRAINING;
	if (drained())
		power_off();
	else
		set_timer(T_DRAIN, OUTPUT_DRAIN_MS);
}

static void on_frame(char type, const unsigned char *p, uint32_t n)
{
	char msg[512];
	switch (type) {
	case FRAME_HELLO: if (sv.state == L_HELLO) on_hello(p, n); break;
	case FRAME_READY: if (sv.state == L_SPEC_SENT) on_ready(); break;
	case FRAME_EXIT:
		if (sv.state == L_SPEC_SENT || sv.state == L_RUNNING)
			on_exit_frame(p, n);
		break;
	case FRAME_FAIL:
		snprintf(msg, sizeof msg, "HyperStart failed: %.*s", (int)(n > 400 ? 400 : n), (const char *)p);
		link_decide(125, "hyperstart-failed", msg);
		set_timer(T_FAILGRACE, FAILURE_GRACE_MS);
		break;
	case FRAME_EXEC_STARTED: case FRAME_EXEC_OUTPUT: case FRAME_EXEC_EXIT:
		if (n >= EXEC_ID_BYTES)
			clients_exec_frame(type, exec_id_decode(p), p + EXEC_ID_BYTES, n - EXEC_ID_BYTES);
		break;
	default: break; /* unknown guest frames are ignored, as guest-link.ts does */
	}
}

void link_ctl_bytes(const unsigned char *p, size_t n)
{
	buf_add(&sv.ctl_in, p, n);
	char type;
	uint32_t len;
	while (frame_header_decode(sv.ctl_in.p, sv.ctl_in.len, &type, &len)) {
		if (len > MAX_FRAME_PAYLOAD) {
			sv.ctl_in.len = 0;
			fail_and_kill(125, "hyperstart-failed", "corrupt control stream (oversized frame)");
			return;
		}
		if (sv.ctl_in.len < FRAME_HEADER_BYTES + (size_t)len)
			return;
		if (sv.state != L_STOPPING && sv.state != L_DONE)
			on_frame(type, sv.ctl_in.p + FRAME_HEADER_BYTES, len);
		buf_drop(&sv.ctl_in, FRAME_HEADER_BYTES + (size_t)len);
	}
}

void link_output(int stream, size_t n)
{
	sv.counts[stream] += n;
	if (sv.state == L_DRAINING && drained()) {
		clear_timer(T_DRAIN);
		power_off();
	}
}

void link_timer(enum timer t)
{
	char msg[160];
	clear_timer(t);
	switch (t) {
	case T_TIMEOUT:
		snprintf(msg, sizeof msg, "--timeout: the run took longer than %ld ms; the VM was killed", sv.timeout_ms);
		fail_and_kill(124, "timeout", msg);
		break;
	case T_STOP:
		if (sv.have_report || sv.decided)
			break;
		snprintf(msg, sizeof msg, "the app did not stop within %ld ms of SIGTERM; the VM was killed", sv.stop_ms);
		fail_and_kill(137, "stop-killed", msg);
		break;
	case T_DRAIN: if (sv.state == L_DRAINING) power_off(); break;
	case T_POWEROFF: case T_FAILGRACE: link_kill_vm(); break;
	case T_EXITGRACE: link_finish(); break;
	default: break;
	}
}

void link_vm_exited(void)
{
	sv.qemu_exited = 1;
	/* What QEMU wrote before it ended may still be in the sockets. */
	set_timer(T_EXITGRACE, EXIT_GRACE_MS);
}

static void describe_qemu_exit(char *out, size_t n)
{
	int st = sv.qemu_status;
	if (WIFSIGNALED(st))
		snprintf(out, n, "QEMU was killed by signal %d before the app exited", WTERMSIG(st));
	else
		snprintf(out, n, "QEMU exited (status %d) before the app exited", WEXITSTATUS(st));
}

void link_finish(void)
{
	if (sv.state == L_DONE)
		return;
	if (!sv.decided && sv.have_report) {
		sv.decided = 1;
		sv.exit_code = (int)sv.report_code;
		sv.outcome = "exited";
	} else if (!sv.decided) {
		char msg[160];
		describe_qemu_exit(msg, sizeof msg);
		link_decide(125, "vm-died", msg);
	}
	sv.state = L_DONE;
}

void link_stop(long ms, int sig)
{
	sv.stop_requested = 1;
	sv.stop_ms = ms;
	if (link_signal(sig) == 0)
		set_timer(T_STOP, ms);
}

int link_signal(int sig)
{
	unsigned char k[4] = {0, 0, 0, (unsigned char)sig};
	if (sv.state == L_RUNNING) {
		link_send(FRAME_KILL, k, sizeof k);
		return 0;
	}
	if (sv.state == L_HELLO || sv.state == L_SPEC_SENT) {
		sv.pending_signal = sig;
		return 0;
	}
	return -1;
}


int link_exec_open(uint32_t *id)
{
	if (sv.state != L_RUNNING)
		return -1;
	*id = ++sv.next_exec_id;
	return 0;
}
