// SPDX-License-Identifier: GPL-2.0
/*
 * kp-threads: time a patch transition while many threads loop through the
 * patched code.
 *
 *   kp-threads N FILE STATUS WANT NEW TIMEOUT_S -- COMMAND...
 *
 * Starts N threads that read FILE in a loop (each read is one pass through the
 * patched syscall path; FILE prints the version that served it).  Once every
 * thread has read it, runs COMMAND (e.g. insmod of the patch) and polls STATUS
 * until it reads WANT (e.g. "idle" in /sys/kernel/kp/P/transition, "0" in
 * /sys/kernel/livepatch/P/transition).  Then it waits (within TIMEOUT_S) until
 * every thread has made a read that started after that point, and checks that
 * each such read came from version NEW.
 *
 * Prints "threads=N calls=C transition_ms=T all_new=yes|no" and exits 0 when
 * COMMAND succeeded, STATUS reached WANT before TIMEOUT_S and all_new=yes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *file;
static atomic_int started;
static atomic_long calls;
static atomic_int stop;
static atomic_int settled;	/* STATUS read WANT */
static atomic_int seen_after;	/* threads with a read started after that */

struct worker {
	pthread_t tid;
	int after;		/* value of the first read started after settled */
	int has_after;
};

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void *loop(void *arg)
{
	struct worker *w = arg;
	char buf[16];
	int fd = open(file, O_RDONLY);
	int first = 1;

	if (fd < 0) {
		perror(file);
		exit(2);
	}
	while (!atomic_load(&stop)) {
		int after = atomic_load(&settled);
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

		if (n <= 0) {
			perror("pread");
			exit(2);
		}
		buf[n] = '\0';
		if (after && !w->has_after) {
			w->after = atoi(buf);
			w->has_after = 1;
			atomic_fetch_add(&seen_after, 1);
		}
		atomic_fetch_add(&calls, 1);
		if (first) {
			atomic_fetch_add(&started, 1);
			first = 0;
		}
	}
	close(fd);
	return NULL;
}

static int read_status(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int main(int argc, char **argv)
{
	struct worker *workers;
	int n, i, status, want_new, all_new = 1, reached = 0;
	double t0, t1 = 0, timeout_ms;
	char buf[64];
	pid_t pid;

	if (argc < 9 || strcmp(argv[7], "--")) {
		fprintf(stderr, "usage: %s N FILE STATUS WANT NEW TIMEOUT_S -- COMMAND...\n", argv[0]);
		return 2;
	}
	n = atoi(argv[1]);
	file = argv[2];
	want_new = atoi(argv[5]);
	timeout_ms = atof(argv[6]) * 1e3;
	workers = calloc(n, sizeof(*workers));
	if (!workers)
		return 2;
	for (i = 0; i < n; i++) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (pthread_create(&workers[i].tid, &attr, loop, &workers[i])) {
			fprintf(stderr, "pthread_create %d failed\n", i);
			return 2;
		}
	}
	while (atomic_load(&started) < n)
		usleep(10000);

	t0 = now_ms();
	pid = fork();
	if (pid == 0) {
		execvp(argv[8], argv + 8);
		perror(argv[8]);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) < 0)
		return 2;
	if (!WIFEXITED(status) || WEXITSTATUS(status)) {
		fprintf(stderr, "%s failed\n", argv[8]);
		status = 1;
	} else {
		status = 0;
	}
	while (!status && now_ms() - t0 < timeout_ms) {
		if (!read_status(argv[3], buf, sizeof(buf)) && !strcmp(buf, argv[4])) {
			t1 = now_ms();
			reached = 1;
			break;
		}
		usleep(1000);
	}
	atomic_store(&settled, 1);
	while (reached && atomic_load(&seen_after) < n && now_ms() - t0 < timeout_ms)
		usleep(10000);
	atomic_store(&stop, 1);
	for (i = 0; i < n; i++) {
		pthread_join(workers[i].tid, NULL);
		if (!workers[i].has_after || workers[i].after != want_new)
			all_new = 0;
	}
	printf("threads=%d calls=%ld transition_ms=%.1f all_new=%s\n", n,
	       atomic_load(&calls), reached ? t1 - t0 : -1.0, all_new ? "yes" : "no");
	return !status && reached && all_new ? 0 : 1;
}
