import CSensorShims

/// How the process asks glibc for memory.
public enum MemoryPolicy {
    /// Blocks at or above this size are mmapped, and returned to the kernel when freed.
    public static let mmapThresholdBytes = 128 * 1024

    /// Fixes glibc's mmap threshold at `mmapThresholdBytes`.
    ///
    /// Every bucket close builds and frees lists of a few MiB (the port rows
    /// the bucket touched). glibc raises its mmap threshold to the size of each
    /// mmapped block that is freed, so from the first close on such lists came
    /// from the heap, whose freed pages stayed resident: RSS grew in steps of up
    /// to 4 MiB at bucket closes (10 M-packet flood: 80.6 → 88.3 MiB while
    /// aggregating; docs/benchmarks.md). With the threshold fixed the same run
    /// stays at 81 MiB. Returns false if glibc refused (its default then stays),
    /// or if another allocator replaced glibc's (AddressSanitizer's does).
    @discardableResult
    public static func fixMmapThreshold() -> Bool {
        csensor_set_mmap_threshold(Int32(mmapThresholdBytes)) == 1
    }

    /// Returns the heap's free pages to the kernel (glibc's `malloc_trim`).
    ///
    /// A snapshot save builds its encoding from many small blocks, which come
    /// from the heap whatever the mmap threshold; freed, their pages stay
    /// resident until trimmed. Soaks rose in steps at the 5-minute saves
    /// (+3.4 MiB over the second half of 55 minutes). Called after each
    /// save: over 5 minutes with a save every 20 s, RSS rose 0.6 MiB from
    /// 20 s on instead of 2.8 (`Benchmarks/soak.sh --snapshot-interval 20s`,
    /// docs/benchmarks.md). Returns whether glibc released anything.
    @discardableResult
    public static func releaseFreedMemory() -> Bool {
        csensor_malloc_trim() == 1
    }
}
