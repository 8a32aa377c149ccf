import Alerts
import Foundation
import Configuration
import Testing

/// `check-config` prints what the alert engine will use, not null (issue 12, finding 9).
@Suite struct EffectiveThresholdsTests {
    @Test func ruleThresholdsArePrintedWithTheirEffectiveValues() throws {
        var config = SensorConfiguration()
        config.alerts.rules[.dnsOpenResolverSurge]?.minPackets = 20
        let text = config.effectiveYAML()
        let rules = try #require(text.range(of: "  rules:\n")).upperBound
        let stats = try #require(text.range(of: "\nstats:\n")).lowerBound
        #expect(!text[rules..<stats].contains("null"), "\(text)")
        #expect(text.contains("""
                dns-open-resolver-surge:
                  enabled: true
                  min_packets: 20
                  min_sources: 10  # engine default
                  factor: 3  # engine default
                  deviations: 4  # engine default
                  warmup_buckets: 10  # engine default

            """), "\(text)")
        #expect(text.contains("    port-surge:\n      enabled: true\n      min_packets: 200  # engine default\n"), "\(text)")
        #expect(text.contains("    scan-campaign:\n      enabled: true\n      min_internet_rate: 1000000  # engine default\n"), "\(text)")
        #expect(text.contains("    backscatter-dos:\n      enabled: true\n      min_packets: 0  # engine default\n"), "\(text)")
        #expect(text.contains("    correlated-surge:\n      enabled: true\n      lag_buckets: 2  # engine default\n"), "\(text)")
        #expect(text.contains("    feed-only-surge:\n      enabled: true\n"), "\(text)")
    }

    /// The printed values are the engine's: loading them changes nothing the engine runs.
    @Test func printedThresholdsRunTheSameEngine() throws {
        var config = SensorConfiguration()
        config.alerts.rules[.portSurge]?.factor = 7
        config.alerts.rules[.scanCampaign]?.minInternetRate = 50
        let loaded = try ConfigurationLoader.load(yaml: config.effectiveYAML())
        #expect(loaded.alertConfigs() == config.alertConfigs())
        #expect(loaded.alerts.rules[.portSurge]?.factor == 7)
        #expect(loaded.alerts.rules[.portSurge]?.minSources == 20)
    }

    /// check-config itself, as an operator runs it.
    @Test func checkConfigPrintsNoNullThreshold() throws {
        let dir = ScratchDirectory()
        let path = dir.path + "/d.yaml"
        try "alerts:\n  rules:\n    port-surge:\n      factor: 4\n".write(toFile: path, atomically: true, encoding: .utf8)
        let (status, output) = try runProgram(builtDarknetd, ["check-config", path])
        #expect(status == 0, "\(output)")
        #expect(output.contains("    port-surge:\n      enabled: true\n      min_packets: 200  # engine default\n"
                                + "      min_sources: 20  # engine default\n      factor: 4\n"), "\(output)")
        let rules = try #require(output.range(of: "  rules:\n")).upperBound
        let stats = try #require(output.range(of: "\nstats:\n")).lowerBound
        #expect(!output[rules..<stats].contains("null"), "\(output)")
    }
}
