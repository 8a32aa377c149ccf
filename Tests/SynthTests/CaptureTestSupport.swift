import Foundation

/// A fresh temporary directory, removed by `cleanUp()`.
struct TemporaryDirectory {
    let url: URL

    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("synth-tests-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func cleanUp() { try? FileManager.default.removeItem(at: url) }
}

func readFile(_ path: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
}

func le16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) | UInt16(bytes[offset + 1]) << 8 }
func le32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { UInt32(le16(bytes, offset)) | UInt32(le16(bytes, offset + 2)) << 16 }
func be16(_ bytes: [UInt8], _ offset: Int) -> UInt16 { UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1]) }
func be32(_ bytes: [UInt8], _ offset: Int) -> UInt32 { UInt32(be16(bytes, offset)) << 16 | UInt32(be16(bytes, offset + 2)) }

/// Path of tcpdump when installed.
let tcpdumpPath: String? = ["/usr/bin/tcpdump", "/usr/sbin/tcpdump", "/usr/local/bin/tcpdump"]
    .first { FileManager.default.isExecutableFile(atPath: $0) }

/// Runs tcpdump with `arguments`; returns (exit status, stdout lines, stderr).
func runTcpdump(_ arguments: [String]) throws -> (status: Int32, lines: [String], error: String) {
    guard let tcpdumpPath else { return (-1, [], "tcpdump not installed") }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: tcpdumpPath)
    process.arguments = arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Read before waiting so a large output cannot fill the pipe and block.
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    let errData = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let lines = String(decoding: outData, as: UTF8.self).split(separator: "\n").map(String.init)
    return (process.terminationStatus, lines, String(decoding: errData, as: UTF8.self))
}
