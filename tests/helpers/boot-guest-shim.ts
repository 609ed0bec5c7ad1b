/**
 * A test double for HyperStart: a small static PID 1 that speaks PROTOCOL.md
 * version 1 well enough to exercise the host side of `boot` end to end while
 * the real HyperStart (initramfs/hyperstart/) is being written. Tests prefer
 * the real binary (initramfs/hyperstart/out/hyperstart) when it exists.
 *
 * Deliberately simple: no tty mode, numeric users only, no xattrs/rootdisk.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const SOURCE = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <fcntl.h>
#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

extern char **environ;
static int con = -1;
static void logf_(const char *fmt, ...) __attribute__((format(printf,1,2)));
static void logf_(const char *fmt, ...) {
  char b[512]; va_list ap; va_start(ap, fmt); int n = vsnprintf(b, sizeof b, fmt, ap); va_end(ap);
  if (con >= 0 && n > 0) { if (write(con, "shim: ", 6) < 0 || write(con, b, n) < 0) {} }
}

static void power_off(void) { sync(); reboot(RB_POWER_OFF); for (;;) pause(); }

static int write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n) { ssize_t w = write(fd, c, n); if (w < 0) { if (errno == EINTR || errno == EAGAIN) continue; return -1; } c += w; n -= w; }
  return 0;
}
static int read_all(int fd, void *p, size_t n) {
  char *c = p;
  while (n) { ssize_t r = read(fd, c, n); if (r < 0) { if (errno == EINTR) continue; return -1; } if (r == 0) return -1; c += r; n -= r; }
  return 0;
}
static int ctl = -1;
static void frame(char t, const void *p, uint32_t n) {
  unsigned char h[5] = { (unsigned char)t, n >> 24, n >> 16, n >> 8, n };
  write_all(ctl, h, 5); if (n) write_all(ctl, p, n);
}
static void fail(const char *msg) { logf_("F %s\n", msg); if (ctl >= 0) frame('F', msg, strlen(msg)); sleep(1); power_off(); }

static char *slurp(const char *path, size_t *len) {
  int fd = open(path, O_RDONLY); if (fd < 0) return NULL;
  struct stat st; fstat(fd, &st); char *b = malloc(st.st_size + 1); size_t got = 0; ssize_t r;
  while ((r = read(fd, b + got, st.st_size - got)) > 0) got += r;
  close(fd); b[got] = 0; *len = got; return b;
}

/* spec records */
static char *args[256]; static int nargs;
static char *envs[256]; static int nenv;
static char *workdir, *user, *hostname, *net, *dns[8]; static int ndns;
static char *vols[16]; static size_t vollen[16]; static int nvol;
static char *mods[64]; static int nmods;

static void parse_spec(char *b, size_t len, int file) {
  const char *hdr = "hyperstart-spec 1\n";
  if (len < strlen(hdr) || memcmp(b, hdr, strlen(hdr))) fail("bad spec header");
  size_t pos = strlen(hdr);
  if (!file) { nargs = nenv = ndns = nvol = 0; workdir = user = hostname = net = NULL; }
  while (pos < len) {
    char *sp = memchr(b + pos, ' ', len - pos); if (!sp) fail("bad record");
    *sp = 0; char *key = b + pos; size_t n = strtoul(sp + 1, NULL, 10);
    char *nl = memchr(sp + 1, '\n', len - (sp + 1 - b)); if (!nl) fail("bad record len");
    char *v = nl + 1; if (v + n >= b + len + 1) fail("record overrun");
    v[n] = 0;
    if (!strcmp(key, "module")) { if (file) mods[nmods++] = v; }
    else if (!strcmp(key, "arg")) args[nargs++] = v;
    else if (!strcmp(key, "env")) envs[nenv++] = v;
    else if (!strcmp(key, "workdir")) workdir = v;
    else if (!strcmp(key, "user")) user = v;
    else if (!strcmp(key, "hostname")) hostname = v;
    else if (!strcmp(key, "net")) net = v;
    else if (!strcmp(key, "dns")) dns[ndns++] = v;
    else if (!strcmp(key, "volume")) { vols[nvol] = v; vollen[nvol++] = n; }
    pos = (v - b) + n + 1;
  }
  args[nargs] = NULL; envs[nenv] = NULL;
}

static int run(char *const argv[]) {
  pid_t p = fork();
  if (p == 0) { execv(argv[0], argv); _exit(127); }
  int st; waitpid(p, &st, 0); return WIFEXITED(st) ? WEXITSTATUS(st) : 1;
}

