// libFuzzer harness for `ConfigurationLoader.load(yaml:source:)`: the input as
// UTF-8 text (invalid sequences replaced, as `String(data:encoding:)` would
// refuse them before the loader sees them). Yams wraps libyaml, which is C,
// so AddressSanitizer matters most here. Declarations only.
//
// Invariant (ConfigurationCheck): an accepted configuration round-trips
// through `effectiveYAML()`; a rejected one names at least one issue.

import FuzzServiceSupport
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    ConfigurationCheck.check(text)
    return 0
}
