import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Reads a password without echoing it, or from stdin for scripts.
enum PasswordInput {
    static func read(fromStdin: Bool, confirm: Bool) throws -> String {
        if fromStdin {
            guard let line = readLine(strippingNewline: true), !line.isEmpty else {
                CtlContext.fail("--password-stdin: no password on stdin", CtlExit.badInput)
            }
            return line
        }
        guard isatty(STDIN_FILENO) == 1 else {
            CtlContext.fail("no terminal to ask for a password on; pass --password-stdin and pipe it in", CtlExit.badInput)
        }
        let first = prompt("Password: ")
        if confirm, prompt("Repeat password: ") != first {
            CtlContext.fail("the passwords do not match", CtlExit.badInput)
        }
        return first
    }

    private static func prompt(_ text: String) -> String {
        FileHandle.standardError.write(Data(text.utf8))
        var saved = termios()
        tcgetattr(STDIN_FILENO, &saved)
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        tcsetattr(STDIN_FILENO, TCSANOW, &silent)
        defer {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved)
            FileHandle.standardError.write(Data("\n".utf8))
        }
        return readLine(strippingNewline: true) ?? ""
    }
}
