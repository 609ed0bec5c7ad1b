/* Host-side test driver for HyperStart's protocol code (protocol.c, spec.c),
 * compiled with the host gcc by tests/hyperstart-spec-c.test.ts. Not part of
 * the guest binary (hyperstart.mk builds only the files one level up).
 *
 *   protocol-driver FILE...     one JSON line per file: spec_parse's verdict
 *                               and, when accepted, everything it parsed
 *   protocol-driver --protocol  the protocol constants and codec samples
 *   protocol-driver --time V... spec_time_decode's verdict on each argument
 *   protocol-driver --fresh NS HEX [CAP]  spec_fresh_encode of that time and entropy
 *
 * Strings are printed as hex, so any byte survives. Each input is copied into
 * a buffer of exactly its size: with -fsanitize=address a read past the end
 * is caught rather than hidden by read_file's NUL terminator. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../protocol.h"
#include "../spec.h"
#include "../util.h"

static void hex(const void *p, size_t n)
{
	const unsigned char *b = p;
	putchar('"');
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	putchar('"');
}

static void str_or_null(const char *s)
{
	if (s)
		hex(s, strlen(s));
	else
		fputs("null", stdout);
}

static void list(const char *name, char **v, size_t n)
{
	printf(",\"%s\":[", name);
	for (size_t i = 0; i < n; i++) {
		if (i)
			putchar(',');
		str_or_null(v[i]);
	}
	putchar(']');
	if (v && v[n])
		fputs(",\"unterminated\":true", stdout); /* argv/envp must end in NULL */
}

static void print_records(const struct spec *s)
{
	fputs(",\"volumes\":[", stdout);
	for (size_t i = 0; i < s->nvolumes; i++) {
		printf("%s{\"tag\":", i ? "," : "");
		str_or_null(s->volumes[i].tag);
		printf(",\"readonly\":%d,\"path\":", s->volumes[i].readonly);
		str_or_null(s->volumes[i].path);
		putchar('}');
	}
	fputs("],\"xattrs\":[", stdout);
	for (size_t i = 0; i < s->nxattrs; i++) {
		printf("%s{\"path\":", i ? "," : "");
		str_or_null(s->xattrs[i].path);
		fputs(",\"name\":", stdout);
		str_or_null(s->xattrs[i].name);
		fputs(",\"value\":", stdout);
		hex(s->xattrs[i].value.data, s->xattrs[i].value.len);
		putchar('}');
	}
	fputs("],\"rootdisk\":", stdout);
	str_or_null(s->rootdisk_dev);
	fputs(",\"rootfstype\":", stdout);
	str_or_null(s->rootdisk_fstype);
	if (s->has_time)
		printf(",\"time\":\"%llu\"", (unsigned long long)s->time_ns);
	else
		fputs(",\"time\":null", stdout);
	fputs(",\"entropy\":", stdout);
	if (s->entropy.data)
		hex(s->entropy.data, s->entropy.len);
	else
		fputs("null", stdout);
}

static void print_spec(const struct spec *s)
{
	fputs("{\"ok\":true", stdout);
	list("args", s->args, s->nargs);
	list("env", s->env, s->nenv);
	list("dns", s->dns, s->ndns);
	list("modules", s->modules, s->nmodules);
	const char *names[] = {"workdir", "user", "hostname", "net"};
	const char *vals[] = {s->workdir, s->user, s->hostname, s->net};
	for (int i = 0; i < 4; i++) {
		printf(",\"%s\":", names[i]);
		str_or_null(vals[i]);
	}
	printf(",\"tty\":%d", s->tty);
	print_records(s);
	puts("}");
}

static int parse_file(const char *path)
{
	struct blob b;
	if (read_file(path, &b) < 0) {
		perror(path);
		return 1;
	}
	char *exact = malloc(b.len);
	if (b.len)
		memcpy(exact, b.data, b.len);
	struct spec s = {0};
	const char *err = spec_parse(&s, exact, b.len);
	if (err) {
		fputs("{\"ok\":false,\"error\":", stdout);
		hex(err, strlen(err));
		puts("}");
	} else {
		print_spec(&s);
	}
	free(exact);
	free(b.data);
	return 0;
}

/* Exec ids and the X decoder the host side (supervisor/) uses. */
static void print_exec_codecs(void)
{
	unsigned char id[EXEC_ID_BYTES], x[EXIT_PAYLOAD_BYTES];
	uint32_t code;
	uint64_t nout, nerr;
	exec_id_encode(id, 0x01020304);
	fputs(",\"execId\":", stdout);
	hex(id, sizeof id);
	printf(",\"execIdDecoded\":%u,\"streams\":[%d,%d],\"maxFrame\":%u", (unsigned)exec_id_decode(id),
	       EXEC_STREAM_STDOUT, EXEC_STREAM_STDERR, (unsigned)MAX_FRAME_PAYLOAD);
	exit_payload_encode(x, 137, 5, (uint64_t)1 << 33);
	int ok = exit_payload_decode(x, sizeof x, &code, &nout, &nerr);
	printf(",\"exitDecoded\":[%d,%u,%llu,%llu,%d]", ok, (unsigned)code, (unsigned long long)nout,
	       (unsigned long long)nerr, exit_payload_decode(x, sizeof x - 1, &code, &nout, &nerr));
}

