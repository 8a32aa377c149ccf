import Aggregation
import Alerts
import Capture
import Decoding
import Foundation
import Testing
@testable import Configuration
@testable import Daemon
import Sketches

/// The repository root (Tests/ServiceTests/THIS → ../..).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// Loads YAML that must be rejected and returns its issues.
func issues(_ yaml: String) -> [ConfigurationIssue] {
    do {
        _ = try ConfigurationLoader.load(yaml: yaml)
        Issue.record("accepted:\n\(yaml)")
        return []
    } catch {
        return error.issues
    }
}

/// The single issue of a rejected YAML text.
func singleIssue(_ yaml: String, sourceLocation: SourceLocation = #_sourceLocation) -> ConfigurationIssue? {
    let found = issues(yaml)
    #expect(found.count == 1, "expected one issue, got \(found)", sourceLocation: sourceLocation)
    return found.first
}

@Suite struct ConfigurationDefaultsTests {
    @Test func emptyDocumentGivesEveryDefault() throws {
        for text in ["", "\n", "# only a comment\n", "---\n"] {
            let config = try ConfigurationLoader.load(yaml: text)
            #expect(config == SensorConfiguration())
        }
    }

    @Test func documentedDefaults() {
        let c = SensorConfiguration()
        #expect(c.capture.interfaces.isEmpty)
        #expect(c.capture.filter == nil)
        #expect(c.capture.snaplen == 512 && c.capture.promiscuous && !c.capture.immediate)
        #expect(c.capture.bufferMiB == 16 && c.capture.timeoutMilliseconds == 100)
        #expect(c.darknet.prefixes.isEmpty && c.darknet.size == nil && c.darknet.effectiveSize == 65_536)
        #expect(c.aggregation.bucketSeconds == 60 && c.aggregation.utcOffsetSeconds == 0)
        #expect(c.aggregation.windowSeconds == [3600, 86_400] && c.aggregation.windowBuckets == [60, 1440])
        #expect(c.aggregation.hashSeed == nil && !c.aggregation.sourcePrefixes)
        #expect(c.aggregation.scan.minDestinations == 100 && c.aggregation.scan.timeoutSeconds == 480)
        #expect(c.aggregation.scan.minInternetRate == 10)
        #expect(c.aggregation.backscatter.minPackets == 25 && c.aggregation.backscatter.minDurationSeconds == 60)
        #expect(c.aggregation.backscatter.minPeakRate == 0.5 && c.aggregation.backscatter.timeoutSeconds == 300)
        #expect(c.geoip.database == nil)
        #expect(c.feed.path == nil && c.feed.format == .auto && c.feed.pollMilliseconds == 200 && c.feed.maxLineBytes == 65_536)
        #expect(c.alerts.syslog.socket == "/dev/log" && c.alerts.syslog.facility == .daemon && c.alerts.syslog.enabled)
        #expect(c.alerts.jsonFile == nil && c.alerts.cooldownSeconds == 900 && c.alerts.ratePerMinute == 20)
        #expect(c.alerts.rules.count == AlertRuleID.configurable.count)
        #expect(c.alerts.rules.values.allSatisfy { $0 == AlertRuleSettings() })
        #expect(c.stats.socket == "/run/darknetd/darknetd.sock" && c.stats.mode == 0o660 && c.stats.group == nil)
        #expect(c.stats.maxClients == 64 && c.stats.idleTimeoutSeconds == 30 && c.stats.maxRequestBytes == 4096)
        #expect(c.state.directory == "/var/lib/darknetd" && c.state.snapshotIntervalSeconds == 300)
        #expect(c.service.user == nil && c.service.watchdog)
    }

    @Test func defaultsMapToTheModulesDefaults() {
        let c = SensorConfiguration()
        #expect(c.aggregationConfig() == AggregationConfig())
        #expect(c.liveCaptureOptions(interface: "eth1") == LiveCaptureOptions(interface: "eth1"))
    }

    @Test func emptyConfigurationCannotRun() throws {
        let config = try ConfigurationLoader.load(yaml: "")
        #expect(throws: ConfigurationError.self) { try config.validateForRun() }
        do {
            try config.validateForRun()
        } catch {
            #expect(error.description.contains("capture.interfaces"))
        }
        var runnable = config
        runnable.capture.interfaces = ["eth1"]
        try runnable.validateForRun()
        runnable.state.directory = "state"
        #expect(throws: ConfigurationError.self) { try runnable.validateForRun() }
    }
}

