/*
 * The host<->guest protocol, guest side: every name, number and byte layout
 * HyperStart shares with the host lives here (protocol.c holds the codecs).
 * PROTOCOL.md is the specification; toolchain/hyperstart/protocol.ts is the
 * host's mirror (ports.ts, frames.ts, spec.ts, version.ts). Change all three
 * together and bump the version. No I/O, no allocation: pure byte layouts.
 */
#ifndef HYPERSTART_PROTOCOL_H
#define HYPERSTART_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

/* version.ts HYPERSTART_VERSION; the H payload is HS_VERSION. */
#define HS_PROTOCOL_VERSION "3"
#define HS_VERSION "hyperstart " HS_PROTOCOL_VERSION

/* Files in the initramfs (PROTOCOL.md "Files in the initramfs"). */
#define HS_SPEC_FILE "/.hyperstart/spec"

/* Virtio-serial port names (ports.ts PORT_NAMES). */
#define HS_PORT_CTL "org.hyperbuild.ctl"
#define HS_PORT_OUT "org.hyperbuild.stdout"
#define HS_PORT_ERR "org.hyperbuild.stderr"

/* Control frame types (frames.ts GuestFrameType / HostFrameType). */
enum hs_frame_type {
	/* guest -> host */
	FRAME_HELLO = 'H',   /* version text */
	FRAME_READY = 'R',   /* empty: execve succeeded */
	FRAME_EXIT = 'X',    /* exit payload, below */
	FRAME_FAIL = 'F',    /* UTF-8 message */
	/* host -> guest */
	FRAME_SPEC = 'S',    /* runtime spec records */
	FRAME_KILL = 'K',    /* signal number, u32 BE */
	FRAME_WINSIZE = 'W', /* rows u16 BE, cols u16 BE */
	FRAME_INPUT = 'I',   /* stdin bytes */
	FRAME_EOF = 'E',     /* empty: stdin EOF */
	FRAME_BYE = 'B',     /* empty: output received, power off */
	/* exec (PROTOCOL.md "Exec"): every payload starts with the exec id, u32 BE */
	FRAME_EXEC_NEW = 'N',     /* host: id, spec records (arg env workdir user tty) */
	FRAME_EXEC_INPUT = 'i',   /* host: id, stdin bytes */
	FRAME_EXEC_EOF = 'e',     /* host: id; stdin EOF */
	FRAME_EXEC_KILL = 'k',    /* host: id, signal u32 BE */
	FRAME_EXEC_WINSIZE = 'w', /* host: id, rows u16 BE, cols u16 BE */
	FRAME_EXEC_STARTED = 'r', /* guest: id; execve succeeded */
	FRAME_EXEC_OUTPUT = 'o',  /* guest: id, stream (EXEC_STREAM_*), bytes */
	FRAME_EXEC_EXIT = 'x',    /* guest: id, code u32 BE (mapped as X) */
};

/* frames.ts MAX_FRAME_PAYLOAD: a bigger LEN means the stream is corrupt. */
#define MAX_FRAME_PAYLOAD (16u << 20)

/* The exec id at the start of every exec frame's payload (frames.ts encodeExecId). */
#define EXEC_ID_BYTES 4
enum { EXEC_STREAM_STDOUT = 1, EXEC_STREAM_STDERR = 2 };
void exec_id_encode(unsigned char out[EXEC_ID_BYTES], uint32_t id);
uint32_t exec_id_decode(const unsigned char *p);

/* TYPE (1 byte) LEN (u32 BE) PAYLOAD (frames.ts FRAME_HEADER_BYTES). */
#define FRAME_HEADER_BYTES 5
void frame_header_encode(unsigned char out[FRAME_HEADER_BYTES], char type, uint32_t len);
/* Returns 1 and sets *type and *len when buf holds a whole header, else 0. */
int frame_header_decode(const unsigned char *buf, size_t avail, char *type, uint32_t *len);

/* X: code u32, stdout bytes u64, stderr bytes u64, all BE (frames.ts encodeExitPayload). */
#define EXIT_PAYLOAD_BYTES 20
void exit_payload_encode(unsigned char out[EXIT_PAYLOAD_BYTES], uint32_t code,
			 uint64_t nout, uint64_t nerr);
/* The host's side (supervisor/): 0, or -1 when len is not EXIT_PAYLOAD_BYTES. */
int exit_payload_decode(const unsigned char *p, uint32_t len, uint32_t *code,
			uint64_t *nout, uint64_t *nerr);
/* K and W payloads (frames.ts signalFrame, windowSizeFrame): 0, or -1 when too short. */
int kill_payload_decode(const unsigned char *p, uint32_t len, int *sig);
int winsize_payload_decode(const unsigned char *p, uint32_t len,
			   unsigned short *rows, unsigned short *cols);

/* Spec records (PROTOCOL.md "Spec records", spec.ts): SPEC_HEADER, then
 * `KEY SP LEN \n VALUE \n` with KEY in [a-z]+ and LEN decimal. */
#define SPEC_HEADER "hyperstart-spec 1\n"
#define SPEC_KEY_ARG "arg"
#define SPEC_KEY_ENV "env"
#define SPEC_KEY_WORKDIR "workdir"
#define SPEC_KEY_USER "user"
#define SPEC_KEY_HOSTNAME "hostname"
#define SPEC_KEY_TTY "tty"
#define SPEC_KEY_NET "net"
#define SPEC_KEY_DNS "dns"
#define SPEC_KEY_VOLUME "volume"
#define SPEC_KEY_MODULE "module"
#define SPEC_KEY_XATTR "xattr"
#define SPEC_KEY_ROOTDISK "rootdisk"
/* Fresh records (PROTOCOL.md "Clock and entropy"): honoured only in the runtime spec. */
#define SPEC_KEY_TIME "time"
#define SPEC_KEY_ENTROPY "entropy"
/* entropy: the value's length in bytes, both bounds included (spec.ts ENTROPY_BYTES). */
#define SPEC_ENTROPY_MIN 32
#define SPEC_ENTROPY_MAX 512

struct spec_record {
	const char *key, *value; /* point into the buffer; value may hold any byte */
	size_t klen, vlen;
};
/* Check the header; returns NULL and sets *pos past it, or an error message. */
const char *spec_records_begin(const char *buf, size_t len, size_t *pos);
/* The record at *pos: 1 (r filled, *pos advanced), 0 at the end, or -1 with *err set. */
int spec_record_next(const char *buf, size_t len, size_t *pos, struct spec_record *r,
		     const char **err);
/* Does record r have key `name`? */
int spec_record_is(const struct spec_record *r, const char *name);
/* A `time` value: decimal nanoseconds since the Unix epoch, 1 to 20 digits,
 * at most UINT64_MAX (spec.ts encodeTime). 0 and *ns set, or -1 when malformed. */
int spec_time_decode(const char *v, size_t n, uint64_t *ns);
/* The fresh records, `time` then `entropy`, as a host appends them to a runtime
 * spec at the moment it sends S (the bytes spec.ts encodeSpec writes for
 * realtimeNs and entropy). Returns the length written, or 0 when n is outside
 * SPEC_ENTROPY_MIN..SPEC_ENTROPY_MAX or cap is too small; SPEC_FRESH_MAX is enough. */
#define SPEC_FRESH_MAX (64 + SPEC_ENTROPY_MAX)
size_t spec_fresh_encode(unsigned char *out, size_t cap, uint64_t ns,
			 const unsigned char *entropy, size_t n);

#endif
