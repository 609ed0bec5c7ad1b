/* monitor.sock (sv.h): later hyperbuild commands talk to the supervisor here.
 * A client sends one request line; the answers are lines too:
 *   stop MS   -> "ok" (SIGTERM to the app, VM killed after MS) then, at the
 *                end, "exit CODE"; "error already-stopping" for a second stop
 *   kill SIG  -> "ok" (the signal to the app) or "error not-running"
 *   wait      -> "exit CODE" once the VM has ended
 *   exec      -> then frames (frames.ts layout) both ways, without exec ids:
 *                client N (spec records), i, e, k, w; supervisor r, o, x, or
 *                F (cannot run: the app is not running). Towards HyperStart
 *                the supervisor adds the exec id it chose, and strips it back.
 *                A client that hangs up first has its process SIGKILLed.
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

/* The exec frames a client sent so far, to HyperStart with its exec id. */
static void exec_client_frames(struct client *c)
{
	char type;
	uint32_t len;
	while (frame_header_decode(c->in.p, c->in.len, &type, &len)) {
		if (len > MAX_FRAME_PAYLOAD) {
			c->closing = 1, c->in.len = 0;
			return;
		}
		if (c->in.len < FRAME_HEADER_BYTES + (size_t)len)
			return;
		switch (type) {
		case FRAME_EXEC_NEW: case FRAME_EXEC_INPUT: case FRAME_EXEC_EOF:
		case FRAME_EXEC_KILL: case FRAME_EXEC_WINSIZE:
			link_send_id(type, c->exec_id, c->in.p + FRAME_HEADER_BYTES, len);
			break;
		default:
			break;
		}
		buf_drop(&c->in, FRAME_HEADER_BYTES + (size_t)len);
	}
}

static void request_exec(struct client *c)
{
	if (link_exec_open(&c->exec_id) < 0) {
		static const char why[] = "the app is not running";
		client_frame(c, FRAME_FAIL, why, sizeof why - 1);
		c->closing = 1;
		return;
	}
	c->kind = C_EXEC;
	exec_client_frames(c);
}

void clients_exec_frame(char type, uint32_t id, const unsigned char *p, size_t n)
{
	for (int i = 0; i < SV_MAX_CLIENTS; i++) {
		struct client *c = sv.clients[i];
		if (!c || c->kind != C_EXEC || c->exec_id != id || c->closing)
			continue;
		client_frame(c, type, p, n);
		if (type == FRAME_EXEC_EXIT)
			c->closing = 1;
		return;
	}
}

static void on_request(struct client *c, const char *line)
{
	if (!strncmp(line, "stop ", 5)) {
		request_stop(c, strtol(line + 5, NULL, 10));
	} else if (!strncmp(line, "kill ", 5)) {
		request_kill(c, strtol(line + 5, NULL, 10));
	} else if (!strcmp(line, "wait")) {
		c->kind = C_WAITER;
	} else if (!strcmp(line, "exec")) {
		request_exec(c);
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
	else if (c->kind == C_EXEC)
		exec_client_frames(c);
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
	if (gone && c->kind == C_EXEC && !c->closing) {
		/* Nobody can read its output any more (as a hung-up terminal). */
		unsigned char k[4] = {0, 0, 0, SIGKILL};
		link_send_id(FRAME_EXEC_KILL, c->exec_id, k, sizeof k);
	}
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
		if (c->kind == C_EXEC && !c->closing) {
			static const char why[] = "the VM stopped while the command ran";
			client_frame(c, FRAME_FAIL, why, sizeof why - 1);
		}
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