@Suite struct ConfigurationParsingTests {
    static let full = """
        capture:
          interfaces: [eth1, "eth2"]
          filter: "not port 22"
          snaplen: 1500
          promiscuous: false
          immediate: true
          buffer_mib: 64
          timeout_ms: 250
        darknet:
          prefixes:
            - 192.0.2.0/24
            - 203.0.113.128/25
            - 2001:db8::/32
          size: 70000
        aggregation:
          bucket: 5m
          utc_offset: "+09:00"
          windows: [30m, 6h, 7d]
          top_source_capacity: 1000
          source_detail_capacity: 2000
          pair_slots: 1_048_576
          source_prefixes: yes
          hash_seed: 00112233445566778899aabbccddeeff
          scan:
            min_destinations: 50
            timeout: 10m
            min_internet_rate: 2.5
            capacity: 4096
          backscatter:
            min_packets: 10
            min_duration: 2m
            min_peak_rate: 1.25
            timeout: 600
            capacity: 512
        geoip:
          database: /usr/share/GeoIP/country.mmdb
        feed:
          path: /var/log/feed.jsonl
          format: cowrie
          poll_ms: 1000
          max_line_bytes: 4096
        alerts:
          syslog:
            enabled: false
            socket: /run/systemd/journal/dev-log
            facility: local3
          json_file: /var/lib/darknetd/alerts.jsonl
          cooldown: 1h
          rate_per_minute: 5
          rules:
            dns-open-resolver-surge: {min_packets: 100, min_sources: 5, factor: 4, deviations: 3.5}
            scan-campaign:
              min_internet_rate: 100
              warmup_buckets: 30
            correlated-surge:
              lag_buckets: 2
            feed-only-surge:
              enabled: false
        stats:
          socket: /run/darknetd/s.sock
          mode: "0640"
          group: adm
          max_clients: 8
          idle_timeout: 2m
          max_request_bytes: 1024
        state:
          directory: /srv/darknetd
          snapshot_interval: 1m
        service:
          user: nobody
          watchdog: false
        """

    @Test func everySectionParsed() throws {
        let c = try ConfigurationLoader.load(yaml: Self.full)
        #expect(c.capture.interfaces == ["eth1", "eth2"])
        #expect(c.capture.filter == "not port 22")
        #expect(c.capture.snaplen == 1500 && !c.capture.promiscuous && c.capture.immediate)
        #expect(c.capture.bufferMiB == 64 && c.capture.timeoutMilliseconds == 250)
        #expect(c.darknet.prefixes.map(\.description) == ["192.0.2.0/24", "203.0.113.128/25", "2001:db8::/32"])
        #expect(c.darknet.size == 70_000 && c.darknet.effectiveSize == 70_000)
        #expect(c.aggregation.bucketSeconds == 300 && c.aggregation.utcOffsetSeconds == 9 * 3600)
        #expect(c.aggregation.windowSeconds == [1800, 21_600, 604_800])
        #expect(c.aggregation.windowBuckets == [6, 72, 2016])
        #expect(c.aggregation.topSourceCapacity == 1000 && c.aggregation.sourceDetailCapacity == 2000)
        #expect(c.aggregation.pairSlots == 1 << 20 && c.aggregation.sourcePrefixes)
        #expect(c.aggregation.hashSeed == SeededHash(seed0: 0x0011_2233_4455_6677, seed1: 0x8899_AABB_CCDD_EEFF))
        #expect(c.aggregation.scan.minDestinations == 50 && c.aggregation.scan.timeoutSeconds == 600)
        #expect(c.aggregation.scan.minInternetRate == 2.5 && c.aggregation.scan.capacity == 4096)
        #expect(c.aggregation.backscatter.minPackets == 10 && c.aggregation.backscatter.minDurationSeconds == 120)
        #expect(c.aggregation.backscatter.minPeakRate == 1.25 && c.aggregation.backscatter.timeoutSeconds == 600)
        #expect(c.aggregation.backscatter.capacity == 512)
        #expect(c.geoip.database == "/usr/share/GeoIP/country.mmdb")
        #expect(c.feed.path == "/var/log/feed.jsonl" && c.feed.format == .cowrie)
        #expect(c.feed.pollMilliseconds == 1000 && c.feed.maxLineBytes == 4096)
        #expect(!c.alerts.syslog.enabled && c.alerts.syslog.socket == "/run/systemd/journal/dev-log")
        #expect(c.alerts.syslog.facility == .local3 && c.alerts.syslog.facility.rawValue == 19)
        #expect(c.alerts.jsonFile == "/var/lib/darknetd/alerts.jsonl")
        #expect(c.alerts.cooldownSeconds == 3600 && c.alerts.ratePerMinute == 5)
        var dns = AlertRuleSettings()
        dns.minPackets = 100
        dns.minSources = 5
        dns.factor = 4
        dns.deviations = 3.5
        #expect(c.alerts.rules[.dnsOpenResolverSurge] == dns)
        #expect(c.alerts.rules[.scanCampaign]?.minInternetRate == 100 && c.alerts.rules[.scanCampaign]?.warmupBuckets == 30)
        #expect(c.alerts.rules[.correlatedSurge]?.lagBuckets == 2)
        #expect(c.alerts.rules[.feedOnlySurge]?.enabled == false)
        #expect(c.alerts.rules[.portSurge] == AlertRuleSettings())
        #expect(c.stats.socket == "/run/darknetd/s.sock" && c.stats.mode == 0o640 && c.stats.group == "adm")
        #expect(c.stats.maxClients == 8 && c.stats.idleTimeoutSeconds == 120 && c.stats.maxRequestBytes == 1024)
        #expect(c.state.directory == "/srv/darknetd" && c.state.snapshotIntervalSeconds == 60)
        #expect(c.service.user == "nobody" && !c.service.watchdog)
        try c.validateForRun()
    }

