import { S3ServiceException } from "@aws-sdk/client-s3";
import { describe, expect, it } from "vitest";
import { classifyCode, fromThrown } from "../src/s3-errors.js";

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
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "permanent" });
  });

  it("prefers a Code property to the name", () => {
    // Prepare
    const error = Object.assign(new Error("Please reduce your request rate."), { Code: "SlowDown" });

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "SlowDown", message: "Please reduce your request rate.", class: "retryable" });
  });

  it("falls back to the name when Code is not a string", () => {
    // Prepare
    const error = Object.assign(new RangeError("bad"), { Code: 42 });

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "RangeError", message: "bad", class: "permanent" });
  });

  it.each([500, 502, 503, 429])("makes an unknown code retryable when the status is %i", (status) => {
    // Act
    const result = fromThrown(s3Error("AccessDenied", status, "Access Denied"));

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "retryable" });
  });

  it.each([400, 403, 404, 428, 499])("keeps a permanent code permanent when the status is %i", (status) => {
    // Act
    const result = fromThrown(s3Error("AccessDenied", status, "Access Denied"));

    // Assess
    expect(result.class).toBe("permanent");
  });

  it("makes an error marked $retryable retryable", () => {
    // Prepare
    const error = s3Error("BadDigest", 400, "checksum mismatch");
    error.$retryable = { throttling: false };

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "BadDigest", message: "checksum mismatch", class: "retryable" });
  });

  it("keeps NoSuchKey as gone even with a 5xx status", () => {
    // Act
    const result = fromThrown(s3Error("NoSuchKey", 503, "The specified key does not exist."));

    // Assess
    expect(result).toStrictEqual({ code: "NoSuchKey", message: "The specified key does not exist.", class: "gone" });
  });

  it("keeps a retryable code retryable with a 4xx status", () => {
    // Act
    const result = fromThrown(s3Error("SlowDown", 400, "Please reduce your request rate."));

    // Assess
    expect(result.class).toBe("retryable");
  });

  it("ignores a status that is not a number", () => {
    // Prepare
    const error = { name: "AccessDenied", message: "Access Denied", $metadata: { httpStatusCode: "503" } };

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "Access Denied", class: "permanent" });
  });

  it("uses UnknownError for an object with neither Code nor name", () => {
    // Prepare
    const error = { message: "socket hang up" };

    // Act
    const result = fromThrown(error);

    // Assess
    expect(result).toStrictEqual({ code: "UnknownError", message: "socket hang up", class: "permanent" });
  });

  it("uses UnknownError when the name is not a string", () => {
    // Act
    const result = fromThrown({ name: 7, message: "odd" });

    // Assess
    expect(result).toStrictEqual({ code: "UnknownError", message: "odd", class: "permanent" });
  });

  it("uses the error's string form when the message is empty", () => {
    // Act
    const result = fromThrown(new Error(""));

    // Assess
    expect(result).toStrictEqual({ code: "Error", message: "Error", class: "permanent" });
  });

  it("uses the error's string form when the message is not a string", () => {
    // Act
    const result = fromThrown({ name: "AccessDenied", message: 403 });

    // Assess
    expect(result).toStrictEqual({ code: "AccessDenied", message: "[object Object]", class: "permanent" });
  });

  it("uses the default message of an S3ServiceException built without one", () => {
    // Act
    const result = fromThrown(s3Error("NoSuchBucket", 404));

    // Assess
    expect(result).toStrictEqual({ code: "NoSuchBucket", message: "NoSuchBucket", class: "permanent" });
  });

  it.each([
    ["a string", "connection reset", "connection reset"],
    ["a number", 42, "42"],
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
  ])("reads a thrown %s as a permanent UnknownError", (_, thrown, message) => {
    // Act
    const result = fromThrown(thrown);

    // Assess
    expect(result).toStrictEqual({ code: "UnknownError", message, class: "permanent" });
  });
});
