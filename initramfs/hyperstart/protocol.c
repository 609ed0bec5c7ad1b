/* Codecs of the host<->guest protocol (protocol.h, PROTOCOL.md): frame
 * headers, the X, K and W payloads, spec record framing and `time` values. The host side is
 * toolchain/hyperstart/protocol.ts; test/protocol-driver.c checks that both
 * agree (tests/hyperstart-spec-c.test.ts). */
#include <string.h>

#include "protocol.h"

static void put_be(unsigned char *p, uint64_t v, int n)
{
	for (int i = n - 1; i >= 0; i--, v >>= 8)
		p[i] = v & 0xff;
}

static uint32_t get_be(const unsigned char *p, int n)
{
	uint32_t v = 0;
	for (int i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

void frame_header_encode(unsigned char out[FRAME_HEADER_BYTES], char type, uint32_t len)
{
	out[0] = (unsigned char)type;
	put_be(out + 1, len, 4);
}

int frame_header_decode(const unsigned char *buf, size_t avail, char *type, uint32_t *len)
{
	if (avail < FRAME_HEADER_BYTES)
		return 0;
	*type = (char)buf[0];
	*len = get_be(buf + 1, 4);
	return 1;
}

void exit_payload_encode(unsigned char out[EXIT_PAYLOAD_BYTES], uint32_t code,
			 uint64_t nout, uint64_t nerr)
{
	put_be(out, code, 4);
	put_be(out + 4, nout, 8);
	put_be(out + 12, nerr, 8);
}

static uint64_t get_be64(const unsigned char *p)
{
	return (uint64_t)get_be(p, 4) << 32 | get_be(p + 4, 4);
}

int exit_payload_decode(const unsigned char *p, uint32_t len, uint32_t *code,
			uint64_t *nout, uint64_t *nerr)
{
	if (len != EXIT_PAYLOAD_BYTES)
		return -1;
	*code = get_be(p, 4);
	*nout = get_be64(p + 4);
	*nerr = get_be64(p + 12);
	return 0;
}

void exec_id_encode(unsigned char out[EXEC_ID_BYTES], uint32_t id)
{
	put_be(out, id, EXEC_ID_BYTES);
}

uint32_t exec_id_decode(const unsigned char *p)
{
	return get_be(p, EXEC_ID_BYTES);
}

int kill_payload_decode(const unsigned char *p, uint32_t len, int *sig)
{
	if (len < 4)
		return -1;
	*sig = (int)get_be(p, 4);
	return 0;
}

int winsize_payload_decode(const unsigned char *p, uint32_t len,
			   unsigned short *rows, unsigned short *cols)
{
	if (len < 4)
		return -1;
	*rows = (unsigned short)get_be(p, 2);
	*cols = (unsigned short)get_be(p + 2, 2);
	return 0;
}

const char *spec_records_begin(const char *buf, size_t len, size_t *pos)
{
	size_t hl = strlen(SPEC_HEADER);
	if (len < hl || memcmp(buf, SPEC_HEADER, hl))
		return "spec: bad header (expected 'hyperstart-spec 1')";
	*pos = hl;
	return NULL;
}

/* LEN between d and end: decimal digits only, at least one, bounded by the
 * spec's size (so it cannot overflow). Returns 0, or -1 when malformed. */
static int parse_length(const char *d, const char *end, size_t total, size_t *out)
{
	size_t v = 0;
	if (d == end)
		return -1;
	for (; d < end; d++) {
		if (*d < '0' || *d > '9' || v > (total / 10) + 1)
			return -1;
		v = v * 10 + (*d - '0');
	}
	*out = v;
	return 0;
}

int spec_record_next(const char *buf, size_t len, size_t *pos, struct spec_record *r,
		     const char **err)
{
	if (*pos >= len)
		return 0;
	const char *key = buf + *pos, *nl = memchr(key, '\n', len - *pos);
	if (!nl)
		return *err = "spec: truncated record header", -1;
	const char *sp = memchr(key, ' ', nl - key);
	if (!sp || sp == key)
		return *err = "spec: malformed record header", -1;
	for (const char *k = key; k < sp; k++)
		if (*k < 'a' || *k > 'z')
			return *err = "spec: malformed record key", -1;
	size_t vlen;
	if (parse_length(sp + 1, nl, len, &vlen) < 0)
		return *err = "spec: malformed record length", -1;
	size_t start = nl + 1 - buf;
	if (vlen > len || start + vlen + 1 > len || buf[start + vlen] != '\n')
		return *err = "spec: record overruns the spec", -1;
	*r = (struct spec_record){.key = key, .klen = sp - key, .value = buf + start, .vlen = vlen};
	*pos = start + vlen + 1;
	return 1;
}

int spec_record_is(const struct spec_record *r, const char *name)
{
	return r->klen == strlen(name) && !memcmp(r->key, name, r->klen);
}

int spec_time_decode(const char *v, size_t n, uint64_t *ns)
{
	uint64_t t = 0;
	if (n == 0 || n > 20)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return -1;
		unsigned d = (unsigned)(v[i] - '0');
		if (t > (UINT64_MAX - d) / 10)
			return -1;
		t = t * 10 + d;
	}
	*ns = t;
	return 0;
}

/* Decimal digits of v at p; returns how many. */
static size_t put_decimal(unsigned char *p, uint64_t v)
{
	unsigned char tmp[20];
	size_t n = 0;
	do {
		tmp[n++] = (unsigned char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* `KEY LEN\n` at p; returns its length (key short, LEN at most 20 digits). */
static size_t put_record_header(unsigned char *p, const char *key, size_t len)
{
	size_t k = strlen(key);
	memcpy(p, key, k);
	p[k] = ' ';
	k += 1 + put_decimal(p + k + 1, len);
	p[k] = '\n';
	return k + 1;
}

size_t spec_fresh_encode(unsigned char *out, size_t cap, uint64_t ns,
			 const unsigned char *entropy, size_t n)
{
	unsigned char digits[20];
	if (n < SPEC_ENTROPY_MIN || n > SPEC_ENTROPY_MAX || cap < SPEC_FRESH_MAX)
		return 0;
	size_t nd = put_decimal(digits, ns), at = 0;
	at += put_record_header(out + at, SPEC_KEY_TIME, nd);
	memcpy(out + at, digits, nd);
	at += nd;
	out[at++] = '\n';
	at += put_record_header(out + at, SPEC_KEY_ENTROPY, n);
	memcpy(out + at, entropy, n);
	at += n;
	out[at++] = '\n';
	return at;
}