    @Test func mappingsCarryEveryValue() throws {
        let c = try ConfigurationLoader.load(yaml: Self.full)
        let a = c.aggregationConfig()
        #expect(a.bucketSeconds == 300 && a.utcOffsetSeconds == 32_400 && a.windowBuckets == [6, 72, 2016])
        #expect(a.darknetSize == 70_000 && a.topSourceCapacity == 1000 && a.sourceDetailCapacity == 2000)
        #expect(a.pairSlots == 1 << 20 && a.aggregateSourcePrefixes)
        #expect(a.hashSeed == c.aggregation.hashSeed)
        #expect(a.scan == c.aggregation.scan && a.backscatter == c.aggregation.backscatter)
        let o = c.liveCaptureOptions(interface: "eth2")
        #expect(o.interface == "eth2" && o.snaplen == 1500 && !o.promiscuous && o.immediate)
        #expect(o.bufferSize == 64 << 20 && o.timeoutMilliseconds == 250 && o.filter == "not port 22")
    }

    @Test func unsetSeedUsesTheFallback() throws {
        let c = try ConfigurationLoader.load(yaml: "aggregation:\n  bucket: 60s\n")
        let seed = SeededHash(seed0: 1, seed1: 2)
        #expect(c.aggregationConfig(seedIfUnset: seed).hashSeed == seed)
        #expect(c.aggregationConfig().hashSeed == AggregationConfig().hashSeed)
    }

    @Test func darknetSizeComputedFromIPv4Prefixes() throws {
        let c = try ConfigurationLoader.load(yaml: "darknet:\n  prefixes: [192.0.2.0/24, 10.1.0.0/16, \"2001:db8::/32\"]\n")
        #expect(c.darknet.size == nil)
        #expect(c.darknet.effectiveSize == 256 + 65_536)
        #expect(c.aggregationConfig().darknetSize == 256 + 65_536)
        let v6 = try ConfigurationLoader.load(yaml: "darknet:\n  prefixes: [\"2001:db8::/32\"]\n")
        #expect(v6.darknet.effectiveSize == 65_536)
    }

    @Test func emptySectionsAndNullsKeepDefaults() throws {
        let c = try ConfigurationLoader.load(yaml: "capture:\ndarknet: ~\nfeed:\n  path: null\ngeoip: {}\n")
        #expect(c == SensorConfiguration())
    }
}

@Suite struct ConfigurationErrorTests {
    @Test func unknownKeyAtDepthNamesKeyAndLine() throws {
        let yaml = """
            capture:
              interfaces: [eth1]
            aggregation:
              bucket: 60s
              scan:
                min_destinations: 100
                min_destination: 5
            """
        let issue = try #require(singleIssue(yaml))
        #expect(issue.keyPath == "aggregation.scan.min_destination")
        #expect(issue.line == 7)
        #expect(issue.message.contains("did you mean min_destinations"))
        let error = ConfigurationError(source: "darknetd.yaml", issues: [issue])
        #expect(error.description.contains("darknetd.yaml: line 7"))
        #expect(error.description.contains("aggregation.scan.min_destination"))
    }

