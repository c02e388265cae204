// Shim for Debian's liburing-dev 2.3, imported only by TetherReactor.
//
// Why the includes come first: liburing.h defines _XOPEN_SOURCE/_GNU_SOURCE and then includes
// system headers, which makes a *clean* build fail with "fd_set ... not present in definition"
// against SwiftGlibc. Including the glibc headers first avoids that. <linux/io_uring.h> must come
// before <liburing.h> because swift-system's CSystem module imports the kernel's uapi header; both
// headers use the LINUX_IO_URING_H guard, so only the kernel's definition is then used.
#ifndef TETHER_CLIBURING_SHIM_H
#define TETHER_CLIBURING_SHIM_H

#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <inttypes.h>
#include <time.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>
#include <poll.h>
#include <pthread.h>
#include <malloc.h>
#include <linux/io_uring.h>
#include <liburing.h>

// IOSQE_* are defined from enum bit positions and do not import into Swift.
static const uint8_t TETHER_IOSQE_IO_LINK = IOSQE_IO_LINK;
static const uint8_t TETHER_IOSQE_BUFFER_SELECT = IOSQE_BUFFER_SELECT;
static const uint8_t TETHER_IOSQE_CQE_SKIP_SUCCESS = IOSQE_CQE_SKIP_SUCCESS;
static const uint8_t TETHER_IOSQE_ASYNC = IOSQE_ASYNC;

// Opcodes newer than liburing 2.3's helpers.
static const uint8_t TETHER_IORING_OP_WAITID = 50;

// siginfo_t's fields are union members behind macros; read them here.
static inline int tether_siginfo_code(const siginfo_t *info) { return info->si_code; }
static inline int tether_siginfo_status(const siginfo_t *info) { return info->si_status; }
static inline pid_t tether_siginfo_pid(const siginfo_t *info) { return info->si_pid; }

// Thin syscall wrappers glibc 2.36 lacks as functions.
static inline int tether_pidfd_open(pid_t pid) { return (int)syscall(SYS_pidfd_open, pid, 0); }
static inline int tether_pidfd_send_signal(int pidfd, int sig) {
    return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

// _GNU_SOURCE-only glibc functions, declared here because the glibc headers above are included
// without _GNU_SOURCE (see the top of this file).
extern int pipe2(int pipefd[2], int flags);
extern int pthread_setname_np(pthread_t thread, const char *name);
static inline int tether_pipe2(int fds[2], int flags) { return pipe2(fds, flags); }
static inline int tether_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
extern int posix_spawn_file_actions_addclosefrom_np(posix_spawn_file_actions_t *actions, int from);
static inline int tether_spawn_close_from(posix_spawn_file_actions_t *actions, int from) {
    return posix_spawn_file_actions_addclosefrom_np(actions, from);
}

// F_SETPIPE_SZ is _GNU_SOURCE too.
static inline int tether_set_pipe_capacity(int fd, int bytes) { return fcntl(fd, 1031 /* F_SETPIPE_SZ */, bytes); }

// struct ucred is _GNU_SOURCE too; same layout.
struct tether_ucred { pid_t pid; uid_t uid; gid_t gid; };
static inline int tether_peer_credentials(int fd, struct tether_ucred *out) {
    socklen_t length = sizeof(*out);
    return getsockopt(fd, SOL_SOCKET, SO_PEERCRED, out, &length);
}

// Bytes currently allocated with malloc (for memory-per-object measurements).
static inline size_t tether_heap_bytes_in_use(void) {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;  // small chunks in use + large mmap'd chunks
}

static inline void tether_sqe_set_addr2(struct io_uring_sqe *sqe, const void *pointer) {
    sqe->addr2 = (uint64_t)(uintptr_t)pointer;
}
// prctl is variadic (Swift cannot call it) and SIG_IGN is a cast macro (it does not import).
static inline int tether_set_parent_death_signal(int number) { return prctl(PR_SET_PDEATHSIG, (unsigned long)number, 0, 0, 0); }
static inline int tether_ignore_signal(int number) { return signal(number, SIG_IGN) == SIG_ERR ? -1 : 0; }
// stdout/stderr are C globals Swift 6 refuses to touch: line-buffer stdout, unbuffer stderr.
static inline void tether_line_buffer_standard_streams(void) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    setvbuf(stderr, NULL, _IONBF, 0);
}
#endif
