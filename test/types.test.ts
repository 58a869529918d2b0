import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { describeShape } from "../src/errors.js";
import * as api from "../src/index.js";
import {
  CleanupError,
  ConfigError,
  InvalidEventError,
  InvalidRecordError,
  isCleanupError,
  isConfigError,
  isInvalidEventError,
  isInvalidRecordError,
  isKeyMappingError,
  isPresenceCheckError,
  KeyMappingError,
  PresenceCheckError,
} from "../src/index.js";
import * as testing from "../src/testing/index.js";

const guards = {
  CleanupError: isCleanupError,
  ConfigError: isConfigError,
  InvalidEventError: isInvalidEventError,
  InvalidRecordError: isInvalidRecordError,
  KeyMappingError: isKeyMappingError,
  PresenceCheckError: isPresenceCheckError,
};

const record = { index: 3, sequenceNumber: "4000000000000000000001", eventId: "abc" };

describe("errors", () => {
  const cause = new Error("the cause");
  const errors: [string, CleanupError][] = [
    ["CleanupError", new CleanupError("base", { cause })],
    ["ConfigError", new ConfigError([{ path: "concurrency", message: "must be at least 1" }], { cause })],
    ["InvalidEventError", new InvalidEventError("no Records", { cause })],
    ["InvalidRecordError", new InvalidRecordError(record, "dynamodb.Keys", "is missing", { cause })],
    ["KeyMappingError", new KeyMappingError(record, "bad key", { key: "k" }, { cause })],
    ["PresenceCheckError", new PresenceCheckError(record, "products", "table not read", { cause })],
  ];

  it.each(errors)("%s sets its name, keeps its cause and extends CleanupError", (name, error) => {
    // Assess
    expect(error.name).toBe(name);
    expect(error.cause).toBe(cause);
    expect(error).toBeInstanceOf(CleanupError);
    expect(error).toBeInstanceOf(Error);
  });

  it.each(errors)("only the type guard of %s (and isCleanupError) accepts it", (name, error) => {
    // Act
    const accepted = Object.entries(guards)
      .filter(([, guard]) => guard(error))
      .map(([guardName]) => guardName);

    // Assess
    expect(accepted).toEqual(name === "CleanupError" ? ["CleanupError"] : ["CleanupError", name]);
  });

  it.each(Object.keys(guards))("accepts a plain object named %s from another realm or copy", (name) => {
    // Prepare
    const lookalike = { name };
    const guard = guards[name as keyof typeof guards];

    // Assess
    expect(guard(lookalike)).toBe(true);
    expect(isCleanupError(lookalike)).toBe(true);
  });

  it("accepts an error created in another VM context, where instanceof fails", () => {
    // Prepare
    const foreign: unknown = runInNewContext(
      'class ConfigError extends Error { name = "ConfigError"; issues = [] }; new ConfigError("x")',
    );

    // Assess
    expect(foreign instanceof Error).toBe(false);
    expect(isConfigError(foreign)).toBe(true);
    expect(isCleanupError(foreign)).toBe(true);
    expect(isKeyMappingError(foreign)).toBe(false);
  });

  it.each([null, undefined, "ConfigError", 42, {}, { name: "Error" }, new Error("x"), new TypeError("x")])(
    "rejects %o",
    (value) => {
      // Assess
      expect(Object.values(guards).map((guard) => guard(value))).toEqual(Object.keys(guards).map(() => false));
    },
  );

  it("lists each config issue with its path in the message", () => {
    // Act
    const error = new ConfigError([
      { path: "concurrency", message: "must be at least 1" },
      { path: "key[1]", message: "has no {attribute} placeholder" },
    ]);

    // Assess
    expect(error.message).toBe(
      "Invalid dynamodb-s3-cleanup options:\n  - `concurrency`: must be at least 1\n  - `key[1]`: has no {attribute} placeholder",
    );
    expect(error.issues).toHaveLength(2);
    expect(error.cause).toBeUndefined();
  });

  it("names the record, its sequence number and its field in an InvalidRecordError", () => {
    // Act
    const error = new InvalidRecordError(record, "dynamodb.Keys", "is missing");

    // Assess
    expect(error.message).toBe(
      "record 3 (SequenceNumber 4000000000000000000001, eventID abc): `dynamodb.Keys` is missing",
    );
    expect(error.record).toBe(record);
    expect(error.field).toBe("dynamodb.Keys");
  });

  it("leaves out what a record does not have", () => {
    // Act
    const bare = new InvalidRecordError({ index: 0 }, undefined, "is not a record object");
    const onlyEvent = new KeyMappingError({ index: 1, eventId: "e-1" }, "bad");

    // Assess
    expect(bare.message).toBe("record 0: is not a record object");
    expect(bare.field).toBeUndefined();
    expect(onlyEvent.message).toBe("record 1 (eventID e-1): bad");
    expect(onlyEvent.attribute).toBeUndefined();
    expect(onlyEvent.key).toBeUndefined();
  });

  it("carries the attribute and key of a KeyMappingError", () => {
    // Act
    const error = new KeyMappingError(record, "bad", { attribute: "productId", key: "images/x.png" });

    // Assess
    expect(error.attribute).toBe("productId");
    expect(error.key).toBe("images/x.png");
    expect(error.record).toBe(record);
  });
});

