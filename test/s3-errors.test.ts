import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import {
  abortedFailure,
  asConditional,
  classifyCode,
  type Failure,
  failureOf,
  failureOfThrown,
  fromThrown,
  graver,
  isProgramError,
  type KeyError,
  refusesChecksum,
  refusesContent,
} from "../src/s3-errors.js";

const s3Error = (name: string, httpStatusCode: number, message?: string) =>
  new S3ServiceException({
    name,
    $fault: httpStatusCode >= 500 ? "server" : "client",
    $metadata: { httpStatusCode },
    ...(message === undefined ? {} : { message }),
  });

describe("classifyCode", () => {
  it.each([
    ["InternalError", "retryable"],
    ["SlowDown", "retryable"],
    ["ServiceUnavailable", "retryable"],
    ["RequestTimeout", "retryable"],
    ["OperationAborted", "retryable"],
    ["Throttling", "retryable"],
    ["ThrottlingException", "retryable"],
    ["ConditionalRequestConflict", "retryable"],
    ["AccessDenied", "permanent"],
    ["AccountProblem", "permanent"],
    ["AllAccessDisabled", "permanent"],
    ["InvalidAccessKeyId", "permanent"],
    ["NoSuchBucket", "permanent"],
    ["KeyTooLongError", "permanent"],
    ["InvalidArgument", "permanent"],
    ["PreconditionFailed", "permanent"],
    ["MalformedXML", "permanent"],
    ["SomeCodeS3AddsNextYear", "permanent"],
    ["", "permanent"],
    ["slowdown", "permanent"],
    ["NoSuchKey", "gone"],
  ])("classifies %j as %s", (code, expected) => {
    // Act
    const result = classifyCode(code);

    // Assess
    expect(result).toBe(expected);
  });
});

