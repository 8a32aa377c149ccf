public enum SensorVersion {
    public static let string = "0.1.0"
}
