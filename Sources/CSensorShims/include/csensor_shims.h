#ifndef CSENSOR_SHIMS_H
#define CSENSOR_SHIMS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// prctl(2) is variadic, and Swift cannot call C variadic functions.
/// PR_SET_KEEPCAPS: keep the permitted capability set across setuid from 0 to non-zero.
/// Returns 0 or -1 with errno set.
int csensor_prctl_keepcaps(int keep);

/// prctl(PR_CAPBSET_DROP, cap): remove one capability from the bounding set (needs CAP_SETPCAP).
int csensor_prctl_capbset_drop(int cap);

/// prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL): clear the ambient set.
int csensor_prctl_ambient_clear_all(void);

/// capset(2) has no glibc wrapper (libcap is not a dependency): set the effective,
/// permitted and inheritable sets (capabilities 0...63, as two 32-bit words each) through syscall(2),
/// which is itself variadic. Returns 0 or -1 with errno set.
int csensor_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable);

/// capget(2), for the same reason. Returns 0 or -1 with errno set.
int csensor_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable);

/// setresuid(2)/setresgid(2): glibc declares them only under _GNU_SOURCE, which
/// Swift's Glibc module is not built with. Setting real, effective and saved ids
/// in one call is what makes the drop irreversible. Return 0 or -1 with errno set.
int csensor_setresuid(uint32_t uid);
int csensor_setresgid(uint32_t gid);

/// The highest capability number the running kernel knows (from /proc/sys/kernel/cap_last_cap), or 40 if unreadable.
int csensor_cap_last_cap(void);

/// mallopt(M_MMAP_THRESHOLD, bytes): <malloc.h> is not in Swift's Glibc module.
/// Fixes the threshold (glibc otherwise raises it as mmapped blocks are freed).
/// Returns 1 on success, 0 on failure, as mallopt does.
int csensor_set_mmap_threshold(int bytes);

/// malloc_trim(0): returns the heap's free pages to the kernel.
/// Returns 1 if memory was released, 0 if there was none to release.
int csensor_malloc_trim(void);

/// memfd_create(2) with MFD_CLOEXEC|MFD_ALLOW_SEALING, `length` bytes of `data` written
/// into it, then sealed (F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_WRITE|F_SEAL_SEAL), as journald
/// requires of an entry passed by descriptor. Returns the descriptor, or -1 with errno set
/// (nothing left open).
int csensor_memfd_sealed(const char *name, const void *data, size_t length);

/// sendmsg(2) of no payload and one descriptor (SCM_RIGHTS) to the Unix datagram socket at
/// `path`, with MSG_NOSIGNAL|MSG_DONTWAIT: the CMSG_* macros are not callable from Swift.
/// Returns 0 or -1 with errno set (ENAMETOOLONG when the path does not fit).
int csensor_send_fd(int socket, const char *path, int fd);

/// recvmsg(2) with MSG_DONTWAIT of one datagram that may carry a descriptor: up to
/// `capacity` payload bytes into `buffer` (*received set to their count) and the first
/// SCM_RIGHTS descriptor into *fd (-1 if none). For tests standing in for journald.
/// Returns 0 or -1 with errno set.
int csensor_recv_with_fd(int socket, void *buffer, size_t capacity, ssize_t *received, int *fd);

#endif
