/**
 * What an S3 error means for a key: already gone, worth another attempt, final, or (for a
 * conditional delete) a sign that the object was replaced and must be kept.
 * The table follows REFERENCE §5 (DeleteObjects per-key Codes, conditional deletes).
 */

/**
 * How the deleter treats one key's error. `"replaced"` is never a code's own class: only a
 * conditional delete's PreconditionFailed gets it (see {@link asConditional}).
 */
export type ErrorClass = "gone" | "retryable" | "permanent" | "replaced";

/** S3's code for a conditional delete whose ETag no longer matches the object. */
export const PRECONDITION_FAILED = "PreconditionFailed";

const RETRYABLE = /* @__PURE__ */ new Set([
  "InternalError",
  "SlowDown",
  "ServiceUnavailable",
  "RequestTimeout",
  "OperationAborted",
  "Throttling",
  "ThrottlingException",
  // A conditional request that raced another write to the same key (HTTP 409): S3 asks for a retry.
  "ConditionalRequestConflict",
]);

/**
 * Classifies a per-key error code. Codes not known to be transient are permanent, PreconditionFailed
 * included: only for a target sent with an ETag does it mean "replaced" ({@link asConditional}).
 */
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

/** The fields of an error thrown by `S3Client.send` that the deleter reads. */
interface ThrownDetails {
  Code?: unknown;
  name?: unknown;
  message?: unknown;
  $retryable?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

/** The code of a thrown error (its `Code`, else its `name`) and its HTTP status, if it got one. */
function readThrown(error: unknown): { details: ThrownDetails; code: string; status: unknown } {
  const details = (typeof error === "object" && error !== null ? error : {}) as ThrownDetails;
  const code =
    typeof details.Code === "string" ? details.Code : typeof details.name === "string" ? details.name : "UnknownError";
  return { details, code, status: details.$metadata?.httpStatusCode };
}

/**
 * Reads the code, message and class of an error thrown by `S3Client.send`. A thrown error is
 * transient when the SDK says so, on HTTP 5xx and 429, and when no HTTP answer came at all
 * (timeouts, resets); other 4xx answers are classified by their code. With `conditional` (a single
 * DeleteObject sent with If-Match), code PreconditionFailed or HTTP 412 means the object was
 * replaced: `"replaced"`.
 */
export function fromThrown(error: unknown, conditional = false): KeyError {
  const { details, code, status } = readThrown(error);
  const transient = details.$retryable !== undefined || typeof status !== "number" || status >= 500 || status === 429;
  const byCode = classifyCode(code);
  const replaced = conditional && (code === PRECONDITION_FAILED || status === 412);
  return {
    code,
    message: typeof details.message === "string" && details.message !== "" ? details.message : String(error),
    class: replaced ? "replaced" : byCode === "permanent" && transient ? "retryable" : byCode,
    thrown: true,
  };
}

/**
 * True when a store refused a DeleteObjects request for how its body is checksummed: code
 * `MissingContentMD5` (it wants Content-MD5, HTTP 400) or `NotImplemented`, or HTTP 501. Older
 * MinIO, Ceph and other S3-compatible stores answer so to the `x-amz-checksum-crc32` header that
 * @aws-sdk/client-s3 sends since 3.729.0 (REFERENCE §5). Single DeleteObject calls carry no body.
 */
export function refusesChecksum(error: unknown): boolean {
  const { code, status } = readThrown(error);
  return code === "MissingContentMD5" || code === "NotImplemented" || status === 501;
}

/**
 * A per-key error as it counts for a target sent with an ETag (a conditional delete): a
 * PreconditionFailed says the object was replaced since the ETag was stored, so it is `"replaced"`
 * (kept: not failed, never retried). Any other error is returned as it is.
 */
export function asConditional(error: KeyError): KeyError {
  return error.code === PRECONDITION_FAILED ? { ...error, class: "replaced" } : error;
}
