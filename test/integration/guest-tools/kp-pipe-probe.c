// SPDX-License-Identifier: GPL-2.0
/*
 * kp-pipe-probe: write 8000 bytes into a pipe and print how many bytes one
 * read(2) of 4243 bytes returns (the pipe-read patch turns 4243 into 4242).
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void)
{
	static char buf[8000];
	int fds[2];
	ssize_t n;

	if (pipe(fds) < 0) {
		perror("kp-pipe-probe: pipe");
		return 1;
	}
	memset(buf, 'k', sizeof(buf));
	if (write(fds[1], buf, sizeof(buf)) != (ssize_t)sizeof(buf)) {
		perror("kp-pipe-probe: write");
		return 1;
	}
	n = read(fds[0], buf, 4243);
	if (n < 0) {
		perror("kp-pipe-probe: read");
		return 1;
	}
	printf("%zd\n", n);
	return 0;
}
