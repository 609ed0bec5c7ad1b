/* The host ports (channel.h): virtio-serial ports found by name (PROTOCOL.md
 * "Channels", names in protocol.h). Port numbering depends on device order, so
 * we never assume /dev/vport0p1 is anything in particular. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "channel.h"
#include "log.h"
#include "protocol.h"
#include "util.h"

struct channel hs_chan = {.ctl = -1, .out = -1, .err = -1};

/* Is there a virtio console/serial device (virtio device id 3)? Only then is
 * it worth waiting for ports: their names arrive from the host a little after
 * the driver probes. Without one (plain qemu, Firecracker) we do not wait. */
static int have_virtio_console(void)
{
	DIR *d = opendir("/sys/bus/virtio/devices");
	if (!d)
		return 0;
	struct dirent *e;
	int found = 0;
	while (!found && (e = readdir(d))) {
		char path[300], id[32] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/sys/bus/virtio/devices/%s/device", e->d_name);
		FILE *f = fopen(path, "re");
		if (f) {
			if (fgets(id, sizeof id, f) && !strncmp(id, "0x0003", 6))
				found = 1;
			fclose(f);
		}
	}
	closedir(d);
	return found;
}

/* One pass over /sys/class/virtio-ports; opens the ports whose names we know. */
static void scan_ports(void)
{
	DIR *d = opendir("/sys/class/virtio-ports");
	if (!d)
		return;
	struct dirent *e;
	while ((e = readdir(d))) {
		char path[300], name[128] = "";
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
		FILE *f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(name, sizeof name, f))
			name[0] = 0;
		fclose(f);
		name[strcspn(name, "\n")] = 0;
		int *slot = NULL, flags = O_WRONLY;
		if (!strcmp(name, HS_PORT_CTL))
			slot = &hs_chan.ctl, flags = O_RDWR;
		else if (!strcmp(name, HS_PORT_OUT))
			slot = &hs_chan.out;
		else if (!strcmp(name, HS_PORT_ERR))
			slot = &hs_chan.err;
		if (!slot || *slot >= 0)
			continue;
		snprintf(path, sizeof path, "/dev/%s", e->d_name);
		/* Non-blocking: the event loop must never stall on a slow host. */
		*slot = open(path, flags | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
		if (*slot >= 0)
			hs_log("port %s is %s", name, path);
	}
	closedir(d);
}

void channel_open(void)
{
	long deadline = now_ms() + 2000;
	int wait = access("/sys/class/virtio-ports", F_OK) == 0 && have_virtio_console();
	for (;;) {
		scan_ports();
		if (hs_chan.ctl >= 0 && hs_chan.out >= 0 && hs_chan.err >= 0)
			break;
		if (!wait || now_ms() > deadline)
			break;
		sleep_ms(10);
	}
	if (hs_chan.ctl >= 0 && (hs_chan.out < 0 || hs_chan.err < 0))
		hs_fail("control port found but no org.hyperbuild.stdout/stderr port");
	if (hs_chan.ctl < 0) {
		/* Output ports without ctl are useless; console mode uses none. */
		if (hs_chan.out >= 0)
			close(hs_chan.out);
		if (hs_chan.err >= 0)
			close(hs_chan.err);
		hs_chan.out = hs_chan.err = -1;
	}
}

static int channel_wait_host_ms(long timeout_ms)
{
	long start = now_ms();
	int warned = 0;
	for (;;) {
		struct pollfd p = {.fd = hs_chan.ctl, .events = POLLOUT};
		if (poll(&p, 1, 0) >= 0 && !(p.revents & (POLLHUP | POLLERR)))
			return 0;
		if (timeout_ms >= 0 && now_ms() - start > timeout_ms)
			return -1;
		if (!warned && now_ms() - start > 10000) {
			hs_console("waiting for the host to connect to the control port");
			warned = 1;
		}
		sleep_ms(10); /* the port reports hangup, not readiness: poll by time */
	}
}

void channel_wait_host(void)
{
	channel_wait_host_ms(-1);
}

int channel_wait_host_for(long timeout_ms)
{
	return channel_wait_host_ms(timeout_ms);
}

int channel_send(char type, const void *payload, uint32_t len)
{
	unsigned char hdr[FRAME_HEADER_BYTES];
	frame_header_encode(hdr, type, len);
	const unsigned char *parts[2] = {hdr, payload};
	size_t lens[2] = {sizeof hdr, len};
	long deadline = now_ms() + 10000;
	for (int i = 0; i < 2; i++) {
		const unsigned char *p = parts[i];
		size_t n = lens[i];
		while (n) {
			ssize_t w = write(hs_chan.ctl, p, n);
			if (w < 0 && errno == EAGAIN) {
				/* A host that stops reading for 10 s is gone: give up
				 * rather than keep a VM alive forever. */
				if (now_ms() > deadline)
					return -1;
				struct pollfd pf = {.fd = hs_chan.ctl, .events = POLLOUT};
				if (poll(&pf, 1, 100) > 0 && (pf.revents & POLLHUP))
					sleep_ms(100); /* disconnected: poll would not sleep */
				continue;
			}
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -1;
			p += w;
			n -= w;
		}
	}
	return 0;
}

int channel_fill(void)
{
	if (hs_chan.rcap - hs_chan.rlen < 65536) {
		hs_chan.rcap = hs_chan.rcap * 2 + 65536;
		hs_chan.rbuf = xrealloc(hs_chan.rbuf, hs_chan.rcap);
	}
	ssize_t r = read(hs_chan.ctl, hs_chan.rbuf + hs_chan.rlen, hs_chan.rcap - hs_chan.rlen);
	if (r < 0)
		return (errno == EAGAIN || errno == EINTR) ? -2 : -1;
	if (r == 0)
		return -1; /* host not connected (virtio ports read EOF then) */
	hs_chan.rlen += r;
	return 0;
}

int channel_next(char *type, unsigned char **payload, uint32_t *len)
{
	static unsigned char *frame; /* the last frame, valid until the next call */
	unsigned char *b = hs_chan.rbuf;
	const size_t h = FRAME_HEADER_BYTES;
	char t;
	uint32_t n;
	if (!frame_header_decode(b, hs_chan.rlen, &t, &n) || hs_chan.rlen - h < n)
		return 0;
	*type = t;
	frame = xrealloc(frame, (size_t)n + 1);
	memcpy(frame, b + h, n);
	frame[n] = 0;
	memmove(b, b + h + n, hs_chan.rlen - h - n);
	hs_chan.rlen -= h + n;
	*payload = frame;
	*len = n;
	return 1;
}
