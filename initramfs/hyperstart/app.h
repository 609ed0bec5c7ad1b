/*
 * Running the app (app.c): start it (app_spawn.h), then the event loop that
 * copies its output to the host, acts on control frames (K W I E) and reaps
 * every zombie (we are PID 1), until the app has exited and its output is out.
 */
#ifndef HYPERSTART_APP_H
#define HYPERSTART_APP_H

#include <stdint.h>

#include "spec.h"
#include "user.h"

/* Run the app and return its mapped exit code; sets byte counts. */
int app_run(const struct spec *s, const struct creds *c, uint64_t *nout, uint64_t *nerr);

#endif
