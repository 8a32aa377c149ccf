import Decoding
import Testing

@Suite struct DarknetPrefixesTests {
    static func prefix(_ text: String) -> DarknetPrefixes.Prefix {
        let parts = text.split(separator: "/")
        let address = IPAddress(parts[0])!
        return DarknetPrefixes.Prefix(network: address, length: Int(parts[1])!, isIPv4: !parts[0].contains(":"))
    }

    let darknet = DarknetPrefixes([prefix("192.0.2.0/24"), prefix("198.18.0.0/15"), prefix("2001:db8:1::/48")])

    @Test func containsTheAddressesOfItsPrefixesOnly() {
        for inside in ["192.0.2.0", "192.0.2.255", "198.18.0.1", "198.19.255.255", "2001:db8:1::1", "2001:db8:1:ffff::"] {
            #expect(darknet.contains(IPAddress(inside)!), "\(inside)")
        }
        for outside in ["192.0.3.0", "192.0.1.255", "198.20.0.0", "198.17.255.255", "2001:db8:2::1",
                        "::c000:201", "0.0.0.0"] {
            #expect(!darknet.contains(IPAddress(outside)!), "\(outside)")
        }
        // An IPv4 prefix holds IPv4 addresses only: the same 32 bits elsewhere in IPv6 are outside.
        #expect(!darknet.contains(IPAddress("::c000:201")!))
        #expect(!DarknetPrefixes([Self.prefix("0.0.0.0/0")]).contains(IPAddress("2001:db8::1")!))
        #expect(DarknetPrefixes([Self.prefix("0.0.0.0/0")]).contains(IPAddress("203.0.113.9")!))
        #expect(DarknetPrefixes([Self.prefix("::/0")]).contains(IPAddress("2001:db8::1")!))
    }

    @Test func classifyMarksOutsideDestinationsAndInsideSources() {
        func record(_ source: String, _ destination: String, status: DecodeStatus = .ok) -> PacketRecord {
            var r = PacketRecord()
            r.source = IPAddress(source)!
            r.destination = IPAddress(destination)!
            r.status = status
            return r
        }
        var r = record("203.0.113.1", "192.0.2.7")
        darknet.classify(&r)
        #expect(r.status == .ok)
        r = record("203.0.113.1", "192.0.3.7")
        darknet.classify(&r)
        #expect(r.status == .destinationOutsideDarknet)
        r = record("198.18.0.9", "192.0.2.7")
        darknet.classify(&r)
        #expect(r.status == .sourceInsideDarknet)
        r = record("2001:db8:9::1", "2001:db8:1::5")
        darknet.classify(&r)
        #expect(r.status == .ok)
        r = record("2001:db8:1::1", "2001:db8:1::5")
        darknet.classify(&r)
        #expect(r.status == .sourceInsideDarknet)
        // Decode errors keep their reason; no prefixes keep everything.
        r = record("203.0.113.1", "192.0.3.7", status: .truncatedL4)
        darknet.classify(&r)
        #expect(r.status == .truncatedL4)
        r = record("203.0.113.1", "192.0.3.7")
        DarknetPrefixes.everything.classify(&r)
        #expect(r.status == .ok)
    }

    @Test func hostBitsAreMaskedAndTheFilterNamesEveryPrefix() {
        #expect(Self.prefix("192.0.2.77/24").description == "192.0.2.0/24")
        #expect(darknet.bpfFilter == "(dst net 192.0.2.0/24 or dst net 198.18.0.0/15 or dst net 2001:db8:1::/48)"
                + " and not (src net 192.0.2.0/24 or src net 198.18.0.0/15 or src net 2001:db8:1::/48)")
        #expect(DarknetPrefixes.everything.bpfFilter == nil)
    }
}