static void print_protocol(void)
{
	unsigned char h[FRAME_HEADER_BYTES], x[EXIT_PAYLOAD_BYTES];
	const unsigned char k[4] = {0, 0, 0, 15}, w[4] = {0, 33, 1, 44};
	char type;
	uint32_t len;
	int sig;
	unsigned short rows, cols;
	printf("{\"version\":\"%s\",\"hello\":\"%s\",\"ports\":[\"%s\",\"%s\",\"%s\"]",
	       HS_PROTOCOL_VERSION, HS_VERSION, HS_PORT_CTL, HS_PORT_OUT, HS_PORT_ERR);
	fputs(",\"specHeader\":", stdout);
	hex(SPEC_HEADER, strlen(SPEC_HEADER));
	printf(",\"guestFrames\":\"%c%c%c%c%c%c%c\",\"hostFrames\":\"%c%c%c%c%c%c%c%c%c%c%c\"",
	       FRAME_HELLO, FRAME_READY, FRAME_EXIT, FRAME_FAIL,
	       FRAME_EXEC_STARTED, FRAME_EXEC_OUTPUT, FRAME_EXEC_EXIT,
	       FRAME_SPEC, FRAME_KILL, FRAME_WINSIZE, FRAME_INPUT, FRAME_EOF, FRAME_BYE,
	       FRAME_EXEC_NEW, FRAME_EXEC_INPUT, FRAME_EXEC_EOF, FRAME_EXEC_KILL, FRAME_EXEC_WINSIZE);
	print_exec_codecs();
	frame_header_encode(h, FRAME_KILL, 0x010203);
	fputs(",\"header\":", stdout);
	hex(h, sizeof h);
	int whole = frame_header_decode(h, sizeof h, &type, &len);
	int part = frame_header_decode(h, sizeof h - 1, &type, &len);
	printf(",\"headerDecoded\":[%d,%d,\"%c\",%u]", whole, part, type, (unsigned)len);
	exit_payload_encode(x, 137, 5, (uint64_t)1 << 33);
	fputs(",\"exit\":", stdout);
	hex(x, sizeof x);
	printf(",\"kill\":[%d,", kill_payload_decode(k, 4, &sig));
	printf("%d,%d]", sig, kill_payload_decode(k, 3, &sig));
	printf(",\"winsize\":[%d,", winsize_payload_decode(w, 4, &rows, &cols));
	printf("%u,%u,%d]", rows, cols, winsize_payload_decode(w, 3, &rows, &cols));
	printf(",\"entropyBytes\":[%d,%d]}\n", SPEC_ENTROPY_MIN, SPEC_ENTROPY_MAX);
}

/* --fresh NS HEX [CAP]: spec_fresh_encode's bytes as hex ("" when it refuses). */
static void print_fresh(const char *ns, const char *hexe, const char *cap)
{
	unsigned char e[SPEC_ENTROPY_MAX + 2], out[SPEC_FRESH_MAX];
	size_t n = 0;
	for (; hexe[2 * n] && hexe[2 * n + 1] && n < sizeof e; n++)
		sscanf(hexe + 2 * n, "%2hhx", &e[n]);
	size_t len = spec_fresh_encode(out, cap ? strtoul(cap, NULL, 10) : sizeof out,
				       strtoull(ns, NULL, 10), e, n);
	hex(out, len);
	putchar('\n');
}

/* --time VALUE...: spec_time_decode on each, one JSON line: [ok, "ns"] or [-1]. */
static void print_times(int n, char **v)
{
	putchar('[');
	for (int i = 0; i < n; i++) {
		uint64_t ns = 0;
		int r = spec_time_decode(v[i], strlen(v[i]), &ns);
		printf("%s", i ? "," : "");
		if (r == 0)
			printf("[0,\"%llu\"]", (unsigned long long)ns);
		else
			printf("[%d]", r);
	}
	puts("]");
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--protocol")) {
		print_protocol();
		return 0;
	}
	if ((argc == 4 || argc == 5) && !strcmp(argv[1], "--fresh")) {
		print_fresh(argv[2], argv[3], argc == 5 ? argv[4] : NULL);
		return 0;
	}
	if (argc >= 2 && !strcmp(argv[1], "--time")) {
		print_times(argc - 2, argv + 2);
		return 0;
	}
	int failed = 0;
	for (int i = 1; i < argc; i++)
		failed |= parse_file(argv[i]);
	return failed;
}
