/* static_probe: what a small service does, built static against musl
 * (tests/supervisor/CMakeLists.txt) and printed so that a run inside the
 * target and one under the supervisor can be diffed line by line.
 *   static_probe OP ARGS... [OP ARGS...]...
 *     file PATH              fstat, then the bytes
 *     read PATH              the bytes alone (a file just written: its
 *                            times are this run's)
 *     dir PATH               stat of the directory, then each entry
 *                            (sorted) with its lstat
 *     dns NAME               getaddrinfo: the addresses, sorted
 *     http HOST PORT PATH    HTTP/1.0 GET over TCP: peer, status line,
 *                            Content-Length, body
 *     at DIR NAME            NAME opened, fstatat'd and read relative to
 *                            an O_DIRECTORY fd of DIR (the *at calls)
 *     rewind PATH            readdir to the end, rewinddir, again: counts
 *     fcd PATH               fchdir to an O_DIRECTORY fd of PATH
 *     fdpath PATH            readlink of /proc/self/fd/N of PATH opened
 *     write PATH TEXT        PATH created or truncated, TEXT and a newline
 *                            written
 *     cd PATH                chdir (later relative paths start there)
 *     pwd                    getcwd
 *     uname                  the node name
 *     env NAME               one variable of the environment
 *     recvalarm HOST PORT    a datagram sent to HOST:PORT (nobody answers),
 *                            then a blocking recvfrom that SIGALRM (no
 *                            SA_RESTART) interrupts after a second: EINTR
 *     sigconnect HOST PORT N N non-blocking and N blocking connects while
 *                            a timer signal (SA_RESTART) fires every
 *                            100 us: the results, counted by errno (the
 *                            kernel never interrupts a non-blocking
 *                            connect; a supervisor's answer can be)
 * Every operation runs; the status is 0 when all succeeded, 1 otherwise
 * (errors print as "error: STRERROR" on stdout, so they are diffed too). */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <poll.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#define MAX_ENTRIES 4096
#define MAX_BODY (1 << 20)

static int failed;

static void err_line(const char *what, int e) {
  printf("  error: %s: %s\n", what, strerror(e));
  failed = 1;
}

static void print_stat(const char *label, const struct stat *st) {
  printf("  %s mode=%06o nlink=%lu uid=%u gid=%u size=%lld ino=%llu mtime=%lld\n",
         label, (unsigned)st->st_mode, (unsigned long)st->st_nlink,
         (unsigned)st->st_uid, (unsigned)st->st_gid, (long long)st->st_size,
         (unsigned long long)st->st_ino, (long long)st->st_mtime);
}

static void print_fd(int fd) {
  char buf[8192];
  long long total = 0;
  ssize_t n;
  fputs("  ---\n", stdout);
  while ((n = read(fd, buf, sizeof buf)) > 0) {
    fwrite(buf, 1, (size_t)n, stdout);
    total += n;
  }
  if (n < 0) {
    err_line("read", errno);
  }
  printf("\n  --- %lld bytes read\n", total);
}

static void op_file(const char *path, int with_stat) {
  printf("%s %s\n", with_stat ? "file" : "read", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err_line("open", errno);
    return;
  }
  struct stat st;
  if (!with_stat) {
    /* the bytes alone */
  } else if (fstat(fd, &st) != 0) {
    err_line("fstat", errno);
  } else {
    print_stat("fstat", &st);
  }
  print_fd(fd);
  close(fd);
}

struct entry {
  char *name;
  unsigned char type;
};

