import Aggregation
import Configuration

/// Configuration seeds: the effective YAML of the defaults and of a
/// configuration with every section changed (what `check-config` prints),
/// and small hand-written files in the styles docs/configuration.md shows.
enum ConfigSeeds {
    static func all() -> [Seed] {
        var seeds: [Seed] = []
        func add(_ name: String, _ text: String) {
            seeds.append((name, Array(text.utf8)))
        }
        add("defaults-effective", SensorConfiguration().effectiveYAML())

        let custom = """
        capture:
          interfaces: [eth1, "ens4"]
          filter: "not port 22"
          snaplen: 256
          promiscuous: no
          buffer_mib: 64
        darknet:
          prefixes:
            - 192.0.2.0/24
            - 2001:db8:ffff::/48
          size: 256
        aggregation:
          bucket: 5m
          utc_offset: "+09:00"
          windows: [1h, 1d]
          top_source_capacity: 1_024
          hash_seed: 000102030405060708090a0b0c0d0e0f
          scan:
            min_destinations: 10
            min_internet_rate: 0.5
          backscatter:
            min_peak_rate: 1.5e-1
        geoip:
          database: /var/lib/GeoIP/GeoLite2-Country.mmdb
        feed:
          path: /var/lib/darknetd/norse.log
          format: norse
        alerts:
          syslog: {enabled: true, facility: local3}
          json_file: /var/log/darknetd/alerts.jsonl
          cooldown: 15m
          rules:
            dns-open-resolver-surge: {factor: 4, deviations: 3, min_packets: 1000, warmup_buckets: 30}
        stats:
          socket: /run/darknetd/darknetd.sock
          mode: "0640"
          group: adm
        state:
          directory: /var/lib/darknetd
          snapshot_interval: 10m
        service:
          user: darknetd
          watchdog: off

        """
        let config: SensorConfiguration
        do {
            config = try ConfigurationLoader.load(yaml: custom)
        } catch {
            fatalError("FuzzSeeds: the custom configuration seed does not load:\n\(error)")
        }
        add("custom", custom)
        add("custom-effective", config.effectiveYAML())
        add("flow", "{capture: {interfaces: [eth0]}, darknet: {prefixes: [10.0.0.0/8]}, stats: {mode: '0600'}}\n")
        add("anchors", "capture: &c\n  snaplen: 128\ndarknet:\n  prefixes: [192.0.2.0/25, 192.0.2.128/25]\n  size: ~\n")
        add("errors", "capture:\n  snaplen: 9\n  interfacs: [eth0]\naggregation:\n  bucket: 0s\n  windows: [7m]\n")
        add("document-markers", "%YAML 1.1\n---\ncapture: {}\n...\n")
        return seeds
    }
}
