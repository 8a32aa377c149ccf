// State snapshots (the daemon's restart files) store addresses as their text
// form: readable in a JSON dump, and independent of the in-memory layout.

extension IPAddress: Codable {
    /// Decodes dotted IPv4 or RFC 4291 IPv6 text; anything else is a `DecodingError`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPAddress(text) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "not an IP address: \(text.prefix(64))")
        }
        self = address
    }

    /// Encodes `description` (RFC 5952 for IPv6), which `init(_:)` parses back to the same value.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