static int cmp_entries(const void *a, const void *b) {
  return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static void op_dir(const char *path) {
  printf("dir %s\n", path);
  struct stat st;
  if (stat(path, &st) != 0) {
    err_line("stat", errno);
    return;
  }
  print_stat("stat", &st);
  DIR *d = opendir(path);
  if (!d) {
    err_line("opendir", errno);
    return;
  }
  static struct entry ents[MAX_ENTRIES];
  size_t count = 0;
  struct dirent *e;
  errno = 0;
  while (count < MAX_ENTRIES && (e = readdir(d)) != NULL) {
    ents[count].name = strdup(e->d_name);
    ents[count].type = e->d_type;
    if (!ents[count].name) {
      err_line("strdup", ENOMEM);
      break;
    }
    count++;
    errno = 0;
  }
  if (errno != 0) {
    err_line("readdir", errno);
  }
  /* getdents64 order is the file system's: sorted, the two runs compare. */
  qsort(ents, count, sizeof ents[0], cmp_entries);
  printf("  %zu entries\n", count);
  for (size_t i = 0; i < count; i++) {
    const char *name = ents[i].name;
    printf("  %s d_type=%u\n", name, (unsigned)ents[i].type);
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      continue;
    }
    struct stat est;
    if (fstatat(dirfd(d), name, &est, AT_SYMLINK_NOFOLLOW) != 0) {
      err_line("fstatat", errno);
      continue;
    }
    print_stat("  lstat", &est);
    if (S_ISLNK(est.st_mode)) {
      char target[4096];
      ssize_t n = readlinkat(dirfd(d), name, target, sizeof target - 1);
      if (n < 0) {
        err_line("readlinkat", errno);
      } else {
        target[n] = '\0';
        printf("    -> %s\n", target);
      }
    }
  }
  for (size_t i = 0; i < count; i++) {
    free(ents[i].name);
  }
  closedir(d);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t size,
                      int with_port) {
  char host[INET6_ADDRSTRLEN] = "?";
  unsigned port = 0;
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
    port = ntohs(in->sin_port);
  } else if (sa->sa_family == AF_INET6) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
    port = ntohs(in6->sin6_port);
  }
  if (with_port) {
    snprintf(out, size, "%s port %u", host, port);
  } else {
    snprintf(out, size, "%s", host);
  }
}

static int cmp_strings(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

static void op_dns(const char *name) {
  printf("dns %s\n", name);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(name, NULL, &hints, &res);
  if (rc != 0) {
    printf("  error: getaddrinfo: %s\n", gai_strerror(rc));
    failed = 1;
    return;
  }
  static char addrs[64][INET6_ADDRSTRLEN + 16];
  size_t count = 0;
  for (struct addrinfo *ai = res; ai && count < 64; ai = ai->ai_next) {
    addr_text(ai->ai_addr, addrs[count], sizeof addrs[count], 0);
    count++;
  }
  freeaddrinfo(res);
  qsort(addrs, count, sizeof addrs[0], cmp_strings);
  for (size_t i = 0; i < count; i++) {
    if (i == 0 || strcmp(addrs[i], addrs[i - 1]) != 0) {
      printf("  %s\n", addrs[i]);
    }
  }
}

static int write_all(int fd, const char *p, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, p, len);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return -1;
    }
    p += n;
    len -= (size_t)n;
  }
  return 0;
}

/* The headers that do not change between two runs: the Date, Server and
 * Last-Modified lines do (or may), so only the status line and
 * Content-Length/Content-Type are printed. */
static void print_response(const char *resp, size_t len) {
  const char *end = NULL;
  for (size_t i = 0; i + 3 < len; i++) {
    if (memcmp(resp + i, "\r\n\r\n", 4) == 0) {
      end = resp + i;
      break;
    }
  }
  if (!end) {
    printf("  error: no end of headers in %zu bytes\n", len);
    failed = 1;
    return;
  }
  const char *line = resp;
  int first = 1;
  while (line < end) {
    const char *eol = line;
    while (eol < end && *eol != '\r') {
      eol++;
    }
    int n = (int)(eol - line);
    if (first || strncasecmp(line, "Content-Length:", 15) == 0 ||
        strncasecmp(line, "Content-Type:", 13) == 0) {
      printf("  %.*s\n", n, line);
    }
    first = 0;
    line = eol + 2;
  }
  const char *body = end + 4;
  size_t blen = len - (size_t)(body - resp);
  printf("  --- body, %zu bytes\n", blen);
  fwrite(body, 1, blen, stdout);
  fputs("\n  ---\n", stdout);
}

