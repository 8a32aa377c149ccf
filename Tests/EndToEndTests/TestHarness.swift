import Foundation
import Synchronization
import TestSupport

/// A throw-away pair of network namespaces joined by a veth pair: the only
/// place live tests send traffic. Addresses are from 198.18.0.0/15 (RFC 2544
/// benchmarking) and exist only inside these namespaces.
final class VethNamespaces {
    let sender: String
    let receiver: String
    let senderInterface: String
    let receiverInterface: String
    static let senderAddress = "198.18.0.1"
    static let receiverAddress = "198.18.0.2"

    /// Root with iproute2: CI runs as root, developers usually too.
    static var available: Bool { geteuid() == 0 && Executables.system("ip") != nil }

    /// Namespaces (and the processes left in them) of an earlier test run
    /// that crashed before its cleanup: a daemon orphaned that way kept
    /// running and skewed later benchmarks. Names carry the creating pid, so
    /// this run's own namespaces, and those of another test process still
    /// alive, are never touched. Done once per process.
    static let removedStale: Int = {
        guard let ip = Executables.system("ip"), let list = try? Subprocess.run(ip, ["netns", "list"]) else { return 0 }
        let own = String(getpid() % 100_000)
        var removed = 0
        for line in list.stdout.split(separator: "\n") {
            guard let name = line.split(separator: " ").first.map(String.init),
                  name.hasPrefix("dns-") || name.hasPrefix("dnr-") else { continue }
            let digits = String(name.dropFirst(5))  // after "dnX-" and the one-letter tag
            guard !digits.isEmpty, digits.allSatisfy(\.isNumber), digits != own else { continue }
            // Another test process that is still running (a second `swift test` at the
            // same time) owns it: only a dead creator's namespaces are stale.
            if let pid = Int32(digits), kill(pid, 0) == 0 || errno == EPERM { continue }
            if let pids = try? Subprocess.run(ip, ["netns", "pids", name]) {
                for pid in pids.stdout.split(separator: "\n").compactMap({ Int32($0) }) { kill(pid, SIGKILL) }
            }
            _ = try? Subprocess.run(ip, ["netns", "del", name])
            removed += 1
        }
        return removed
    }()

    init(tag: String) throws {
        _ = VethNamespaces.removedStale
        let suffix = "\(tag)\(getpid() % 100_000)"
        sender = "dns-\(suffix)"
        receiver = "dnr-\(suffix)"
        senderInterface = "vs\(suffix)"
        receiverInterface = "vr\(suffix)"
        let ip = Executables.system("ip")!
        let steps: [[String]] = [
            ["netns", "add", sender],
            ["netns", "add", receiver],
            ["link", "add", senderInterface, "type", "veth", "peer", "name", receiverInterface],
            ["link", "set", senderInterface, "netns", sender],
            ["link", "set", receiverInterface, "netns", receiver],
            ["-n", sender, "addr", "add", "\(VethNamespaces.senderAddress)/24", "dev", senderInterface],
            ["-n", receiver, "addr", "add", "\(VethNamespaces.receiverAddress)/24", "dev", receiverInterface],
            ["-n", sender, "link", "set", senderInterface, "up"],
            ["-n", receiver, "link", "set", receiverInterface, "up"],
            ["-n", sender, "link", "set", "lo", "up"],
            ["-n", receiver, "link", "set", "lo", "up"],
        ]
        for step in steps {
            let result = try Subprocess.run(ip, step)
            if result.status != 0 {
                tearDown()
                throw NamespaceError(description: "ip \(step.joined(separator: " ")): \(result.output)")
            }
        }
    }

    struct NamespaceError: Error, CustomStringConvertible { var description: String }

    /// `ip netns exec NS` prefix for running a command inside a namespace.
    func inNamespace(_ namespace: String, _ command: [String]) -> (String, [String]) {
        (Executables.system("ip")!, ["netns", "exec", namespace] + command)
    }

    /// Sends `count` UDP datagrams from the sender namespace to the receiver
    /// address (bash's /dev/udp, so no extra tool is needed).
    func sendUDP(count: Int, port: Int) throws {
        let script = "for i in $(seq \(count)); do printf x > /dev/udp/\(VethNamespaces.receiverAddress)/\(port); done"
        let (exe, args) = inNamespace(sender, ["bash", "-c", script])
        let result = try Subprocess.run(exe, args)
        if result.status != 0 { throw NamespaceError(description: "send failed: \(result.output)") }
    }

    func tearDown() {
        guard let ip = Executables.system("ip") else { return }
        _ = try? Subprocess.run(ip, ["netns", "del", sender])
        _ = try? Subprocess.run(ip, ["netns", "del", receiver])
    }

    deinit { tearDown() }
}

/// A Unix datagram socket the test binds, to receive what the daemon sends
/// (syslog messages, sd_notify datagrams). Like journald and systemd, it
/// reads continuously (on its own thread), so the daemon never meets a full
/// queue (net.unix.max_dgram_qlen is 10 here) unless a test wants it to.
final class DatagramListener: Sendable {
    let path: String
    private let inbox: Inbox

    /// The socket and what arrived; kept alive by the reader thread, so the
    /// socket is closed (and its path removed) once that thread has stopped.
    final class Inbox: Sendable {
        let socket: DatagramSocket
        let received = Mutex<[String]>([])
        let stopped = Atomic<Bool>(false)
        init(socket: DatagramSocket) { self.socket = socket }

        /// Reads every datagram waiting now. The lock is held across the
        /// reads so that the reader thread and a test's own drain keep the
        /// arrival order.
        func drain() {
            received.withLock { received in
                while let datagram = socket.receiveNow() {
                    received.append(String(decoding: datagram, as: UTF8.self))
                }
            }
        }

        func readUntilStopped() {
            while !stopped.load(ordering: .acquiring) {
                if socket.waitReadable(timeout: .milliseconds(20)) { drain() }
            }
        }
    }

    init(path: String) throws {
        self.path = path
        let socket = try DatagramSocket(name: path)
        // The daemon may write here after dropping root.
        chmod(path, 0o666)
        let inbox = Inbox(socket: socket)
        self.inbox = inbox
        Thread.detachNewThread { inbox.readUntilStopped() }
    }

    /// Every datagram received so far, including what is waiting now.
    func drain() -> [String] {
        inbox.drain()
        return inbox.received.withLock { $0 }
    }

    /// Waits until some datagram satisfies `predicate`.
    func wait(timeout: Duration, for predicate: (String) -> Bool) -> Bool {
        eventually(timeout: timeout) { drain().contains(where: predicate) }
    }

    deinit {
        inbox.stopped.store(true, ordering: .releasing)
    }
}
