import Foundation

/// A stand-in for a database that hangs: a TCP listener on a free loopback port that
/// never accepts, so connections complete in the kernel's backlog and nothing ever
/// comes back (what a frozen or partitioned server looks like to a client). Not a
/// fake of MongoDB: nothing is answered at all.
public final class SilentListener: Sendable {
    public let fd: Int32
    public let port: Int

    public init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = self.fd
        let bound = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { a in
                bind(fd, a, len) == 0 && listen(fd, 64) == 0 && getsockname(fd, a, &len) == 0
            }
        }
        guard bound else { throw POSIXError(.EADDRINUSE) }
        port = Int(UInt16(bigEndian: addr.sin_port))
    }

    deinit { Glibc.close(fd) }
}
