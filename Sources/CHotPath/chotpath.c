#include "chotpath.h"

#include <stdint.h>
#include <sys/mman.h>

int chotpath_advise_huge_pages(void *base, size_t length) {
    const uintptr_t huge = (uintptr_t)2 << 20;
    uintptr_t start = ((uintptr_t)base + huge - 1) & ~(huge - 1);
    uintptr_t end = ((uintptr_t)base + length) & ~(huge - 1);
    if (end <= start) return 0;
#ifdef MADV_HUGEPAGE
    return madvise((void *)start, end - start, MADV_HUGEPAGE);
#else
    return 0;
#endif
}
