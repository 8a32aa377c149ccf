import Foundation
import Daemon
import Synchronization
import TestSupport
import Testing

@Suite struct SystemdNotifierTests {
    @Test func sendsExactDatagramsToAPath() throws {
        let dir = TempDirectory()
        let listener = try DatagramSocket(name: dir.file("notify"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name])
        #expect(notifier.isEnabled)

        #expect(notifier.ready())
        #expect(listener.receiveText() == "READY=1")
        #expect(notifier.ready(status: "capturing on eth1"))
        #expect(listener.receiveText() == "READY=1\nSTATUS=capturing on eth1")
        #expect(notifier.status("12 pkts/s\nsecond line"))
        #expect(listener.receiveText() == "STATUS=12 pkts/s second line")
        #expect(notifier.watchdog())
        #expect(listener.receiveText() == "WATCHDOG=1")
        #expect(notifier.stopping())
        #expect(listener.receiveText() == "STOPPING=1")

        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        let before = UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
        #expect(notifier.reloading())
        let reload = try #require(listener.receiveText())
        let lines = reload.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines.first == "RELOADING=1")
        let usec = try #require(lines.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        #expect(usec >= before && usec < before + 60_000_000)

        #expect(listener.isEmpty)
        #expect(notifier.sentCount == 6)
        #expect(notifier.errorCount == 0)
    }

    @Test func sendsToAnAbstractSocket() throws {
        let name = "@darknetd-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let listener = try DatagramSocket(name: name)
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name])
        #expect(notifier.ready())
        #expect(listener.receiveText() == "READY=1")
    }

    @Test func disabledWithoutNotifySocket() {
        let notifier = SystemdNotifier(environment: [:])
        #expect(!notifier.isEnabled)
        #expect(!notifier.ready())
        #expect(notifier.errorCount == 0 && notifier.sentCount == 0)
        #expect(!SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]).isEnabled)
    }

    @Test func failuresAreCountedNotThrown() {
        let dir = TempDirectory()
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": dir.file("nobody-listens")])
        #expect(!notifier.ready())
        #expect(!notifier.watchdog())
        #expect(notifier.errorCount == 2)
        #expect(notifier.lastErrorDescription?.contains("nobody-listens") == true)
    }

    /// Sends `count` watchdog pings on another thread; nil if they had not
    /// all returned after 10 s (a blocking send), else how many were sent.
    static func pingsReturn(_ notifier: SystemdNotifier, count: Int) -> Int? {
        let done = DispatchSemaphore(value: 0)
        let sent = Mutex(0)
        Thread.detachNewThread {
            for _ in 0..<count where notifier.watchdog() { sent.withLock { $0 += 1 } }
            done.signal()
        }
        guard done.wait(timeout: .now() + 10) == .success else { return nil }
        return sent.withLock { $0 }
    }

    /// A supervisor that stops reading must not stall the sensor: once the
    /// socket's queue is full, pings are dropped and counted, not waited on.
    @Test func fullSocketDropsPingsWithoutBlocking() throws {
        let dir = TempDirectory()
        let listener = try DatagramSocket(name: dir.file("notify"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name])
        let sent = try #require(Self.pingsReturn(notifier, count: 600), "a send blocked on the full socket")
        #expect(sent > 0 && sent < 600)
        #expect(notifier.sentCount == sent)
        #expect(notifier.errorCount == 600 - sent)
        #expect(notifier.lastErrorDescription?.contains(String(cString: strerror(EAGAIN))) == true,
                "\(notifier.lastErrorDescription ?? "")")
        // Everything that was sent arrives, in order, and nothing else.
        for _ in 0..<sent { #expect(listener.receiveText() == "WATCHDOG=1") }
        #expect(listener.isEmpty)
    }

    /// A state change waits (up to its patience) for the queue to have room:
    /// READY=1 is sent once the listener reads again, and gives up when it doesn't.
    @Test func stateChangesWaitForRoomThenGiveUp() throws {
        let dir = TempDirectory()
        let listener = try DatagramSocket(name: dir.file("notify"))
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name], stateChangePatience: .seconds(5))
        let queued = try #require(Self.pingsReturn(notifier, count: 600))
        let reader = Thread {
            usleep(200_000)
            _ = listener.receiveText()  // room for one
        }
        reader.start()
        #expect(notifier.ready(status: "up"))
        usleep(100_000)
        // The thread read the first ping; queued - 1 pings and then READY remain.
        let received = (0..<queued).map { _ in listener.receiveText() ?? "(nothing)" }
        #expect(received.dropLast().allSatisfy { $0 == "WATCHDOG=1" })
        #expect(received.last == "READY=1\nSTATUS=up")
        #expect(listener.isEmpty)

        let impatient = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name], stateChangePatience: .milliseconds(50))
        _ = try #require(Self.pingsReturn(impatient, count: 600))
        let errors = impatient.errorCount
        #expect(!impatient.stopping())
        #expect(impatient.errorCount == errors + 1)
    }

    @Test func watchdogInterval() {
        let pid = getpid()
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000"]).watchdogInterval() == .seconds(1))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "\(pid)"]).watchdogInterval() == .seconds(15))
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "\(pid + 1)"]).watchdogInterval() == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "x"]).watchdogInterval() == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "0"]).watchdogInterval() == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "soon"]).watchdogInterval() == nil)
        #expect(SystemdNotifier(environment: [:]).watchdogInterval() == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "1000"]).watchdogInterval(pid: 1) == .microseconds(500))
    }
}
