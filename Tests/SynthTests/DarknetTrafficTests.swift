import Testing
import Synth
import Decoding
@testable import Synth

/// The few header fields the tests need, parsed independently of the
/// generator (and of the Decoding module, which is not this target's job).
private struct Parsed {
    var ipVersion = 0
    var source = IPAddress.zero
    var destination = IPAddress.zero
    var ipProtocol: UInt8 = 0
    var ipID: UInt16 = 0
    var fragmentField: UInt16 = 0
    var tcpFlags: UInt8 = 0
    var sequence: UInt32 = 0
    var sourcePort: UInt16 = 0
    var destinationPort: UInt16 = 0
    var icmpType: UInt8 = 0
    var ipv4HeaderChecksumValid = true

    var isFragment: Bool { fragmentField & 0x3FFF != 0 }
    var isNonFirstFragment: Bool { fragmentField & 0x1FFF != 0 }

    init(_ frame: [UInt8]) {
        let etherType = be16(frame, 12)
        var l4 = 0
        if etherType == 0x0800 {
            ipVersion = 4
            let header = Array(frame[14..<34])
            ipv4HeaderChecksumValid = PacketBuilder.internetChecksum(header[...]) == 0
            ipID = be16(frame, 18)
            fragmentField = be16(frame, 20)
            ipProtocol = frame[23]
            source = IPAddress(ipv4: be32(frame, 26))
            destination = IPAddress(ipv4: be32(frame, 30))
            l4 = 14 + Int(frame[14] & 0x0F) * 4
            if isNonFirstFragment { return }
        } else if etherType == 0x86DD {
            ipVersion = 6
            ipProtocol = frame[20]
            func word(_ at: Int) -> UInt64 { UInt64(be32(frame, at)) << 32 | UInt64(be32(frame, at + 4)) }
            source = IPAddress(high: word(22), low: word(30))
            destination = IPAddress(high: word(38), low: word(46))
            l4 = 54
        } else {
            return
        }
        switch ipProtocol {
        case 6:
            sourcePort = be16(frame, l4)
            destinationPort = be16(frame, l4 + 2)
            sequence = be32(frame, l4 + 4)
            tcpFlags = frame[l4 + 13]
        case 17:
            sourcePort = be16(frame, l4)
            destinationPort = be16(frame, l4 + 2)
        case 1:
            icmpType = frame[l4]
        default:
            break
        }
    }
}

private func config(seed: UInt64 = 7, packets: Int) -> DarknetTrafficConfig {
    var config = DarknetTrafficConfig()
    config.seed = seed
    config.packetCount = packets
    return config
}

@Suite struct DarknetTrafficTests {
    @Test func sameSeedSameBytesDifferentSeedDifferentBytes() {
        let a = Array(DarknetTraffic(config: config(seed: 1, packets: 2000)))
        let b = Array(DarknetTraffic(config: config(seed: 1, packets: 2000)))
        let c = Array(DarknetTraffic(config: config(seed: 2, packets: 2000)))
        #expect(a.count == 2000)
        #expect(a.map(\.timestampNs) == b.map(\.timestampNs))
        #expect(a.map(\.bytes) == b.map(\.bytes))
        #expect(a.map(\.bytes) != c.map(\.bytes))
        // Not just a shifted copy: most frames differ.
        #expect(zip(a, c).filter { $0.bytes != $1.bytes }.count > 1900)
    }