static int find_port(const char *want) {
  char path[300], name[128];
  for (int tries = 0; tries < 500; tries++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      snprintf(path, sizeof path, "/sys/class/virtio-ports/%s/name", e->d_name);
      int fd = open(path, O_RDONLY); if (fd < 0) continue;
      ssize_t n = read(fd, name, sizeof name - 1); close(fd);
      if (n <= 0) continue; name[n] = 0; if (name[n-1] == '\n') name[n-1] = 0;
      if (!strcmp(name, want)) {
        snprintf(path, sizeof path, "/dev/%s", e->d_name); closedir(d);
        for (int t = 0; t < 200; t++) { int pfd = open(path, O_RDWR | O_CLOEXEC); if (pfd >= 0) return pfd; usleep(10000); }
        return -1;
      }
    }
    if (d) closedir(d);
    usleep(10000);
  }
  return -1;
}

int main(void) {
  mkdir("/dev", 0755); mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
  mkdir("/proc", 0755); mount("proc", "/proc", "proc", 0, NULL);
  mkdir("/sys", 0755); mount("sysfs", "/sys", "sysfs", 0, NULL);
  mkdir("/tmp", 01777);
  con = open("/dev/console", O_WRONLY | O_CLOEXEC);
  size_t slen; char *sfile = slurp("/.hyperstart/spec", &slen);
  if (!sfile) fail("no /.hyperstart/spec");
  parse_spec(sfile, slen, 1);
  for (int i = 0; i < nmods; i++) {
    int fd = open(mods[i], O_RDONLY | O_CLOEXEC);
    if (fd < 0 || syscall(SYS_finit_module, fd, "", 0) != 0) logf_("module %s: %s\n", mods[i], strerror(errno));
    if (fd >= 0) close(fd);
  }
  ctl = find_port("org.hyperbuild.ctl");
  int outp = find_port("org.hyperbuild.stdout"), errp = find_port("org.hyperbuild.stderr");
  if (ctl < 0 || outp < 0 || errp < 0) { logf_("no channels\n"); power_off(); }
  frame('H', "hyperstart 1", 12);
  unsigned char h[5];
  if (read_all(ctl, h, 5) || h[0] != 'S') fail("expected S");
  uint32_t n = (h[1] << 24) | (h[2] << 16) | (h[3] << 8) | h[4];
  char *rs = malloc(n + 1); if (read_all(ctl, rs, n)) fail("short S");
  parse_spec(rs, n, 0);
  if (hostname) sethostname(hostname, strlen(hostname));
  char *lo[] = {"/bin/ip", "link", "set", "lo", "up", NULL}; run(lo);
  if (net && strncmp(net, "none", 4)) {
    char dev[32], addr[64], gw[64];
    if (sscanf(net, "%31s %63s %63s", dev, addr, gw) == 3) {
      char *a1[] = {"/bin/ip", "link", "set", dev, "up", NULL}; run(a1);
      char *a2[] = {"/bin/ip", "addr", "add", addr, "dev", dev, NULL}; run(a2);
      char *a3[] = {"/bin/ip", "route", "add", "default", "via", gw, NULL}; run(a3);
      mkdir("/etc", 0755); FILE *f = fopen("/etc/resolv.conf", "w");
      for (int i = 0; f && i < ndns; i++) fprintf(f, "nameserver %s\n", dns[i]);
      if (f) fclose(f);
    }
  }
  for (int i = 0; i < nvol; i++) {
    char *tag = vols[i]; char *mode = tag + strlen(tag) + 1; char *path = mode + strlen(mode) + 1;
    char cmd[600]; snprintf(cmd, sizeof cmd, "/bin/mkdir -p '%s'", path); if (system(cmd)) {}
    if (mount(tag, path, "9p", strcmp(mode, "ro") ? 0 : MS_RDONLY, "trans=virtio,version=9p2000.L,msize=262144"))
      { char m[300]; snprintf(m, sizeof m, "mount volume %s at %s: %s", tag, path, strerror(errno)); fail(m); }
  }
  if (workdir) { char cmd[600]; snprintf(cmd, sizeof cmd, "/bin/mkdir -p '%s'", workdir); if (system(cmd)) {} }
  if (nargs == 0) fail("no command");

  int o[2], e[2], in[2], ex[2];
  if (pipe2(o, O_CLOEXEC) || pipe2(e, O_CLOEXEC) || pipe2(in, O_CLOEXEC) || pipe2(ex, O_CLOEXEC)) fail("pipe");
  pid_t app = fork();
  if (app == 0) {
    setsid();
    dup2(in[0], 0); dup2(o[1], 1); dup2(e[1], 2);
    for (int s = 1; s < 32; s++) signal(s, SIG_DFL);
    sigset_t none; sigemptyset(&none); sigprocmask(SIG_SETMASK, &none, NULL);
    if (workdir && chdir(workdir)) { int c = 125; write_all(ex[1], &c, sizeof c); _exit(125); }
    if (user) {
      unsigned uid = 0, gid = 0; int k = sscanf(user, "%u:%u", &uid, &gid);
      if (k < 1) { int c = 125; write_all(ex[1], &c, sizeof c); _exit(125); }
      if (k == 1) gid = uid;
      if (setgroups(0, NULL) || setgid(gid) || setuid(uid)) _exit(125);
    }
    environ = envs;
    execvp(args[0], args);
    int c = errno == ENOENT ? 127 : 126; write_all(ex[1], &c, sizeof c); _exit(c);
  }
  close(o[1]); close(e[1]); close(in[0]); close(ex[1]);
  frame('R', NULL, 0);
  uint64_t nout = 0, nerr = 0; int ofd = o[0], efd = e[0], infd = in[1];
  int status = 0, reaped = 0; char buf[65536];
  unsigned char fh[5]; int fhave = 0; uint32_t flen = 0; char *fp = NULL; uint32_t fgot = 0;
  while (ofd >= 0 || efd >= 0 || !reaped) {
    if (!reaped) { pid_t w = waitpid(app, &status, WNOHANG); if (w == app) reaped = 1; }
    struct pollfd p[3] = {{ofd, POLLIN, 0}, {efd, POLLIN, 0}, {ctl, POLLIN, 0}};
    int r = poll(p, 3, 50);
    if (r < 0) continue;
    for (int i = 0; i < 2; i++) {
      int *fd = i ? &efd : &ofd;
      if (*fd >= 0 && (p[i].revents & (POLLIN | POLLHUP))) {
        ssize_t k = read(*fd, buf, sizeof buf);
        if (k <= 0) { close(*fd); *fd = -1; }
        else { write_all(i ? errp : outp, buf, k); if (i) nerr += k; else nout += k; }
      }
    }
    if (p[2].revents & POLLIN) {
      if (fhave < 5) { ssize_t k = read(ctl, fh + fhave, 5 - fhave); if (k > 0) fhave += k;
        if (fhave == 5) { flen = (fh[1] << 24) | (fh[2] << 16) | (fh[3] << 8) | fh[4]; fp = malloc(flen + 1); fgot = 0; } }
      else if (fgot < flen) { ssize_t k = read(ctl, fp + fgot, flen - fgot); if (k > 0) fgot += k; }
      if (fhave == 5 && fgot == flen) {
        if (fh[0] == 'K' && flen == 4) { unsigned char *u = (unsigned char *)fp; int sig = (u[0] << 24) | (u[1] << 16) | (u[2] << 8) | u[3]; kill(-app, sig); }
        else if (fh[0] == 'I' && infd >= 0) write_all(infd, fp, flen);
        else if (fh[0] == 'E' && infd >= 0) { close(infd); infd = -1; }
        free(fp); fp = NULL; fhave = 0;
      }
    }
  }
  int code, c;
  ssize_t k = read(ex[0], &c, sizeof c);
  if (k == sizeof c) code = c;
  else if (WIFSIGNALED(status)) code = 128 + WTERMSIG(status);
  else code = WEXITSTATUS(status);
  unsigned char x[20];
  x[0] = code >> 24; x[1] = code >> 16; x[2] = code >> 8; x[3] = code;
  for (int i = 0; i < 8; i++) { x[4 + i] = nout >> (56 - 8 * i); x[12 + i] = nerr >> (56 - 8 * i); }
  frame('X', x, 20);
  struct pollfd pb = {ctl, POLLIN, 0};
  for (int t = 0; t < 100; t++) {
    if (poll(&pb, 1, 100) > 0) { unsigned char b5[5]; if (read_all(ctl, b5, 5) == 0 && b5[0] == 'B') break; }
  }
  power_off();
  return 0;
}
`;

/** Compile the shim (static, musl) into dir; returns the binary's path. Cached by source. */
export function buildGuestShim(dir: string): string {
  mkdirSync(dir, { recursive: true });
  const src = join(dir, 'shim.c');
  const bin = join(dir, 'hyperstart-shim');
  if (!existsSync(bin)) {
    writeFileSync(src, SOURCE);
    const cc = existsSync('/usr/bin/musl-gcc') ? 'musl-gcc' : 'gcc';
    execFileSync(cc, ['-static', '-Os', '-o', bin, src], { stdio: 'inherit' });
  }
  return bin;
}
