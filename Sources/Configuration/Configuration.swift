import Aggregation
import Alerts
import Capture
import Decoding
import Sketches

/// The daemon's configuration (`/etc/darknetd/darknetd.yaml`): one section per
/// concern, every value typed and validated, every default in one place.
/// `ConfigurationLoader` builds it from YAML (snake_case keys) and prints it
/// back (`effectiveYAML()`); docs/configuration.md documents every key.
///
/// Durations are held in seconds, offsets in seconds east of UTC, modes as
/// numbers: what the YAML spells `"5m"`, `"+09:00"`, `"0660"`.
public struct SensorConfiguration: Sendable, Equatable {
    public var capture = Capture()
    public var darknet = Darknet()
    public var aggregation = Aggregation()
    public var geoip = GeoIP()
    public var feed = Feed()
    public var alerts = Alerts()
    public var stats = Stats()
    public var state = State()
    public var service = Service()
    public var export = Export()

    public init() {}

    /// Live capture: which interfaces, and libpcap's handle options.
    public struct Capture: Sendable, Equatable {
        /// Interfaces to capture on; `run` needs at least one.
        public var interfaces: [String] = []
        /// BPF filter expression; nil captures everything.
        public var filter: String?
        /// Bytes kept of each packet.
        public var snaplen: Int = 512
        public var promiscuous: Bool = true
        /// Deliver each packet at once instead of in batches.
        public var immediate: Bool = false
        /// Kernel capture buffer per interface, in MiB.
        public var bufferMiB: Int = 16
        /// libpcap read timeout, in milliseconds.
        public var timeoutMilliseconds: Int = 100
        public init() {}
    }

    /// The address space the sensor watches.
    public struct Darknet: Sendable, Equatable {
        /// The darknet's prefixes (IPv4 and IPv6).
        public var prefixes: [CIDRPrefix] = []
        /// Addresses in the darknet, as configured; nil: computed (`effectiveSize`).
        public var size: UInt64?
        public init() {}

        /// The configured size, else the addresses of the IPv4 prefixes, else 65 536.
        /// (IPv6 prefixes are too sparse to scale Internet-wide rates from.)
        public var effectiveSize: UInt64 {
            if let size { return size }
            let v4 = prefixes.filter(\.isIPv4)
            guard !v4.isEmpty else { return 65_536 }
            return v4.reduce(UInt64(0)) { $0 + $1.addressCount }
        }

        /// What the capture thread checks each record against (empty: everything is darknet traffic).
        public var filter: DarknetPrefixes {
            DarknetPrefixes(prefixes.map { DarknetPrefixes.Prefix(network: $0.network, length: $0.length, isIPv4: $0.isIPv4) })
        }
    }

    /// Buckets, windows, table capacities and the two detectors.
    public struct Aggregation: Sendable, Equatable {
        public var bucketSeconds: Int64 = 60
        public var utcOffsetSeconds: Int64 = 0
        /// Rolling window lengths, in seconds (each a multiple of the bucket).
        public var windowSeconds: [Int64] = [3600, 86_400]
        public var topSourceCapacity: Int = 8192
        public var sourceDetailCapacity: Int = 1 << 16
        public var pairSlots: Int = 1 << 22
        public var sourcePrefixes: Bool = false
        /// Aggregation shards (threads): auto is the cores left after the
        /// capture threads (one per interface), at least 1.
        public var threads: AggregationThreads = .auto
        /// The hashing key; nil: see `SensorConfiguration.aggregationConfig(seedIfUnset:)`.
        public var hashSeed: SeededHash?
        public var scan = ScanDetector.Config()
        public var backscatter = BackscatterDetector.Config()
        public init() {}

        /// Windows as bucket counts (validation guarantees exact division).
        public var windowBuckets: [Int] { windowSeconds.map { Int($0 / bucketSeconds) } }
    }

    public struct GeoIP: Sendable, Equatable {
        /// MaxMind-format country database (.mmdb); nil: no per-country figures.
        public var database: String?
        public init() {}
    }

