// Thin wrappers over calls that Swift cannot make: variadic prctl/syscall.
#define _GNU_SOURCE
#include "csensor_shims.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/capability.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>

int csensor_prctl_keepcaps(int keep) {
    return prctl(PR_SET_KEEPCAPS, (unsigned long)(keep ? 1 : 0), 0UL, 0UL, 0UL);
}

int csensor_prctl_capbset_drop(int cap) {
    return prctl(PR_CAPBSET_DROP, (unsigned long)cap, 0UL, 0UL, 0UL);
}

int csensor_prctl_ambient_clear_all(void) {
#ifdef PR_CAP_AMBIENT
    int rc = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0UL, 0UL, 0UL);
    // Kernels before 4.3 have no ambient set: nothing to clear.
    if (rc != 0 && errno == EINVAL) return 0;
    return rc;
#else
    return 0;
#endif
}

int csensor_capset(uint64_t effective, uint64_t permitted, uint64_t inheritable) {
    struct __user_cap_header_struct header;
    struct __user_cap_data_struct data[2];
    memset(&header, 0, sizeof header);
    memset(data, 0, sizeof data);
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    data[0].effective = (uint32_t)effective;
    data[1].effective = (uint32_t)(effective >> 32);
    data[0].permitted = (uint32_t)permitted;
    data[1].permitted = (uint32_t)(permitted >> 32);
    data[0].inheritable = (uint32_t)inheritable;
    data[1].inheritable = (uint32_t)(inheritable >> 32);
    return (int)syscall(SYS_capset, &header, data);
}

int csensor_capget(uint64_t *effective, uint64_t *permitted, uint64_t *inheritable) {
    struct __user_cap_header_struct header;
    struct __user_cap_data_struct data[2];
    memset(&header, 0, sizeof header);
    memset(data, 0, sizeof data);
    header.version = _LINUX_CAPABILITY_VERSION_3;
    header.pid = 0;
    int rc = (int)syscall(SYS_capget, &header, data);
    if (rc != 0) return rc;
    if (effective) *effective = (uint64_t)data[0].effective | ((uint64_t)data[1].effective << 32);
    if (permitted) *permitted = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    if (inheritable) *inheritable = (uint64_t)data[0].inheritable | ((uint64_t)data[1].inheritable << 32);
    return 0;
}

int csensor_setresuid(uint32_t uid) {
    return setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid);
}

int csensor_setresgid(uint32_t gid) {
    return setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid);
}

int csensor_cap_last_cap(void) {
    FILE *f = fopen("/proc/sys/kernel/cap_last_cap", "r");
    if (!f) return 40;
    int value = 40;
    if (fscanf(f, "%d", &value) != 1) value = 40;
    fclose(f);
    return value;
}

int csensor_set_mmap_threshold(int bytes) {
    return mallopt(M_MMAP_THRESHOLD, bytes);
}

int csensor_malloc_trim(void) {
    return malloc_trim(0);
}

int csensor_memfd_sealed(const char *name, const void *data, size_t length) {
    int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (fd < 0) return -1;
    const char *p = data;
    size_t left = length;
    while (left > 0) {
        ssize_t n = write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            int saved = errno;
            close(fd);
            errno = saved;
            return -1;
        }
        p += n;
        left -= (size_t)n;
    }
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
        int saved = errno;
        close(fd);
        errno = saved;
        return -1;
    }
    return fd;
}

int csensor_send_fd(int socket, const char *path, int fd) {
    struct sockaddr_un address;
    memset(&address, 0, sizeof address);
    address.sun_family = AF_UNIX;
    size_t length = strlen(path);
    if (length == 0 || length >= sizeof address.sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(address.sun_path, path, length);
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    memset(&control, 0, sizeof control);
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_name = &address;
    message.msg_namelen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + 1);
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    struct cmsghdr *c = CMSG_FIRSTHDR(&message);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof(int));
    return sendmsg(socket, &message, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ? -1 : 0;
}

int csensor_recv_with_fd(int socket, void *buffer, size_t capacity, ssize_t *received, int *fd) {
    *fd = -1;
    *received = 0;
    union {
        struct cmsghdr header;
        char space[CMSG_SPACE(sizeof(int))];
    } control;
    struct iovec vector = { .iov_base = buffer, .iov_len = capacity };
    struct msghdr message;
    memset(&message, 0, sizeof message);
    message.msg_iov = &vector;
    message.msg_iovlen = 1;
    message.msg_control = control.space;
    message.msg_controllen = sizeof control.space;
    ssize_t n = recvmsg(socket, &message, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) return -1;
    *received = n;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&message); c != NULL; c = CMSG_NXTHDR(&message, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && c->cmsg_len >= CMSG_LEN(sizeof(int))) {
            memcpy(fd, CMSG_DATA(c), sizeof(int));
            break;
        }
    }
    return 0;
}
