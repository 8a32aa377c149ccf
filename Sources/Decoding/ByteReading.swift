// Bounds-aware readers over the captured bytes.
//
// Every layer first checks that the bytes it is about to read exist
// (`bytes.has(offset, length)`), then reads them with these helpers. The
// helpers use Span's checked subscript, so a missed guard is a trap in a test,
// never an out-of-bounds read; the guards make sure it never happens.

extension Span where Element == UInt8 {
    /// True when `length` bytes starting at `offset` were captured.
    @inline(__always)
    func has(_ offset: Int, _ length: Int) -> Bool {
        offset >= 0 && length >= 0 && offset &+ length <= count
    }

    @inline(__always)
    func u8(_ offset: Int) -> UInt8 { self[offset] }

    /// Big-endian 16 bits at `offset` (caller checked `has(offset, 2)`).
    @inline(__always)
    func be16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset &+ 1])
    }

    /// Big-endian 32 bits at `offset` (caller checked `has(offset, 4)`).
    @inline(__always)
    func be32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset &+ 1]) << 16
            | UInt32(self[offset &+ 2]) << 8 | UInt32(self[offset &+ 3])
    }

    /// Big-endian 64 bits at `offset` (caller checked `has(offset, 8)`).
    @inline(__always)
    func be64(_ offset: Int) -> UInt64 {
        UInt64(be32(offset)) << 32 | UInt64(be32(offset &+ 4))
    }

    /// Little-endian 16 bits at `offset` (caller checked `has(offset, 2)`).
    @inline(__always)
    func le16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) | UInt16(self[offset &+ 1]) << 8
    }

    /// Little-endian 32 bits at `offset` (caller checked `has(offset, 4)`).
    @inline(__always)
    func le32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset &+ 1]) << 8
            | UInt32(self[offset &+ 2]) << 16 | UInt32(self[offset &+ 3]) << 24
    }

    /// True when the bytes at `offset` are exactly the ASCII `literal`.
    @inline(__always)
    func matches(_ literal: StaticString, at offset: Int) -> Bool {
        let length = literal.utf8CodeUnitCount
        guard has(offset, length) else { return false }
        let text = literal.utf8Start
        var index = 0
        while index < length {
            if self[offset &+ index] != text[index] { return false }
            index &+= 1
        }
        return true
    }
}