    /// A file of events from an outside feed, followed like `tail -F`.
    public struct Feed: Sendable, Equatable {
        public enum Format: String, Sendable, Equatable, CaseIterable {
            case auto, norse, csv, sensor, cowrie
        }
        public var path: String?
        public var format: Format = .auto
        /// How often the file is checked for new lines, in milliseconds.
        public var pollMilliseconds: Int = 200
        /// Longest line accepted; longer lines are skipped and counted.
        public var maxLineBytes: Int = 65_536
        public init() {}
    }

    public struct Alerts: Sendable, Equatable {
        public var syslog = Syslog()
        /// Alerts also appended to this file as JSON lines; nil: none.
        public var jsonFile: String?
        /// An alert of one rule and key is not repeated within this many seconds.
        public var cooldownSeconds: Int64 = 900
        /// Alerts sent per minute at most for each severity class (critical, warning, notice).
        public var ratePerMinute: Int = 20
        /// Each sink's retry queue: alerts waiting at most (the oldest dropped beyond it).
        public var queueLimit: Int = 1000
        /// Longest wait between two attempts at a sink that is down (the wait doubles from 0.25 s up to this).
        public var retryMaxBackoffSeconds: Int64 = 10
        /// Every rule, always present (absent from the YAML: the engine's defaults).
        public var rules: [AlertRuleID: AlertRuleSettings] =
            Dictionary(uniqueKeysWithValues: AlertRuleID.configurable.map { ($0, AlertRuleSettings()) })
        public init() {}

        public struct Syslog: Sendable, Equatable {
            public var enabled: Bool = true
            /// The local syslog socket (datagram), for the `local` and `rfc5424` formats.
            public var socket: String = "/dev/log"
            public var facility: SyslogFacility = .daemon
            /// How alerts are written (see `Format`).
            public var format: Format = .auto
            /// A remote collector, `udp://HOST:PORT` or `tcp://HOST:PORT`; nil: the local socket.
            public var target: String?
            /// journald's native socket, for the `journal` format.
            public var journalSocket: String = "/run/systemd/journal/socket"
            public init() {}

            public enum Format: String, Sendable, Equatable, CaseIterable {
                /// `rfc5424` with a remote target; else `journal` under systemd
                /// (`JOURNAL_STREAM` or `INVOCATION_ID` set); else `local`.
                case auto
                /// The line logger(1) sends to /dev/log, attributes as key=value.
                case local
                /// journald's native protocol, one field per attribute.
                case journal
                /// RFC 5424 with structured data.
                case rfc5424
            }

            /// What `format: auto` and the target come to in an environment
            /// (the daemon's: `ProcessInfo.processInfo.environment`).
            public func resolved(environment: [String: String]) -> SyslogConfig {
                let remote = target.flatMap(SyslogTarget.init(parsing:))
                let underSystemd = environment["JOURNAL_STREAM"] != nil || environment["INVOCATION_ID"] != nil
                let chosen: SyslogMessageFormat
                switch format {
                case .auto: chosen = remote != nil ? .rfc5424 : (underSystemd ? .journal : .local)
                case .local: chosen = .local
                case .journal: chosen = .journal
                case .rfc5424: chosen = .rfc5424
                }
                let destination: SyslogTarget = remote ?? (chosen == .journal ? .unix(journalSocket) : .unix(socket))
                return SyslogConfig(target: destination, format: chosen, facility: facility)
            }
        }
    }

    /// The local statistics socket that `darknetctl` queries.
    public struct Stats: Sendable, Equatable {
        public var socket: String = "/run/darknetd/darknetd.sock"
        /// Permission bits of the socket file.
        public var mode: UInt32 = 0o660
        /// Group owning the socket file; nil: the daemon's group.
        public var group: String?
        public var maxClients: Int = 64
        public var idleTimeoutSeconds: Int64 = 30
        public var maxRequestBytes: Int = 4096
        public init() {}
    }

    /// Where snapshots go, and how often.
    public struct State: Sendable, Equatable {
        public var directory: String = "/var/lib/darknetd"
        public var snapshotIntervalSeconds: Int64 = 300
        public init() {}
    }

