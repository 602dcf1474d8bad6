/*
 * scrape [--held] ROOT SCRAPES [WARMUP]: the floor for reading the files the procfs receiver reads.
 *
 * One scrape lists ROOT, reads ROOT/meminfo, and for every numeric entry reads stat, status and io
 * and takes the size of the fd directory (since Linux 6.2 its number of open descriptors). Nothing
 * is parsed beyond finding the ')' that ends comm in stat, so what is measured is the cost of
 * getting the bytes out of the kernel, which no reader of these files can avoid.
 *
 * Default mode: open + read + close each file and stat() the fd directory, every scrape.
 * --held: open the three files and the fd directory once per pid and keep them open between
 * scrapes, then pread() / fstat() them: the technique the TypeScript reader uses, so the same
 * technique in C shows how much of any difference is the language rather than the syscalls.
 *
 * It does WARMUP (default 1) unmeasured scrapes, then measures SCRAPES scrapes with
 * getrusage(RUSAGE_SELF) and prints one JSON line. The benchmark passes every tool the same WARMUP.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Held descriptors of one pid; -1 when the open failed (that file is then read by path). */
struct entry {
  int pid;
  int stat_fd, status_fd, io_fd, fd_dir_fd;
};

static char buf[65536];
static char path[4096];
static size_t root_len;
static int held;

/* Previous and current scrape's entries, in listing order (ascending pid on procfs). */
static struct entry *prev, *cur;
static size_t nprev, ncur, cap;

/* Everything read is folded into this, so the compiler cannot drop the reads or the scan. */
static volatile unsigned long sink;

/* path = ROOT/NAME/ and returns its length, so each file name is one memcpy away. */
static size_t pid_dir(const char *name) {
  size_t n = strlen(name);
  memcpy(path + root_len, name, n);
  path[root_len + n] = '/';
  return root_len + n + 1;
}

static ssize_t read_path(const char *p) {
  int fd = open(p, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  return n;
}

/* Folds stat's content into the sink: the offset of the last ')' (comm may itself hold ')'). */
static int use_stat(ssize_t n) {
  if (n <= 0) return 0;
  const char *end = memrchr(buf, ')', (size_t)n);
  if (end == NULL) return 0;
  sink += (unsigned long)(end - buf);
  return 1;
}

static int scrape_plain(const char *name) {
  size_t d = pid_dir(name);
  struct stat st;
  strcpy(path + d, "stat");
  if (!use_stat(read_path(path))) return 0; /* exited between the listing and the read */
  strcpy(path + d, "status");
  sink += (unsigned long)read_path(path);
  strcpy(path + d, "io");
  sink += (unsigned long)read_path(path);
  strcpy(path + d, "fd");
  if (stat(path, &st) == 0) sink += (unsigned long)st.st_size;
  return 1;
}

static int open_held(size_t d, const char *file, int flags) {
  strcpy(path + d, file);
  return open(path, flags | O_CLOEXEC);
}

static void close_entry(struct entry *e) {
  int fds[4] = {e->stat_fd, e->status_fd, e->io_fd, e->fd_dir_fd};
  for (int i = 0; i < 4; i++)
    if (fds[i] >= 0) close(fds[i]);
}

static void open_entry(struct entry *e, int pid, size_t d) {
  e->pid = pid;
  e->stat_fd = open_held(d, "stat", O_RDONLY);
  e->status_fd = open_held(d, "status", O_RDONLY);
  e->io_fd = open_held(d, "io", O_RDONLY);
  e->fd_dir_fd = open_held(d, "fd", O_RDONLY | O_DIRECTORY);
}

/* pread the held descriptor, or fall back to open + read + close when it could not be held. */
static ssize_t read_held(int fd, size_t d, const char *file) {
  if (fd >= 0) return pread(fd, buf, sizeof buf, 0);
  strcpy(path + d, file);
  return read_path(path);
}

/* The previous scrape's entry for pid (binary search: the listing is sorted), or NULL. */
static struct entry *find_prev(int pid) {
  size_t lo = 0, hi = nprev;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (prev[mid].pid == pid) return &prev[mid];
    if (prev[mid].pid < pid) lo = mid + 1;
    else hi = mid;
  }
  return NULL;
}

static int scrape_held(const char *name) {
  int pid = atoi(name);
  size_t d = pid_dir(name);
  struct entry e;
  struct entry *old = find_prev(pid);
  int fresh = old == NULL;
  if (old != NULL) {
    e = *old;
    old->pid = -1; /* taken: not closed at the end of this scrape */
  } else {
    open_entry(&e, pid, d);
  }
  ssize_t n = read_held(e.stat_fd, d, "stat");
  if (n < 0 && !fresh) {
    /* ESRCH: the held process exited; the pid may belong to a new one, so open it afresh. */
    close_entry(&e);
    open_entry(&e, pid, d);
    n = read_held(e.stat_fd, d, "stat");
  }
  if (!use_stat(n)) {
    close_entry(&e);
    return 0;
  }
  sink += (unsigned long)read_held(e.status_fd, d, "status");
  sink += (unsigned long)read_held(e.io_fd, d, "io");
  struct stat st;
  int rc;
  if (e.fd_dir_fd >= 0) {
    rc = fstat(e.fd_dir_fd, &st);
  } else {
    strcpy(path + d, "fd");
    rc = stat(path, &st);
  }
  if (rc == 0) sink += (unsigned long)st.st_size;
  if (ncur == cap) {
    cap = cap ? cap * 2 : 1024;
    cur = realloc(cur, cap * sizeof *cur);
    prev = realloc(prev, cap * sizeof *prev);
    if (cur == NULL || prev == NULL) {
      perror("scrape: realloc");
      exit(1);
    }
  }
  cur[ncur++] = e;
  return 1;
}

