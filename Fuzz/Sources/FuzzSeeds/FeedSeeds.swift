import Feed

/// Feed lines in the shapes docs/feeds.md describes. Each seed is checked
/// against the parser it is for, so a seed that stopped parsing (a format
/// change) fails loudly instead of silently seeding nothing useful.
enum FeedSeeds {
    static let norseLines: [(String, String)] = [
        ("json", #"{"md5":"198.51.100.7","dport":"23","svc":"telnet","countrycode":"CN","countrycode2":"US","country":"China","country2":"United States","city":"Beijing","org":"Example","latitude":39.9,"longitude":116.4,"type":"ipviking.honey","zerg":"rush"}"#),
        ("json-numbers", #"{"md5":"203.0.113.9","dport":445,"svc":445,"proto":"tcp","countrycode":"RU","countrycode2":"DE","timestamp":"2014-10-07T12:34:56.789Z"}"#),
        ("json-ipv6-udp", #"{"md5":"2001:db8::7","dport":"53","proto":17,"countrycode":"O1","country2":"JP","time":1412685296.5}"#),
        ("json-unix-ms", #"{"md5":"192.0.2.1","dport":"","svc":null,"countrycode":null,"datetime":1412685296789}"#),
        ("python", #"{'md5': u'198.51.100.8', 'dport': u'3389', 'svc': u'rdp', 'countrycode': u'BR', 'countrycode2': u'US', 'type': u'ipviking.honey', 'latitude': 1.5L, 'zerg': None, 'ok': True}"#),
        ("python-escapes", #"{'md5': '192.0.2.44', 'svc': u'caf\xe9 \u2603 \U0001F600 it\'s', 'city': r'C:\\x', 'org': b'\x41\n', 'dport': 80, 'x': False}"#),
        ("concatenated", #"{"md5":"192.0.2.1","dport":22}{'md5': '192.0.2.2', 'dport': 23}"#),
        ("iso-offset", #"{"md5":"192.0.2.3","dport":"8080","timestamp":"2014-10-07 12:34:56+09:00","svc":"http-alt-with-a-rather-long-name-that-goes-past-sixty-four-bytes-of-text"}"#),
    ]

    static func norse() -> [Seed] {
        var seeds: [Seed] = []
        for (name, line) in norseLines {
            var parser = NorseParser()
            guard case .success(let events) = parser.parse(line: Substring(line), defaultTimeNs: 0), !events.isEmpty else {
                fatalError("FuzzSeeds: NORSE seed \(name) does not parse")
            }
            seeds.append((name, Array(line.utf8)))
        }
        // Rejected shapes, for the error paths.
        seeds.append(("missing-md5", Array(#"{"dport":"23","countrycode":"CN"}"#.utf8)))
        seeds.append(("bad-port", Array(#"{"md5":"192.0.2.1","dport":"70000"}"#.utf8)))
        seeds.append(("array", Array(#"[{"md5":"192.0.2.1"}]"#.utf8)))
        seeds.append(("comment", Array("# collector started".utf8)))
        return seeds
    }

    static let csvFiles: [(String, String)] = [
        ("basic", "time,src,dport,proto,country\n2014-10-07T12:34:56Z,198.51.100.1,23,tcp,CN\n1412685296,2001:db8::1,53,udp,jp\n"),
        ("quoted", "\"timestamp\",\"source_ip\",\"port\",\"service\",\"count\"\n\"2014-10-07 12:00:00\",\"192.0.2.1\",\"80\",\"http, \"\"alt\"\"\",\"5\"\n"),
        ("aliases-crlf", "ts,saddr,dst_port,protocol,cc,target_country,svc,events\r\n1412685296.25,203.0.113.5,445,6,RU,US,smb,0\r\n1412685297,203.0.113.6,,,--,,,\r\n"),
        ("source-only", "# exported\nip\n192.0.2.1\n192.0.2.2\nip\n192.0.2.3\n"),
        ("time-only", "date,extra\n2014-10-07,x\n2014-10-08,\"y,z\"\n"),
    ]

    static func csv() -> [Seed] {
        var seeds: [Seed] = []
        for (name, text) in csvFiles {
            var parser = CSVFeedParser()
            var events = 0
            for bytes in text.utf8.split(separator: 0x0A) {
                let l = Substring(bytes.last == 0x0D ? bytes.dropLast() : bytes)
                guard case .success(let found) = parser.parse(line: l, defaultTimeNs: 0) else {
                    fatalError("FuzzSeeds: CSV seed \(name) has a bad line: \(l)")
                }
                events += found.count
            }
            guard parser.columns != nil else { fatalError("FuzzSeeds: CSV seed \(name) has no header") }
            _ = events
            seeds.append((name, Array(text.utf8)))
        }
        seeds.append(("no-header-columns", Array("a,b,c\n1,2,3\n".utf8)))
        seeds.append(("unterminated-quote", Array("src,time\n\"192.0.2.1,1\n".utf8)))
        // Other formats, for FeedFormat.detect.
        seeds.append(("norse-line", Array((norseLines[0].1 + "\n").utf8)))
        seeds.append(("cowrie-line", Array(#"{"eventid":"cowrie.session.connect","src_ip":"192.0.2.9","dst_port":2222,"timestamp":"2014-10-07T12:34:56.000000Z","session":"a1"}"#.utf8) + [0x0A]))
        return seeds
    }
}
