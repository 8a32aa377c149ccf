import Aggregation
import Alerts

extension SensorConfiguration {
    /// The effective configuration as YAML: every key, defaults filled in, in
    /// the order of docs/configuration.md. Loading the text gives back an
    /// equal configuration. What `darknetd check-config FILE` prints.
    ///
    /// `darknet.size` is written as null when it is computed (the comment gives
    /// the figure). Each alert rule lists the thresholds it reads with their
    /// effective values (`effectiveRules`; "engine default" when that is the
    /// value), and a threshold it does not read only when configured
    /// (commented as ignored). So loading the text gives `withEffectiveRules()`,
    /// which runs the same. `aggregation.hash_seed` is printed as configured:
    /// the output is as secret as the file.
    public func effectiveYAML() -> String {
        var out = YAMLWriter()
        out.comment("darknetd effective configuration: every key, defaults filled in.")
        out.section("capture") { w in
            w.line("interfaces", YAMLWriter.list(capture.interfaces))
            w.line("filter", YAMLWriter.optional(capture.filter))
            w.line("snaplen", "\(capture.snaplen)")
            w.line("promiscuous", "\(capture.promiscuous)")
            w.line("immediate", "\(capture.immediate)")
            w.line("buffer_mib", "\(capture.bufferMiB)")
            w.line("timeout_ms", "\(capture.timeoutMilliseconds)")
        }
        out.section("darknet") { w in
            w.line("prefixes", YAMLWriter.list(darknet.prefixes.map(\.description)))
            if let size = darknet.size {
                w.line("size", "\(size)")
            } else {
                w.line("size", "null", comment: "computed: \(darknet.effectiveSize) addresses")
            }
        }
        out.section("aggregation") { w in
            w.line("bucket", YAMLWriter.quote(DurationFormat.text(aggregation.bucketSeconds)))
            w.line("utc_offset", YAMLWriter.quote(DurationFormat.offset(aggregation.utcOffsetSeconds)))
            w.line("windows", YAMLWriter.list(aggregation.windowSeconds.map(DurationFormat.text)),
                   comment: "buckets: \(aggregation.windowBuckets.map(String.init).joined(separator: ", "))")
            w.line("top_source_capacity", "\(aggregation.topSourceCapacity)")
            w.line("source_detail_capacity", "\(aggregation.sourceDetailCapacity)")
            w.line("pair_slots", "\(aggregation.pairSlots)")
            w.line("source_prefixes", "\(aggregation.sourcePrefixes)")
            w.line("threads", YAMLWriter.quote(aggregation.threads.description),
                   comment: aggregation.threads == .auto ? "\(aggregation.threads.resolved(captureThreads: max(1, capture.interfaces.count))) on this machine" : nil)
            w.line("hash_seed", YAMLWriter.optional(aggregation.hashSeed?.description))
            w.section("scan") { s in
                s.line("min_destinations", "\(aggregation.scan.minDestinations)")
                s.line("timeout", YAMLWriter.quote(DurationFormat.text(aggregation.scan.timeoutSeconds)))
                s.line("min_internet_rate", DurationFormat.number(aggregation.scan.minInternetRate))
                s.line("capacity", "\(aggregation.scan.capacity)")
            }
            w.section("backscatter") { s in
                s.line("min_packets", "\(aggregation.backscatter.minPackets)")
                s.line("min_duration", YAMLWriter.quote(DurationFormat.text(aggregation.backscatter.minDurationSeconds)))
                s.line("min_peak_rate", DurationFormat.number(aggregation.backscatter.minPeakRate))
                s.line("timeout", YAMLWriter.quote(DurationFormat.text(aggregation.backscatter.timeoutSeconds)))
                s.line("capacity", "\(aggregation.backscatter.capacity)")
            }
        }
        out.section("geoip") { w in
            w.line("database", YAMLWriter.optional(geoip.database))
        }
        out.section("feed") { w in
            w.line("path", YAMLWriter.optional(feed.path))
            w.line("format", YAMLWriter.quote(feed.format.rawValue))
            w.line("poll_ms", "\(feed.pollMilliseconds)")
            w.line("max_line_bytes", "\(feed.maxLineBytes)")
        }
        out.section("alerts") { w in
            w.section("syslog") { s in
                s.line("enabled", "\(alerts.syslog.enabled)")
                s.line("socket", YAMLWriter.quote(alerts.syslog.socket))
                s.line("facility", YAMLWriter.quote(alerts.syslog.facility.name))
                s.line("format", YAMLWriter.quote(alerts.syslog.format.rawValue))
                s.line("target", YAMLWriter.optional(alerts.syslog.target))
                s.line("journal_socket", YAMLWriter.quote(alerts.syslog.journalSocket))
            }
            w.line("json_file", YAMLWriter.optional(alerts.jsonFile))
            w.line("cooldown", YAMLWriter.quote(DurationFormat.text(alerts.cooldownSeconds)))
            w.line("rate_per_minute", "\(alerts.ratePerMinute)")
            w.line("queue_limit", "\(alerts.queueLimit)")
            w.line("retry_max_backoff", YAMLWriter.quote(DurationFormat.text(alerts.retryMaxBackoffSeconds)))
            w.section("rules") { r in
                let effective = effectiveRules
                let defaults = SensorConfiguration().effectiveRules
                for id in AlertRuleID.configurable {
                    let rule = effective[id] ?? AlertRuleSettings()
                    let engine = defaults[id] ?? AlertRuleSettings()
                    let reads = SensorConfiguration.thresholdsRead(by: id)
                    r.section(id.rawValue) { s in
                        s.line("enabled", "\(rule.enabled)")
                        func threshold(_ key: String, _ value: String?, _ engineValue: String?) {
                            guard let value else { return }  // unread and unset
                            let comment = !reads.contains(key) ? "ignored: this rule does not read it"
                                : (value == engineValue ? "engine default" : nil)
                            s.line(key, value, comment: comment)
                        }
                        threshold("min_packets", rule.minPackets.map { "\($0)" }, engine.minPackets.map { "\($0)" })
                        threshold("min_sources", rule.minSources.map { "\($0)" }, engine.minSources.map { "\($0)" })
                        threshold("factor", rule.factor.map(DurationFormat.number), engine.factor.map(DurationFormat.number))
                        threshold("deviations", rule.deviations.map(DurationFormat.number), engine.deviations.map(DurationFormat.number))
                        threshold("warmup_buckets", rule.warmupBuckets.map { "\($0)" }, engine.warmupBuckets.map { "\($0)" })
                        threshold("min_internet_rate", rule.minInternetRate.map(DurationFormat.number),
                                  engine.minInternetRate.map(DurationFormat.number))
                        threshold("lag_buckets", rule.lagBuckets.map { "\($0)" }, engine.lagBuckets.map { "\($0)" })
                    }
                }
            }
        }
        out.section("stats") { w in
            w.line("socket", YAMLWriter.quote(stats.socket))
            let octal = String(stats.mode, radix: 8)
            w.line("mode", YAMLWriter.quote(String(repeating: "0", count: max(0, 4 - octal.count)) + octal))
            w.line("group", YAMLWriter.optional(stats.group))
            w.line("max_clients", "\(stats.maxClients)")
            w.line("idle_timeout", YAMLWriter.quote(DurationFormat.text(stats.idleTimeoutSeconds)))
            w.line("max_request_bytes", "\(stats.maxRequestBytes)")
        }
        out.section("state") { w in
            w.line("directory", YAMLWriter.quote(state.directory))
            w.line("snapshot_interval", YAMLWriter.quote(DurationFormat.text(state.snapshotIntervalSeconds)))
        }
        out.section("service") { w in
            w.line("user", YAMLWriter.optional(service.user))
            w.line("watchdog", "\(service.watchdog)")
        }
        out.section("export") { w in
            w.section("database") { d in
                d.line("url", YAMLWriter.optional(export.database.url), comment: export.database.url == nil ? "no export" : nil)
                d.line("password_file", YAMLWriter.optional(export.database.passwordFile))
                d.line("sensor", YAMLWriter.optional(export.database.sensor))
                d.line("spool_max_mib", DurationFormat.number(export.database.spoolMaxMiB),
                       comment: "\(export.database.spoolMaxBytes) bytes")
                d.line("retry_max_backoff", YAMLWriter.quote(DurationFormat.text(export.database.retryMaxBackoffSeconds)))
            }
        }
        return out.text
    }
}

