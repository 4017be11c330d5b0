import CMongoC

extension MongoError {
    /// Server codes that mean "this node cannot serve you right now": stepdowns,
    /// shutdowns, not-primary. Callers treat them like a broken connection.
    static let transientServerCodes: Set<Int> = [6, 7, 89, 91, 189, 262, 9001, 10107, 11600, 11602, 13435, 13436]
    /// Server codes for a unique-index violation.
    static let duplicateKeyCodes: Set<Int> = [11000, 11001, 12582]

    /// Whether a server code means a unique-index violation.
    public static func isDuplicateKey(code: Int) -> Bool { duplicateKeyCodes.contains(code) }

    /// Maps libmongoc's `bson_error_t` (error API version 2) to a `MongoError`.
    init(_ error: bson_error_t, reply: BSONDocument? = nil) {
        let domain = error.domain
        let code = Int(error.code)
        let message = error.messageText
        switch domain {
        case MONGOC_ERROR_SERVER.rawValue, MONGOC_ERROR_QUERY.rawValue, MONGOC_ERROR_COMMAND.rawValue,
            MONGOC_ERROR_COLLECTION.rawValue, MONGOC_ERROR_INSERT.rawValue:
            if MongoError.duplicateKeyCodes.contains(code) {
                self.init(code: .duplicateKey, serverCode: code, message: message)
            } else if code == 50 {
                self.init(code: .timeout, serverCode: code, message: message)
            } else if MongoError.transientServerCodes.contains(code) {
                self.init(code: .network, serverCode: code, message: message)
            } else if domain == MONGOC_ERROR_COMMAND.rawValue && code == Int(MONGOC_ERROR_COMMAND_INVALID_ARG.rawValue) {
                self.init(code: .invalidArgument, message: message)
            } else {
                self.init(code: .server, serverCode: domain == MONGOC_ERROR_SERVER.rawValue ? code : nil, message: message)
            }
        case MONGOC_ERROR_WRITE_CONCERN.rawValue:
            self.init(code: .writeConcern, serverCode: code, message: message)
        case MONGOC_ERROR_STREAM.rawValue, MONGOC_ERROR_PROTOCOL.rawValue:
            let timedOut = message.localizedCaseInsensitiveContains("timed out") || message.localizedCaseInsensitiveContains("timeout")
            self.init(code: timedOut ? .timeout : .network, message: message)
        case MONGOC_ERROR_SERVER_SELECTION.rawValue:
            self.init(code: .network, message: message)
        case MONGOC_ERROR_BSON.rawValue:
            self.init(code: .invalidDocument, message: message)
        default:
            self.init(code: .driver, serverCode: nil, message: "\(message) (domain \(domain), code \(code))")
        }
        // A bulk write's reply lists each refused document; the first one's code decides
        // the error's code when libmongoc gave a generic one.
        let writeErrors = MongoError.writeErrors(in: reply)
        if self.code != .duplicateKey, let first = writeErrors.first, MongoError.duplicateKeyCodes.contains(first.code) {
            self.init(code: .duplicateKey, serverCode: first.code, message: first.message)
        }
        self.writeErrors = writeErrors
    }

    /// The documents or statements a write command's reply says were refused.
    static func writeErrors(in reply: BSONDocument?) -> [WriteError] {
        (reply?["writeErrors"]?.arrayValue ?? []).compactMap { v in
            guard let d = v.documentValue, let i = d["index"]?.int64Value, let c = d["code"]?.int64Value else { return nil }
            // `keyPattern` names the index's fields (MongoDB 4.4 and later, SecantusDB);
            // `keyValue` the same fields with the values that collided.
            let key = d["keyPattern"]?.documentValue ?? d["keyValue"]?.documentValue
            return WriteError(index: Int(i), code: Int(c), message: d["errmsg"]?.stringValue ?? "", keyFields: key?.keys ?? [])
        }
    }
}
