// libFuzzer harness for `PacketDecoder`: the bytes an attacker controls
// most directly. Built with `--sanitize=fuzzer` (which implies
// -parse-as-library: this file has declarations only, libFuzzer owns `main`).
//
// Input: DecoderInput (selector byte: link type + snapped bit, then the
// captured bytes). Every record is checked against DecoderInvariants; a
// Span bounds trap, an ASan report or a violated invariant is a crash.

import Decoding
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoder(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data, size >= 1 else { return 0 }
    let (linkType, wireLength) = DecoderInput.parse(selector: data[0], capturedCount: size - 1)
    // The captured bytes are libFuzzer's own allocation, exactly `size` long:
    // a read past them is an ASan report even if a bounds check were missing.
    let captured = UnsafeBufferPointer(start: data + 1, count: size - 1)
    let timestampNs: Int64 = 1_700_000_000_000_000_000
    var record = PacketRecord()
    let decoder = PacketDecoder(linkType: linkType)
    decoder.decode(captured.span, wireLength: wireLength, timestampNs: timestampNs, into: &record)
    DecoderInvariants.check(record, capturedCount: captured.count, wireLength: wireLength,
                            timestampNs: timestampNs, linkType: linkType)

    // Decoding is a pure function of the bytes: a second pass over a dirty
    // record must give the same answer (catches state leaking between packets,
    // as the capture path reuses ring slots).
    var again = record
    again.flags = RecordFlags(rawValue: 0x3FF)
    again.probe = .snmp
    decoder.decode(captured.span, wireLength: wireLength, timestampNs: timestampNs, into: &again)
    invariant(again.status == record.status && again.flags == record.flags && again.probe == record.probe
              && again.sourcePort == record.sourcePort && again.destinationPort == record.destinationPort
              && again.source == record.source && again.destination == record.destination
              && again.payloadLength == record.payloadLength && again.ipProtocol == record.ipProtocol,
              "decoding the same bytes twice disagrees")
    return 0
}
