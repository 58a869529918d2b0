import { describe, expect, it, vi } from "vitest";
import * as z from "zod/mini";
import { ConfigError } from "../src/errors.js";
import { nonEmptyString, optionsSchema, validateOptions } from "../src/validation.js";

/** Optional fields whose factories record that they ran. */
function spiedFields() {
  const bucket = vi.fn(nonEmptyString);
  const dryRun = vi.fn(() => z.boolean({ error: "must be true or false" }));
  return { fields: { bucket, dryRun }, bucket, dryRun };
}

const required = () => ({ key: z.string({ error: "must be a string" }) });

/** The issues a ConfigError lists, or `[]` when the options pass. */
function issuesOf(input: unknown, fields = spiedFields().fields) {
  try {
    validateOptions(optionsSchema(required(), fields, input), input);
    return [];
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
}

describe("optionsSchema", () => {
  it("builds the schemas of the options given and of no other", () => {
    const { fields, bucket, dryRun } = spiedFields();

    expect(issuesOf({ key: "k", bucket: "b" }, fields)).toEqual([]);

    expect(bucket).toHaveBeenCalledOnce();
    expect(dryRun).not.toHaveBeenCalled();
  });

  it("checks an option it is given", () => {
    expect(issuesOf({ key: "k", bucket: "" })).toEqual([{ path: "bucket", message: "must be a non-empty string" }]);
  });

  it("accepts an optional option given as undefined", () => {
    expect(issuesOf({ key: "k", dryRun: undefined })).toEqual([]);
  });

  it("checks the required options even when they are missing", () => {
    expect(issuesOf({ bucket: "b" })).toEqual([{ path: "key", message: "must be a string" }]);
  });

  it("reports an option it does not know as not an option", () => {
    expect(issuesOf({ key: "k", bucket: "b", buckets: ["b"] })).toEqual([
      { path: "buckets", message: "is not an option" },
    ]);
  });

  it("lists the issues in the fields' order, not the input's", () => {
    expect(issuesOf({ dryRun: "yes", bucket: 1, key: "k" })).toEqual([
      { path: "bucket", message: "must be a non-empty string" },
      { path: "dryRun", message: "must be true or false" },
    ]);
  });

  it("builds no optional schema for input that is not an object", () => {
    const { fields, bucket, dryRun } = spiedFields();

    expect(issuesOf("options", fields)).toEqual([{ path: "(options)", message: "must be an object" }]);
    expect(bucket).not.toHaveBeenCalled();
    expect(dryRun).not.toHaveBeenCalled();
  });
});
