// State snapshots store a country as its two letters ("JP"), or "??" for unknown.

extension CountryCode: Codable {
    /// Decodes two uppercase ASCII letters or `"??"` (unknown); anything else is a `DecodingError`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        if text == "??" {
            self = .unknown
            return
        }
        guard let code = CountryCode(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a country code: \(text.prefix(16))")
        }
        self = code
    }

    /// Encodes `description`: the two letters, or `"??"` for unknown.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