static void op_http(const char *host, const char *port, const char *path) {
  printf("http %s %s %s\n", host, port, path);
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    printf("  error: getaddrinfo: %s\n", gai_strerror(rc));
    failed = 1;
    return;
  }
  int fd = -1, last = 0;
  for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
    fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
      last = errno;
      continue;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) {
      break;
    }
    last = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  if (fd < 0) {
    err_line("connect", last);
    return;
  }
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char text[INET6_ADDRSTRLEN + 16];
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) {
    err_line("getpeername", errno);
  } else {
    addr_text((struct sockaddr *)&ss, text, sizeof text, 1);
    printf("  peer %s\n", text);
  }
  /* The local port is the kernel's choice: only the address is printed. */
  sl = sizeof ss;
  if (getsockname(fd, (struct sockaddr *)&ss, &sl) != 0) {
    err_line("getsockname", errno);
  } else {
    addr_text((struct sockaddr *)&ss, text, sizeof text, 0);
    printf("  local address %s\n", text);
  }
  char req[1024];
  int rlen = snprintf(req, sizeof req,
                      "GET %s HTTP/1.0\r\nHost: %s:%s\r\nUser-Agent: static_probe\r\n\r\n",
                      path, host, port);
  if (rlen < 0 || (size_t)rlen >= sizeof req) {
    err_line("request", ENAMETOOLONG);
    close(fd);
    return;
  }
  if (write_all(fd, req, (size_t)rlen) != 0) {
    err_line("write", errno);
    close(fd);
    return;
  }
  char *resp = malloc(MAX_BODY);
  if (!resp) {
    err_line("malloc", ENOMEM);
    close(fd);
    return;
  }
  size_t len = 0;
  ssize_t n;
  while (len < MAX_BODY && (n = read(fd, resp + len, MAX_BODY - len)) != 0) {
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      err_line("read", errno);
      break;
    }
    len += (size_t)n;
  }
  close(fd);
  print_response(resp, len);
  free(resp);
}

static volatile sig_atomic_t ticks;
static void on_tick(int sig) {
  (void)sig;
  ticks++;
}

/* One connect: its result ("0" or the errno's text), and for a
 * non-blocking one that is in progress, how it ended (SO_ERROR). */
static void one_connect(const struct addrinfo *ai, int nonblock, char *out, size_t n) {
  int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0),
                  ai->ai_protocol);
  if (fd < 0) {
    snprintf(out, n, "socket: %s", strerror(errno));
    return;
  }
  int r = connect(fd, ai->ai_addr, ai->ai_addrlen);
  int e = r == 0 ? 0 : errno;
  if (r != 0 && e == EINPROGRESS) {
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    int soe = 0;
    socklen_t sl = sizeof soe;
    while (poll(&p, 1, 10000) < 0 && errno == EINTR) {
    }
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soe, &sl);
    snprintf(out, n, "%s, then %s", strerror(e), soe ? strerror(soe) : "connected");
  } else {
    snprintf(out, n, "%s", r == 0 ? "connected" : strerror(e));
  }
  close(fd);
}

/* host:port's IPv4 addresses for socktype, or NULL (an error line). */
static struct addrinfo *lookup4(const char *host, const char *port, int socktype) {
  struct addrinfo hints = {0}, *res = NULL;
  hints.ai_family = AF_INET;
  hints.ai_socktype = socktype;
  int rc = getaddrinfo(host, port, &hints, &res);
  if (rc != 0) {
    printf("  error: getaddrinfo: %s\n", gai_strerror(rc));
    failed = 1;
    return NULL;
  }
  return res;
}

