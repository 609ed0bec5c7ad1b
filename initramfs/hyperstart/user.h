/*
 * Who the app runs as (user.c): the spec's `user` resolved against the
 * guest's own /etc/passwd and /etc/group, with Docker's (runc's) rules.
 */
#ifndef HYPERSTART_USER_H
#define HYPERSTART_USER_H

#include <stddef.h>
#include <sys/types.h>

struct creds {
	uid_t uid;
	gid_t gid;
	gid_t *groups; size_t ngroups;
	char *home; /* from passwd, "/" if unknown */
};
/* Resolve spec (NULL or "" means root); hs_fail() on an unknown name. */
void resolve_user(const char *spec, struct creds *c);

#endif
