import Foundation
import Interchange
import StatsWire
import Testing

/// darknetctl's tables for people (issue 12, finding 8): nested values as
/// columns or short cells, numbers rounded, counts beside sources.
@Suite struct TextRenderingTests {
    static func parse(_ json: String) throws -> JSONValue {
        try #require(JSONValue.parse(Data(json.utf8)))
    }

    @Test func statusFlattensKernelAndRingIntoColumnsAndSaysWhatWaitsForARestart() throws {
        let data = try Self.parse("""
            {"interfaces":[{"kernel":{"dropped":0,"if_dropped":0,"received":162300},"link_type":"EN10MB","name":"eth1",
            "packets":162300,"ring":{"captured":162300,"consumed":162300,"in_flight":0,"ring_dropped":0}}],
            "pending_restart":["aggregation.bucket","capture.snaplen"],"uptime_seconds":12.345678,"version":"1.0"}
            """)
        let text = StatsTextRenderer.render(command: "status", data: data)
        #expect(text == """
            pending restart: aggregation.bucket, capture.snaplen
            uptime_seconds  12.3
            version         1.0
            interfaces:
              NAME  KERNEL.DROPPED  KERNEL.IF_DROPPED  KERNEL.RECEIVED  LINK_TYPE  PACKETS  RING.CAPTURED  RING.CONSUMED  RING.IN_FLIGHT  RING.RING_DROPPED
              eth1               0                  0           162300  EN10MB      162300         162300         162300               0                  0
            """)
        #expect(!text.contains("{"))
        let none = try Self.parse(#"{"pending_restart":[],"version":"1.0"}"#)
        #expect(StatsTextRenderer.render(command: "status", data: none) == "version  1.0")
    }

    @Test func topPortsShowsTheClassesThatOccurAsColumns() throws {
        let data = try Self.parse("""
            {"rows":[{"bytes":100,"classes":{"backscatter":0,"misconfiguration":0,"other":1,"reflection-recon":0,"scan":9},
            "destinations":9,"packets":10,"port":23,"proto":"tcp","sources":4},
            {"bytes":50,"classes":{"backscatter":0,"misconfiguration":0,"other":0,"reflection-recon":5,"scan":0},
            "destinations":5,"packets":5,"port":53,"proto":"udp","sources":5}]}
            """)
        #expect(StatsTextRenderer.render(command: "top-ports", data: data) == """
            rows:
              PROTO  PORT  BYTES  CLASSES.OTHER  CLASSES.REFLECTION-RECON  CLASSES.SCAN  DESTINATIONS  PACKETS  SOURCES
              tcp      23    100              1                         0             9             9       10        4
              udp      53     50              0                         5             0             5        5        5
            """)
    }

    @Test func seriesPortsAndCorrelationLagsAreShortCells() throws {
        let series = try Self.parse("""
            {"buckets":[{"packets":3000,"ports":[{"packets":1200,"port":53,"proto":"udp"},{"packets":800,"port":23,"proto":"tcp"},
            {"packets":7,"port":1,"proto":"tcp"},{"packets":6,"port":2,"proto":"tcp"},{"packets":5,"port":3,"proto":"tcp"},
            {"packets":4,"port":4,"proto":"tcp"},{"packets":3,"port":5,"proto":"tcp"}],"start":"2026-12-04T22:00:00Z"}]}
            """)
        #expect(StatsTextRenderer.render(command: "series", data: series) == """
            buckets:
              START                 PACKETS  PORTS
              2026-12-04T22:00:00Z     3000  udp/53 1200, tcp/23 800, tcp/1 7, tcp/2 6, tcp/3 5, +2 more
            """)
        let correlation = try Self.parse("""
            {"rows":[{"best_lag_buckets":1,"best_lag_pearson":0.6189,"buckets":31,"lags":[{"buckets":30,"lag":-1,"pearson":0.4718296285714283},
            {"buckets":31,"lag":0,"pearson":0.5},{"buckets":30,"lag":1,"pearson":0.6189}],"p_value_pearson":4.12e-07,
            "pearson":0.5,"series":"packets","spearman":null}]}
            """)
        #expect(StatsTextRenderer.render(command: "correlation", data: correlation) == """
            rows:
              SERIES   BEST_LAG_BUCKETS  BEST_LAG_PEARSON  BUCKETS  LAGS                                               P_VALUE_PEARSON  PEARSON
              packets                 1             0.619       31  -1: 0.472 (n 30), 0: 0.5 (n 31), +1: 0.619 (n 30)          4.1e-07      0.5
            """)
    }

    @Test func alertRowsShowTopSourcesWithTheirCounts() throws {
        let data = try Self.parse("""
            {"count":1,"rows":[{"address":null,"baseline":10.5,"severity_code":4,"time_ns":1796421600000000000,"deviation":0.4718296285714283,"message":"UDP/53 surge","observed":1200,"port":53,
            "proto":"udp","rule":"dns-open-resolver-surge","severity":"warning","sources_observed":800,
            "time":"2026-12-04T22:00:00Z","top_sources":[{"address":"203.0.113.7","packets":412},{"address":"203.0.113.9","packets":97}]}]}
            """)
        let text = StatsTextRenderer.render(command: "alerts", data: data)
        #expect(text == """
            count  1
            rows:
              TIME                  SEVERITY  RULE                     PROTO  PORT  BASELINE  DEVIATION  OBSERVED  SOURCES_OBSERVED  TOP_SOURCES                          MESSAGE
              2026-12-04T22:00:00Z  warning   dns-open-resolver-surge  udp      53      10.5      0.472      1200               800  203.0.113.7 (412), 203.0.113.9 (97)  UDP/53 surge
            """)
    }

    @Test(arguments: [
        (0.4718296285714283, "0.472"), (12.345, "12.3"), (1234.56, "1235"), (3.0, "3"), (2.5, "2.5"), (0.1, "0.1"),
        (4.12e-07, "4.1e-07"), (-0.25, "-0.25"), (999.7, "1000"), (150.25, "150"),
    ])
    func numbersAreRoundedToWhatMatters(_ value: Double, _ text: String) {
        #expect(StatsTextRenderer.rounded(value) == text)
    }

    /// `help` as the server answers it: `countries` takes n, `feed` does not and describes the feed's status.
    @Test func helpListsFeedAndCountriesAsTheDaemonServesThem() throws {
        #expect(StatsCommand.countries.arguments == ["n"])
        #expect(StatsCommand.feed.arguments == [])
        #expect(StatsCommand.feed.summary.contains("status"))
        #expect(!StatsCommand.feed.summary.contains("args: n"))
        #expect(StatsCommand.countries.summary.contains("args: n"))
        for command in StatsCommand.allCases {
            #expect(command.summary.contains("args: n") == !command.arguments.isEmpty, "\(command)")
        }
    }
}