describe("fromThrown", () => {
  it("reads the code from an S3ServiceException's name: 403 AccessDenied is permanent", () => {
    // Act
    const result = fromThrown(s3Error("AccessDenied", 403, "Access Denied"));

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "permanent", thrown: true });
  });

  it("prefers a Code property to the name", () => {
    // Prepare
    const error = Object.assign(new Error("Please reduce your request rate."), { Code: "SlowDown" });

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({
      code: "SlowDown",
      message: "Please reduce your request rate.",
      class: "retryable",
      thrown: true,
    });
  });

  it("falls back to the name when Code is not a string", () => {
    // Prepare
    const error = Object.assign(new RangeError("bad"), { Code: 42, $metadata: { httpStatusCode: 400 } });

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "RangeError", message: "bad", class: "permanent", thrown: true });
  });

  it.each([500, 502, 503, 504, 599, 429])("makes a permanent code retryable when the status is %i", (status) => {
    // Act
    const result = fromThrown(s3Error("AccessDenied", status, "Access Denied"));

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "retryable", thrown: true });
  });

  it.each([400, 403, 404, 428, 430, 499])("keeps a permanent code permanent when the status is %i", (status) => {
    // Act
    const result = fromThrown(s3Error("AccessDenied", status, "Access Denied"));

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "permanent", thrown: true });
  });

  it("makes a 4xx error marked $retryable retryable", () => {
    // Prepare
    const error = s3Error("BadDigest", 400, "checksum mismatch");
    error.$retryable = { throttling: false };

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "BadDigest", message: "checksum mismatch", class: "retryable", thrown: true });
  });

  it.each([
    ["a 5xx status", 503],
    ["no status", undefined],
  ])("keeps NoSuchKey as gone with %s", (_, status) => {
    // Prepare
    const error =
      status === undefined
        ? Object.assign(new Error("The specified key does not exist."), { name: "NoSuchKey" })
        : s3Error("NoSuchKey", status, "The specified key does not exist.");

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({
      code: "NoSuchKey",
      message: "The specified key does not exist.",
      class: "gone",
      thrown: true,
    });
  });

  it("keeps a retryable code retryable with a 4xx status", () => {
    // Act
    const result = fromThrown(s3Error("SlowDown", 400, "Please reduce your request rate."));

    // Assess
    expect(result).toStrictEqual({
      code: "SlowDown",
      message: "Please reduce your request rate.",
      class: "retryable",
      thrown: true,
    });
  });

  describe("an error that came without an HTTP answer", () => {
    it.each([
      ["a TimeoutError", Object.assign(new Error("Connection timed out after 5000 ms"), { name: "TimeoutError" })],
      ["an ECONNRESET", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET", errno: -104 })],
      ["a plain Error", new Error("socket hang up")],
      ["an error with $metadata but no status", Object.assign(new Error("aborted"), { $metadata: {} })],
    ])("is retryable: %s", (_, error) => {
      // Act
      const result = fromThrown(error);

      // Assess
      expect(result).toStrictEqual({ code: error.name, message: error.message, class: "retryable", thrown: true });
    });

    it("is permanent for InvalidBucketName, which the SDK throws itself for a bucket it cannot address", () => {
      // Prepare: what @aws-sdk/client-s3 throws for Bucket "s3://product-images", before any request.
      const error = Object.assign(new Error("Bucket name shouldn't contain '/', received 's3://product-images'"), {
        name: "InvalidBucketName",
      });

      // Act
      const result = fromThrown(error);

      // Assess
      expect(result).toStrictEqual({
        code: "InvalidBucketName",
        message: error.message,
        class: "permanent",
        thrown: true,
      });
      expect(failureOfThrown(error, undefined).retryable).toBe(false);
    });

    it("is permanent for S3's own InvalidBucketName answer, even one marked retryable", () => {
      // Prepare
      const error = Object.assign(s3Error("InvalidBucketName", 400, "The specified bucket is not valid."), {
        $retryable: {},
      });

      // Act
      const result = fromThrown(error);

      // Assess
      expect(result.class).toBe("permanent");
    });

    it("is retryable when the status is not a number", () => {
      // Prepare
      const error = { name: "AccessDenied", message: "Access Denied", $metadata: { httpStatusCode: "403" } };

      // Act
      const result = fromThrown(error);

      // Assess
      expect(result).toStrictEqual({
        code: "AccessDenied",
        message: "Access Denied",
        class: "retryable",
        thrown: true,
      });
    });

    it("uses UnknownError for an object with neither Code nor name", () => {
      // Prepare
      const error = { message: "socket hang up" };

      // Act
      const result = fromThrown(error);

      // Assess
      expect(result).toStrictEqual({
        code: "UnknownError",
        message: "socket hang up",
        class: "retryable",
        thrown: true,
      });
    });

    it("uses UnknownError when the name is not a string", () => {
      // Act
      const result = fromThrown({ name: 7, message: "odd" });

      // Assess
      expect(result).toStrictEqual({ code: "UnknownError", message: "odd", class: "retryable", thrown: true });
    });

    it.each([
      ["a string", "connection reset", "connection reset"],
      ["a number", 42, "42"],
      ["null", null, "null"],
      ["undefined", undefined, "undefined"],
    ])("reads a thrown %s as a retryable UnknownError", (_, thrown, message) => {
      // Act
      const result = fromThrown(thrown);

      // Assess
      expect(result).toStrictEqual({ code: "UnknownError", message, class: "retryable", thrown: true });
    });
  });

  it("uses the error's string form when the message is empty", () => {
    // Act
    const result = fromThrown(Object.assign(new Error(""), { $metadata: { httpStatusCode: 400 } }));

    // Assess
    expect(result).toStrictEqual({ code: "Error", message: "Error", class: "permanent", thrown: true });
  });

  it("uses the error's string form when the message is not a string", () => {
    // Act
    const result = fromThrown({ name: "AccessDenied", message: 403, $metadata: { httpStatusCode: 403 } });

    // Assess
    expect(result).toStrictEqual({
      code: "AccessDenied",
      message: "[object Object]",
      class: "permanent",
      thrown: true,
    });
  });

  it("uses the default message of an S3ServiceException built without one", () => {
    // Act
    const result = fromThrown(s3Error("NoSuchBucket", 404));

    // Assess
    expect(result).toStrictEqual({ code: "NoSuchBucket", message: "NoSuchBucket", class: "permanent", thrown: true });
  });
});