describe("describeShape", () => {
  it.each([
    ["null", null, "null"],
    ["undefined", undefined, "undefined"],
    ["an array", ["secret@example.com"], "an array"],
    ["an empty object", {}, "an object with keys []"],
    ["an object", { id: "p-1", email: "secret@example.com" }, "an object with keys [id, email]"],
    [
      "an object with more than five keys",
      { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 },
      "an object with keys [a, b, c, d, e]",
    ],
    ["a Map", new Map([["email", "secret@example.com"]]), "an object with keys []"],
    ["a string", "secret@example.com", "a string"],
    ["a number", 42, "a number"],
    ["a bigint", 12345678901234567890n, "a bigint"],
    ["a boolean", true, "a boolean"],
    ["a symbol", Symbol("secret"), "a symbol"],
    ["a function", () => "secret@example.com", "a function"],
  ])("describes %s by its shape only", (_, value, expected) => {
    // Act
    const shape = describeShape(value);

    // Assess
    expect(shape).toBe(expected);
    expect(shape).not.toContain("secret");
  });
});

describe("public API", () => {
  it("exports exactly these runtime values, and keeps the XML check and the event-source adapters private", () => {
    // Act
    const names = Object.keys(api).sort();

    // Assess
    expect(names).toEqual([
      "CLEANUP_ENV_VARIABLES",
      "CleanupError",
      "ConfigError",
      "EMF_METRICS",
      "InvalidEventError",
      "InvalidRecordError",
      "KINESIS_REMOVE_ONLY_FILTER_CRITERIA",
      "KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA",
      "KeyMappingError",
      "MAX_KEYS_PER_REQUEST",
      "MAX_KEY_BYTES",
      "PresenceCheckError",
      "RECOMMENDED_EVENT_SOURCE_MAPPING",
      "REMOVE_ONLY_FILTER_CRITERIA",
      "REMOVE_ONLY_PATTERN",
      "TTL_REMOVE_ONLY_FILTER_CRITERIA",
      "TTL_REMOVE_ONLY_PATTERN",
      "batchOfFailureRecord",
      "compareSequenceNumbers",
      "createBatchDeleter",
      "createCleanupHandler",
      "createCleanupHandlerFromEnv",
      "createKeyMapper",
      "createReplayHandler",
      "createReplayHandlerFromEnv",
      "emfMetrics",
      "failureMessagesOf",
      "failureObjectOf",
      "filterCriteria",
      "isCleanupError",
      "isConfigError",
      "isInvalidEventError",
      "isInvalidRecordError",
      "isKeyMappingError",
      "isPresenceCheckError",
      "isTtlRemoval",
      "parseStreamRecords",
      "recommendedEventSourceMapping",
    ]);
  });
});

describe("testing API", () => {
  it("exports the event-source helpers next to the record factories", () => {
    // Act
    const names = Object.keys(testing);

    // Assess
    expect(names).toEqual(expect.arrayContaining(["kinesisEvent", "pipesEvent", "createRecordFactory", "streamEvent"]));
    expect(typeof testing.kinesisEvent).toBe("function");
    expect(typeof testing.pipesEvent).toBe("function");
  });
});
