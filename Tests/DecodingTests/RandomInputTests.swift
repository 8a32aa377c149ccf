import Testing
import Decoding
import Synth

/// Invariants every decoded record keeps, whatever the input.
func checkInvariants(_ record: PacketRecord, captured: Int, sourceLocation: SourceLocation = #_sourceLocation) {
    #expect(DecodeStatus(rawValue: record.status.rawValue) != nil, sourceLocation: sourceLocation)
    #expect(record.capturedLength == UInt32(captured), sourceLocation: sourceLocation)
    #expect(record.ipVersion == 0 || record.ipVersion == 4 || record.ipVersion == 6, sourceLocation: sourceLocation)
    if record.flags.contains(.hasPorts) || record.flags.contains(.hasICMP) {
        #expect(record.status == .ok && record.ipVersion != 0, sourceLocation: sourceLocation)
    }
    if record.probe != .none {
        #expect(record.flags.contains(.hasPorts) && record.ipProtocol == IPProtocolNumber.udp, sourceLocation: sourceLocation)
    }
    if record.flags.contains(.innerHasPorts) {
        #expect(record.flags.contains(.hasInner), sourceLocation: sourceLocation)
    }
}

@Suite struct RandomInputTests {
    @Test(arguments: LinkType.allCases)
    func randomBytesNeverTrap(_ linkType: LinkType) {
        var generator = SplitMix64(seed: 0x5EED_0000 ^ UInt64(bitPattern: Int64(linkType.dlt)))
        let decoder = PacketDecoder(linkType: linkType)
        var record = PacketRecord()
        var buffer = [UInt8](repeating: 0, count: 200)
        var statuses = Set<UInt8>()
        for _ in 0..<200_000 {
            let length = Int(generator.next() % 201)
            var index = 0
            while index < length {
                var word = generator.next()
                var n = 0
                while n < 8 && index < length {
                    buffer[index] = UInt8(truncatingIfNeeded: word)
                    word >>= 8
                    n += 1
                    index += 1
                }
            }
            // Random bytes rarely get past the link layer: bias the first byte
            // of raw links to an IP version nibble half the time.
            if length > 0, linkType == .rawIP || linkType == .ipv4 || linkType == .ipv6, generator.next() & 1 == 0 {
                buffer[0] = (generator.next() & 1 == 0 ? 0x45 : 0x60) | (buffer[0] & 0x0F)
            }
            let slice = Array(buffer[0..<length])
            decoder.decode(slice.span, wireLength: UInt32(length), timestampNs: 0, into: &record)
            if record.capturedLength != UInt32(length) || record.status.rawValue > 11 {
                Issue.record("bad record for length \(length): \(record.status)")
                return
            }
            statuses.insert(record.status.rawValue)
            if record.probe != .none && !record.flags.contains(.hasPorts) {
                Issue.record("probe without ports")
                return
            }
        }
        #expect(statuses.count >= 2)
    }

    /// Valid packets with a few bytes changed and a random cut: reaches deep
    /// into the decoder where purely random bytes do not.
    @Test func mutatedPacketsNeverTrap() {
        var generator = SplitMix64(seed: 42)
        var seen = Set<UInt8>()
        for testCase in TruncationTests.cases {
            let decoder = PacketDecoder(linkType: testCase.linkType)
            var record = PacketRecord()
            for _ in 0..<20_000 {
                var bytes = testCase.bytes
                let flips = 1 + Int(generator.next() % 4)
                for _ in 0..<flips {
                    bytes[Int(generator.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: generator.next())
                }
                let cut = generator.next() % 3 == 0 ? Int(generator.next() % UInt64(bytes.count + 1)) : bytes.count
                let prefix = Array(bytes.prefix(cut))
                decoder.decode(prefix.span, wireLength: UInt32(bytes.count), timestampNs: 0, into: &record)
                seen.insert(record.status.rawValue)
                if record.capturedLength != UInt32(cut) || (record.probe != .none && !record.flags.contains(.hasPorts))
                    || (record.flags.contains(.hasPorts) && record.status != .ok) {
                    Issue.record("\(testCase.description): bad record \(record.status) for \(prefix)")
                    return
                }
            }
        }
        // Mutations reach nearly every reason (unsupported-link-type is the caller's).
        #expect(seen.count >= 10)
    }

    @Test func invariantsOnFixtures() {
        for testCase in TruncationTests.cases {
            checkInvariants(decode(testCase.bytes, testCase.linkType), captured: testCase.bytes.count)
        }
    }
}
