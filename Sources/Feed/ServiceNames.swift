import Foundation

/// Common service names and their well-known ports, for feeds that name the
/// service instead of the port (a `port` field holding `ssh`; docs/fleet.md,
/// "Feed import"). Names are matched lowercased; a mapping's own `services`
/// table is consulted first. The ports are IANA's (and, for names IANA does
/// not list, the port the service is known by: `dropbox` 17500, `hasp` 1947).
public enum ServiceNames {
    public static let builtIn: [String: UInt16] = [
        "echo": 7, "discard": 9, "chargen": 19, "ftp-data": 20, "ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25,
        "time": 37, "whois": 43, "dns": 53, "domain": 53, "dhcp": 67, "bootps": 67, "bootpc": 68, "tftp": 69,
        "gopher": 70, "finger": 79, "http": 80, "www": 80, "kerberos": 88, "pop3": 110, "sunrpc": 111,
        "portmap": 111, "rpcbind": 111, "ident": 113, "auth": 113, "nntp": 119, "ntp": 123, "msrpc": 135,
        "epmap": 135, "netbios-ns": 137, "netbios-dgm": 138, "netbios-ssn": 139, "netbios": 139, "imap": 143,
        "snmp": 161, "snmptrap": 162, "bgp": 179, "irc": 194, "ldap": 389, "https": 443, "microsoft-ds": 445,
        "smb": 445, "cifs": 445, "isakmp": 500, "ike": 500, "modbus": 502, "exec": 512, "login": 513,
        "shell": 514, "syslog": 514, "printer": 515, "lpd": 515, "rip": 520, "submission": 587, "ipp": 631,
        "ldaps": 636, "rsync": 873, "ftps": 990, "imaps": 993, "pop3s": 995, "socks": 1080, "openvpn": 1194,
        "ms-sql-s": 1433, "mssql": 1433, "ms-sql-m": 1434, "oracle": 1521, "l2tp": 1701, "pptp": 1723,
        "radius": 1812, "ssdp": 1900, "upnp": 1900, "hasp": 1947, "nfs": 2049, "docker": 2375,
        "mysql": 3306, "rdp": 3389, "ms-wbt-server": 3389, "ws-discovery": 3702, "sip": 5060, "sips": 5061,
        "postgresql": 5432, "postgres": 5432, "mdns": 5353, "coap": 5683, "amqp": 5672, "vnc": 5900,
        "winrm": 5985, "couchdb": 5984, "x11": 6000, "redis": 6379, "irc-alt": 6667, "http-alt": 8080,
        "http-proxy": 8080, "https-alt": 8443, "elasticsearch": 9200, "memcached": 11211, "dropbox": 17500,
        "db-lsp": 17500, "mongodb": 27017,
    ]

    /// The port of a service name: `extra` first (a mapping's table), then the built-in table.
    public static func port(of name: some StringProtocol, extra: [String: UInt16] = [:]) -> UInt16? {
        let key = name.trimmingCharacters(in: .whitespaces).lowercased()
        return extra[key] ?? builtIn[key]
    }
}
