/* User resolution against the guest image's own /etc/passwd and /etc/group,
 * with Docker's (runc's) rules. We parse the files ourselves: libc NSS would
 * consult nsswitch.conf and modules that a static binary cannot load. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "user.h"
#include "util.h"

/* Parse a decimal id; returns 0 and sets *out, or -1 if s is not a number. */
static int parse_id(const char *s, unsigned long *out)
{
	if (!s || !*s)
		return -1;
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (*end || errno || v > 0xffffffffUL || *s == '-' || *s == '+')
		return -1;
	*out = v;
	return 0;
}

/* Split a colon-separated line in place into up to max fields. */
static int fields(char *line, char **f, int max)
{
	int n = 0;
	f[n++] = line;
	for (char *p = line; *p && n < max; p++)
		if (*p == ':') {
			*p = 0;
			f[n++] = p + 1;
		}
	return n;
}

/* Iterate the lines of a file; the callback returns nonzero to stop. */
static void each_line(const char *path, int (*cb)(char *line, void *ctx), void *ctx)
{
	struct blob b;
	if (read_file(path, &b) < 0)
		return; /* a missing file has no entries, as in runc */
	char *p = b.data, *end = b.data + b.len;
	while (p < end) {
		char *nl = memchr(p, '\n', end - p);
		if (!nl)
			nl = end;
		*nl = 0;
		if (*p && *p != '#' && cb(p, ctx))
			break;
		p = nl + 1;
	}
	free(b.data);
}

struct pwfind {
	const char *want;
	int by_id;
	unsigned long id;
	int found;
	char *name, *home;
	unsigned long uid, gid;
};

static int pw_cb(char *line, void *ctx)
{
	struct pwfind *q = ctx;
	char *f[7];
	if (fields(line, f, 7) < 7)
		return 0;
	unsigned long uid, gid;
	if (parse_id(f[2], &uid) < 0 || parse_id(f[3], &gid) < 0)
		return 0;
	if (q->by_id ? uid != q->id : strcmp(f[0], q->want))
		return 0;
	q->found = 1;
	q->name = xstrdup(f[0]);
	q->home = xstrdup(f[5][0] ? f[5] : "/");
	q->uid = uid;
	q->gid = gid;
	return 1;
}

struct grfind {
	const char *want; /* group name to look up, or NULL */
	int found;
	unsigned long gid;
	const char *member; /* collect groups listing this user */
	struct creds *c;
};

static void add_group(struct creds *c, gid_t g)
{
	for (size_t i = 0; i < c->ngroups; i++)
		if (c->groups[i] == g)
			return;
	c->groups = xrealloc(c->groups, (c->ngroups + 1) * sizeof *c->groups);
	c->groups[c->ngroups++] = g;
}

static int gr_cb(char *line, void *ctx)
{
	struct grfind *q = ctx;
	char *f[4];
	if (fields(line, f, 4) < 4)
		return 0;
	unsigned long gid;
	if (parse_id(f[2], &gid) < 0)
		return 0;
	if (q->want) {
		if (strcmp(f[0], q->want))
			return 0;
		q->found = 1;
		q->gid = gid;
		return 1;
	}
	for (char *m = strtok(f[3], ","); m; m = strtok(NULL, ","))
		if (!strcmp(m, q->member))
			add_group(q->c, gid);
	return 0;
}

void resolve_user(const char *spec, struct creds *c)
{
	char *u = xstrdup(spec && *spec ? spec : "0"), *g = strchr(u, ':');
	if (g)
		*g++ = 0;
	memset(c, 0, sizeof *c);

	/* A name first, then a numeric uid (runc order). */
	struct pwfind pw = {.want = u};
	each_line("/etc/passwd", pw_cb, &pw);
	unsigned long id;
	if (!pw.found && parse_id(u, &id) == 0) {
		pw.by_id = 1;
		pw.id = id;
		each_line("/etc/passwd", pw_cb, &pw);
		if (!pw.found) { /* unknown numeric uid: allowed, group root */
			pw.uid = id;
			pw.gid = 0;
			pw.home = xstrdup("/");
		}
	} else if (!pw.found) {
		hs_fail("unable to find user %s: no matching entries in passwd file", u);
	}
	c->uid = pw.uid;
	c->home = pw.home;

	if (g && *g) {
		/* An explicit group replaces primary and supplementary groups. */
		struct grfind gr = {.want = g};
		each_line("/etc/group", gr_cb, &gr);
		if (!gr.found) {
			if (parse_id(g, &id) < 0)
				hs_fail("unable to find group %s: no matching entries in group file", g);
			gr.gid = id;
		}
		c->gid = gr.gid;
		add_group(c, c->gid);
	} else {
		c->gid = pw.gid;
		add_group(c, c->gid);
		if (pw.name) {
			struct grfind gr = {.member = pw.name, .c = c};
			each_line("/etc/group", gr_cb, &gr);
		}
	}
	hs_log("user %s -> uid %u gid %u (%zu groups) home %s", spec ? spec : "(default)",
	       (unsigned)c->uid, (unsigned)c->gid, c->ngroups, c->home);
	free(u);
}