/// A minimal block-style YAML writer: strings double-quoted (JSON-compatible
/// escapes, which YAML accepts), numbers and booleans plain.
struct YAMLWriter {
    var text = ""
    var indent = 0

    mutating func comment(_ s: String) { text += String(repeating: " ", count: indent) + "# \(s)\n" }

    mutating func line(_ key: String, _ value: String, comment: String? = nil) {
        text += String(repeating: " ", count: indent) + "\(key): \(value)"
        if let comment { text += "  # \(comment)" }
        text += "\n"
    }

    mutating func section(_ key: String, _ body: (inout YAMLWriter) -> Void) {
        text += String(repeating: " ", count: indent) + "\(YAMLWriter.plainKey(key)):\n"
        indent += 2
        body(&self)
        indent -= 2
    }

    static func plainKey(_ key: String) -> String {
        key.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 95 || $0 == 45 } ? key : quote(key)
    }

    static func optional(_ s: String?) -> String { s.map(quote) ?? "null" }

    static func list(_ items: [String]) -> String { "[" + items.map(quote).joined(separator: ", ") + "]" }

    static func quote(_ s: String) -> String {
        var out = "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\t": out += "\\t"
            case "\r": out += "\\r"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value)
                    || scalar.value == 0x2028 || scalar.value == 0x2029 || scalar.value == 0xFEFF {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}