static void op_recvalarm(const char *host, const char *port) {
  printf("recvalarm %s %s\n", host, port);
  struct addrinfo *res = lookup4(host, port, SOCK_DGRAM);
  if (!res) {
    return;
  }
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || sendto(fd, "ping", 4, 0, res->ai_addr, res->ai_addrlen) != 4) {
    err_line("sendto", errno);
    freeaddrinfo(res);
    if (fd >= 0) {
      close(fd);
    }
    return;
  }
  freeaddrinfo(res);
  struct sigaction sa = {0}, old;
  sa.sa_handler = on_tick;
  sigaction(SIGALRM, &sa, &old);
  alarm(1);
  char buf[64];
  struct sockaddr_storage from;
  socklen_t fl = sizeof from;
  ssize_t n = recvfrom(fd, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
  int e = errno;
  alarm(0);
  sigaction(SIGALRM, &old, NULL);
  close(fd);
  if (n < 0) {
    printf("  recvfrom: %s\n", strerror(e));
  } else {
    printf("  recvfrom: %zd bytes\n", n);
  }
}

static void op_sigconnect(const char *host, const char *port, const char *count) {
  int n = atoi(count);
  printf("sigconnect %s %s %d\n", host, port, n);
  struct addrinfo *res = lookup4(host, port, SOCK_STREAM);
  if (!res) {
    return;
  }
  struct sigaction sa = {0};
  sa.sa_handler = on_tick;
  sa.sa_flags = SA_RESTART;
  sigaction(SIGALRM, &sa, NULL);
  struct itimerval it = {{0, 100}, {0, 100}};
  setitimer(ITIMER_REAL, &it, NULL);
  /* distinct results and how often each came */
  char seen[8][192];
  int times[8], kinds = 0;
  for (int i = 0; i < 2 * n; i++) {
    char what[128], line[176];
    one_connect(res, i < n, what, sizeof what);
    snprintf(line, sizeof line, "%s: %s", i < n ? "non-blocking" : "blocking", what);
    int k;
    for (k = 0; k < kinds && strcmp(seen[k], line) != 0; k++) {
    }
    if (k == kinds && kinds < 8) {
      snprintf(seen[kinds], sizeof seen[kinds], "%s", line);
      times[kinds++] = 0;
    }
    if (k < kinds) {
      times[k]++;
    }
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  freeaddrinfo(res);
  for (int k = 0; k < kinds; k++) {
    printf("  %s x%d\n", seen[k], times[k]);
  }
}

static void op_at(const char *dir, const char *name) {
  printf("at %s %s\n", dir, name);
  int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) {
    err_line("open O_DIRECTORY", errno);
    return;
  }
  struct stat st;
  if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    err_line("fstatat", errno);
  } else {
    print_stat("fstatat", &st);
  }
  if (faccessat(dfd, name, R_OK, 0) != 0) {
    err_line("faccessat", errno);
  }
  int fd = openat(dfd, name, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err_line("openat", errno);
  } else {
    print_fd(fd);
    close(fd);
  }
  close(dfd);
}

static long count_entries(DIR *d) {
  long n = 0;
  errno = 0;
  while (readdir(d) != NULL) {
    n++;
  }
  if (errno != 0) {
    err_line("readdir", errno);
  }
  return n;
}

static void op_rewind(const char *path) {
  printf("rewind %s\n", path);
  DIR *d = opendir(path);
  if (!d) {
    err_line("opendir", errno);
    return;
  }
  long first = count_entries(d);
  rewinddir(d);
  long second = count_entries(d);
  printf("  %ld entries, %ld after rewinddir\n", first, second);
  closedir(d);
}

static void op_fcd(const char *path) {
  printf("fcd %s\n", path);
  int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    err_line("open O_DIRECTORY", errno);
    return;
  }
  if (fchdir(fd) != 0) {
    err_line("fchdir", errno);
  }
  close(fd);
}

