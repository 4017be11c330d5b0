import Foundation

/// Process limits for many sockets.
public enum ProcessLimits {
    /// Every connection is a file descriptor: raises the open-file limit to 65,536
    /// where allowed (root may raise the hard limit), else the soft limit to the hard
    /// one, so the usual default of 1,024 does not cap the process.
    public static func raiseOpenFiles() {
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        var wanted = rlimit(rlim_cur: 65_536, rlim_max: 65_536)
        if setrlimit(resource, &wanted) == 0 { return }
        var limit = rlimit()
        if getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(resource, &limit)
        }
    }
}