    /// The live export of closed buckets and their alerts to the fleet database
    /// (docs/fleet.md, "Live export").
    public struct Export: Sendable, Equatable {
        public var database = Database()
        public init() {}

        public struct Database: Sendable, Equatable {
            /// `postgres://USER@HOST[:PORT]/DATABASE[?sslmode=…]`, never with a password; nil: no export.
            public var url: String?
            /// The password's file; nil: the systemd credential `db-password`, else none.
            public var passwordFile: String?
            /// The sensor's name in the fleet database (`sensors.name`); required with `url`.
            public var sensor: String?
            /// The spool's bound in MiB (a fraction allowed: 0.05 is 52,428 bytes).
            public var spoolMaxMiB: Double = 256
            /// Longest wait between two attempts while the database is away (the wait starts at 0.25 s and doubles).
            public var retryMaxBackoffSeconds: Int64 = 30
            public init() {}

            /// The spool's bound in bytes.
            public var spoolMaxBytes: Int { Int((spoolMaxMiB * 1_048_576).rounded(.down)) }
        }
    }

    public struct Service: Sendable, Equatable {
        /// User to switch to once the capture handles are open; nil: stay.
        public var user: String?
        /// Send systemd watchdog keep-alives (when `WATCHDOG_USEC` is set).
        public var watchdog: Bool = true
        public init() {}
    }
}

// MARK: - alert rules

/// The alert rules (the Alerts module's identifiers).
public typealias AlertRuleID = Alerts.AlertRuleID

extension Alerts.AlertRuleID {
    /// The rules a configuration tunes: every rule but the rate-limit summary.
    public static var configurable: [AlertRuleID] { allCases.filter { $0 != .alertRateLimited } }
}

/// One rule's settings. A nil threshold keeps the alert engine's default for
/// that rule; which thresholds a rule reads is the engine's business (a rule
/// ignores those it has no use for).
public struct AlertRuleSettings: Sendable, Equatable {
    public var enabled: Bool = true
    /// Packets in the bucket at least.
    public var minPackets: UInt64?
    /// Distinct sources in the bucket at least.
    public var minSources: UInt64?
    /// The bucket must exceed the baseline by this factor (> 1).
    public var factor: Double?
    /// ... and by this many standard deviations (> 0).
    public var deviations: Double?
    /// Buckets of baseline before the rule may fire.
    public var warmupBuckets: Int?
    /// Internet-wide packets per second at least (scan campaigns).
    public var minInternetRate: Double?
    /// Buckets the feed may lag the sensor (correlation rules).
    public var lagBuckets: Int?
    public init() {}
}

// MARK: - prefixes

/// An IPv4 or IPv6 prefix in CIDR notation, with no host bits set.
public struct CIDRPrefix: Sendable, Hashable, CustomStringConvertible {
    /// The network address (IPv4 addresses IPv4-mapped, as `IPAddress` stores them).
    public let network: IPAddress
    public let length: Int
    public let isIPv4: Bool

