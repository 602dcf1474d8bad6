/*
 * idle NFDS [PARENT_PID]: the processes the procfs benchmark scrapes.
 *
 * Opens /dev/null NFDS times and keeps the descriptors (the fd-heavy case: counting fds must not
 * grow with them), then sleeps in pause() until killed. It never does any work of its own, so
 * it adds nothing to the CPU figures being measured.
 *
 * With PARENT_PID, it asks the kernel to SIGKILL it when the benchmark dies, so that even a
 * benchmark killed with SIGKILL (which runs no cleanup) leaves no idle process behind.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: idle NFDS [PARENT_PID]\n");
    return 2;
  }
  long nfds = strtol(argv[1], NULL, 10);
  if (argc == 3) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) {
      perror("idle: prctl");
      return 1;
    }
    /* The parent may have died before prctl took effect: then nobody would kill us. */
    if (getppid() != (pid_t)strtol(argv[2], NULL, 10)) return 1;
  }
  if (nfds > 0) {
    /* The inherited soft limit may be below NFDS + stdio; the hard limit is ours to use. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }
  for (long i = 0; i < nfds; i++) {
    if (open("/dev/null", O_RDONLY) < 0) {
      perror("idle: open /dev/null");
      return 1;
    }
  }
  for (;;) pause();
}
