/*
 * HyperStart diagnostics (log.c): lines on the serial console, and fatal
 * errors. Knows nothing of the host channel: hs_fail() prints the error and
 * hands it to the fatal hook main.c registered (util.h hs_set_fatal).
 */
#ifndef HYPERSTART_LOG_H
#define HYPERSTART_LOG_H

extern int hs_debug; /* hyperstart.debug=1 on the kernel command line */
void hs_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void hs_console(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print "error: MSG" on the console, then hs_die(MSG): never returns. */
void hs_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