    @Test func unknownSectionAndRule() {
        let found = issues("""
            captur:
              interfaces: [eth1]
            alerts:
              rules:
                port-surges:
                  factor: 2
            """)
        #expect(found.map(\.keyPath) == ["captur", "alerts.rules.port-surges"])
        #expect(found.map(\.line) == [1, 5])
        #expect(found[0].message.contains("did you mean capture"))
        #expect(found[1].message.contains("port-surge"))
    }

    @Test func wrongTypes() {
        let cases: [(String, String, Int)] = [
            ("capture:\n  snaplen: big\n", "capture.snaplen", 2),
            ("capture:\n  snaplen: \"512\"\n", "capture.snaplen", 2),
            ("capture:\n  promiscuous: 3\n", "capture.promiscuous", 2),
            ("capture:\n  interfaces: eth1\n", "capture.interfaces", 2),
            ("capture:\n  interfaces: [[eth1]]\n", "capture.interfaces[0]", 2),
            ("capture: 5\n", "capture", 1),
            ("capture:\n  filter: [a, b]\n", "capture.filter", 2),
            ("aggregation:\n\n  scan:\n    min_internet_rate: fast\n", "aggregation.scan.min_internet_rate", 4),
            ("aggregation:\n  scan: [1, 2]\n", "aggregation.scan", 2),
            ("alerts:\n  rules:\n    port-surge: true\n", "alerts.rules.port-surge", 3),
            ("alerts:\n  rules:\n    port-surge:\n      enabled: maybe\n", "alerts.rules.port-surge.enabled", 4),
            ("stats:\n  max_clients: 1.5\n", "stats.max_clients", 2),
            ("service:\n  watchdog: \"true\"\n", "service.watchdog", 2),
            ("[1, 2]\n", "", 1),
        ]
        for (yaml, path, line) in cases {
            let issue = singleIssue(yaml)
            #expect(issue?.keyPath == path, "\(yaml)")
            #expect(issue?.line == line, "\(yaml)")
        }
    }

    @Test func impossibleValues() {
        let cases: [(String, String)] = [
            ("capture:\n  snaplen: -1\n", "capture.snaplen"),
            ("capture:\n  buffer_mib: 0\n", "capture.buffer_mib"),
            ("capture:\n  buffer_mib: 4096\n", "capture.buffer_mib"),
            ("capture:\n  interfaces: [eth1, eth1]\n", "capture.interfaces[1]"),
            ("capture:\n  interfaces: [\"a/b\"]\n", "capture.interfaces[0]"),
            ("capture:\n  interfaces: [averyveryverylongname]\n", "capture.interfaces[0]"),
            ("darknet:\n  size: 0\n", "darknet.size"),
            ("aggregation:\n  scan:\n    min_destinations: -5\n", "aggregation.scan.min_destinations"),
            ("aggregation:\n  scan:\n    min_destinations: 5000000000\n", "aggregation.scan.min_destinations"),
            ("aggregation:\n  pair_slots: 8\n", "aggregation.pair_slots"),
            ("aggregation:\n  top_source_capacity: 0\n", "aggregation.top_source_capacity"),
            ("aggregation:\n  backscatter:\n    min_peak_rate: 0\n", "aggregation.backscatter.min_peak_rate"),
            ("aggregation:\n  scan:\n    min_internet_rate: -1\n", "aggregation.scan.min_internet_rate"),
            ("aggregation:\n  scan:\n    min_internet_rate: .nan\n", "aggregation.scan.min_internet_rate"),
            ("aggregation:\n  hash_seed: 0011\n", "aggregation.hash_seed"),
            ("aggregation:\n  utc_offset: \"+15:00\"\n", "aggregation.utc_offset"),
            ("aggregation:\n  utc_offset: nine\n", "aggregation.utc_offset"),
            ("feed:\n  format: xml\n", "feed.format"),
            ("feed:\n  poll_ms: 0\n", "feed.poll_ms"),
            ("alerts:\n  syslog:\n    facility: local9\n", "alerts.syslog.facility"),
            ("alerts:\n  rate_per_minute: 0\n", "alerts.rate_per_minute"),
            ("alerts:\n  syslog:\n    format: rfc3164\n", "alerts.syslog.format"),
            ("alerts:\n  syslog:\n    target: collector:514\n", "alerts.syslog.target"),
            ("alerts:\n  syslog:\n    target: /dev/log\n", "alerts.syslog.target"),
            ("alerts:\n  syslog:\n    target: udp://h:514\n    format: journal\n", "alerts.syslog.format"),
            ("alerts:\n  queue_limit: 0\n", "alerts.queue_limit"),
            ("alerts:\n  retry_max_backoff: 0s\n", "alerts.retry_max_backoff"),
            ("alerts:\n  rules:\n    port-surge:\n      factor: 1\n", "alerts.rules.port-surge.factor"),
            ("alerts:\n  rules:\n    port-surge:\n      min_packets: -1\n", "alerts.rules.port-surge.min_packets"),
            ("alerts:\n  rules:\n    port-surge:\n      min_sources: 0\n", "alerts.rules.port-surge.min_sources"),
            ("alerts:\n  rules:\n    port-surge:\n      lag_buckets: -1\n", "alerts.rules.port-surge.lag_buckets"),
            ("alerts:\n  rules:\n    port-surge:\n      colour: red\n", "alerts.rules.port-surge.colour"),
            ("stats:\n  socket: /\(String(repeating: "s", count: 120))\n", "stats.socket"),
            ("service:\n  user: \"a:b\"\n", "service.user"),
            ("capture:\n  snaplen: 512\n  snaplen: 1024\n", "capture.snaplen"),
        ]
        for (yaml, path) in cases {
            let found = issues(yaml)
            #expect(found.map(\.keyPath) == [path], "\(yaml)")
            #expect(found.allSatisfy { $0.line != nil }, "\(yaml)")
        }
    }