    public enum ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        case syntax, badAddress, badLength(max: Int), hostBitsSet(suggestion: String)
        public var description: String {
            switch self {
            case .syntax: "expected ADDRESS/LENGTH, e.g. 192.0.2.0/24 or 2001:db8::/32"
            case .badAddress: "not an IPv4 or IPv6 address"
            case .badLength(let max): "prefix length must be 0...\(max)"
            case .hostBitsSet(let suggestion): "host bits are set (did you mean \(suggestion)?)"
            }
        }
    }

    public init(parsing text: String) throws(ParseError) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }),
              parts[1].utf8.count <= 3, let length = Int(parts[1]) else { throw .syntax }
        let v4 = !parts[0].contains(":")
        guard let address = IPAddress(parts[0]) else { throw .badAddress }
        let maxLength = v4 ? 32 : 128
        guard length <= maxLength else { throw .badLength(max: maxLength) }
        let masked = CIDRPrefix.mask(address, length: length, isIPv4: v4)
        guard masked == address else {
            let fixed = CIDRPrefix(network: masked, length: length, isIPv4: v4)
            throw .hostBitsSet(suggestion: fixed.description)
        }
        self.init(network: address, length: length, isIPv4: v4)
    }

    init(network: IPAddress, length: Int, isIPv4: Bool) {
        self.network = network
        self.length = length
        self.isIPv4 = isIPv4
    }

    static func mask(_ a: IPAddress, length: Int, isIPv4: Bool) -> IPAddress {
        let bits = isIPv4 ? length + 96 : length  // IPv4-mapped: the top 96 bits are fixed
        let highMask: UInt64 = bits >= 64 ? ~0 : (bits == 0 ? 0 : ~0 << (64 - bits))
        let lowMask: UInt64 = bits <= 64 ? 0 : (bits >= 128 ? ~0 : ~0 << (128 - bits))
        return IPAddress(high: a.high & highMask, low: a.low & lowMask)
    }

    /// Whether `address` lies in the prefix.
    public func contains(_ address: IPAddress) -> Bool {
        // An IPv4 prefix is masked in the IPv4-mapped space, so it holds IPv4 addresses only.
        CIDRPrefix.mask(address, length: length, isIPv4: isIPv4) == network
    }

    /// Addresses covered (saturating at `UInt64.max` for IPv6 prefixes shorter than /65).
    public var addressCount: UInt64 {
        let hostBits = (isIPv4 ? 32 : 128) - length
        return hostBits >= 64 ? UInt64.max : 1 << UInt64(hostBits)
    }

    /// Whether the two prefixes share any address.
    public func overlaps(_ other: CIDRPrefix) -> Bool {
        guard isIPv4 == other.isIPv4 else { return false }
        let shorter = min(length, other.length)
        return CIDRPrefix.mask(network, length: shorter, isIPv4: isIPv4)
            == CIDRPrefix.mask(other.network, length: shorter, isIPv4: isIPv4)
    }

    public var description: String {
        if isIPv4 {
            let v = network.ipv4
            return "\(v >> 24).\(v >> 16 & 0xFF).\(v >> 8 & 0xFF).\(v & 0xFF)/\(length)"
        }
        return "\(network)/\(length)"
    }
}

// MARK: - mappings to the modules' own settings

extension SensorConfiguration {
    /// The aggregation settings. `hash_seed` unset: `seedIfUnset`, which by
    /// default is `AggregationConfig`'s fixed seed (reproducible replays). A
    /// live daemon should pass a random seed it keeps in its state directory,
    /// so restored snapshots stay valid and outsiders cannot aim at the tables.
    public func aggregationConfig(seedIfUnset: SeededHash = AggregationConfig().hashSeed) -> AggregationConfig {
        var config = AggregationConfig()
        config.bucketSeconds = aggregation.bucketSeconds
        config.utcOffsetSeconds = aggregation.utcOffsetSeconds
        config.windowBuckets = aggregation.windowBuckets
        config.darknetSize = darknet.effectiveSize
        config.hashSeed = aggregation.hashSeed ?? seedIfUnset
        config.topSourceCapacity = aggregation.topSourceCapacity
        config.sourceDetailCapacity = aggregation.sourceDetailCapacity
        config.pairSlots = aggregation.pairSlots
        config.aggregateSourcePrefixes = aggregation.sourcePrefixes
        config.scan = aggregation.scan
        config.backscatter = aggregation.backscatter
        return config
    }

    /// libpcap options for one of `capture.interfaces`.
    public func liveCaptureOptions(interface: String) -> LiveCaptureOptions {
        var options = LiveCaptureOptions(interface: interface)
        options.snaplen = Int32(capture.snaplen)
        options.promiscuous = capture.promiscuous
        options.immediate = capture.immediate
        options.bufferSize = Int32(capture.bufferMiB) << 20
        options.timeoutMilliseconds = Int32(capture.timeoutMilliseconds)
        // No filter configured: the kernel drops what is not darknet traffic.
        options.filter = capture.filter ?? darknet.filter.bpfFilter
        return options
    }
}
