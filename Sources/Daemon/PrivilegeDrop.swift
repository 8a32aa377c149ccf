import CSensorShims
import Foundation

/// The credential lines of `/proc/self/status` (or `/proc/thread-self/status`).
public struct ProcessStatus: Codable, Sendable, Equatable {
    /// Real, effective, saved and filesystem ids, as the kernel lists them.
    public var uid: [UInt32]
    public var gid: [UInt32]
    public var groups: [UInt32]
    /// Capability sets as the kernel prints them (16 hex digits).
    public var capEff: String
    public var capPrm: String
    public var capInh: String
    public var capBnd: String
    public var capAmb: String
    /// Which file was read.
    public var source: String

    enum CodingKeys: String, CodingKey {
        case uid = "Uid", gid = "Gid", groups = "Groups"
        case capEff = "CapEff", capPrm = "CapPrm", capInh = "CapInh", capBnd = "CapBnd", capAmb = "CapAmb"
        case source
    }

    public var effectiveCapabilities: UInt64 { UInt64(capEff, radix: 16) ?? .max }
    public var permittedCapabilities: UInt64 { UInt64(capPrm, radix: 16) ?? .max }
    public var boundingCapabilities: UInt64 { UInt64(capBnd, radix: 16) ?? .max }
    public var ambientCapabilities: UInt64 { UInt64(capAmb, radix: 16) ?? .max }

    /// Parses the text of a status file.
    public init(text: String, source: String) {
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            fields[String(line[..<colon])] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        func ids(_ key: String) -> [UInt32] {
            (fields[key] ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" }).compactMap { UInt32($0) }
        }
        uid = ids("Uid")
        gid = ids("Gid")
        groups = ids("Groups")
        capEff = fields["CapEff"] ?? ""
        capPrm = fields["CapPrm"] ?? ""
        capInh = fields["CapInh"] ?? ""
        capBnd = fields["CapBnd"] ?? ""
        capAmb = fields["CapAmb"] ?? "0000000000000000"
        self.source = source
    }

    /// The calling thread's credentials (capability sets are per thread),
    /// from /proc/thread-self/status, or /proc/self/status on old kernels.
    public static func current() throws(PrivilegeDropError) -> ProcessStatus {
        for path in ["/proc/thread-self/status", "/proc/self/status"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                return ProcessStatus(text: text, source: path)
            }
        }
        throw PrivilegeDropError(user: nil, message: "cannot read /proc/self/status")
    }
}

/// What a privilege drop did and what the kernel says afterwards.
public struct PrivilegeDropReport: Codable, Sendable, Equatable {
    public var user: String
    public var uid: UInt32
    public var gid: UInt32
    /// Supplementary groups set (the user's groups from the group database).
    public var groups: [UInt32]
    /// Whether CAP_NET_RAW was kept on purpose.
    public var retainedNetRaw: Bool
    /// False: nothing was changed (not root, already the user).
    public var dropped: Bool
    /// Whether setuid(0) still worked afterwards (must be false after a drop).
    public var canRegainRoot: Bool
    public var status: ProcessStatus

    enum CodingKeys: String, CodingKey {
        case user, uid, gid, groups, dropped, status
        case retainedNetRaw = "retained_net_raw"
        case canRegainRoot = "can_regain_root"
    }
}

/// A failed privilege drop: one line naming the user.
public struct PrivilegeDropError: Error, Sendable, Equatable, CustomStringConvertible {
    public var user: String?
    public var message: String

    public init(user: String?, message: String) {
        self.user = user
        self.message = message
    }

    public var description: String {
        if let user { return "cannot drop privileges to user \"\(user)\": \(message)" }
        return message
    }
}

/// Gives up root after the capture handles are open: supplementary groups,
/// gid, then uid, all three ids (real, effective, saved) at once, so root
/// cannot be regained. No capability survives unless `retainNetRaw` asks to
/// keep CAP_NET_RAW (open AF_PACKET sockets keep working without it; it is
/// only needed to open new ones). The result is checked against the kernel's
/// own view in /proc before it is reported.
///
/// Call it before starting threads that must hold CAP_NET_RAW: glibc applies
/// setgroups/setgid/setuid to every thread, but capset(2) affects only the
/// calling thread, so a retained CAP_NET_RAW is effective on this thread only.
public enum PrivilegeDrop {
    public static let capNetRaw: Int32 = 13