    @Test func badDurations() {
        for (key, section, value) in [
            ("bucket", "aggregation", "60x"), ("bucket", "aggregation", "0s"), ("bucket", "aggregation", "-5m"),
            ("bucket", "aggregation", "8d"), ("cooldown", "alerts", "soon"), ("cooldown", "alerts", "1.5h"),
            ("idle_timeout", "stats", "\"\""), ("snapshot_interval", "state", "[5m]"),
        ] {
            let issue = singleIssue("\(section):\n  \(key): \(value)\n")
            #expect(issue?.keyPath == "\(section).\(key)", "\(value)")
            #expect(issue?.line == 2)
        }
        let nested = singleIssue("aggregation:\n  scan:\n    timeout: 5 minutes\n")
        #expect(nested?.keyPath == "aggregation.scan.timeout")
        #expect(nested?.line == 3)
    }

    @Test func badPrefixes() {
        let cases: [(String, String)] = [
            ("192.0.2.0", "expected ADDRESS/LENGTH"),
            ("192.0.2.0/33", "0...32"),
            ("192.0.2.1/24", "did you mean 192.0.2.0/24"),
            ("300.0.2.0/24", "not an IPv4 or IPv6 address"),
            ("2001:db8::/129", "0...128"),
            ("2001:db8::1/32", "did you mean 2001:db8::/32"),
            ("192.0.2.0/", "expected ADDRESS/LENGTH"),
            ("192.0.2.0/2x", "expected ADDRESS/LENGTH"),
        ]
        for (text, message) in cases {
            let issue = singleIssue("darknet:\n  prefixes:\n    - \"\(text)\"\n")
            #expect(issue?.keyPath == "darknet.prefixes[0]", "\(text)")
            #expect(issue?.line == 3, "\(text)")
            #expect(issue?.message.contains(message) == true, "\(text): \(issue?.message ?? "")")
        }
        let overlap = singleIssue("darknet:\n  prefixes: [10.0.0.0/8, 192.0.2.0/24, 10.20.0.0/16]\n")
        #expect(overlap?.keyPath == "darknet.prefixes[2]")
        #expect(overlap?.message.contains("overlaps 10.0.0.0/8") == true)
    }