describe("fromThrown for a conditional delete (a DeleteObject sent with If-Match)", () => {
  it.each([
    [
      "a 412 PreconditionFailed",
      s3Error("PreconditionFailed", 412, "At least one of the pre-conditions you specified did not hold"),
    ],
    [
      "a 412 under another name",
      s3Error("UnknownError", 412, "At least one of the pre-conditions you specified did not hold"),
    ],
    [
      "a PreconditionFailed Code with another status",
      Object.assign(s3Error("Unknown", 400, "At least one of the pre-conditions you specified did not hold"), {
        Code: "PreconditionFailed",
      }),
    ],
  ])("reads %s as replaced", (_, error) => {
    // Act
    const result = fromThrown(error, true);

    // Assess
    expect(result.class).toBe("replaced");
    expect(result.message).toBe("At least one of the pre-conditions you specified did not hold");
    expect(result.thrown).toBe(true);
  });

  it.each([
    ["a 412 PreconditionFailed", s3Error("PreconditionFailed", 412), "PreconditionFailed", "permanent"],
    ["a 412 under another name", s3Error("UnknownError", 412), "UnknownError", "permanent"],
  ])("reads %s as an ordinary error without the conditional flag", (_, error, code, expected) => {
    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code, message: code, class: expected, thrown: true });
  });

  it.each([
    ["a 404 NoSuchKey", s3Error("NoSuchKey", 404), "gone"],
    ["a 403 AccessDenied", s3Error("AccessDenied", 403), "permanent"],
    ["a 503 SlowDown", s3Error("SlowDown", 503), "retryable"],
    ["a 409 ConditionalRequestConflict", s3Error("ConditionalRequestConflict", 409), "retryable"],
    ["a network error", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), "retryable"],
  ])("classifies %s as it would without the flag", (_, error, expected) => {
    // Act
    const result = fromThrown(error, true);

    // Assess
    expect(result.class).toBe(expected);
    expect(result).toStrictEqual(fromThrown(error));
  });
});

describe("asConditional", () => {
  const entryError = (code: string, errorClass: KeyError["class"]): KeyError => ({
    code,
    message: `${code} for the key`,
    class: errorClass,
    thrown: false,
  });

  it("makes a per-key PreconditionFailed replaced, keeping its code and message", () => {
    // Act
    const result = asConditional(entryError("PreconditionFailed", "permanent"));

    // Assess
    expect(result).toStrictEqual({
      code: "PreconditionFailed",
      message: "PreconditionFailed for the key",
      class: "replaced",
      thrown: false,
    });
  });

  it.each([
    ["NoSuchKey", "gone"],
    ["SlowDown", "retryable"],
    ["AccessDenied", "permanent"],
    ["preconditionfailed", "permanent"],
  ] as const)("returns a %s error unchanged", (code, errorClass) => {
    // Prepare
    const error = entryError(code, errorClass);

    // Act
    const result = asConditional(error);

    // Assess
    expect(result).toBe(error);
  });
});

describe("refusesChecksum", () => {
  it.each([
    ["a 400 MissingContentMD5", s3Error("MissingContentMD5", 400), true],
    ["a 501 NotImplemented", s3Error("NotImplemented", 501), true],
    ["a NotImplemented with another status", s3Error("NotImplemented", 400), true],
    ["any 501", s3Error("UnknownError", 501), true],
    [
      "a Code of MissingContentMD5 under another name",
      Object.assign(new Error("x"), { Code: "MissingContentMD5" }),
      true,
    ],
    ["a 400 MalformedXML", s3Error("MalformedXML", 400), false],
    ["a 403 AccessDenied", s3Error("AccessDenied", 403), false],
    ["a 500 InternalError", s3Error("InternalError", 500), false],
    ["a 503 SlowDown", s3Error("SlowDown", 503), false],
    ["a network error", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), false],
    [
      "a Code that differs from MissingContentMD5 only in case",
      Object.assign(new Error("x"), { Code: "MissingContentMd5" }),
      false,
    ],
    ["undefined", undefined, false],
    ["a string", "MissingContentMD5", false],
  ])("tells that %s refuses the checksum: %s", (_, error, expected) => {
    // Act
    const result = refusesChecksum(error);

    // Assess
    expect(result).toBe(expected);
  });
});

/** An error thrown by fetch when the connection failed: a TypeError whose cause carries the network code. */
const fetchFailed = () =>
  new TypeError("fetch failed", { cause: Object.assign(new Error("other side closed"), { code: "ECONNRESET" }) });

