/* Boot step 7b (PROTOCOL.md "Clock and entropy"): make this VM's clock and
 * random numbers its own, from the `time` and `entropy` records of the
 * runtime spec, before anything the app could observe. The same bytes of a
 * VM template are the start of many clones; without this step they would
 * share the template's clock and its RNG state. Either failure is fatal: an
 * app told "this clock is right, these numbers are fresh" must not get less. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "log.h"
#include "protocol.h"
#include "util.h"

/* <linux/random.h>, which musl does not ship: the uapi ioctls of /dev/random. */
#define HS_RNDADDENTROPY _IOW('R', 0x03, int[2])
#define HS_RNDRESEEDCRNG _IO('R', 0x07)

/* Mix the bytes into the input pool, credited in full (they come from the
 * host's CSPRNG), then reseed the CRNG at once: on a clone the CRNG was
 * already initialised in the template, and crediting alone would leave its
 * key as it was until the next periodic reseed. */
static void seed_entropy(const struct blob *e)
{
	struct {
		int entropy_count; /* bits */
		int buf_size;      /* bytes */
		unsigned char buf[SPEC_ENTROPY_MAX];
	} info;
	if (e->len > sizeof info.buf)
		hs_fail("entropy: %zu bytes is more than %zu", e->len, sizeof info.buf);
	info.entropy_count = (int)(e->len * 8);
	info.buf_size = (int)e->len;
	memcpy(info.buf, e->data, e->len);
	int fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		hs_fail("entropy: open /dev/urandom: %s", strerror(errno));
	if (ioctl(fd, HS_RNDADDENTROPY, &info) < 0)
		hs_fail("entropy: RNDADDENTROPY: %s", strerror(errno));
	if (ioctl(fd, HS_RNDRESEEDCRNG) < 0)
		hs_fail("entropy: RNDRESEEDCRNG: %s", strerror(errno));
	close(fd);
	explicit_bzero(&info, sizeof info);
	hs_log("entropy: %zu bytes from the host credited, crng reseeded", e->len);
}

static void set_clock(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)};
	if (clock_settime(CLOCK_REALTIME, &ts) < 0)
		hs_fail("time: clock_settime: %s", strerror(errno));
	hs_log("time: clock set to the host's, %lld.%09ld", (long long)ts.tv_sec, ts.tv_nsec);
}

void fresh_apply(const struct spec *rt)
{
	if (rt->entropy.data)
		seed_entropy(&rt->entropy);
	else
		hs_log("entropy: none in the runtime spec; the kernel seeds itself");
	if (rt->has_time)
		set_clock(rt->time_ns);
	else
		hs_log("time: none in the runtime spec; the clock stays the RTC's");
}
