#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import Daemon

@Suite struct MemoryPolicyTests {
    /// Under AddressSanitizer, its allocator replaces glibc's malloc and its
    /// `mallopt` does nothing and returns 0 (scripts/test.sh runs the suite so).
    static let glibcMalloc = dlsym(nil, "__asan_init") == nil

    /// glibc accepts the threshold (mallopt returns 1): a shim that did not
    /// reach mallopt, or a threshold glibc rejects (above 32 MiB on 64-bit),
    /// fails here. Whether RSS then stays flat is measured by
    /// `Benchmarks/run.sh --flood` (docs/benchmarks.md), not by a unit test:
    /// the test process's RSS is shared with every test running beside it.
    @Test(.enabled(if: glibcMalloc, "AddressSanitizer's allocator replaces glibc malloc"))
    func glibcAcceptsTheFixedMmapThreshold() {
        #expect(MemoryPolicy.mmapThresholdBytes == 128 * 1024)
        #expect(MemoryPolicy.fixMmapThreshold())
    }

    /// Freed small blocks (below the mmap threshold, so from the heap) are
    /// there for malloc_trim to return: it reports that it released some.
    /// A shim that did not reach glibc's malloc_trim fails here.
    @Test(.enabled(if: glibcMalloc, "AddressSanitizer's allocator replaces glibc malloc"))
    func freedHeapPagesAreReleased() {
        var blocks: [UnsafeMutableRawPointer] = []
        for _ in 0..<100_000 {
            let block = UnsafeMutableRawPointer.allocate(byteCount: 256, alignment: 8)
            block.storeBytes(of: 0xA5, as: UInt8.self)
            blocks.append(block)
        }
        for block in blocks { block.deallocate() }
        #expect(MemoryPolicy.releaseFreedMemory())
    }
}
