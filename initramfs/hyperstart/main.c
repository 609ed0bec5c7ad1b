/* HyperStart main sequence (PROTOCOL.md "Boot sequence"). Every step either
 * succeeds or ends in hs_fail(), whose fatal hook (report_failure, here)
 * tells the host (F frame, or a console line) and powers off: PID 1 must
 * never simply exit, that would panic the kernel. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "app.h"
#include "channel.h"
#include "hs.h"
#include "log.h"
#include "protocol.h"
#include "user.h"
#include "util.h"

/* The fatal hook (util.h): F to the host when there is a control port. */
static void report_failure(const char *msg)
{
	if (hs_chan.ctl >= 0) {
		/* The host may not be connected yet; F would be dropped otherwise. */
		if (channel_wait_host_for(10000) == 0)
			channel_send(FRAME_FAIL, msg, strlen(msg));
		/* Give the host the same courtesy as after X: a moment to read F. */
		sleep(1);
	} else {
		hs_console("exit 125");
	}
	power_off();
}

static void read_cmdline(void)
{
	struct blob b;
	if (read_file("/proc/cmdline", &b) < 0)
		return;
	for (char *t = strtok(b.data, " \t\n"); t; t = strtok(NULL, " \t\n"))
		if (!strcmp(t, "hyperstart.debug=1"))
			hs_debug = 1;
}

/* Wait for a frame of the given type for up to timeout_ms (-1: forever).
 * Frames of other types arriving first are dropped: before S and after X the
 * host has nothing else to say. Returns the payload or NULL. */
static unsigned char *wait_frame(char want, long timeout_ms, uint32_t *len)
{
	long deadline = now_ms() + timeout_ms;
	for (;;) {
		char type;
		unsigned char *p;
		while (channel_next(&type, &p, len))
			if (type == want)
				return p;
		long left = timeout_ms < 0 ? 1000 : deadline - now_ms();
		if (left <= 0)
			return NULL;
		struct pollfd pf = {.fd = hs_chan.ctl, .events = POLLIN};
		if (poll(&pf, 1, left) < 0 && errno != EINTR)
			return NULL;
		if (channel_fill() == -1) {
			/* Host not (yet/any more) connected: EOF, not data. */
			if (timeout_ms >= 0)
				return NULL;
			channel_wait_host();
		}
	}
}

/* Steps 1-6: API filesystems, the image spec, modules, ports, root disk, xattrs. */
static void boot(struct spec *spec)
{
	mount_early();
	read_cmdline();
	hs_log("%s starting", HS_VERSION);

	struct blob file;
	if (read_file(HS_SPEC_FILE, &file) < 0)
		hs_fail("read %s: %s", HS_SPEC_FILE, strerror(errno));
	const char *err = spec_parse(spec, file.data, file.len);
	if (err)
		hs_fail("%s: %s", HS_SPEC_FILE, err);

	/* Before anything that needs devices: virtio drivers may be modules. */
	load_modules(spec);
	mount_late();
	/* As early as possible, so that later failures reach the host as F. */
	channel_open();

	if (spec->rootdisk_dev)
		rootdisk_switch(spec->rootdisk_dev, spec->rootdisk_fstype);
	apply_xattrs(spec);
}

/* Step 7: H, then S: the host's clock and entropy, and the runtime keys
 * replacing the image's. */
static void handshake(struct spec *spec)
{
	channel_wait_host();
	if (channel_send(FRAME_HELLO, HS_VERSION, strlen(HS_VERSION)) < 0)
		hs_fail("send H: %s", strerror(errno));
	uint32_t len;
	const char *err = NULL;
	unsigned char *rs = wait_frame(FRAME_SPEC, -1, &len);
	struct spec rt = {0};
	if (!rs || (err = spec_parse(&rt, (const char *)rs, len)))
		hs_fail("runtime spec: %s", rs ? err : "not received");
	hs_log("runtime spec received (%u bytes)", len);
	/* Only from S: the spec file is the same bytes in every VM of a bundle. */
	fresh_apply(&rt);
	spec_take_runtime(spec, &rt);
}

/* Step 10: X, then wait for B (the host has all the output) before power off. */
static void report_exit(int code, uint64_t nout, uint64_t nerr)
{
	hs_log("exit %d (stdout %llu bytes, stderr %llu bytes)", code,
	       (unsigned long long)nout, (unsigned long long)nerr);
	if (hs_chan.ctl >= 0) {
		unsigned char x[EXIT_PAYLOAD_BYTES];
		exit_payload_encode(x, (uint32_t)code, nout, nerr);
		channel_send(FRAME_EXIT, x, sizeof x);
		uint32_t len;
		if (!wait_frame(FRAME_BYE, 10000, &len))
			hs_console("no B from the host within 10 s; powering off");
	} else {
		hs_console("exit %d", code);
	}
}

int main(void)
{
	hs_set_fatal(report_failure);
	/* We are init: the kernel would drop default-action signals anyway;
	 * block SIGCHLD so app.c can take it through a signalfd. */
	sigset_t chld;
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	signal(SIGPIPE, SIG_IGN);
	umask(022);

	struct spec spec = {0};
	boot(&spec);
	if (hs_chan.ctl >= 0)
		handshake(&spec);
	else
		hs_log("no control channel: using %s, output on the console", HS_SPEC_FILE);

	set_hostname(spec.hostname);
	net_setup(&spec);
	mount_volumes(&spec);
	struct creds creds;
	resolve_user(spec.user, &creds);

	uint64_t nout = 0, nerr = 0;
	int code = app_run(&spec, &creds, &nout, &nerr);
	report_exit(code, nout, nerr);
	power_off();
}