    @Test func badModes() {
        for mode in ["\"0999\"", "\"rw-rw----\"", "\"4755\"", "\"07\"", "\"00660\"", "0x1b4"] {
            let issue = singleIssue("stats:\n  mode: \(mode)\n")
            #expect(issue?.keyPath == "stats.mode", "\(mode)")
        }
        // Unquoted modes are read as written (octal), not as YAML 1.1 integers.
        for (text, mode) in [("0660", 0o660), ("640", 0o640), ("\"0600\"", 0o600), ("'0755'", 0o755)] {
            let c = try? ConfigurationLoader.load(yaml: "stats:\n  mode: \(text)\n")
            #expect(c?.stats.mode == UInt32(mode), "\(text)")
        }
    }

    @Test func windowsMustBeMultiplesOfTheBucket() throws {
        let issue = try #require(singleIssue("aggregation:\n  bucket: 7m\n  windows:\n    - 1h\n    - 7h\n"))
        #expect(issue.keyPath == "aggregation.windows[0]")
        #expect(issue.line == 4)
        #expect(issue.message.contains("not a multiple of the bucket (7m)"))
        let ok = try ConfigurationLoader.load(yaml: "aggregation:\n  bucket: 7m\n  windows: [7h, 14m]\n")
        #expect(ok.aggregation.windowBuckets == [60, 2])
        let smaller = singleIssue("aggregation:\n  bucket: 1h\n  windows: [30m]\n")
        #expect(smaller?.keyPath == "aggregation.windows[0]")
        // A bad bucket is reported once, not again for every window.
        let badBucket = issues("aggregation:\n  bucket: fast\n  windows: [1h]\n")
        #expect(badBucket.map(\.keyPath) == ["aggregation.bucket"])
    }

    @Test func everyIssueIsCollectedInFileOrder() {
        let found = issues("""
            capture:
              snaplen: 1
              bogus: 1
            aggregation:
              bucket: 1x
            stats:
              mode: "999"
            """)
        #expect(found.map(\.keyPath) == ["capture.snaplen", "capture.bogus", "aggregation.bucket", "stats.mode"])
        #expect(found.map(\.line) == [2, 3, 5, 7])
    }

    @Test func syntaxErrorHasALine() throws {
        let issue = try #require(singleIssue("capture:\n  interfaces: [eth1\nstats:\n  mode: 1\n"))
        #expect(issue.keyPath.isEmpty)
        #expect(issue.line != nil)
        #expect(issue.message.contains("YAML syntax"))
    }

    @Test func fileErrorsNameTheFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("svc-config-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("bad.yaml").path
        try "capture:\n  snaplen: 0\n".write(toFile: path, atomically: true, encoding: .utf8)
        do {
            _ = try ConfigurationLoader.load(file: path)
            Issue.record("accepted")
        } catch {
            #expect(error.description == "\(path): line 2, column 12: capture.snaplen: must be in 64...262144, got 0")
        }
        do {
            _ = try ConfigurationLoader.load(file: dir.appendingPathComponent("absent.yaml").path)
            Issue.record("accepted a missing file")
        } catch {
            #expect(error.description.contains("absent.yaml: cannot read"))
        }
    }
}

@Suite struct EffectiveYAMLTests {
    @Test func defaultsRoundTrip() throws {
        let text = SensorConfiguration().effectiveYAML()
        let loaded = try ConfigurationLoader.load(yaml: text)
        #expect(loaded == SensorConfiguration().withEffectiveRules())
        #expect(loaded.effectiveYAML() == text)
        #expect(loaded.alertConfigs() == SensorConfiguration().alertConfigs())
    }

    @Test func fullConfigurationRoundTrips() throws {
        let config = try ConfigurationLoader.load(yaml: ConfigurationParsingTests.full)
        let text = config.effectiveYAML()
        let again = try ConfigurationLoader.load(yaml: text)
        #expect(again == config.withEffectiveRules())
        #expect(again.effectiveYAML() == text)
    }

    @Test func oddStringsRoundTrip() throws {
        var config = SensorConfiguration()
        config.capture.filter = "tcp and \"quoted\" \\ back\tslash: # not a comment"
        config.capture.interfaces = ["eth0", "wlan0:1", "any"]
        config.alerts.jsonFile = "/var/lib/darknetd/ünïcode alerts.jsonl"
        config.stats.mode = 0o600
        config.aggregation.utcOffsetSeconds = -(5 * 3600 + 30 * 60)
        config.aggregation.bucketSeconds = 90
        config.aggregation.windowSeconds = [90, 5400, 86_400 * 3]
        config.aggregation.backscatter.minPeakRate = 0.1
        config.darknet.prefixes = [try CIDRPrefix(parsing: "2001:db8:1::/48")]
        config.darknet.size = 1
        config.alerts.rules[.scanCampaign]?.factor = 1.5
        let text = config.effectiveYAML()
        #expect(try ConfigurationLoader.load(yaml: text) == config.withEffectiveRules())
        #expect(text.contains("    scan-campaign:\n      enabled: true\n      factor: 1.5  # ignored: this rule does not read it\n"))
        #expect(text.contains("utc_offset: \"-05:30\""))
        #expect(text.contains("windows: [\"90s\", \"90m\", \"3d\"]"))
        #expect(text.contains("mode: \"0600\""))
    }

