import Foundation
import Testing
@testable import Configuration

/// Inputs the libFuzzer harnesses (Fuzz/, docs/fuzzing.md) and their authors found,
/// with what the fixed code must give.
@Suite struct ConfigurationFuzzRegressionTests {
    /// The `config` target's input: 8,000 `[`. Yams composes nodes recursively and
    /// overflowed the stack (ASan: stack-overflow in Yams.Parser.loadSequence/loadNode)
    /// at about 4,000 levels; a 1 MiB configuration can nest a million. Refused before
    /// Yams sees it, with the place where the 65th level starts.
    @Test func deeplyNestedFlowSequenceIsRefused() {
        for count in [8_000, 1 << 20] {
            let found = issues(String(repeating: "[", count: count))
            #expect(found.count == 1)
            #expect(found.first?.line == 1)
            #expect(found.first?.column == ConfigurationLoader.maxNestingDepth + 1)
            #expect(found.first?.message.contains("nesting deeper than 64 levels") == true)
        }
    }

    @Test func deeplyNestedBlockMappingIsRefused() {
        let yaml = (0..<100).map { String(repeating: " ", count: $0) + "a:\n" }.joined()
        let found = issues(yaml)
        #expect(found.count == 1)
        #expect(found.first?.line == 65)
        #expect(found.first?.message.contains("nesting") == true)
    }

    @Test func mixedNestingCountsEveryLevel() {
        // Block mappings and indentless block sequences, two levels a line, then flow.
        let block = "k:\n" + (0..<30).map { String(repeating: " ", count: 2 * $0) + "- k:\n" }.joined()
        let shallow = block + String(repeating: " ", count: 60) + "- 1\n"
        #expect(issues(shallow).first?.message.contains("nesting") == false)
        let deep = block + String(repeating: " ", count: 60) + "- [[{a: [1]}]]\n"
        #expect(issues(deep).first?.message.contains("nesting") == true)
    }

    @Test func sixtyFourLevelsAreStillReadAsYAML() {
        // At the limit, the document reaches the reader (which rejects a list as the root).
        let yaml = String(repeating: "[", count: 64) + String(repeating: "]", count: 64)
        let found = issues(yaml)
        #expect(found.count == 1)
        #expect(found.first?.message.contains("expected a mapping") == true)
    }

    @Test func shippedConfigurationIsUnaffected() throws {
        let text = try String(contentsOf: repositoryRoot.appendingPathComponent("config/darknetd.yaml"), encoding: .utf8)
        _ = try ConfigurationLoader.load(yaml: text)
    }
}
