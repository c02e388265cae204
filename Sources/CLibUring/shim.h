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

// ThreadSanitizer's hand-off annotations. Swift's Mutex is a futex in an uninstrumented library,
// so ThreadSanitizer sees no order between two of its critical sections; the reactor marks the
// start (acquire) and end (release) of each on one address. The declarations are weak: outside
// a ThreadSanitizer build nothing defines them, they are null and the calls are skipped.
extern void __tsan_acquire(void *addr) __attribute__((weak));
extern void __tsan_release(void *addr) __attribute__((weak));
static inline void tether_tsan_acquire(const void *addr) {
    if (__tsan_acquire) __tsan_acquire((void *)addr);
}
static inline void tether_tsan_release(const void *addr) {
    if (__tsan_release) __tsan_release((void *)addr);
}

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

// The CPUs this process may run on, or 0 when that cannot be read (more than 1024 possible
// CPUs, a seccomp filter). The raw syscall returns the mask's size in bytes; glibc's wrapper and
// CPU_COUNT need _GNU_SOURCE, which this header must not define (see above).
// An anonymous in-memory file for a sealed copy of an executable: close-on-exec, sealable, and
// executable (MFD_EXEC, 0x10, where the kernel knows it: 6.3 and later; older kernels refuse the
// flag with EINVAL and make memfds executable anyway). glibc's wrapper needs _GNU_SOURCE, which
// this header must not define (see above), hence the raw syscall and the flag values.
static inline int tether_memfd_create_executable(const char *name) {
    int fd = (int)syscall(SYS_memfd_create, name, 0x0001u | 0x0002u | 0x0010u);
    if (fd < 0 && errno == EINVAL) fd = (int)syscall(SYS_memfd_create, name, 0x0001u | 0x0002u);
    return fd;
}

// Seals a memfd against every change (F_ADD_SEALS with F_SEAL_SEAL | SHRINK | GROW | WRITE).
static inline int tether_seal_all(int fd) {
    return fcntl(fd, 1024 + 9, 0x0001 | 0x0002 | 0x0004 | 0x0008);
}

