import Configuration
import Testing

/// The `export.database` keys: parsed, validated with their line, printed back,
/// and named as needing a restart by a reload (docs/configuration.md).
@Suite struct ExportConfigurationTests {
    static let full = """
        export:
          database:
            url: postgres://sensor_tokyo@db.example.net/fleet?sslmode=verify-full
            password_file: /etc/darknetd/db-password
            sensor: tokyo
            spool_max_mib: 0.05
            retry_max_backoff: 2m
        """

    @Test func theSectionParsesAndPrintsBack() throws {
        let config = try SensorConfiguration(yaml: Self.full)
        let d = config.export.database
        #expect(d.url == "postgres://sensor_tokyo@db.example.net/fleet?sslmode=verify-full")
        #expect(d.passwordFile == "/etc/darknetd/db-password" && d.sensor == "tokyo")
        #expect(d.spoolMaxMiB == 0.05 && d.spoolMaxBytes == 52_428 && d.retryMaxBackoffSeconds == 120)
        let printed = config.effectiveYAML()
        #expect(printed.contains("spool_max_mib: 0.05  # 52428 bytes"), "\(printed)")
        let reloaded = try SensorConfiguration(yaml: printed)
        #expect(reloaded.export == config.export && reloaded.effectiveYAML() == printed)
        // Absent: no export, and the defaults.
        let none = try SensorConfiguration(yaml: "")
        #expect(none.export.database.url == nil && none.export.database.spoolMaxBytes == 256 << 20)
        #expect(try SensorConfiguration(yaml: none.effectiveYAML()).export == none.export)
    }

    func issues(_ yaml: String) -> [ConfigurationIssue] {
        do {
            _ = try SensorConfiguration(yaml: yaml)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func aPasswordInTheURLAndOtherMistakesAreRefusedWithTheirLine() {
        let secret = issues("export:\n  database:\n    url: postgres://tokyo:hunter2@db/fleet\n    sensor: tokyo\n")
        #expect(secret.count == 1)
        #expect(secret.first?.keyPath == "export.database.url" && secret.first?.line == 3)
        #expect(secret.first?.message.contains("password_file") ?? false, "\(secret)")
        #expect(!(secret.first?.message.contains("hunter2") ?? true), "the password is not echoed: \(secret)")
        let query = issues("export:\n  database:\n    url: postgres://tokyo@db/fleet?password=x\n    sensor: tokyo\n")
        #expect(query.first?.keyPath == "export.database.url")
        let scheme = issues("export:\n  database:\n    url: mysql://tokyo@db/fleet\n    sensor: tokyo\n")
        #expect(scheme.first?.message.contains("postgres://") ?? false, "\(scheme)")
        let noSensor = issues("export:\n  database:\n    url: postgres://tokyo@db/fleet\n")
        #expect(noSensor.map(\.keyPath) == ["export.database.sensor"], "\(noSensor)")
        let tiny = issues("export:\n  database:\n    spool_max_mib: 0.0001\n")
        #expect(tiny.first?.message.contains("at least 1 KiB") ?? false, "\(tiny)")
        let zero = issues("export:\n  database:\n    spool_max_mib: 0\n")
        #expect(zero.first?.keyPath == "export.database.spool_max_mib", "\(zero)")
        let typo = issues("export:\n  database:\n    spool_max_mb: 5\n")
        #expect(typo.first?.message.contains("did you mean spool_max_mib") ?? false, "\(typo)")
    }

    @Test func aRelativePasswordFileIsRefusedForRun() throws {
        var config = try SensorConfiguration(yaml: Self.full + "\ncapture:\n  interfaces: [\"eth1\"]\n")
        config.export.database.passwordFile = "db-password"
        #expect(throws: ConfigurationError.self) { try config.validateForRun() }
    }

    @Test func aReloadNamesTheExportKeysAsPendingRestart() throws {
        let running = try SensorConfiguration(yaml: "")
        let fresh = try SensorConfiguration(yaml: Self.full)
        let plan = ReloadPlan(running: running, fresh: fresh)
        #expect(plan.applied.isEmpty)
        #expect(plan.pendingRestart == ["export.database.password_file", "export.database.retry_max_backoff", "export.database.sensor",
                                        "export.database.spool_max_mib", "export.database.url"])
        #expect(plan.running.export == running.export)
    }
}
