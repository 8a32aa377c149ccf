import Alerts
import Foundation

/// Alerts as the columns of the `alerts` table (migration 3), bound as arrays.
/// The nullable columns travel as sentinels the statement turns back into
/// NULL (`NULLIF`): -1 for the protocol and the port, "" for the address.
struct AlertRows: Sendable {
    var times: [Date] = []
    var days: Set<Int64> = []
    var rules: [String] = []
    var keys: [String] = []
    var severities: [String] = []
    var protocols: [Int16] = []
    var ports: [Int32] = []
    var addresses: [String] = []
    var messages: [String] = []
    /// The alert as the JSON-lines sink writes it (`AlertJSON`).
    var bodies: [String] = []

    var isEmpty: Bool { times.isEmpty }

    init(_ alerts: [Alert]) {
        let encoder = AlertJSON.encoder()
        for alert in alerts {
            times.append(BucketRows.time(alert.timeNs))
            days.insert(Self.day(alert.timeNs))
            rules.append(alert.rule.rawValue)
            keys.append(alert.key)
            severities.append(alert.severity.name)
            protocols.append(alert.ipProtocol.map { Int16($0) } ?? -1)
            ports.append(alert.port.map { Int32($0) } ?? -1)
            addresses.append(alert.address?.description ?? "")
            messages.append(alert.message)
            // Alert's encoding cannot fail (strings, finite numbers); "{}" keeps the row if it ever did.
            bodies.append((try? encoder.encode(alert)).map { String(decoding: $0, as: UTF8.self) } ?? "{}")
        }
    }

    /// The UTC day (days since 1970-01-01) of a time in ns.
    static func day(_ ns: Int64) -> Int64 {
        Int64((Double(ns) / 1e9 / 86_400).rounded(.down))
    }
}