static void op_fdpath(const char *path) {
  printf("fdpath %s\n", path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    err_line("open", errno);
    return;
  }
  char link[64], target[4096];
  snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
  ssize_t n = readlink(link, target, sizeof target - 1);
  if (n < 0) {
    err_line("readlink", errno);
  } else {
    target[n] = '\0';
    printf("  %s\n", target);
  }
  close(fd);
}

static void op_write(const char *path, const char *text) {
  printf("write %s\n", path);
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    err_line("open O_CREAT", errno);
    return;
  }
  if (write_all(fd, text, strlen(text)) != 0 || write_all(fd, "\n", 1) != 0) {
    err_line("write", errno);
  }
  if (close(fd) != 0) {
    err_line("close", errno);
  }
}

static void op_cd(const char *path) {
  printf("cd %s\n", path);
  if (chdir(path) != 0) {
    err_line("chdir", errno);
  }
}

static void op_pwd(void) {
  char buf[4096];
  printf("pwd\n");
  if (!getcwd(buf, sizeof buf)) {
    err_line("getcwd", errno);
    return;
  }
  printf("  %s\n", buf);
}

static void op_uname(void) {
  struct utsname u;
  printf("uname\n");
  if (uname(&u) != 0) {
    err_line("uname", errno);
    return;
  }
  printf("  nodename %s\n  sysname %s\n", u.nodename, u.sysname);
}

static void op_env(const char *name) {
  const char *v = getenv(name);
  printf("env %s\n  %s%s\n", name, v ? "= " : "unset", v ? v : "");
}

static int usage(void) {
  fputs("usage: static_probe OP ARGS... (file PATH | read PATH | dir PATH |"
        " dns NAME |"
        " http HOST PORT PATH | at DIR NAME | rewind PATH | fcd PATH |"
        " fdpath PATH | write PATH TEXT | cd PATH | pwd | uname |"
        " env NAME | recvalarm HOST PORT | sigconnect HOST PORT N)...\n", stderr);
  return 2;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    return usage();
  }
  for (int i = 1; i < argc;) {
    const char *op = argv[i];
    int left = argc - i - 1;
    if (strcmp(op, "file") == 0 && left >= 1) {
      op_file(argv[i + 1], 1);
      i += 2;
    } else if (strcmp(op, "read") == 0 && left >= 1) {
      op_file(argv[i + 1], 0);
      i += 2;
    } else if (strcmp(op, "dir") == 0 && left >= 1) {
      op_dir(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "dns") == 0 && left >= 1) {
      op_dns(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "http") == 0 && left >= 3) {
      op_http(argv[i + 1], argv[i + 2], argv[i + 3]);
      i += 4;
    } else if (strcmp(op, "at") == 0 && left >= 2) {
      op_at(argv[i + 1], argv[i + 2]);
      i += 3;
    } else if (strcmp(op, "rewind") == 0 && left >= 1) {
      op_rewind(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "fcd") == 0 && left >= 1) {
      op_fcd(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "fdpath") == 0 && left >= 1) {
      op_fdpath(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "write") == 0 && left >= 2) {
      op_write(argv[i + 1], argv[i + 2]);
      i += 3;
    } else if (strcmp(op, "cd") == 0 && left >= 1) {
      op_cd(argv[i + 1]);
      i += 2;
    } else if (strcmp(op, "pwd") == 0) {
      op_pwd();
      i += 1;
    } else if (strcmp(op, "uname") == 0) {
      op_uname();
      i += 1;
    } else if (strcmp(op, "recvalarm") == 0 && left >= 2) {
      op_recvalarm(argv[i + 1], argv[i + 2]);
      i += 3;
    } else if (strcmp(op, "sigconnect") == 0 && left >= 3) {
      op_sigconnect(argv[i + 1], argv[i + 2], argv[i + 3]);
      i += 4;
    } else if (strcmp(op, "env") == 0 && left >= 1) {
      op_env(argv[i + 1]);
      i += 2;
    } else {
      return usage();
    }
    fflush(stdout);
  }
  return failed;
}
