/// UTF-8 validation of a frame's bytes without making a `String` of them, so a text
/// frame is copied once (into the `Data` its decoder reads) and not twice.
enum UTF8Check {
    /// True when `bytes` is well-formed UTF-8 (no overlong forms, surrogates or
    /// scalars past U+10FFFF): what RFC 6455 asks of a text frame.
    static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        // Most frames are ASCII: one pass over the bytes and done.
        if !bytes.contains(where: { $0 >= 0x80 }) { return true }
        var parser = Unicode.UTF8.ForwardParser()
        var input = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &input) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}
