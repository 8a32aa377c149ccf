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
}
