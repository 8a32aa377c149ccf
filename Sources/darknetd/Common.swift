import ArgumentParser
import Capture
import Foundation
import Synchronization

enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case text, json
}

/// A one-line error on stderr and a non-zero exit: what every command does
/// with bad input.
struct Failure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func fail(_ message: String) -> ExitCode {
    FileHandle.standardError.write(Data("darknetd: \(message)\n".utf8))
    return ExitCode(1)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("darknetd: \(message)\n".utf8))
}

/// Set by SIGINT/SIGTERM; the consumer loop polls it and stops the capture.
let stopSignal = Atomic<Bool>(false)

func installStopSignals() {
    let handler: @convention(c) (Int32) -> Void = { _ in stopSignal.store(true, ordering: .relaxed) }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
}
