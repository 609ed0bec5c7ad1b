/* Networking with plain ioctls (SIOCSIFADDR / SIOCADDRT): IPv4 only, one
 * interface, one default route — all a container-like VM needs, and far less
 * code than netlink. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "hs.h"
#include "log.h"
#include "util.h"

static void set_sin(struct sockaddr *sa, in_addr_t a)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = a};
	memcpy(sa, &sin, sizeof sin);
}

static void if_config(int sk, const char *ifname, in_addr_t addr, in_addr_t mask)
{
	struct ifreq ifr;
	memset(&ifr, 0, sizeof ifr);
	snprintf(ifr.ifr_name, IFNAMSIZ, "%s", ifname);
	set_sin(&ifr.ifr_addr, addr);
	if (ioctl(sk, SIOCSIFADDR, &ifr) < 0)
		hs_fail("%s: set address: %s", ifname, strerror(errno));
	set_sin(&ifr.ifr_netmask, mask);
	if (ioctl(sk, SIOCSIFNETMASK, &ifr) < 0)
		hs_fail("%s: set netmask: %s", ifname, strerror(errno));
	if (ioctl(sk, SIOCGIFFLAGS, &ifr) < 0)
		hs_fail("%s: get flags: %s", ifname, strerror(errno));
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(sk, SIOCSIFFLAGS, &ifr) < 0)
		hs_fail("%s: up: %s", ifname, strerror(errno));
}

static void write_resolv_conf(const struct spec *s)
{
	if (!s->ndns)
		return; /* keep the image's file: nothing better to put there */
	mkdir_p("/etc", 0755);
	/* Often a symlink to a resolver's runtime file (systemd-resolved) that
	 * does not exist here; replace it with a real file. */
	unlink("/etc/resolv.conf");
	FILE *f = fopen("/etc/resolv.conf", "we");
	if (!f)
		hs_fail("write /etc/resolv.conf: %s", strerror(errno));
	for (size_t i = 0; i < s->ndns; i++)
		fprintf(f, "nameserver %s\n", s->dns[i]);
	if (fclose(f) != 0)
		hs_fail("write /etc/resolv.conf: %s", strerror(errno));
}

void net_setup(const struct spec *s)
{
	int sk = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sk < 0)
		hs_fail("socket: %s", strerror(errno));
	if_config(sk, "lo", htonl(INADDR_LOOPBACK), htonl(0xff000000));
	hs_log("lo up");

	if (!s->net || !strcmp(s->net, "none") || !s->net[0]) {
		close(sk);
		return;
	}
	char ifname[IFNAMSIZ] = "", cidr[64] = "", gw[64] = "";
	if (sscanf(s->net, "%15s %63s %63s", ifname, cidr, gw) < 2)
		hs_fail("net: cannot parse '%s'", s->net);
	char *slash = strchr(cidr, '/');
	int prefix = 32;
	if (slash) {
		*slash = 0;
		prefix = atoi(slash + 1);
	}
	struct in_addr addr, gwa;
	if (inet_pton(AF_INET, cidr, &addr) != 1 || prefix < 0 || prefix > 32)
		hs_fail("net: bad address in '%s'", s->net);
	in_addr_t mask = prefix ? htonl(0xffffffffu << (32 - prefix)) : 0;

	/* virtio_net may still be probing (module just loaded): wait up to 2 s. */
	for (int i = 0; i < 200 && !if_nametoindex(ifname); i++)
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
	if (!if_nametoindex(ifname))
		hs_fail("net: no interface %s", ifname);
	if_config(sk, ifname, addr.s_addr, mask);
	hs_log("%s up %s/%d", ifname, cidr, prefix);

	if (gw[0] && strcmp(gw, "none")) {
		if (inet_pton(AF_INET, gw, &gwa) != 1)
			hs_fail("net: bad gateway in '%s'", s->net);
		struct rtentry rt;
		memset(&rt, 0, sizeof rt);
		set_sin(&rt.rt_dst, INADDR_ANY);
		set_sin(&rt.rt_genmask, INADDR_ANY);
		set_sin(&rt.rt_gateway, gwa.s_addr);
		rt.rt_flags = RTF_UP | RTF_GATEWAY;
		rt.rt_dev = ifname;
		if (ioctl(sk, SIOCADDRT, &rt) < 0 && errno != EEXIST)
			hs_fail("net: default route via %s: %s", gw, strerror(errno));
		hs_log("default route via %s", gw);
	}
	close(sk);
	write_resolv_conf(s);
}

void set_hostname(const char *name)
{
	if (!name || !name[0])
		return;
	if (sethostname(name, strlen(name)) < 0)
		hs_fail("sethostname %s: %s", name, strerror(errno));
	/* Like Docker's generated /etc/hosts, but only where the image has none:
	 * we never clobber an image file we were not asked to manage. */
	if (access("/etc/hosts", F_OK) < 0 && errno == ENOENT && mkdir_p("/etc", 0755) == 0) {
		FILE *f = fopen("/etc/hosts", "we");
		if (f) {
			fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n127.0.1.1\t%s\n", name);
			fclose(f);
		}
	}
	hs_log("hostname %s", name);
}