static inline int tether_allowed_cpu_count(void) {
    unsigned long mask[16] = {0};  // up to 1024 CPUs
    long bytes = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    if (bytes <= 0) return 0;
    int count = 0;
    for (long i = 0; i < bytes / (long)sizeof mask[0]; i++) count += __builtin_popcountl(mask[i]);
    return count;
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
// The crash text of a plugin process (ProcessControl.redirectStandardOutputAndError).
//
// A plugin points fd 2 at a pipe that its own reactor drains into a mux stream; when the plugin
// dies, that reader dies with it and whatever the dying code wrote (Swift's "Fatal error: …", a
// crash report) would stay in the pipe. So the plugin keeps a close-on-exec duplicate of its
// original fd 2 (the host's pipe) and of the pipe's read end, and on a fatal signal or at exit
// copies what is unread in the pipe to the original and points fd 2 back at it; a crash reporter
// that runs after that (the Swift runtime's backtracer, chained to) writes to the host directly.
//
// Async-signal-safe: read, write, fcntl, dup2, sigaction and raise only. The state lives in a
// function-local static, and each object file that calls a static inline function gets its own
// copy of it: call these functions from one Swift source file only (ProcessControl.swift).
struct tether_crash_text_state {
    int original;   // duplicate of the original fd 2, or -1 before tether_crash_text_keep
    int pipe_read;  // duplicate of the read end of the pipe fd 2 points at, or -1
    struct sigaction previous[32];  // the handlers ours replaced, by signal number
};
static inline struct tether_crash_text_state *tether_crash_text(void) {
    static struct tether_crash_text_state state = { .original = -1, .pipe_read = -1 };
    return &state;
}

// Points fd 2 back at the original, then copies what is unread in the pipe to it (stragglers
// written through the old fd 2 included: once fd 2 has moved, nothing new enters the pipe, so
// the copy ends). Idempotent; keeps errno.
static inline void tether_crash_text_restore(void) {
    struct tether_crash_text_state *state = tether_crash_text();
    if (state->original < 0) return;
    int saved_errno = errno;
    dup2(state->original, STDERR_FILENO);
    if (state->pipe_read >= 0) {
        // Non-blocking: the plugin's reactor may take the last bytes first, and a blocking read
        // would then wait for ever inside a signal handler.
        int flags = fcntl(state->pipe_read, F_GETFL);
        if (flags >= 0) fcntl(state->pipe_read, F_SETFL, flags | O_NONBLOCK);
        char buffer[4096];
        for (;;) {
            ssize_t count = read(state->pipe_read, buffer, sizeof buffer);
            if (count < 0 && errno == EINTR) continue;
            if (count <= 0) break;
            ssize_t written = 0;
            while (written < count) {
                ssize_t result = write(state->original, buffer + written, (size_t)(count - written));
                if (result < 0 && errno == EINTR) continue;
                if (result <= 0) { errno = saved_errno; return; }
                written += result;
            }
        }
    }
    errno = saved_errno;
}

static inline void tether_crash_text_at_exit(void) { tether_crash_text_restore(); }

// The fatal-signal handler: restores fd 2 with the pipe's text, then hands the signal to the
// handler it replaced (the Swift runtime's backtracer, say), or dies of it by the default action.
static inline void tether_crash_text_on_signal(int number, siginfo_t *info, void *context) {
    tether_crash_text_restore();
    struct sigaction *previous = &tether_crash_text()->previous[number];
    if (previous->sa_flags & SA_SIGINFO) {
        if (previous->sa_sigaction) { previous->sa_sigaction(number, info, context); return; }
    } else if (previous->sa_handler != SIG_DFL && previous->sa_handler != SIG_IGN) {
        previous->sa_handler(number);
        return;
    }
    struct sigaction fallback = { 0 };
    fallback.sa_handler = SIG_DFL;
    sigemptyset(&fallback.sa_mask);
    sigaction(number, &fallback, NULL);
    // Pending until this handler returns (a fault then re-executes with the default action).
    raise(number);
}

extern int atexit(void (*function)(void));

// Keeps `original` (a close-on-exec duplicate of the original fd 2) and `pipe_read` (one of the
// read end of the pipe fd 2 now points at); both become this state's, closed here when replaced.
// The first call installs the handler for SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS and SIGFPE
// (keeping the handlers it replaces, and leaving an ignored signal ignored) and the exit hook;
// a later call (a second redirection) keeps the first original and only takes the new pipe.
// Returns 0, or -1 with errno when a handler could not be installed.
static inline int tether_crash_text_keep(int original, int pipe_read) {
    struct tether_crash_text_state *state = tether_crash_text();
    int previous_pipe = state->pipe_read;
    state->pipe_read = pipe_read;
    if (previous_pipe >= 0) close(previous_pipe);
    if (state->original >= 0) {
        close(original);
        return 0;
    }
    state->original = original;
    const int signals[] = { SIGILL, SIGTRAP, SIGABRT, SIGSEGV, SIGBUS, SIGFPE };
    for (unsigned index = 0; index < sizeof signals / sizeof signals[0]; index++) {
        int number = signals[index];
        struct sigaction current;
        if (sigaction(number, NULL, &current) != 0) return -1;
        if (!(current.sa_flags & SA_SIGINFO) && current.sa_handler == SIG_IGN) continue;
        state->previous[number] = current;
        struct sigaction ours = { 0 };
        ours.sa_sigaction = tether_crash_text_on_signal;
        sigemptyset(&ours.sa_mask);
        // As the Swift runtime's own: on the alternate stack if the thread has one (a stack
        // overflow), and not blocked while handled, so the handler chained to can re-raise it.
        ours.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
        if (sigaction(number, &ours, NULL) != 0) return -1;
    }
    return atexit(tether_crash_text_at_exit) == 0 ? 0 : -1;
}
#endif
