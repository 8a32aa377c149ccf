import Aggregation
import Capture
import Decoding
import Foundation
import Configuration
import Pipeline
import Reporting
import Synth
import Testing

/// `darknet.prefixes` filters: in user space on the capture thread (counted
/// under their own reasons, never aggregated), and in the kernel filter built
/// from the prefixes (checked here with libpcap on a file).
@Suite struct DarknetFilterTests {
    let base: Int64 = 1_412_640_000_000_000_000

    static func configuration() throws -> SensorConfiguration {
        try SensorConfiguration(yaml: "darknet:\n  prefixes: [\"198.18.0.0/16\", \"2001:db8:1::/48\"]\n")
    }

    /// 300 darknet packets (TCP/23 and IPv6 UDP/53), 300 to other destinations
    /// (TCP/8443, IPv6 UDP/5353), 100 from inside the darknet (TCP/2222).
    func writeCapture(_ path: String) throws -> (darknet: Int, outside: Int, inside: Int) {
        let writer = try PcapFileWriter(path: path)
        var t = base
        func write(_ packet: [UInt8]) throws {
            try writer.write(packet: packet, timestampNs: t)
            t += 1_000_000
        }
        let v6Darknet = IPAddress("2001:db8:1::")!, v6Other = IPAddress("2001:db8:2::")!
        for i in 0..<200 {
            try write(PacketBuilder.ethernetIPv4(PacketBuilder.ipv4TCP(
                source: 0xCB00_7100 | UInt32(i % 50), destination: 0xC612_0000 | UInt32(i), sourcePort: 40000,
                destinationPort: 23, flags: TCPFlag.syn)))
            try write(PacketBuilder.ethernetIPv4(PacketBuilder.ipv4TCP(
                source: 0xCB00_7100 | UInt32(i % 50), destination: 0xC613_0000 | UInt32(i), sourcePort: 40000,
                destinationPort: 8443, flags: TCPFlag.syn)))
        }
        for i in 0..<100 {
            try write(PacketBuilder.ethernetIPv6(PacketBuilder.ipv6UDP(
                source: IPAddress("2001:db8:99::\(i + 1)")!, destination: IPAddress(high: v6Darknet.high, low: UInt64(i)),
                sourcePort: 5000, destinationPort: 53)))
            try write(PacketBuilder.ethernetIPv6(PacketBuilder.ipv6UDP(
                source: IPAddress("2001:db8:99::\(i + 1)")!, destination: IPAddress(high: v6Other.high, low: UInt64(i)),
                sourcePort: 5000, destinationPort: 5353)))
            try write(PacketBuilder.ethernetIPv4(PacketBuilder.ipv4TCP(
                source: 0xC612_0100 | UInt32(i), destination: 0xC612_0000 | UInt32(i), sourcePort: 40000,
                destinationPort: 2222, flags: TCPFlag.syn)))
        }
        try writer.close()
        return (300, 300, 100)
    }

    func aggregate(_ source: PacketSource, darknet: DarknetPrefixes) -> Aggregator {
        var aggregator = Aggregator(config: AggregationConfig())
        var pipeline = Pipeline()
        pipeline.darknet = darknet
        _ = pipeline.run(source: source, consumer: &aggregator)
        aggregator.finish()
        return aggregator
    }

    @Test func packetsOutsideTheDarknetAreCountedUnderTheirReasonAndNotAggregated() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("mixed.pcap")
        let expected = try writeCapture(path)
        let config = try Self.configuration()
        let aggregator = aggregate(try PacketSource.openFiles([path]), darknet: config.darknet.filter)
        let counters = aggregator.counters
        #expect(counters.total == UInt64(expected.darknet + expected.outside + expected.inside))
        #expect(counters.decoded == UInt64(expected.darknet))
        #expect(counters.errors(.destinationOutsideDarknet) == UInt64(expected.outside))
        #expect(counters.errors(.sourceInsideDarknet) == UInt64(expected.inside))
        let ports = Set(aggregator.ports.nonEmptyRows().map { "\($0.key.ipProtocol)/\($0.key.port)" })
        #expect(ports == ["6/23", "17/53"])
        // The report names the reasons beside the decode errors.
        let section = PacketsSection(counters)
        #expect(section.decodeErrors["dst-outside-darknet"] == UInt64(expected.outside))
        #expect(section.decodeErrors["src-inside-darknet"] == UInt64(expected.inside))

        // Without prefixes the same file is all aggregated (the check above is the filter's doing).
        let unfiltered = aggregate(try PacketSource.openFiles([path]), darknet: .everything)
        #expect(unfiltered.counters.decoded == UInt64(expected.darknet + expected.outside + expected.inside))
        #expect(unfiltered.ports.nonEmptyRows().count == 5)
    }

    @Test func theKernelFilterBuiltFromThePrefixesPassesOnlyDarknetTraffic() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("mixed.pcap")
        let expected = try writeCapture(path)
        let config = try Self.configuration()
        let filter = try #require(config.liveCaptureOptions(interface: "eth0").filter)
        #expect(filter == config.darknet.filter.bpfFilter)
        let handle = try PcapHandle.openOffline(path: path)
        try handle.setFilter(filter)  // pcap_compile + pcap_setfilter, through PcapHandle.check
        let aggregator = aggregate(.files([handle]), darknet: .everything)
        #expect(aggregator.counters.total == UInt64(expected.darknet))
        #expect(aggregator.counters.decoded == UInt64(expected.darknet))
        #expect(Set(aggregator.ports.nonEmptyRows().map(\.key.port)) == [23, 53])

        // A configured filter wins over the built one.
        var own = config
        own.capture.filter = "tcp"
        #expect(own.liveCaptureOptions(interface: "eth0").filter == "tcp")
        #expect(SensorConfiguration().liveCaptureOptions(interface: "eth0").filter == nil)
    }
}