describe("isProgramError", () => {
  it.each([
    ["a TypeError", new TypeError("Cannot read properties of undefined"), true],
    ["a URIError", new URIError("URI malformed"), true],
    ["a RangeError", new RangeError("Invalid string length"), true],
    ["a SyntaxError", new SyntaxError("Unexpected token"), true],
    ["a ReferenceError", new ReferenceError("x is not defined"), true],
    ["an EvalError", new EvalError("no"), true],
    ["a TypeError whose cause has no code", new TypeError("bad", { cause: new Error("inner") }), true],
    ["a TypeError whose cause has a numeric code", new TypeError("bad", { cause: { code: 104 } }), true],
    ["fetch's TypeError caused by a network error", fetchFailed(), false],
    ["a TypeError with $metadata (an HTTP answer)", Object.assign(new TypeError("odd"), { $metadata: {} }), false],
    ["a plain Error", new Error("socket hang up"), false],
    ["an S3ServiceException", s3Error("AccessDenied", 403), false],
    ["an AbortError", new DOMException("This operation was aborted", "AbortError"), false],
    ["an object named TypeError", { name: "TypeError", message: "not an Error" }, false],
    ["a string", "TypeError", false],
    ["undefined", undefined, false],
  ])("tells that %s is a program error: %s", (_, error, expected) => {
    // Act
    const result = isProgramError(error);

    // Assess
    expect(result).toBe(expected);
  });
});

describe("fromThrown of JavaScript's own error types", () => {
  it.each([
    ["TypeError", new TypeError("Cannot read properties of undefined")],
    ["URIError", new URIError("URI malformed")],
    ["RangeError", new RangeError("Invalid string length")],
  ])("reads a %s that came with no HTTP answer as permanent: every attempt would throw it again", (code, error) => {
    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code, message: error.message, class: "permanent", thrown: true });
  });

  it("reads fetch's TypeError caused by a network error as retryable", () => {
    // Act
    const result = fromThrown(fetchFailed());

    // Assess
    expect(result).toStrictEqual({ code: "TypeError", message: "fetch failed", class: "retryable", thrown: true });
  });

  it("reads a TypeError that came with a 503 answer as retryable", () => {
    // Act
    const result = fromThrown(Object.assign(new TypeError("odd"), { $metadata: { httpStatusCode: 503 } }));

    // Assess
    expect(result.class).toBe("retryable");
  });

  it("keeps NoSuchKey gone when it comes as a program error's Code", () => {
    // Act
    const result = fromThrown(Object.assign(new TypeError("gone"), { Code: "NoSuchKey" }));

    // Assess
    expect(result.class).toBe("gone");
  });
});

describe("refusesContent", () => {
  it.each([
    ["a 400 InvalidArgument", s3Error("InvalidArgument", 400), true],
    ["a 400 InvalidRequest", s3Error("InvalidRequest", 400), true],
    ["a 400 MalformedXML", s3Error("MalformedXML", 400), true],
    ["a 400 KeyTooLongError", s3Error("KeyTooLongError", 400), true],
    ["a 400 with an unknown code", s3Error("SomeCodeS3AddsNextYear", 400), true],
    ["a 412 PreconditionFailed", s3Error("PreconditionFailed", 412), true],
    ["a 499", s3Error("ClientClosed", 499), true],
    ["a program error (TypeError)", new TypeError("Cannot read properties of undefined"), true],
    ["a program error (URIError)", new URIError("URI malformed"), true],
    ["a 401", s3Error("Unauthorized", 401), false],
    ["a 403 AccessDenied", s3Error("AccessDenied", 403), false],
    ["a 404 NoSuchBucket", s3Error("NoSuchBucket", 404), false],
    ["a 408", s3Error("RequestTimeout", 408), false],
    ["a 409", s3Error("Conflict", 409), false],
    ["a 429", s3Error("TooManyRequests", 429), false],
    ["a 400 ExpiredToken", s3Error("ExpiredToken", 400), false],
    ["a 400 InvalidBucketName", s3Error("InvalidBucketName", 400), false],
    ["a 400 AuthorizationHeaderMalformed", s3Error("AuthorizationHeaderMalformed", 400), false],
    ["a 400 MissingContentMD5 (a checksum refusal)", s3Error("MissingContentMD5", 400), false],
    ["a 400 NotImplemented", s3Error("NotImplemented", 400), false],
    ["a 400 with a retryable code (SlowDown)", s3Error("SlowDown", 400), false],
    ["a 400 NoSuchKey", s3Error("NoSuchKey", 400), false],
    ["a 301 PermanentRedirect", s3Error("PermanentRedirect", 301), false],
    ["a 500 InternalError", s3Error("InternalError", 500), false],
    ["a 501 NotImplemented", s3Error("NotImplemented", 501), false],
    ["a network error", Object.assign(new Error("read ECONNRESET"), { code: "ECONNRESET" }), false],
    ["fetch's TypeError caused by a network error", fetchFailed(), false],
    [
      "an error with a status that is not a number",
      { name: "InvalidArgument", $metadata: { httpStatusCode: "400" } },
      false,
    ],
    ["undefined", undefined, false],
  ])("tells that %s refuses the request for its content: %s", (_, error, expected) => {
    // Act
    const result = refusesContent(error);

    // Assess
    expect(result).toBe(expected);
  });
});

