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
