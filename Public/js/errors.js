// The one error type of the client: what the server (or the connection) refused,
// with the contract's code.

export class ApiError extends Error {
  /// `code`: the contract's error code (`unavailable` for a lost connection too).
  constructor(code, message, { status, retryAfterMs } = {}) {
    super(message || code);
    this.name = "ApiError";
    this.code = code;
    this.status = status;
    this.retryAfterMs = retryAfterMs;
  }

  /// From an `{code, message, retryAfterMs}` error body.
  static from(body, status) {
    const e = body || {};
    return new ApiError(e.code || "internal", e.message, { status, retryAfterMs: e.retryAfterMs });
  }
}
