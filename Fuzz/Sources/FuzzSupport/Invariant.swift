/// Stops the process when `condition` is false, so that libFuzzer reports
/// the current input as a crash (and writes it to the crash directory).
///
/// A plain `fatalError`: it traps in every build configuration (unlike
/// `assert`), and its message is the first thing the crash log shows.
@inline(__always)
public func invariant(
    _ condition: @autoclosure () -> Bool,
    _ message: @autoclosure () -> String,
    file: StaticString = #fileID,
    line: UInt = #line
) {
    if !condition() {
        fatalError("fuzz invariant violated: \(message())", file: file, line: line)
    }
}
