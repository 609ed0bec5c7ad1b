/* Spec record parser (PROTOCOL.md "Spec records"). Values are length-prefixed,
 * so they may hold any byte; we never treat them as lines. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hs.h"

#define HEADER "hyperstart-spec 1\n"

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

const char *spec_parse(struct spec *s, const char *buf, size_t len)
{
	size_t hl = strlen(HEADER);
	if (len < hl || memcmp(buf, HEADER, hl))
		return "spec: bad header (expected 'hyperstart-spec 1')";
	size_t pos = hl;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			return "spec: truncated record header";
		const char *key = buf + pos, *sp = memchr(key, ' ', nl - key);
		if (!sp || sp == key)
			return "spec: malformed record header";
		size_t klen = sp - key, vlen = 0;
		for (size_t i = 0; i < klen; i++)
			if (key[i] < 'a' || key[i] > 'z')
				return "spec: malformed record key";
		if (sp + 1 == nl)
			return "spec: malformed record length";
		for (const char *d = sp + 1; d < nl; d++) {
			if (*d < '0' || *d > '9' || vlen > (len / 10) + 1)
				return "spec: malformed record length";
			vlen = vlen * 10 + (*d - '0');
		}
		size_t start = nl + 1 - buf;
		if (vlen > len || start + vlen + 1 > len || buf[start + vlen] != '\n')
			return "spec: record overruns the spec";
		const char *v = buf + start;
		pos = start + vlen + 1;

#define K(name) (klen == sizeof(name) - 1 && !memcmp(key, name, klen))
		if (K("arg")) {
			push(&s->args, &s->nargs, str(v, vlen));
		} else if (K("env")) {
			push(&s->env, &s->nenv, str(v, vlen));
		} else if (K("workdir")) {
			free(s->workdir);
			s->workdir = str(v, vlen);
		} else if (K("user")) {
			free(s->user);
			s->user = str(v, vlen);
		} else if (K("hostname")) {
			free(s->hostname);
			s->hostname = str(v, vlen);
		} else if (K("tty")) {
			s->tty = vlen == 1 && v[0] == '1';
		} else if (K("net")) {
			free(s->net);
			s->net = str(v, vlen);
		} else if (K("dns")) {
			push(&s->dns, &s->ndns, str(v, vlen));
		} else if (K("module")) {
			push(&s->modules, &s->nmodules, str(v, vlen));
		} else if (K("volume")) {
			const char *f[3];
			size_t fl[3];
			if (split3(v, vlen, f, fl) < 0)
				return "spec: malformed volume record";
			s->volumes = xrealloc(s->volumes, (s->nvolumes + 1) * sizeof *s->volumes);
			struct volume *vol = &s->volumes[s->nvolumes++];
			vol->tag = str(f[0], fl[0]);
			vol->readonly = !(fl[1] == 2 && !memcmp(f[1], "rw", 2));
			vol->path = str(f[2], fl[2]);
		} else if (K("xattr")) {
			const char *f[3];
			size_t fl[3];
			if (split3(v, vlen, f, fl) < 0)
				return "spec: malformed xattr record";
			s->xattrs = xrealloc(s->xattrs, (s->nxattrs + 1) * sizeof *s->xattrs);
			struct xattr_rec *x = &s->xattrs[s->nxattrs++];
			x->path = str(f[0], fl[0]);
			x->name = str(f[1], fl[1]);
			x->value.data = str(f[2], fl[2]);
			x->value.len = fl[2];
		} else if (K("rootdisk")) {
			const char *z = memchr(v, 0, vlen);
			if (!z)
				return "spec: malformed rootdisk record";
			s->rootdisk_dev = str(v, z - v);
			s->rootdisk_fstype = str(z + 1, v + vlen - z - 1);
		}
		/* unknown keys are ignored (forward compatibility) */
#undef K
	}
	return NULL;
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

int read_file(const char *path, struct blob *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	size_t cap = 4096, len = 0;
	char *b = xmalloc(cap);
	for (;;) {
		if (len + 1 >= cap)
			b = xrealloc(b, cap *= 2);
		ssize_t r = read(fd, b + len, cap - len - 1);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			close(fd);
			free(b);
			errno = e;
			return -1;
		}
		if (!r)
			break;
		len += r;
	}
	close(fd);
	b[len] = 0;
	out->data = b;
	out->len = len;
	return 0;
}
