/* Diagnostics go to the serial console (our fd 2 is /dev/console): the host
 * shows it only with --verbose or on failure, and app output never goes there
 * when the control channel exists. Fatal errors end in hs_die() (util.c),
 * whose hook (main.c) tells the host and powers off. */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"
#include "util.h"

int hs_debug;

static void vconsole(const char *fmt, va_list ap)
{
	char buf[1024];
	int n = snprintf(buf, sizeof buf, "hyperstart: ");
	int m = vsnprintf(buf + n, sizeof buf - n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	n += m;
	if (n > (int)sizeof buf - 2)
		n = sizeof buf - 2;
	buf[n++] = '\n';
	write_all(2, buf, n);
}

void hs_console(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vconsole(fmt, ap);
	va_end(ap);
}

void hs_log(const char *fmt, ...)
{
	va_list ap;
	if (!hs_debug)
		return;
	va_start(ap, fmt);
	vconsole(fmt, ap);
	va_end(ap);
}

void hs_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	hs_console("error: %s", msg);
	hs_die(msg);
}
