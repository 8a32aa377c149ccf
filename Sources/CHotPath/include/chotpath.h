#ifndef CHOTPATH_H
#define CHOTPATH_H

#include <stddef.h>

/// Cache hints for the aggregation tables. Neither function reads or writes
/// through its pointer: a prefetch is a hint the CPU may ignore (and never
/// faults), madvise changes how the kernel backs the pages.

/// Asks the CPU to bring the cache line holding `base + offset` into all
/// cache levels, without waiting for it (unlike a load, a prefetch does not
/// hold up retirement, so many misses overlap).
static inline void chotpath_prefetch(const void *base, size_t offset) {
    __builtin_prefetch((const char *)base + offset, 0, 3);
}

/// madvise(MADV_HUGEPAGE) on the 2 MiB-aligned pages inside [base, base + length),
/// so a large table is backed by transparent huge pages (one TLB entry per
/// 2 MiB instead of per 4 KiB) when the kernel allows it ("madvise" mode).
/// Call before the memory is first touched. Returns 0, or -1 with errno set
/// (the advice is optional: callers ignore failures).
int chotpath_advise_huge_pages(void *base, size_t length);

#endif
