/* Spec records into struct spec (PROTOCOL.md "Spec records"; framing in
 * protocol.c). Values are length-prefixed, so they may hold any byte; we
 * never treat them as lines. Unknown keys are ignored (forward compatibility). */
#include <stdlib.h>
#include <string.h>

#include "protocol.h"
#include "spec.h"
#include "util.h"

/* Copy a value as a C string. Values containing NUL where a string is
 * expected are cut at the NUL, which the host never produces for such keys. */
static char *str(const char *v, size_t n)
{
	char *s = xmalloc(n + 1);
	memcpy(s, v, n);
	s[n] = 0;
	return s;
}

static void push(char ***arr, size_t *n, char *v)
{
	*arr = xrealloc(*arr, (*n + 2) * sizeof **arr);
	(*arr)[(*n)++] = v;
	(*arr)[*n] = NULL; /* keep argv/envp NULL-terminated */
}

static void set(char **field, const struct spec_record *r)
{
	free(*field);
	*field = str(r->value, r->vlen);
}

/* Split "A\0B\0REST": returns pointer to field i start, len in *fl. REST may hold NULs. */
static int split3(const char *v, size_t n, const char *f[3], size_t fl[3])
{
	const char *p = v, *end = v + n;
	for (int i = 0; i < 2; i++) {
		const char *z = memchr(p, 0, end - p);
		if (!z)
			return -1;
		f[i] = p;
		fl[i] = z - p;
		p = z + 1;
	}
	f[2] = p;
	fl[2] = end - p;
	return 0;
}

static const char *add_volume(struct spec *s, const struct spec_record *r)
{
	const char *f[3];
	size_t fl[3];
	if (split3(r->value, r->vlen, f, fl) < 0)
		return "spec: malformed volume record";
	s->volumes = xrealloc(s->volumes, (s->nvolumes + 1) * sizeof *s->volumes);
	struct volume *vol = &s->volumes[s->nvolumes++];
	vol->tag = str(f[0], fl[0]);
	vol->readonly = !(fl[1] == 2 && !memcmp(f[1], "rw", 2));
	vol->path = str(f[2], fl[2]);
	return NULL;
}

static const char *add_xattr(struct spec *s, const struct spec_record *r)
{
	const char *f[3];
	size_t fl[3];
	if (split3(r->value, r->vlen, f, fl) < 0)
		return "spec: malformed xattr record";
	s->xattrs = xrealloc(s->xattrs, (s->nxattrs + 1) * sizeof *s->xattrs);
	struct xattr_rec *x = &s->xattrs[s->nxattrs++];
	x->path = str(f[0], fl[0]);
	x->name = str(f[1], fl[1]);
	x->value.data = str(f[2], fl[2]);
	x->value.len = fl[2];
	return NULL;
}

static const char *set_rootdisk(struct spec *s, const struct spec_record *r)
{
	const char *v = r->value, *z = memchr(v, 0, r->vlen);
	if (!z)
		return "spec: malformed rootdisk record";
	s->rootdisk_dev = str(v, z - v);
	s->rootdisk_fstype = str(z + 1, v + r->vlen - z - 1);
	return NULL;
}

static const char *set_time(struct spec *s, const struct spec_record *r)
{
	if (spec_time_decode(r->value, r->vlen, &s->time_ns) < 0)
		return "spec: malformed time record";
	s->has_time = 1;
	return NULL;
}

static const char *set_entropy(struct spec *s, const struct spec_record *r)
{
	if (r->vlen < SPEC_ENTROPY_MIN || r->vlen > SPEC_ENTROPY_MAX)
		return "spec: entropy record must hold 32 to 512 bytes";
	free(s->entropy.data);
	s->entropy.data = str(r->value, r->vlen);
	s->entropy.len = r->vlen;
	return NULL;
}

/* What one record means; NULL, or an error for a malformed value. */
static const char *apply(struct spec *s, const struct spec_record *r)
{
#define IS(key) spec_record_is(r, key)
	if (IS(SPEC_KEY_ARG))
		push(&s->args, &s->nargs, str(r->value, r->vlen));
	else if (IS(SPEC_KEY_ENV))
		push(&s->env, &s->nenv, str(r->value, r->vlen));
	else if (IS(SPEC_KEY_WORKDIR))
		set(&s->workdir, r);
	else if (IS(SPEC_KEY_USER))
		set(&s->user, r);
	else if (IS(SPEC_KEY_HOSTNAME))
		set(&s->hostname, r);
	else if (IS(SPEC_KEY_TTY))
		s->tty = r->vlen == 1 && r->value[0] == '1';
	else if (IS(SPEC_KEY_NET))
		set(&s->net, r);
	else if (IS(SPEC_KEY_DNS))
		push(&s->dns, &s->ndns, str(r->value, r->vlen));
	else if (IS(SPEC_KEY_MODULE))
		push(&s->modules, &s->nmodules, str(r->value, r->vlen));
	else if (IS(SPEC_KEY_VOLUME))
		return add_volume(s, r);
	else if (IS(SPEC_KEY_XATTR))
		return add_xattr(s, r);
	else if (IS(SPEC_KEY_ROOTDISK))
		return set_rootdisk(s, r);
	else if (IS(SPEC_KEY_TIME))
		return set_time(s, r);
	else if (IS(SPEC_KEY_ENTROPY))
		return set_entropy(s, r);
	return NULL;
#undef IS
}

const char *spec_parse(struct spec *s, const char *buf, size_t len)
{
	size_t pos;
	const char *err = spec_records_begin(buf, len, &pos);
	struct spec_record r;
	while (!err && spec_record_next(buf, len, &pos, &r, &err) > 0)
		err = apply(s, &r);
	return err;
}

void spec_take_runtime(struct spec *s, struct spec *rt)
{
	/* Pointers are moved, never freed: PID 1 lives once, leaks don't matter. */
	s->args = rt->args; s->nargs = rt->nargs;
	s->env = rt->env; s->nenv = rt->nenv;
	s->workdir = rt->workdir;
	s->user = rt->user;
	s->hostname = rt->hostname;
	s->tty = rt->tty;
	s->net = rt->net;
	s->dns = rt->dns; s->ndns = rt->ndns;
	s->volumes = rt->volumes; s->nvolumes = rt->nvolumes;
}
