/* monitor.sock (sv.h): later hyperbuild commands talk to the supervisor here.
 * A client sends one request line; the answers are lines too:
 *   stop MS   -> "ok" (SIGTERM to the app, VM killed after MS) then, at the
 *                end, "exit CODE"; "error already-stopping" for a second stop
 *   kill SIG  -> "ok" (the signal to the app) or "error not-running"
 *   wait      -> "exit CODE" once the VM has ended
 * A client that connects after the end gets no answer (the socket is gone):
 * status.json holds the exit then. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "protocol.h"
#include "sv.h"

#define MAX_REQUEST_LINE 256

void clients_accept(void)
{
	int fd = accept4(sv.req_listen, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	for (int i = 0; i < SV_MAX_CLIENTS; i++) {
		if (sv.clients[i])
			continue;
		struct client *c = calloc(1, sizeof *c);
		if (!c)
			break;
		c->fd = fd;
		c->kind = C_REQUEST;
		sv.clients[i] = c;
		return;
	}
	close(fd); /* too many at once: the client sees EOF and retries */
}

static void client_close(int idx)
{
	struct client *c = sv.clients[idx];
	close(c->fd);
	buf_free(&c->in);
	buf_free(&c->out);
	free(c);
	sv.clients[idx] = NULL;
}

static void say(struct client *c, const char *line)
{
	buf_add(&c->out, line, strlen(line));
}

void client_frame(struct client *c, char type, const void *p, size_t n)
{
	unsigned char h[FRAME_HEADER_BYTES];
	frame_header_encode(h, type, (uint32_t)n);
	buf_add(&c->out, h, sizeof h);
	if (n)
		buf_add(&c->out, p, n);
}

static void request_stop(struct client *c, long ms)
{
	int ending = sv.state >= L_DRAINING;
	if (sv.stop_requested && !ending) {
		say(c, "error already-stopping\n");
		c->closing = 1;
		return;
	}
	if (!ending)
		link_stop(ms < 0 ? 0 : ms, SIGTERM);
	say(c, "ok\n");
	c->kind = C_WAITER;
}

static void request_kill(struct client *c, long sig)
{
	if (sig < 1 || sig > 64)
		say(c, "error bad-signal\n");
	else if (link_signal((int)sig) < 0)
		say(c, "error not-running\n");
	else
		say(c, "ok\n");
	c->closing = 1;
}

static void on_request(struct client *c, const char *line)
{
	if (!strncmp(line, "stop ", 5)) {
		request_stop(c, strtol(line + 5, NULL, 10));
	} else if (!strncmp(line, "kill ", 5)) {
		request_kill(c, strtol(line + 5, NULL, 10));
	} else if (!strcmp(line, "wait")) {
		c->kind = C_WAITER;
	} else {
		say(c, "error unknown-request\n");
		c->closing = 1;
	}
}

/* The request line, once it is complete. */
static void take_request(struct client *c)
{
	unsigned char *nl = memchr(c->in.p, '\n', c->in.len);
	if (!nl) {
		if (c->in.len > MAX_REQUEST_LINE)
			c->closing = 1, c->in.len = 0;
		return;
	}
	char line[MAX_REQUEST_LINE + 1];
	size_t n = nl - c->in.p;
	if (n > MAX_REQUEST_LINE)
		n = MAX_REQUEST_LINE;
	memcpy(line, c->in.p, n);
	line[n] = 0;
	buf_drop(&c->in, (size_t)(nl - c->in.p) + 1);
	on_request(c, line);
}

/* Returns -1 when the client is gone. */
static int client_read(struct client *c)
{
	unsigned char chunk[16384];
	ssize_t r = read(c->fd, chunk, sizeof chunk);
	if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR))
		return -1;
	if (r > 0)
		buf_add(&c->in, chunk, r);
	if (c->kind == C_REQUEST)
		take_request(c);
	return 0;
}

static int client_write(struct client *c)
{
	ssize_t w = write(c->fd, c->out.p, c->out.len);
	if (w < 0 && errno != EAGAIN && errno != EINTR)
		return -1;
	if (w > 0)
		buf_drop(&c->out, w);
	return 0;
}

void clients_service(int idx, short revents)
{
	struct client *c = sv.clients[idx];
	int gone = 0;
	if (revents & (POLLIN | POLLHUP))
		gone = client_read(c) < 0;
	if (!gone && c->out.len && (revents & POLLOUT))
		gone = client_write(c) < 0;
	if (!gone && (revents & (POLLERR | POLLNVAL)))
		gone = 1;
	if (gone || (c->closing && !c->out.len))
		client_close(idx);
}

size_t clients_backlog(void)
{
	size_t n = 0;
	for (int i = 0; i < SV_MAX_CLIENTS; i++)
		if (sv.clients[i])
			n += sv.clients[i]->out.len;
	return n;
}

/* The VM has ended (status.json says so already): answer everyone, briefly blocking. */
void clients_finish(void)
{
	char line[64];
	snprintf(line, sizeof line, "exit %d\n", sv.exit_code);
	for (int i = 0; i < SV_MAX_CLIENTS; i++) {
		struct client *c = sv.clients[i];
		if (!c)
			continue;
		if (c->kind == C_WAITER)
			say(c, line);
		struct timeval tv = {.tv_sec = 1};
		fcntl(c->fd, F_SETFL, 0);
		setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		while (c->out.len) {
			ssize_t w = write(c->fd, c->out.p, c->out.len);
			if (w <= 0)
				break;
			buf_drop(&c->out, w);
		}
		client_close(i);
	}
}