static int by_pid(const void *a, const void *b) {
  const struct entry *x = a, *y = b;
  return (x->pid > y->pid) - (x->pid < y->pid);
}

/* One scrape; returns the number of processes read. */
static long scrape(void) {
  long count = 0;
  strcpy(path + root_len, "meminfo");
  sink += (unsigned long)read_path(path);
  path[root_len] = '\0';
  DIR *dir = opendir(path);
  if (dir == NULL) {
    perror("scrape: opendir");
    exit(1);
  }
  struct dirent *de;
  while ((de = readdir(dir)) != NULL) {
    if (de->d_name[0] < '0' || de->d_name[0] > '9') continue;
    count += held ? scrape_held(de->d_name) : scrape_plain(de->d_name);
  }
  closedir(dir);
  if (held) {
    /* Close what was not listed again (exited), then this scrape becomes the previous one. */
    for (size_t i = 0; i < nprev; i++)
      if (prev[i].pid >= 0) close_entry(&prev[i]);
    int sorted = 1;
    for (size_t i = 1; i < ncur && sorted; i++) sorted = cur[i - 1].pid < cur[i].pid;
    if (!sorted) qsort(cur, ncur, sizeof *cur, by_pid);
    struct entry *t = prev;
    prev = cur;
    cur = t;
    nprev = ncur;
    ncur = 0;
  }
  return count;
}

static long open_fds(void) {
  long n = 0;
  DIR *dir = opendir("/proc/self/fd");
  if (dir == NULL) return -1;
  struct dirent *de;
  while ((de = readdir(dir)) != NULL)
    if (de->d_name[0] != '.') n++;
  closedir(dir);
  return n - 1; /* not the descriptor of the listing itself */
}

static long usec(struct timeval tv) { return tv.tv_sec * 1000000L + tv.tv_usec; }

int main(int argc, char **argv) {
  int arg = 1;
  if (arg < argc && strcmp(argv[arg], "--held") == 0) {
    held = 1;
    arg++;
  }
  if (argc - arg != 2 && argc - arg != 3) {
    fprintf(stderr, "usage: scrape [--held] ROOT SCRAPES [WARMUP]\n");
    return 2;
  }
  const char *root = argv[arg];
  long scrapes = strtol(argv[arg + 1], NULL, 10);
  long warmup = argc - arg == 3 ? strtol(argv[arg + 2], NULL, 10) : 1;
  root_len = strlen(root);
  if (scrapes < 1 || warmup < 1 || root_len + 300 > sizeof path) {
    fprintf(stderr, "scrape: bad ROOT or SCRAPES\n");
    return 2;
  }
  memcpy(path, root, root_len);
  path[root_len++] = '/';
  if (held) {
    /* Four descriptors per process: use the whole hard limit, as a dedicated agent could. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
      rl.rlim_cur = rl.rlim_max;
      setrlimit(RLIMIT_NOFILE, &rl);
    }
  }

  /* First sight of every process (and, held, every open) is not steady state. */
  for (long i = 0; i < warmup; i++) scrape();
  struct rusage r0, r1;
  struct timespec w0, w1;
  long processes = 0;
  clock_gettime(CLOCK_MONOTONIC, &w0);
  getrusage(RUSAGE_SELF, &r0);
  for (long i = 0; i < scrapes; i++) processes = scrape();
  getrusage(RUSAGE_SELF, &r1);
  clock_gettime(CLOCK_MONOTONIC, &w1);

  long user = usec(r1.ru_utime) - usec(r0.ru_utime);
  long sys = usec(r1.ru_stime) - usec(r0.ru_stime);
  double wall = (double)(w1.tv_sec - w0.tv_sec) * 1e6 + (double)(w1.tv_nsec - w0.tv_nsec) / 1e3;
  printf("{\"tool\":\"%s\",\"processes\":%ld,\"scrapes\":%ld,\"warmup\":%ld,\"cpu_us_per_scrape\":%.1f,"
         "\"user_us\":%ld,\"sys_us\":%ld,\"wall_us_per_scrape\":%.1f,\"open_fds\":%ld,\"sink\":%lu}\n",
         held ? "c-held" : "c", processes, scrapes, warmup, (double)(user + sys) / (double)scrapes, user, sys,
         wall / (double)scrapes, open_fds(), (unsigned long)sink);
  return 0;
}
