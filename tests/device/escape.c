/* Escape attempts from inside a contained run: each mode prints one line "mode: result" and the test judges it.
 * Built by tests/device/test_sandbox.py with the host compiler; run through the local device's sandbox. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

static void say(const char *mode, const char *what, int rc) {
    printf("%s: %s rc=%d errno=%s\n", mode, what, rc, rc < 0 ? strerror(errno) : "-");
}

/* setsid + double fork: the grandchild lives on, sleeps, then writes a marker (if it still exists) */
static int escape_fork(const char *marker) {
    pid_t pid = fork();
    if (pid < 0) { say("fork", "fork", -1); return 0; }
    if (pid == 0) {
        setsid();
        if (fork() == 0) {
            sleep(2);
            int fd = open(marker, O_WRONLY | O_CREAT, 0644);
            if (fd >= 0) { write(fd, "escaped\n", 8); close(fd); }
            _exit(0);
        }
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    say("fork", "forked", 0);
    return 0;
}

static void *spin_elsewhere(void *arg) {
    int other = *(int *)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(other, &set);
    int rc = sched_setaffinity(0, sizeof set, &set);
    say("affinity", "sched_setaffinity", rc);
    volatile unsigned long x = 0;
    for (unsigned long i = 0; i < 50000000UL; ++i) x += i;
    printf("affinity: thread on cpu %d\n", sched_getcpu());
    return NULL;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(mode, "fork")) return escape_fork(arg);
    if (!strcmp(mode, "read")) {  /* a file that must not be visible */
        int fd = open(arg, O_RDONLY);
        char buf[64] = {0};
        int n = fd >= 0 ? (int)read(fd, buf, sizeof buf - 1) : -1;
        say("read", n > 0 ? buf : "nothing", fd);
        return 0;
    }
    if (!strcmp(mode, "write")) {  /* overwrite a file (an input) */
        int fd = open(arg, O_WRONLY | O_TRUNC);
        say("write", "open for writing", fd);
        return 0;
    }
    if (!strcmp(mode, "stash")) {  /* leave something in a file (a memo for a later run) */
        int fd = open(arg, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        say("stash", "open for writing", fd);
        if (fd >= 0) { write(fd, "memo", 4); close(fd); }
        return 0;
    }
    if (!strcmp(mode, "env")) {
        const char *key = getenv(arg);
        printf("env: %s=%s HOME=%s\n", arg, key ? key : "(unset)", getenv("HOME") ? getenv("HOME") : "(unset)");
        return 0;
    }
    if (!strcmp(mode, "net")) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        say("net", "socket", s);
        struct sockaddr_in addr = {0};
        addr.sin_family = AF_INET;
        addr.sin_port = htons((unsigned short)atoi(arg));
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int rc = s >= 0 ? connect(s, (struct sockaddr *)&addr, sizeof addr) : -1;
        say("net", "connect", rc);
        return 0;
    }
    if (!strcmp(mode, "thread")) {  /* a helper thread that moves itself to another core */
        int other = atoi(arg);
        pthread_t t;
        int rc = pthread_create(&t, NULL, spin_elsewhere, &other);
        say("thread", "pthread_create", rc == 0 ? 0 : (errno = rc, -1));
        if (rc == 0) pthread_join(t, NULL);
        return 0;
    }
    if (!strcmp(mode, "raw")) {  /* the calls a kernel has no business making, straight to the kernel */
        say("raw", "clone", (int)syscall(SYS_clone, SIGCHLD, 0, 0, 0, 0));
        say("raw", "setsid", (int)syscall(SYS_setsid));
        say("raw", "ptrace", (int)syscall(SYS_ptrace, 16 /* PTRACE_ATTACH */, 1, 0, 0));
        say("raw", "unshare", (int)syscall(SYS_unshare, 0x10000000 /* CLONE_NEWUSER */));
        say("raw", "mount", (int)syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, 0));
        printf("raw: uid=%d\n", (int)getuid());
        return 0;
    }
    if (!strcmp(mode, "state")) {  /* somewhere to leave state for the next run: IPC objects, the metadata of `arg` */
        say("state", "shmget", (int)syscall(SYS_shmget, 0x4d4b4221L, 4096L, 01000 /* IPC_CREAT */ | 0666));
        say("state", "msgget", (int)syscall(SYS_msgget, 0x4d4b4222L, 01000 | 0666));
        say("state", "semget", (int)syscall(SYS_semget, 0x4d4b4223L, 1, 01000 | 0666));
        say("state", "mq_open", (int)syscall(SYS_mq_open, "mkbstate", O_RDWR | O_CREAT, 0666, NULL));
        say("state", "setxattr", (int)syscall(SYS_setxattr, arg, "user.mkb", "memo", 4, 0));
        struct timespec times[2] = {{123, 0}, {456, 0}};
        say("state", "utimensat", (int)syscall(SYS_utimensat, AT_FDCWD, arg, times, 0));
        say("state", "chmod", (int)syscall(SYS_fchmodat, AT_FDCWD, arg, 0700));
        struct itimerval later = {{0, 0}, {0, 1000}};  /* a signal after the run's report */
        say("state", "setitimer", (int)syscall(SYS_setitimer, 0 /* ITIMER_REAL */, &later, NULL));
        return 0;
    }
    if (!strcmp(mode, "kill")) {  /* signal everything it can see */
        say("kill", "kill(-1)", kill(-1, SIGKILL));
        return 0;
    }
    fprintf(stderr, "unknown mode %s\n", mode);
    return 2;
}