    @Test func labelsMatchBytesAndFractionsMatchTheMix() {
        let total = 100_000
        var traffic = DarknetTraffic(config: config(packets: total))
        var counts: [DarknetPacketKind: Int] = [:]
        var previous = Int64.min
        let darknet4 = traffic.config.darknetIPv4
        let darknet6 = traffic.config.darknetIPv6
        var sources = Set<IPAddress>()
        var mismatches: [String] = []
        while let packet = traffic.nextPacket() {
            counts[packet.kind, default: 0] += 1
            #expect(packet.timestampNs >= previous)
            previous = packet.timestampNs
            let parsed = Parsed(packet.bytes)
            sources.insert(parsed.source)
            if parsed.ipVersion == 4 {
                if !parsed.ipv4HeaderChecksumValid { mismatches.append("bad IPv4 checksum: \(packet.kind)") }
                if !darknet4.contains(parsed.destination.ipv4) { mismatches.append("destination outside darknet: \(packet.kind)") }
            } else if !darknet6.contains(parsed.destination) {
                mismatches.append("IPv6 destination outside darknet")
            }
            if let problem = labelProblem(packet.kind, parsed) { mismatches.append(problem) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(5))")
        #expect(counts.values.reduce(0, +) == total)
        #expect(sources.count <= DarknetTrafficConfig().sourceCount + max(4, DarknetTrafficConfig().sourceCount / 50))
        #expect(sources.count > 5_000)

        // Fractions are per event; a fragment event is two packets.
        let mix = DarknetTrafficConfig.Mix()
        let events = Double(total - (counts[.ipv4NonFirstFragment] ?? 0))
        func fraction(_ kinds: DarknetPacketKind...) -> Double { Double(kinds.reduce(0) { $0 + (counts[$1] ?? 0) }) / events }
        func expectNear(_ measured: Double, _ wanted: Double, _ name: String) {
            // 4 binomial standard deviations, plus 0.1 % slack.
            let tolerance = 4 * (wanted * (1 - wanted) / events).squareRoot() + 0.001
            #expect(abs(measured - wanted) <= tolerance, "\(name): \(measured) vs \(wanted)")
        }
        expectNear(fraction(.zmapSyn, .masscanSyn, .miraiSyn, .genericSyn), mix.tcpSyn, "tcpSyn")
        expectNear(fraction(.dnsQuery), mix.dnsQuery, "dns")
        expectNear(fraction(.ntpMonlist), mix.ntpMonlist, "ntp")
        expectNear(fraction(.ssdpMSearch), mix.ssdpMSearch, "ssdp")
        expectNear(fraction(.otherUDP), mix.otherUDP, "other udp")
        expectNear(fraction(.icmpEchoRequest), mix.icmpEchoRequest, "echo request")
        expectNear(fraction(.synAckBackscatter), mix.synAckBackscatter, "syn-ack")
        expectNear(fraction(.rstBackscatter), mix.rstBackscatter, "rst")
        expectNear(fraction(.icmpUnreachableBackscatter), mix.icmpUnreachableBackscatter, "unreachable")
        expectNear(fraction(.icmpEchoReplyBackscatter), mix.icmpEchoReplyBackscatter, "echo reply")
        expectNear(fraction(.ipv6Syn), mix.ipv6Syn, "ipv6")
        expectNear(fraction(.ipv4FirstFragment), mix.ipv4Fragments, "fragments")
        #expect(counts[.ipv4FirstFragment] == counts[.ipv4NonFirstFragment])

        let syns = Double([DarknetPacketKind.zmapSyn, .masscanSyn, .miraiSyn, .genericSyn].reduce(0) { $0 + (counts[$1] ?? 0) })
        func share(_ kind: DarknetPacketKind) -> Double { Double(counts[kind] ?? 0) / syns }
        #expect(abs(share(.zmapSyn) - mix.zmapShare) < 0.01)
        #expect(abs(share(.masscanSyn) - mix.masscanShare) < 0.01)
        #expect(abs(share(.miraiSyn) - mix.miraiShare) < 0.01)
        #expect(counts[.surgeDNSQuery] == nil)
    }

    /// Why the bytes contradict the label, or nil when they agree.
    private func labelProblem(_ kind: DarknetPacketKind, _ p: Parsed) -> String? {
        let syn = p.ipProtocol == 6 && p.tcpFlags == TCPFlag.syn
        let ok: Bool
        switch kind {
        case .zmapSyn: ok = p.ipVersion == 4 && syn && p.ipID == 54321
        case .masscanSyn:
            ok = p.ipVersion == 4 && syn
                && p.ipID == UInt16(truncatingIfNeeded: p.destination.ipv4) ^ p.destinationPort ^ UInt16(truncatingIfNeeded: p.sequence)
        case .miraiSyn: ok = p.ipVersion == 4 && syn && p.sequence == p.destination.ipv4 && (p.destinationPort == 23 || p.destinationPort == 2323)
        case .genericSyn: ok = p.ipVersion == 4 && syn && p.fragmentField == 0x4000
        case .dnsQuery, .surgeDNSQuery: ok = p.ipProtocol == 17 && p.destinationPort == 53
        case .ntpMonlist: ok = p.ipProtocol == 17 && p.destinationPort == 123
        case .ssdpMSearch: ok = p.ipProtocol == 17 && p.destinationPort == 1900
        case .otherUDP: ok = p.ipProtocol == 17 && ![53, 123, 1900].contains(p.destinationPort) && !p.isFragment
        case .icmpEchoRequest: ok = p.ipProtocol == 1 && p.icmpType == 8
        case .synAckBackscatter: ok = p.ipProtocol == 6 && p.tcpFlags == TCPFlag.syn | TCPFlag.ack
        case .rstBackscatter: ok = p.ipProtocol == 6 && p.tcpFlags & TCPFlag.rst != 0
        case .icmpUnreachableBackscatter: ok = p.ipProtocol == 1 && p.icmpType == 3
        case .icmpEchoReplyBackscatter: ok = p.ipProtocol == 1 && p.icmpType == 0
        case .ipv6Syn: ok = p.ipVersion == 6 && syn
        case .ipv4FirstFragment: ok = p.ipVersion == 4 && p.fragmentField == 0x2000
        case .ipv4NonFirstFragment: ok = p.ipVersion == 4 && p.isNonFirstFragment && p.fragmentField & 0x2000 == 0
        }
        return ok ? nil : "label \(kind) contradicts bytes \(p)"
    }

    @Test func payloadsAreRealProbes() {
        var traffic = DarknetTraffic(config: config(packets: 20_000))
        var sawAny = false, sawLargeEDNS = false, sawMonlist = false, sawMSearch = false
        while let packet = traffic.nextPacket() {
            let frame = packet.bytes
            switch packet.kind {
            case .dnsQuery:
                let dns = 14 + 20 + 8
                #expect(frame[dns + 2] & 0x80 == 0)  // QR = 0: a query
                #expect(be16(frame, dns + 4) == 1)  // QDCOUNT
                var offset = dns + 12
                while frame[offset] != 0 { offset += Int(frame[offset]) + 1 }
                let qtype = be16(frame, offset + 1)
                if qtype == 255 { sawAny = true }
                if be16(frame, dns + 10) == 1 {
                    #expect(be16(frame, offset + 6) == 41)  // OPT
                    if be16(frame, offset + 8) >= 4096 { sawLargeEDNS = true }
                }
                #expect(offset + 5 + (be16(frame, dns + 10) == 1 ? 11 : 0) == frame.count)
            case .ntpMonlist:
                let ntp = 14 + 20 + 8
                #expect(frame[ntp] == 0x17 && frame[ntp + 2] == 3 && [20, 42].contains(frame[ntp + 3]))
                sawMonlist = true
            case .ssdpMSearch:
                sawMSearch = String(decoding: frame[(14 + 20 + 8)...], as: UTF8.self).hasPrefix("M-SEARCH * HTTP/1.1\r\n")
                #expect(sawMSearch)
            case .icmpUnreachableBackscatter:
                // The quote is an IPv4 header from the darknet address plus 8 L4 bytes.
                let quote = 14 + 20 + 8
                #expect(frame.count == quote + 28)
                #expect(frame[quote] == 0x45)
                #expect(be32(frame, quote + 12) == be32(frame, 30))
                #expect([6, 17].contains(frame[quote + 9]))
            default:
                break
            }
        }
        #expect(sawAny && sawLargeEDNS && sawMonlist && sawMSearch)
    }

    @Test func transportChecksumsVerify() {
        var traffic = DarknetTraffic(config: config(packets: 5000))
        var checked = 0
        while let packet = traffic.nextPacket() {
            let frame = packet.bytes
            let parsed = Parsed(frame)
            guard parsed.ipProtocol == 6 || parsed.ipProtocol == 17, !parsed.isFragment else { continue }
            var pseudo: UInt32 = 0
            let l4Start: Int
            if parsed.ipVersion == 4 {
                l4Start = 34
                for at in stride(from: 26, to: 34, by: 2) { pseudo += UInt32(be16(frame, at)) }
            } else {
                l4Start = 54
                for at in stride(from: 22, to: 54, by: 2) { pseudo += UInt32(be16(frame, at)) }
            }
            pseudo += UInt32(parsed.ipProtocol) + UInt32(frame.count - l4Start)
            #expect(PacketBuilder.internetChecksum(frame[l4Start...], initial: pseudo) == 0, "\(packet.kind)")
            checked += 1
        }
        #expect(checked > 3000)
    }

    @Test func spoofedFloodNeverRepeatsASource() {
        var flood = config(packets: 200_000)
        flood.spoofedFlood = true
        var traffic = DarknetTraffic(config: flood)
        var sources = Set<IPAddress>()
        var packets = 0
        while let packet = traffic.nextPacket() {
            packets += 1
            // The second fragment shares its datagram's source, by nature.
            if packet.kind == .ipv4NonFirstFragment { continue }
            let source = Parsed(packet.bytes).source
            #expect(DarknetTraffic.isPlausibleSource(source.ipv4, darknet: flood.darknetIPv4) || !source.isIPv4)
            #expect(sources.insert(source).inserted)
        }
        #expect(packets == 200_000)
    }

    @Test func surgeStaysInsideItsWindowAtItsRate() {
        var surgeConfig = config(packets: 60_000)
        surgeConfig.pace = .packetsPerSecond(10_000)
        surgeConfig.surge = .init(startOffsetNs: 2_000_000_000, endOffsetNs: 3_000_000_000, packetsPerSecond: 20_000, sourceCount: 300)
        var traffic = DarknetTraffic(config: surgeConfig)
        let surgeSources = Set(traffic.surgeSources)
        #expect(surgeSources.count == 300)
        #expect(surgeSources.isDisjoint(with: Set(traffic.backgroundSources)))
        let start = surgeConfig.startTimeNs
        var surgeCount = 0
        var backgroundInWindow = 0
        var surgeSeen = Set<IPAddress>()
        while let packet = traffic.nextPacket() {
            let parsed = Parsed(packet.bytes)
            let inWindow = packet.timestampNs >= start + 2_000_000_000 && packet.timestampNs < start + 3_000_000_000
            if packet.kind == .surgeDNSQuery {
                surgeCount += 1
                #expect(inWindow)
                #expect(parsed.destinationPort == 53)
                #expect(surgeSources.contains(parsed.source))
                surgeSeen.insert(parsed.source)
            } else {
                #expect(!surgeSources.contains(parsed.source))
                if inWindow { backgroundInWindow += 1 }
            }
        }
        #expect(abs(surgeCount - 20_000) < 400)
        #expect(abs(backgroundInWindow - 10_000) < 300)
        #expect(surgeSeen.count > 290)
    }

    @Test func durationPaceSpreadsPacketsOverTheDuration() {
        var paced = config(packets: 10_000)
        paced.pace = .duration(nanoseconds: 60_000_000_000)
        let packets = Array(DarknetTraffic(config: paced))
        let span = packets.last!.timestampNs - packets.first!.timestampNs
        #expect(abs(Double(span) / 60e9 - 1) < 0.02)
    }

    @Test func prefixesParseAndContain() throws {
        let v4 = try #require(DarknetTrafficConfig.IPv4Prefix("198.18.0.0/16"))
        #expect(v4 == DarknetTrafficConfig().darknetIPv4)
        #expect(v4.contains(0xC612_FFFF) && !v4.contains(0xC613_0000))
        #expect(DarknetTrafficConfig.IPv4Prefix("198.18.0.0/33") == nil)
        let v6 = try #require(DarknetTrafficConfig.IPv6Prefix("2001:db8:dead::/48"))
        #expect(v6 == DarknetTrafficConfig().darknetIPv6)
        #expect(v6.contains(try #require(IPAddress("2001:db8:dead:ffff::1"))))
        #expect(!v6.contains(try #require(IPAddress("2001:db8:deae::1"))))

        var custom = config(packets: 3000)
        custom.darknetIPv4 = try #require(.init("100.64.0.0/24"))
        for packet in DarknetTraffic(config: custom) {
            let parsed = Parsed(packet.bytes)
            if parsed.ipVersion == 4 { #expect(custom.darknetIPv4.contains(parsed.destination.ipv4)) }
        }
    }

    @Test func xoshiroMatchesReferenceStream() {
        // splitmix64 seeded with 0: first outputs of the reference C implementation.
        var splitmix = SplitMix64(seed: 0)
        #expect(splitmix.next() == 0xE220_A839_7B1D_CDAF)
        #expect(splitmix.next() == 0x6E78_9E6A_A1B9_65F4)
        // xoshiro256** from state {1, 2, 3, 4}: reference outputs.
        var reference = Xoshiro256StarStar(seed: 0)
        (reference.s0, reference.s1, reference.s2, reference.s3) = (1, 2, 3, 4)
        #expect((0..<4).map { _ in reference.next() } == [11520, 0, 1_509_978_240, 1_215_971_899_390_074_240])
        var rng = Xoshiro256StarStar(seed: 12345)
        var copy = rng
        #expect((0..<100).map { _ in rng.next() } == (0..<100).map { _ in copy.next() })
        for _ in 0..<10_000 { #expect(rng.next(below: 7) < 7) }
    }
}