    @Test func everyKeyIsPrinted() throws {
        let text = SensorConfiguration().effectiveYAML()
        for key in [
            "interfaces:", "filter:", "snaplen:", "promiscuous:", "immediate:", "buffer_mib:", "timeout_ms:",
            "prefixes:", "size:", "bucket:", "utc_offset:", "windows:", "top_source_capacity:",
            "source_detail_capacity:", "pair_slots:", "source_prefixes:", "hash_seed:", "min_destinations:",
            "min_internet_rate:", "min_packets:", "min_duration:", "min_peak_rate:", "database:", "path:",
            "format:", "poll_ms:", "max_line_bytes:", "enabled:", "socket:", "facility:", "json_file:",
            "cooldown:", "rate_per_minute:", "min_sources:", "factor:", "deviations:", "warmup_buckets:",
            "lag_buckets:", "mode:", "group:", "max_clients:", "idle_timeout:", "max_request_bytes:",
            "directory:", "snapshot_interval:", "user:", "watchdog:",
        ] {
            #expect(text.contains(key), "\(key)")
        }
        for id in AlertRuleID.configurable { #expect(text.contains("    \(id.rawValue):\n"), "\(id)") }
        #expect(text.contains("size: null  # computed: 65536 addresses"))
    }
}

@Suite struct ExampleConfigurationTests {
    static var examplePath: String { repositoryRoot.appendingPathComponent("config/darknetd.yaml").path }

    @Test func exampleIsTheDefaultsExceptWhatItSets() throws {
        let example = try ConfigurationLoader.load(file: Self.examplePath)
        var expected = SensorConfiguration()
        expected.capture.interfaces = ["eth1"]
        expected.darknet.prefixes = try ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/48"].map { try CIDRPrefix(parsing: $0) }
        expected.alerts.rules[.portSurge]?.factor = 3
        expected.alerts.rules[.portSurge]?.minPackets = 50
        expected.alerts.rules[.feedOnlySurge]?.enabled = false
        expected.geoip.database = "/usr/local/share/GeoIP/dbip-city-lite.mmdb"  // scripts/install-deps.sh installs it
        #expect(example == expected)
        #expect(example.darknet.effectiveSize == 512)
        try example.validateForRun()
    }

