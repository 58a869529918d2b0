/**
 * What an S3 error means for a key: already gone, worth another attempt, or final.
 * The table follows REFERENCE §5 (DeleteObjects per-key Codes).
 */

/** How the deleter treats one key's error. */
export type ErrorClass = "gone" | "retryable" | "permanent";

const RETRYABLE = /* @__PURE__ */ new Set([
  "InternalError",
  "SlowDown",
  "ServiceUnavailable",
  "RequestTimeout",
  "OperationAborted",
  "Throttling",
  "ThrottlingException",
]);

/** Classifies a per-key error code. Codes not known to be transient are permanent. */
export function classifyCode(code: string): ErrorClass {
  if (code === "NoSuchKey") return "gone";
  return RETRYABLE.has(code) ? "retryable" : "permanent";
}

/** A key's error, read from a per-key Errors entry or from a thrown request. */
export interface KeyError {
  code: string;
  message: string;
  class: ErrorClass;
  /** True when the whole request threw: the SDK has already retried it, so the deleter does not. */
  thrown: boolean;
}

/**
 * Reads the code, message and class of an error thrown by `S3Client.send`. A thrown error is
 * transient when the SDK says so, on HTTP 5xx and 429, and when no HTTP answer came at all
 * (timeouts, resets); other 4xx answers are classified by their code.
 */
export function fromThrown(error: unknown): KeyError {
  const details = (typeof error === "object" && error !== null ? error : {}) as {
    Code?: unknown;
    name?: unknown;
    message?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
  };
  const code =
    typeof details.Code === "string" ? details.Code : typeof details.name === "string" ? details.name : "UnknownError";
  const status = details.$metadata?.httpStatusCode;
  const transient = details.$retryable !== undefined || typeof status !== "number" || status >= 500 || status === 429;
  const byCode = classifyCode(code);
  return {
    code,
    message: typeof details.message === "string" && details.message !== "" ? details.message : String(error),
    class: byCode === "permanent" && transient ? "retryable" : byCode,
    thrown: true,
  };
}