    /// The user's uid, primary gid and canonical name.
    public static func lookup(user: String) throws(PrivilegeDropError) -> (name: String, uid: uid_t, gid: gid_t) {
        var entry = passwd()
        var result: UnsafeMutablePointer<passwd>?
        var buffer = [CChar](repeating: 0, count: 16_384)
        let code = getpwnam_r(user, &entry, &buffer, buffer.count, &result)
        guard code == 0, let result else {
            if code != 0 { throw PrivilegeDropError(user: user, message: "user lookup failed: \(String(cString: strerror(code)))") }
            throw PrivilegeDropError(user: user, message: "no such user")
        }
        return (String(cString: result.pointee.pw_name), result.pointee.pw_uid, result.pointee.pw_gid)
    }

    /// Drops to `user`. Not running as root: succeeds without change only if
    /// already running as that user.
    public static func drop(to user: String, retainNetRaw: Bool = false) throws(PrivilegeDropError) -> PrivilegeDropReport {
        let account = try lookup(user: user)
        guard geteuid() == 0 else {
            guard getuid() == account.uid, geteuid() == account.uid else {
                throw PrivilegeDropError(user: user, message: "not running as root (uid \(geteuid()))")
            }
            let status = try ProcessStatus.current()
            return PrivilegeDropReport(user: account.name, uid: account.uid, gid: account.gid, groups: status.groups,
                                       retainedNetRaw: false, dropped: false, canRegainRoot: false, status: status)
        }
        func failed(_ what: String) -> PrivilegeDropError {
            PrivilegeDropError(user: user, message: "\(what): \(String(cString: strerror(errno)))")
        }

        // Bounding set first, while CAP_SETPCAP is still held: a later exec
        // of a setuid-root program can then grant nothing back.
        let lastCap = csensor_cap_last_cap()
        for cap in 0...max(0, lastCap) where !(retainNetRaw && Int32(cap) == capNetRaw) {
            if csensor_prctl_capbset_drop(Int32(cap)) != 0 && errno != EINVAL { throw failed("PR_CAPBSET_DROP(\(cap))") }
        }
        if csensor_prctl_ambient_clear_all() != 0 { throw failed("PR_CAP_AMBIENT_CLEAR_ALL") }
        if retainNetRaw, csensor_prctl_keepcaps(1) != 0 { throw failed("PR_SET_KEEPCAPS") }

        if initgroups(account.name, account.gid) != 0 { throw failed("initgroups") }
        if csensor_setresgid(account.gid) != 0 { throw failed("setresgid(\(account.gid))") }
        if csensor_setresuid(account.uid) != 0 { throw failed("setresuid(\(account.uid))") }

        let netRawBit = UInt64(1) << UInt64(capNetRaw)
        if retainNetRaw {
            // setuid kept the permitted set (KEEPCAPS) but cleared the effective
            // one: keep CAP_NET_RAW alone in both.
            if csensor_capset(netRawBit, netRawBit, 0) != 0 { throw failed("capset(CAP_NET_RAW)") }
            _ = csensor_prctl_keepcaps(0)
        } else if account.uid == 0 {
            // Dropping "to root" keeps uid 0: clear the sets explicitly.
            if csensor_capset(0, 0, 0) != 0 { throw failed("capset(0)") }
        }

        // setuid(0) must now fail; if it works the drop did not happen.
        let regained = account.uid != 0 && setuid(0) == 0
        let status = try ProcessStatus.current()
        let report = PrivilegeDropReport(user: account.name, uid: account.uid, gid: account.gid, groups: status.groups,
                                         retainedNetRaw: retainNetRaw, dropped: true, canRegainRoot: regained, status: status)
        let expectedCaps = retainNetRaw ? netRawBit : 0
        var problems: [String] = []
        if regained { problems.append("setuid(0) still succeeds") }
        if status.uid.count < 4 || status.uid.contains(where: { $0 != account.uid }) { problems.append("Uid is \(status.uid)") }
        if status.gid.count < 4 || status.gid.contains(where: { $0 != account.gid }) { problems.append("Gid is \(status.gid)") }
        if status.effectiveCapabilities != expectedCaps { problems.append("CapEff is \(status.capEff)") }
        if status.permittedCapabilities != expectedCaps { problems.append("CapPrm is \(status.capPrm)") }
        if status.ambientCapabilities != 0 { problems.append("CapAmb is \(status.capAmb)") }
        if status.boundingCapabilities & ~netRawBit != 0 { problems.append("CapBnd is \(status.capBnd)") }
        guard problems.isEmpty else {
            throw PrivilegeDropError(user: user, message: "the drop did not take effect: " + problems.joined(separator: ", "))
        }
        return report
    }
}
