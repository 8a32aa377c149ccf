import Foundation

/// What a reload (SIGHUP) does with a freshly loaded configuration: the parts
/// the running daemon takes over without a restart, and the changed keys it
/// cannot apply until one.
///
/// `applying(_:)` is the single definition of what a reload applies (the alert
/// rules, the cooldown and the rate limit, which `SensorConfiguration.alertConfigs()`
/// turns into the alert stage's settings); every other key is read once at
/// start-up. The keys that need a restart are found, not listed: the
/// configuration the daemon runs after the reload is printed as
/// `effectiveYAML()` beside the file's, and every key whose line differs is named.
public struct ReloadPlan: Sendable, Equatable {
    /// The configuration running once the reload is done.
    public var running: SensorConfiguration
    /// Keys (dotted paths such as `aggregation.bucket`) the file changed and the daemon applied.
    public var applied: [String]
    /// Keys the file changed that take effect only at the next start.
    public var pendingRestart: [String]

    /// - Parameters:
    ///   - running: the configuration the daemon runs now.
    ///   - fresh: the file as just loaded.
    public init(running: SensorConfiguration, fresh: SensorConfiguration) {
        let next = running.applying(fresh)
        self.running = next
        applied = ReloadPlan.changedKeys(running, next)
        pendingRestart = ReloadPlan.changedKeys(next, fresh)
    }

    /// Dotted key paths whose effective values differ between `a` and `b`.
    public static func changedKeys(_ a: SensorConfiguration, _ b: SensorConfiguration) -> [String] {
        let left = keyedLines(a.effectiveYAML()), right = keyedLines(b.effectiveYAML())
        var changed: [String] = []
        for (key, value) in right where left[key] != value { changed.append(key) }
        for key in left.keys where right[key] == nil { changed.append(key) }
        return changed.sorted()
    }

    /// `path.to.key` → value text (comments dropped) for each leaf line of the
    /// block YAML `effectiveYAML()` writes (two spaces per level).
    static func keyedLines(_ yaml: String) -> [String: String] {
        var stack: [String] = []
        var out: [String: String] = [:]
        for line in yaml.split(separator: "\n") {
            let trimmed = line.drop { $0 == " " }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
            let depth = (line.count - trimmed.count) / 2
            var key = String(trimmed[..<colon])
            if key.hasPrefix("\""), key.hasSuffix("\""), key.count >= 2 { key = String(key.dropFirst().dropLast()) }
            stack = Array(stack.prefix(depth))
            let text = withoutComment(trimmed[trimmed.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            if text.isEmpty {
                stack.append(key)  // a section
            } else {
                out[(stack + [key]).joined(separator: ".")] = text
            }
        }
        return out
    }

    /// A value with its trailing `  # comment` cut off; a `#` inside a double-quoted string stays.
    static func withoutComment(_ value: Substring) -> Substring {
        var quoted = false
        var escaped = false
        var previous: Character = " "
        for index in value.indices {
            let c = value[index]
            if quoted {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { quoted = false }
            } else if c == "\"" {
                quoted = true
            } else if c == "#", previous == " " {
                return value[..<index]
            }
            previous = c
        }
        return value
    }
}

extension SensorConfiguration {
    /// This configuration with what a reload takes from `fresh`: the alert
    /// rules (thresholds, enabled), the cooldown and the rate limit.
    public func applying(_ fresh: SensorConfiguration) -> SensorConfiguration {
        var next = self
        next.alerts.rules = fresh.alerts.rules
        next.alerts.cooldownSeconds = fresh.alerts.cooldownSeconds
        next.alerts.ratePerMinute = fresh.alerts.ratePerMinute
        return next
    }
}
