// SPDX-License-Identifier: GPL-2.0
/*
 * kp-syslog: drive syslog(2) actions busybox has no applet for.
 *   kp-syslog size   print the log buffer size (SYSLOG_ACTION_SIZE_BUFFER)
 *   kp-syslog off    disable console logging (SYSLOG_ACTION_CONSOLE_OFF)
 *   kp-syslog on     re-enable it (SYSLOG_ACTION_CONSOLE_ON)
 */
#include <stdio.h>
#include <string.h>
#include <sys/klog.h>

int main(int argc, char **argv)
{
	int action, ret;

	if (argc != 2)
		goto usage;
	if (!strcmp(argv[1], "size"))
		action = 10;
	else if (!strcmp(argv[1], "off"))
		action = 6;
	else if (!strcmp(argv[1], "on"))
		action = 7;
	else
		goto usage;
	ret = klogctl(action, NULL, 0);
	if (ret < 0) {
		perror("kp-syslog: klogctl");
		return 1;
	}
	printf("%d\n", ret);
	return 0;
usage:
	fprintf(stderr, "usage: kp-syslog size|off|on\n");
	return 2;
}
