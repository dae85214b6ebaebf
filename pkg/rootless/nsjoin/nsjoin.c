// See nsjoin.go for the protocol.

#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ENV_SETNS "_CTR_SETNS"
#define ENV_UNSHARE "_CTR_SETNS_UNSHARE"

static void fail(const char *what, const char *arg, int err)
{
	char msg[512];
	int n = snprintf(msg, sizeof(msg), "Error: join namespaces: %s %s: %s\n", what, arg, strerror(err));

	if (n > 0 && write(STDERR_FILENO, msg, (size_t)n) < 0) {
		// Nothing left to report to.
	}
	_exit(125);
}

static int ns_type(const char *name, size_t len)
{
	static const struct {
		const char *name;
		int type;
	} types[] = {
		{"user", CLONE_NEWUSER},
		{"net", CLONE_NEWNET},
		{"ipc", CLONE_NEWIPC},
		{"uts", CLONE_NEWUTS},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strlen(types[i].name) == len && strncmp(types[i].name, name, len) == 0)
			return types[i].type;
	return 0;
}

void ctr_setns(void)
{
	const char *spec = getenv(ENV_SETNS);
	const char *unshare_what = getenv(ENV_UNSHARE);
	const char *p;

	if (spec == NULL)
		return;
	for (p = spec; *p != '\0';) {
		char *end;
		long fd;
		size_t len;
		int type;

		errno = 0;
		fd = strtol(p, &end, 10);
		if (errno != 0 || end == p || *end != ':' || fd < 0 || fd > 1024)
			fail("bad", ENV_SETNS, EINVAL);
		p = end + 1;
		len = strcspn(p, ",");
		type = ns_type(p, len);
		if (type == 0)
			fail("unknown namespace type in", ENV_SETNS, EINVAL);
		if (setns((int)fd, type) < 0)
			fail("setns", p, errno);
		close((int)fd);
		p += len;
		if (*p == ',')
			p++;
	}
	if (unshare_what != NULL) {
		if (strcmp(unshare_what, "mnt") != 0)
			fail("bad", ENV_UNSHARE, EINVAL);
		if (unshare(CLONE_NEWNS) < 0)
			fail("unshare", "mount namespace", errno);
	}
	unsetenv(ENV_SETNS);
	unsetenv(ENV_UNSHARE);
}