    /// Every key the loader knows appears in the example, commented.
    @Test func exampleListsEveryKeyWithAComment() throws {
        let example = try String(contentsOfFile: Self.examplePath, encoding: .utf8)
        let lines = example.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let effective = SensorConfiguration().effectiveYAML()
        var inRules = false
        var checked = 0
        for line in effective.split(separator: "\n") where !line.hasPrefix("#") {
            let indent = line.prefix { $0 == " " }.count
            let key = String(line.dropFirst(indent).split(separator: ":")[0])
            // The rules are listed in a comment (only two are set, as examples).
            if inRules && indent > 2 { continue }
            inRules = key == "rules"
            let index = lines.firstIndex { $0.dropFirst(indent).hasPrefix("\(key):") && $0.prefix(indent).allSatisfy { $0 == " " } }
            #expect(index != nil, "\(key) missing from the example")
            checked += 1
            // Every option (not a section header) has its comment on the line above.
            if let index, !line.hasSuffix(":") {
                #expect(lines[index - 1].trimmingCharacters(in: .whitespaces).hasPrefix("#"), "\(key) has no comment")
            }
        }
        #expect(checked > 50)
    }
}

@Suite struct CIDRPrefixTests {
    @Test func containsAndCounts() throws {
        let v4 = try CIDRPrefix(parsing: "192.0.2.0/24")
        #expect(v4.contains(IPAddress("192.0.2.200")!))
        #expect(!v4.contains(IPAddress("192.0.3.1")!))
        #expect(!v4.contains(IPAddress("2001:db8::1")!))
        #expect(v4.addressCount == 256)
        let v6 = try CIDRPrefix(parsing: "2001:db8::/32")
        #expect(v6.contains(IPAddress("2001:db8:ffff::1")!))
        #expect(!v6.contains(IPAddress("2001:db9::1")!))
        #expect(v6.addressCount == UInt64.max)
        #expect(try CIDRPrefix(parsing: "2001:db8::/120").addressCount == 256)
        #expect(try CIDRPrefix(parsing: "0.0.0.0/0").addressCount == 1 << 32)
        #expect(try CIDRPrefix(parsing: "10.0.0.0/8").overlaps(try CIDRPrefix(parsing: "10.255.0.0/16")))
        #expect(try !CIDRPrefix(parsing: "10.0.0.0/8").overlaps(try CIDRPrefix(parsing: "11.0.0.0/8")))
    }
}

@Suite struct SyslogDeliveryConfigurationTests {
    @Test func defaultsAndTheirEffectiveYAML() throws {
        let c = try ConfigurationLoader.load(yaml: "")
        #expect(c.alerts.syslog.format == .auto && c.alerts.syslog.target == nil)
        #expect(c.alerts.syslog.journalSocket == "/run/systemd/journal/socket")
        #expect(c.alerts.queueLimit == 1000 && c.alerts.retryMaxBackoffSeconds == 10)
        let yaml = c.effectiveYAML()
        for line in ["    format: \"auto\"", "    target: null", "    journal_socket: \"/run/systemd/journal/socket\"",
                     "  queue_limit: 1000", "  retry_max_backoff: \"10s\""] {
            #expect(yaml.contains(line + "\n"), "\(line)")
        }
    }

    @Test func autoIsJournalUnderSystemdLocalElseAndRFC5424ToACollector() throws {
        let c = try ConfigurationLoader.load(yaml: "alerts:\n  syslog:\n    socket: /tmp/x.sock\n    journal_socket: /tmp/j.sock\n")
        let plain = c.alerts.syslog.resolved(environment: [:])
        #expect(plain.format == .local && plain.target == .unix("/tmp/x.sock"))
        for variable in ["JOURNAL_STREAM", "INVOCATION_ID"] {
            let systemd = c.alerts.syslog.resolved(environment: [variable: "1"])
            #expect(systemd.format == .journal && systemd.target == .unix("/tmp/j.sock"))
        }
        let remote = try ConfigurationLoader.load(yaml: "alerts:\n  syslog:\n    target: tcp://[::1]:6514\n")
        let r = remote.alerts.syslog.resolved(environment: ["INVOCATION_ID": "1"])
        #expect(r.format == .rfc5424 && r.target == .tcp(host: "::1", port: 6514))
        let forced = try ConfigurationLoader.load(yaml: "alerts:\n  syslog:\n    format: rfc5424\n  queue_limit: 5\n  retry_max_backoff: 2m\n")
        #expect(forced.alerts.syslog.resolved(environment: [:]).format == .rfc5424)
        #expect(forced.alerts.queueLimit == 5 && forced.alerts.retryMaxBackoffSeconds == 120)
    }

    @Test func sinkCountersAreMetrics() {
        var c = SinkCounters()
        c.sent = 40
        c.failedAttempts = 7
        c.queued = 20
        c.dropped = 2
        c.down = true
        let text = DaemonStatsProvider.metrics(PublishedState(), sinks: [("syslog", c), ("json_file", SinkCounters())])
        for line in ["darknet_alert_sink_sent_total{sink=\"syslog\"} 40", "darknet_alert_sink_failed_attempts_total{sink=\"syslog\"} 7",
                     "darknet_alert_sink_queued{sink=\"syslog\"} 20", "darknet_alert_sink_dropped_total{sink=\"syslog\"} 2",
                     "darknet_alert_sink_up{sink=\"syslog\"} 0", "darknet_alert_sink_sent_total{sink=\"json_file\"} 0",
                     "darknet_alert_sink_up{sink=\"json_file\"} 1", "# TYPE darknet_alert_sink_queued gauge"] {
            #expect(text.contains("\n" + line + "\n"), "\(line)")
        }
        #expect(!DaemonStatsProvider.metrics(PublishedState()).contains("# TYPE darknet_alert_sink_"))
    }
}