describe("failures", () => {
  const retryable: Failure = { code: "SlowDown", message: "Please reduce your request rate.", retryable: true };
  const permanent: Failure = { code: "AccessDenied", message: "Access Denied", retryable: false };
  const otherRetryable: Failure = {
    code: "InternalError",
    message: "We encountered an internal error.",
    retryable: true,
  };
  const otherPermanent: Failure = { code: "InvalidArgument", message: "Invalid argument", retryable: false };

  it.each([
    ["nothing, given nothing", undefined, undefined, undefined],
    ["the second, when there is no first", undefined, retryable, retryable],
    ["the first, when there is no second", retryable, undefined, retryable],
    ["a permanent second over a retryable first", retryable, permanent, permanent],
    ["the first of two retryable ones", retryable, otherRetryable, retryable],
    ["the first of two permanent ones", permanent, otherPermanent, permanent],
    ["a permanent first over a retryable second", permanent, retryable, permanent],
  ])("graver picks %s", (_, first, second, expected) => {
    // Act
    const result = graver(first, second);

    // Assess
    expect(result).toBe(expected);
  });

  it.each([
    ["retryable", true],
    ["permanent", false],
    ["gone", false],
    ["replaced", false],
  ] as const)("failureOf reports a %s key error with retryable %s", (errorClass, expected) => {
    // Act
    const result = failureOf({ code: "Code", message: "message", class: errorClass, thrown: false });

    // Assess
    expect(result).toStrictEqual({ code: "Code", message: "message", retryable: expected });
  });

  it.each([
    ["an Error", new Error("the invocation's time budget ran out"), "cut off: the invocation's time budget ran out"],
    ["no reason (an AbortError)", undefined, "cut off: This operation was aborted"],
    ["a string", "time is up", "cut off: the signal fired"],
  ])("abortedFailure reads a signal that fired with %s as Aborted, retryable", (_, reason, message) => {
    // Prepare
    const controller = new AbortController();
    controller.abort(reason);

    // Act
    const result = abortedFailure(controller.signal);

    // Assess
    expect(result).toStrictEqual({ code: "Aborted", message, retryable: true });
  });

  it.each([
    ["an AbortError", new DOMException("This operation was aborted", "AbortError")],
    ["a 403 AccessDenied", s3Error("AccessDenied", 403)],
  ])("failureOfThrown reads %s thrown under a signal that fired as Aborted", (_, error) => {
    // Prepare
    const controller = new AbortController();
    controller.abort(new Error("the invocation's time budget ran out"));

    // Act
    const result = failureOfThrown(error, controller.signal);

    // Assess
    expect(result).toStrictEqual({
      code: "Aborted",
      message: "cut off: the invocation's time budget ran out",
      retryable: true,
    });
  });

  it.each([
    ["no signal", undefined],
    ["a signal that has not fired", new AbortController().signal],
  ])("failureOfThrown reads an error as fromThrown does with %s", (_, signal) => {
    // Act
    const denied = failureOfThrown(s3Error("AccessDenied", 403, "Access Denied"), signal);
    const busy = failureOfThrown(s3Error("SlowDown", 503, "Please reduce your request rate."), signal);

    // Assess
    expect([denied, busy]).toStrictEqual([permanent, retryable]);
  });
});
