/**
 * What an S3 error means for a key: already gone, worth another attempt, final, or (for a
 * conditional delete) a sign that the object was replaced and must be kept.
 * The table follows REFERENCE §5 (DeleteObjects per-key Codes, conditional deletes).
 */
import { ABORTED } from "./abort.js";
import { isThrottling } from "./send-rate.js";

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
 * JavaScript's own error types: one of these thrown by `S3Client.send` comes from a program (the
 * SDK failing to build a request from a key, say), neither from S3 nor from the network, and would
 * be thrown again by every attempt.
 */
const PROGRAM_ERRORS = ["TypeError", "URIError", "RangeError", "SyntaxError", "ReferenceError", "EvalError"];

/**
 * True for an error of one of JavaScript's own error types ({@link PROGRAM_ERRORS}) that came with
 * no HTTP answer and not from the network: a fetch-based handler's `TypeError: fetch failed` carries
 * the network error's `code` in its `cause`, and is no program error.
 */
export function isProgramError(error: unknown): boolean {
  if (!(error instanceof Error) || (error as ThrownDetails).$metadata !== undefined) return false;
  const cause = error.cause as { code?: unknown } | undefined;
  return PROGRAM_ERRORS.includes(error.name) && typeof cause?.code !== "string";
}

/**
 * Codes that are final however they came: the SDK throws InvalidBucketName itself, before any
 * request, for a bucket it cannot address (`s3://name`, a name with `/`), with no HTTP answer, and
 * every attempt would throw it again.
 */
const NEVER_TRANSIENT = /* @__PURE__ */ new Set(["InvalidBucketName"]);

/**
 * Reads the code, message and class of an error thrown by `S3Client.send`. A thrown error is
 * transient when the SDK says so, on HTTP 5xx and 429, and when no HTTP answer came at all
 * (timeouts, resets), unless it is a program error ({@link isProgramError}) or InvalidBucketName:
 * permanent. Other 4xx
 * answers are classified by their code. With `conditional` (a single DeleteObject sent with
 * If-Match), code PreconditionFailed or HTTP 412 means the object was replaced: `"replaced"`.
 */
export function fromThrown(error: unknown, conditional = false): KeyError {
  const { details, code, status } = readThrown(error);
  const transient =
    !isProgramError(error) &&
    !NEVER_TRANSIENT.has(code) &&
    (details.$retryable !== undefined || typeof status !== "number" || status >= 500 || status === 429);
  const byCode = classifyCode(code);
  const replaced = conditional && (code === PRECONDITION_FAILED || status === 412);
  return {
    code,
    message: typeof details.message === "string" && details.message !== "" ? details.message : String(error),
    class: replaced ? "replaced" : byCode === "permanent" && transient ? "retryable" : byCode,
    thrown: true,
  };
}

/** Why an object, a target or a listing was not done: a code, a message, and whether a later attempt may succeed. */
export interface Failure {
  /** S3's error code (`AccessDenied`, `SlowDown`, ...), `Aborted`, or one of the library's own. */
  code: string;
  message: string;
  retryable: boolean;
}

/**
 * The failure that stands for two: a permanent one before a retryable one (it says more about why
 * the work cannot be done), else the first.
 */
export function graver(first: Failure | undefined, second: Failure | undefined): Failure | undefined {
  if (first === undefined) return second;
  return first.retryable && second !== undefined && !second.retryable ? second : first;
}

/** A key error as it is reported. */
export function failureOf(error: KeyError): Failure {
  return { code: error.code, message: error.message, retryable: error.class === "retryable" };
}

/**
 * The failure of a request that threw: when `signal` has fired, it was cut off (code `Aborted`,
 * retryable), whatever the error says; else as {@link fromThrown} reads it.
 */
export function failureOfThrown(error: unknown, signal: AbortSignal | undefined): Failure {
  if (signal?.aborted) return abortedFailure(signal);
  return failureOf(fromThrown(error));
}

/** What the signal cut off: retryable, with the signal's reason. */
export function abortedFailure(signal: AbortSignal): Failure {
  const reason: unknown = signal.reason;
  return {
    code: ABORTED,
    message: `cut off: ${reason instanceof Error ? reason.message : "the signal fired"}`,
    retryable: true,
  };
}

/** Codes of a whole-request refusal about permissions, credentials or the bucket: every key of it would fail alike. */
const NOT_ABOUT_KEYS = /* @__PURE__ */ new Set([
  "AccessDenied",
  "AllAccessDisabled",
  "AccountProblem",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "ExpiredToken",
  "InvalidToken",
  "TokenRefreshRequired",
  "RequestTimeTooSkewed",
  "AuthorizationHeaderMalformed",
  "NoSuchBucket",
  "InvalidBucketName",
  "InvalidBucketState",
  "PermanentRedirect",
  "MissingContentMD5",
  "NotImplemented",
]);

/**
 * True when a whole DeleteObjects request was refused for something in it, which some of its keys
 * may cause and not the others: HTTP 400 and other 4xx answers except permission, bucket,
 * throttling, conflict and checksum refusals (InvalidArgument, InvalidRequest, MalformedXML, ...),
 * and program errors (the SDK could not build the request). Splitting such a request isolates the
 * keys that cause it.
 */
export function refusesContent(error: unknown): boolean {
  if (isProgramError(error)) return true;
  const { code, status } = readThrown(error);
  if (typeof status !== "number" || status < 400 || status > 499) return false;
  if ([401, 403, 404, 408, 409, 429].includes(status)) return false;
  return !NOT_ABOUT_KEYS.has(code) && classifyCode(code) === "permanent";
}

/** True when a request was refused for its rate: a throttling code, or HTTP 503 or 429. */
export function isThrottled(error: unknown): boolean {
  const { code, status } = readThrown(error);
  return isThrottling(code) || status === 503 || status === 429;
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
