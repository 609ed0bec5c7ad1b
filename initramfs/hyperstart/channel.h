/*
 * The host ports (channel.c): virtio-serial port discovery by name and the
 * I/O on them: control frames on ctl (framing from protocol.h), raw bytes on
 * stdout/stderr (written by app.c through the fds here).
 */
#ifndef HYPERSTART_CHANNEL_H
#define HYPERSTART_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

struct channel {
	int ctl, out, err; /* -1 when absent */
	/* partially received control frame */
	unsigned char *rbuf; size_t rlen, rcap;
};
extern struct channel hs_chan;

/* Find and open the ports; hs_fail() when ctl exists without out/err. */
void channel_open(void);
int channel_send(char type, const void *payload, uint32_t len);
/* Block until the host connects to ctl (the port reports POLLHUP until then). */
void channel_wait_host(void);
int channel_wait_host_for(long timeout_ms); /* 0 connected, -1 timed out */
/* Read what is available on ctl; returns 0 ok, -1 on EOF/hangup, -2 when nothing read (EAGAIN). */
int channel_fill(void);
/* Pop one complete frame; returns 1 and fills type, payload, len; else 0.
 * The payload stays valid until the next call and is NUL-terminated. */
int channel_next(char *type, unsigned char **payload, uint32_t *len);

#endif
