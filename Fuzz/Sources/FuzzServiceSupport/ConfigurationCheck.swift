import FuzzSupport
import Configuration

/// The `config` target's invariant: loading any text either gives a
/// configuration whose `effectiveYAML()` loads back to the same
/// configuration with every rule threshold the engine uses spelled out
/// (`withEffectiveRules()`: what `darknetd check-config` promises, running the
/// same alert engine), or throws a
/// `ConfigurationError` that names at least one issue, each with a message.
public enum ConfigurationCheck {
    public static func check(_ text: String) {
        let config: SensorConfiguration
        do {
            config = try ConfigurationLoader.load(yaml: text, source: "fuzz.yaml")
        } catch {
            invariant(!error.issues.isEmpty, "ConfigurationError without issues")
            invariant(error.issues.allSatisfy { !$0.message.isEmpty }, "an issue without a message: \(error.issues)")
            invariant(!error.description.isEmpty, "ConfigurationError with an empty description")
            return
        }
        let effective = config.effectiveYAML()
        let again: SensorConfiguration
        do {
            again = try ConfigurationLoader.load(yaml: effective)
        } catch {
            invariant(false, "effectiveYAML() of an accepted configuration does not load: \(error)\n--- effective:\n\(effective)")
            return
        }
        invariant(again == config.withEffectiveRules(),
                  "effectiveYAML() loads back to a different configuration\n--- effective:\n\(effective)")
        invariant(again.alertConfigs() == config.alertConfigs(), "effectiveYAML() runs a different alert engine\n--- effective:\n\(effective)")
        invariant(again.effectiveYAML() == effective, "effectiveYAML() is not stable across a round trip")
    }
}
