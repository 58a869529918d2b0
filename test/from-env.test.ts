import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type CleanupOptions, resolveCleanupOptions } from "../src/cleanup-options.js";
import { type ConfigError, isConfigError } from "../src/errors.js";
import { CLEANUP_ENV_VARIABLES, createCleanupHandlerFromEnv, envPath } from "../src/from-env.js";
import { createCleanupHandler } from "../src/handler.js";
import { createReplayHandlerFromEnv } from "../src/replay-handler.js";
import type { CleanupSummary, Logger } from "../src/types.js";
import { createRecordFactory, productKeys, recordingLogger, streamEvent } from "./factories.js";

// The real option check, watched: the tests see the options each variable turns into.
vi.mock("../src/cleanup-options.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../src/cleanup-options.js")>();
  return { ...actual, resolveCleanupOptions: vi.fn(actual.resolveCleanupOptions) };
});
const factory = vi.mocked(resolveCleanupOptions);

const s3 = mockClient(S3Client);

beforeEach(() => {
  s3.reset();
  s3.on(DeleteObjectsCommand).resolves({});
  factory.mockClear();
});

afterEach(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

afterAll(() => {
  s3.restore();
});

const BASE = { CLEANUP_BUCKET: "product-images", CLEANUP_KEY: "images/{productId}.png" } as const;

/** The options createCleanupHandlerFromEnv gave the factory, for `BASE` plus `env`. */
function optionsFor(env: Record<string, string | undefined>): Record<string, unknown> {
  createCleanupHandlerFromEnv({ ...BASE, ...env });
  return factory.mock.lastCall?.[0] as unknown as Record<string, unknown>;
}

/** The ConfigError `make` throws. */
function configError(make: () => unknown): ConfigError {
  try {
    make();
  } catch (error) {
    if (isConfigError(error)) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

/** Keeps the default logger's lines out of the test output. */
const silenceStdout = () => vi.spyOn(process.stdout, "write").mockReturnValue(true);

/** What a stdout spy was given, one parsed JSON object per line. */
const linesOf = (stdout: ReturnType<typeof silenceStdout>) =>
  stdout.mock.calls.map(([chunk]) => JSON.parse(String(chunk)) as Record<string, unknown>);

const issuesFor = (env: Record<string, string | undefined>) =>
  configError(() => createCleanupHandlerFromEnv(env)).issues;

describe("createCleanupHandlerFromEnv", () => {
  it("builds a working handler from CLEANUP_BUCKET and CLEANUP_KEY alone, with every other option at its default", async () => {
    // Prepare
    silenceStdout();
    const { removeRecord } = createRecordFactory();

    // Act
    const handler = createCleanupHandlerFromEnv({ ...BASE });
    const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

    // Assess
    expect(factory.mock.lastCall?.[0]).toEqual({ bucket: "product-images", key: "images/{productId}.png" });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(s3.commandCalls(DeleteObjectsCommand)[0]?.args[0].input).toMatchObject({
      Bucket: "product-images",
      Delete: { Objects: [{ Key: "images/p-1.png" }] },
    });
  });

  it("reads process.env when given no variables", () => {
    // Prepare
    vi.stubEnv("CLEANUP_BUCKET", "from-process-env");
    vi.stubEnv("CLEANUP_KEY", "{id}");

    // Act
    createCleanupHandlerFromEnv();

    // Assess
    expect(factory.mock.lastCall?.[0]).toEqual({ bucket: "from-process-env", key: "{id}" });
  });

  it("ignores variables outside CLEANUP_ and CLEANUP_ variables set to the empty string", () => {
    // Act
    const options = optionsFor({
      PATH: "/usr/bin",
      AWS_REGION: "eu-west-1",
      cleanup_bucket: "lower-case",
      CLEANUP_BUCKETS: "",
      CLEANUP_CONCURRENCY: "",
      CLEANUP_DRY_RUN: "",
      CLEANUP_METRICS_DIMENSIONS: "",
    });

    // Assess
    expect(options).toEqual({ bucket: "product-images", key: "images/{productId}.png" });
  });

  describe("variables", () => {
    it.each([
      [{ CLEANUP_KEY: "images/{productId}.png" }, { key: "images/{productId}.png" }],
      [
        { CLEANUP_KEY: '["images/{productId}.png","thumbs/{productId}.webp"]' },
        { key: ["images/{productId}.png", "thumbs/{productId}.webp"] },
      ],
      [{ CLEANUP_KEY: undefined, CLEANUP_KEY_ATTRIBUTE: "imageKeys" }, { key: { attribute: "imageKeys" } }],
      [{ CLEANUP_KEY: "", CLEANUP_KEY_ATTRIBUTE: "imageKeys" }, { key: { attribute: "imageKeys" } }],
      [{ CLEANUP_REMOVALS: "ttl" }, { removals: "ttl" }],
      [{ CLEANUP_REMOVALS: "user" }, { removals: "user" }],
      [{ CLEANUP_REMOVALS: "any" }, { removals: "any" }],
      [{ CLEANUP_TTL_ATTRIBUTE: "expiresAt" }, { ttlAttribute: "expiresAt" }],
      [{ CLEANUP_ETAG_ATTRIBUTE: "imageEtag" }, { etagAttribute: "imageEtag" }],
      [{ CLEANUP_TABLE_NAMES: "products" }, { tableNames: ["products"] }],
      [{ CLEANUP_TABLE_NAMES: "products, orders ,archive" }, { tableNames: ["products", "orders", "archive"] }],
      [{ CLEANUP_TABLE_NAMES: '["products","orders"]' }, { tableNames: ["products", "orders"] }],
      [{ CLEANUP_ALLOWED_BUCKETS: "product-thumbnails" }, { allowedBuckets: ["product-thumbnails"] }],
      [{ CLEANUP_ALLOWED_BUCKETS: "thumbs, archive" }, { allowedBuckets: ["thumbs", "archive"] }],
      [{ CLEANUP_ALLOWED_BUCKETS: '["thumbs"]' }, { allowedBuckets: ["thumbs"] }],
      [{ CLEANUP_ALLOWED_PREFIXES: "images/" }, { allowedPrefixes: ["images/"] }],
      [{ CLEANUP_ALLOWED_PREFIXES: "images/, thumbs/ ,media/" }, { allowedPrefixes: ["images/", "thumbs/", "media/"] }],
      [{ CLEANUP_ALLOWED_PREFIXES: '[" spaced/","a,b/"]' }, { allowedPrefixes: [" spaced/", "a,b/"] }],
      [{ CLEANUP_VERSIONS: "all" }, { versions: "all" }],
      [{ CLEANUP_VERSIONS: "current" }, { versions: "current" }],
      [{ CLEANUP_CONCURRENCY: "16" }, { concurrency: 16 }],
      [{ CLEANUP_CONCURRENCY: "064" }, { concurrency: 64 }],
      [{ CLEANUP_MAX_ATTEMPTS: "5" }, { maxAttempts: 5 }],
      [{ CLEANUP_TIMEOUT_MARGIN_MS: "0" }, { timeoutMarginMs: 0 }],
      [{ CLEANUP_TIMEOUT_MARGIN_MS: "5000" }, { timeoutMarginMs: 5000 }],
      [{ CLEANUP_ON_INVALID_RECORD: "skip" }, { onInvalidRecord: "skip" }],
      [{ CLEANUP_DRY_RUN: "true" }, { dryRun: true }],
      [{ CLEANUP_DRY_RUN: "false" }, { dryRun: false }],
      [{ CLEANUP_CONTENT_MD5: "true" }, { contentMd5: true }],
      [{ CLEANUP_FALLBACK_TO_SINGLE_DELETES: "false" }, { fallbackToSingleDeletes: false }],
      [{ CLEANUP_VERIFY_ABSENT: "true" }, { verifyAbsent: true }],
      [{ CLEANUP_VERIFY_ABSENT: "false" }, { verifyAbsent: false }],
      [{ CLEANUP_VERIFY_ABSENT_TABLE: "products" }, { verifyAbsent: { tableName: "products" } }],
      [
        { CLEANUP_VERIFY_ABSENT: "true", CLEANUP_VERIFY_ABSENT_TABLE: "products" },
        { verifyAbsent: { tableName: "products" } },
      ],
    ])("turns %j into %j", (env, expected) => {
      // Act
      const options = optionsFor(env);

      // Assess
      expect(options).toMatchObject(expected);
      const { bucket: _, key: __, ...others } = options;
      const { key: ___, ...expectedOthers } = expected as Record<string, unknown>;
      expect(others).toEqual(expectedOthers);
    });

    it("accepts a valid value for every variable in CLEANUP_ENV_VARIABLES", () => {
      // Prepare
      const valid: Record<(typeof CLEANUP_ENV_VARIABLES)[number], string> = {
        CLEANUP_BUCKET: "product-images",
        CLEANUP_KEY: "images/{productId}.png",
        CLEANUP_KEY_ATTRIBUTE: "imageKeys",
        CLEANUP_REMOVALS: "ttl",
        CLEANUP_TTL_ATTRIBUTE: "expiresAt",
        CLEANUP_TABLE_NAMES: "products",
        CLEANUP_ETAG_ATTRIBUTE: "imageEtag",
        CLEANUP_ALLOWED_BUCKETS: "product-thumbnails",
        CLEANUP_ALLOWED_PREFIXES: "images/",
        CLEANUP_VERSIONS: "current",
        CLEANUP_CONCURRENCY: "8",
        CLEANUP_MAX_ATTEMPTS: "4",
        CLEANUP_TIMEOUT_MARGIN_MS: "3000",
        CLEANUP_ON_INVALID_RECORD: "skip",
        CLEANUP_DRY_RUN: "true",
        CLEANUP_CONTENT_MD5: "true",
        CLEANUP_FALLBACK_TO_SINGLE_DELETES: "false",
        CLEANUP_VERIFY_ABSENT: "true",
        CLEANUP_VERIFY_ABSENT_TABLE: "products",
        CLEANUP_METRICS_NAMESPACE: "ProductImages",
        CLEANUP_METRICS_DIMENSIONS: '{"Table":"products"}',
        CLEANUP_LOG_LEVEL: "warn",
      };

      // Act
      const { CLEANUP_KEY_ATTRIBUTE: _, ...withTemplate } = valid;
      const { CLEANUP_KEY: __, ...withAttribute } = valid;

      // Assess
      expect(Object.keys(valid).sort()).toEqual([...CLEANUP_ENV_VARIABLES].sort());
      expect(() => createCleanupHandlerFromEnv(withTemplate)).not.toThrow();
      expect(() => createCleanupHandlerFromEnv(withAttribute)).not.toThrow();
    });

    it("agrees with the handler on the integer ranges", () => {
      const ranges = [
        ["CLEANUP_CONCURRENCY", "concurrency"],
        ["CLEANUP_MAX_ATTEMPTS", "maxAttempts"],
        ["CLEANUP_TIMEOUT_MARGIN_MS", "timeoutMarginMs"],
      ] as const;
      fc.assert(
        fc.property(fc.constantFrom(...ranges), fc.integer({ min: -3, max: 900_000 }), ([variable, option], n) => {
          // Act
          const fromEnv = attempt(() => createCleanupHandlerFromEnv({ ...BASE, [variable]: String(n) }));
          const direct = attempt(() => createCleanupHandler({ bucket: "b", key: "{id}", [option]: n }));

          // Assess
          expect(fromEnv).toBe(direct);
        }),
        {
          examples: [
            [ranges[0], 64],
            [ranges[0], 65],
            [ranges[1], 10],
            [ranges[1], 11],
            [ranges[2], 0],
          ],
        },
      );
    });

    it("caps CLEANUP_TIMEOUT_MARGIN_MS at Lambda's longest timeout, 900000 ms", () => {
      expect(issuesFor({ ...BASE, CLEANUP_TIMEOUT_MARGIN_MS: "900001" })).toEqual([
        { path: "CLEANUP_TIMEOUT_MARGIN_MS", message: "must be an integer from 0 to 900000" },
      ]);
    });
  });

  describe("problems", () => {
    it.each([
      ["CLEANUP_CONCURRENCY", "0", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "65", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "four", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "4.5", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", " 4", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "+4", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "1e1", "must be an integer from 1 to 64"],
      ["CLEANUP_CONCURRENCY", "99999999999999999999", "must be an integer from 1 to 64"],
      ["CLEANUP_MAX_ATTEMPTS", "-1", "must be an integer from 1 to 10"],
      ["CLEANUP_TIMEOUT_MARGIN_MS", "2s", "must be an integer from 0 to 900000"],
      ["CLEANUP_REMOVALS", "TTL", 'must be "any", "ttl" or "user"'],
      ["CLEANUP_VERSIONS", "every", 'must be "current" or "all"'],
      ["CLEANUP_ON_INVALID_RECORD", "ignore", 'must be "fail" or "skip"'],
      ["CLEANUP_DRY_RUN", "TRUE", 'must be "true" or "false"'],
      ["CLEANUP_DRY_RUN", "1", 'must be "true" or "false"'],
      ["CLEANUP_CONTENT_MD5", "yes", 'must be "true" or "false"'],
      ["CLEANUP_FALLBACK_TO_SINGLE_DELETES", "off", 'must be "true" or "false"'],
      ["CLEANUP_LOG_LEVEL", "verbose", 'must be "debug", "info", "warn" or "error"'],
      [
        "CLEANUP_KEY",
        "[images/{id}.png",
        'must be a JSON array of templates when it starts with "[", and is not valid JSON',
      ],
      ["CLEANUP_KEY", '["a/{id}", 7]', "must be a JSON array of templates, with strings only"],
      [
        "CLEANUP_ALLOWED_PREFIXES",
        "[images/",
        'must be a JSON array of prefixes when it starts with "[", and is not valid JSON',
      ],
      ["CLEANUP_ALLOWED_PREFIXES", "[]", "must hold at least one prefix (leave it out to allow every key)"],
      [
        "CLEANUP_TABLE_NAMES",
        "[products",
        'must be a JSON array of table names when it starts with "[", and is not valid JSON',
      ],
      ["CLEANUP_TABLE_NAMES", '["products", 7]', "must be a JSON array of table names, with strings only"],
      ["CLEANUP_TABLE_NAMES", "[]", "must hold at least one table name (leave it out to take every table)"],
      ["CLEANUP_ALLOWED_BUCKETS", "[]", "must hold at least one bucket (leave it out to allow only `bucket`)"],
      [
        "CLEANUP_ALLOWED_BUCKETS",
        "[thumbs",
        'must be a JSON array of bucket names when it starts with "[", and is not valid JSON',
      ],
      [
        "CLEANUP_METRICS_DIMENSIONS",
        "Stage=prod",
        "must be a JSON object of dimension names to values, and is not valid JSON",
      ],
      ["CLEANUP_METRICS_DIMENSIONS", '["Stage"]', "must be a JSON object of dimension names to values, not an array"],
      ["CLEANUP_METRICS_DIMENSIONS", "null", "must be a JSON object of dimension names to values, not null"],
      ["CLEANUP_METRICS_DIMENSIONS", "7", "must be a JSON object of dimension names to values, not a number"],
      ["CLEANUP_METRICS_NAMESPACE", "AWS/Lambda", 'must not start with "AWS/"'],
    ])("reports %s=%j: %s", (variable, value, message) => {
      // Act
      const issues = issuesFor({ ...BASE, CLEANUP_METRICS_NAMESPACE: "Cleanup", [variable]: value });

      // Assess
      expect(issues).toEqual([{ path: variable, message }]);
    });

    it("rejects a JSON CLEANUP_KEY with objects in it", () => {
      expect(issuesFor({ ...BASE, CLEANUP_KEY: '[{"template": "a"}]' })).toEqual([
        {
          path: "CLEANUP_KEY",
          message: "must be a JSON array of templates, with strings only",
        },
      ]);
    });

    it("names the template at fault in a JSON array of templates", () => {
      expect(issuesFor({ ...BASE, CLEANUP_KEY: '["images/{productId}.png", "thumbs/{productId"]' })).toEqual([
        { path: "CLEANUP_KEY[1]", message: 'has an unclosed "{" at position 7 (write "{{" for a literal brace)' },
      ]);
    });

    it("names the prefix at fault in CLEANUP_ALLOWED_PREFIXES", () => {
      expect(issuesFor({ ...BASE, CLEANUP_ALLOWED_PREFIXES: "images/,,thumbs/" })).toEqual([
        { path: "CLEANUP_ALLOWED_PREFIXES[1]", message: "must be a non-empty string" },
      ]);
    });

    it("names the bucket at fault in CLEANUP_ALLOWED_BUCKETS", () => {
      expect(issuesFor({ ...BASE, CLEANUP_ALLOWED_BUCKETS: "thumbs," })).toEqual([
        { path: "CLEANUP_ALLOWED_BUCKETS[1]", message: "must be a non-empty string" },
      ]);
    });

    it("names the table name at fault in CLEANUP_TABLE_NAMES", () => {
      expect(issuesFor({ ...BASE, CLEANUP_TABLE_NAMES: "products, ,orders" })).toEqual([
        { path: "CLEANUP_TABLE_NAMES[1]", message: "must be a non-empty string" },
      ]);
    });

    it("names the dimension at fault in CLEANUP_METRICS_DIMENSIONS", () => {
      expect(
        issuesFor({ ...BASE, CLEANUP_METRICS_NAMESPACE: "Cleanup", CLEANUP_METRICS_DIMENSIONS: '{"Stage": 7}' }),
      ).toEqual([
        {
          path: "CLEANUP_METRICS_DIMENSIONS.Stage",
          message: "must be a non-empty string of printable ASCII characters",
        },
      ]);
    });

    it("requires CLEANUP_METRICS_NAMESPACE for CLEANUP_METRICS_DIMENSIONS", () => {
      expect(issuesFor({ ...BASE, CLEANUP_METRICS_DIMENSIONS: '{"Stage":"prod"}' })).toEqual([
        { path: "CLEANUP_METRICS_DIMENSIONS", message: "needs CLEANUP_METRICS_NAMESPACE" },
      ]);
    });

    it("rejects CLEANUP_VERIFY_ABSENT_TABLE with CLEANUP_VERIFY_ABSENT=false", () => {
      expect(issuesFor({ ...BASE, CLEANUP_VERIFY_ABSENT: "false", CLEANUP_VERIFY_ABSENT_TABLE: "products" })).toEqual([
        { path: "CLEANUP_VERIFY_ABSENT_TABLE", message: "needs CLEANUP_VERIFY_ABSENT unset or true" },
      ]);
    });

    it("requires CLEANUP_BUCKET", () => {
      expect(issuesFor({ CLEANUP_KEY: "{id}" })).toEqual([{ path: "CLEANUP_BUCKET", message: "is required" }]);
    });

    it("requires CLEANUP_KEY or CLEANUP_KEY_ATTRIBUTE", () => {
      expect(issuesFor({ CLEANUP_BUCKET: "b", CLEANUP_KEY: "" })).toEqual([
        { path: "CLEANUP_KEY", message: "is required (or CLEANUP_KEY_ATTRIBUTE)" },
      ]);
    });

    it("rejects CLEANUP_KEY and CLEANUP_KEY_ATTRIBUTE together", () => {
      expect(issuesFor({ ...BASE, CLEANUP_KEY_ATTRIBUTE: "imageKeys" })).toEqual([
        { path: "CLEANUP_KEY_ATTRIBUTE", message: "must not be set together with CLEANUP_KEY" },
      ]);
    });

    it("still checks CLEANUP_KEY when CLEANUP_KEY_ATTRIBUTE is set too", () => {
      expect(issuesFor({ ...BASE, CLEANUP_KEY: "images/{productId", CLEANUP_KEY_ATTRIBUTE: "imageKeys" })).toEqual([
        { path: "CLEANUP_KEY_ATTRIBUTE", message: "must not be set together with CLEANUP_KEY" },
        { path: "CLEANUP_KEY", message: 'has an unclosed "{" at position 7 (write "{{" for a literal brace)' },
      ]);
    });

    it("rejects an unknown CLEANUP_ variable, such as a misspelt one", () => {
      expect(issuesFor({ ...BASE, CLEANUP_BUCKETS: "product-images", CLEANUP_DRYRUN: "true" })).toEqual([
        { path: "CLEANUP_BUCKETS", message: "is not a known variable" },
        { path: "CLEANUP_DRYRUN", message: "is not a known variable" },
      ]);
    });

    it("reports every problem at once, in one ConfigError, the variables' own before the handler's", () => {
      // Act
      const error = configError(() =>
        createCleanupHandlerFromEnv({
          CLEANUP_KEY: '["images/{productId}.png", "{}"]',
          CLEANUP_CONCURRENCY: "0",
          CLEANUP_REMOVALS: "expired",
          CLEANUP_DRY_RUN: "yes",
          CLEANUP_BUKET: "typo",
          CLEANUP_METRICS_NAMESPACE: ":Cleanup",
        }),
      );

      // Assess
      expect(error.issues).toEqual([
        { path: "CLEANUP_REMOVALS", message: 'must be "any", "ttl" or "user"' },
        { path: "CLEANUP_CONCURRENCY", message: "must be an integer from 1 to 64" },
        { path: "CLEANUP_DRY_RUN", message: 'must be "true" or "false"' },
        { path: "CLEANUP_BUKET", message: "is not a known variable" },
        { path: "CLEANUP_BUCKET", message: "is required" },
        { path: "CLEANUP_METRICS_NAMESPACE", message: 'must not start with ":"' },
        { path: "CLEANUP_KEY[1]", message: "has an empty or malformed placeholder at position 0" },
      ]);
      expect(error.message).toContain("`CLEANUP_CONCURRENCY`: must be an integer from 1 to 64");
      expect(isConfigError(error.cause)).toBe(true);
    });

    it("leaves out the handler's complaints about variables it already reported", () => {
      // Act
      const issues = issuesFor({ CLEANUP_KEY: "[oops" });

      // Assess
      expect(issues).toEqual([
        {
          path: "CLEANUP_KEY",
          message: 'must be a JSON array of templates when it starts with "[", and is not valid JSON',
        },
        { path: "CLEANUP_BUCKET", message: "is required" },
      ]);
    });

    it("checks the options as they are when the variables have problems: no stand-in client, no handler", () => {
      // Act
      const error = configError(() => createCleanupHandlerFromEnv({ ...BASE, CLEANUP_CONCURRENCY: "0" }));

      // Assess
      expect(error.issues.map((issue) => issue.path)).toEqual(["CLEANUP_CONCURRENCY"]);
      expect(factory).toHaveBeenCalledTimes(1);
      expect(factory.mock.lastCall?.[0]?.s3Client).toBeUndefined();
    });

    it("rethrows what the handler throws other than a ConfigError", () => {
      // Prepare
      const failure = new Error("no memory");
      factory.mockImplementationOnce(() => {
        throw failure;
      });

      // Act
      const act = () => createCleanupHandlerFromEnv({ ...BASE });

      // Assess
      expect(act).toThrow(failure);
    });

    it("checks CLEANUP_BUCKET and each of CLEANUP_ALLOWED_BUCKETS as a bucket name, naming the variable and the index", () => {
      // Act
      const issues = issuesFor({
        ...BASE,
        CLEANUP_BUCKET: "s3://product-images/images",
        CLEANUP_ALLOWED_BUCKETS: "archive, media/2024",
      });

      // Assess
      expect(issues).toEqual([
        { path: "CLEANUP_BUCKET", message: 'is an S3 URL; pass the bare bucket name: "product-images"' },
        {
          path: "CLEANUP_ALLOWED_BUCKETS[1]",
          message: 'holds "/", which no bucket name has: the path belongs in the key (or `allowedPrefixes`)',
        },
      ]);
    });

    it("never quotes a variable's value in its messages", () => {
      const secret = fc.string({ minLength: 1, maxLength: 12 }).map((text) => `SeCrEt${text}`);
      fc.assert(
        fc.property(
          fc.constantFrom(...CLEANUP_ENV_VARIABLES, "CLEANUP_UNKNOWN"),
          secret,
          fc.constantFrom("", "[", "{", '["', '{"a":'),
          (variable, value, opening) => {
            // Act
            const text = `${opening}${value}`;
            let message = "";
            try {
              createCleanupHandlerFromEnv({ ...BASE, CLEANUP_METRICS_NAMESPACE: "Cleanup", [variable]: text });
            } catch (error) {
              message = (error as Error).message;
            }

            // Assess
            expect(message).not.toContain("SeCrEt");
          },
        ),
      );
    });
  });

  describe("overrides", () => {
    it("replace what the variables set", () => {
      // Prepare
      const s3Client = new S3Client({ region: "eu-west-1" });
      const { logger } = recordingLogger();
      const onResult = () => {};

      // Act
      const options = (() => {
        createCleanupHandlerFromEnv(
          { ...BASE, CLEANUP_CONCURRENCY: "2", CLEANUP_METRICS_NAMESPACE: "Cleanup", CLEANUP_LOG_LEVEL: "warn" },
          { concurrency: 32, s3Client, logger, onResult },
        );
        return factory.mock.lastCall?.[0] as CleanupOptions;
      })();

      // Assess
      expect(options).toEqual({
        bucket: "product-images",
        key: "images/{productId}.png",
        concurrency: 32,
        s3Client,
        logger,
        onResult,
      });
    });

    it("leave what the variables set when they are undefined, so that a scope or a dry run stays", () => {
      // Prepare
      const { logger } = recordingLogger();

      // Act
      const options = (() => {
        createCleanupHandlerFromEnv(
          { ...BASE, CLEANUP_ALLOWED_PREFIXES: "images/", CLEANUP_DRY_RUN: "true", CLEANUP_CONCURRENCY: "2" },
          { allowedPrefixes: undefined, dryRun: undefined, concurrency: undefined, logger },
        );
        return factory.mock.lastCall?.[0] as CleanupOptions;
      })();

      // Assess
      expect(options).toEqual({
        bucket: "product-images",
        key: "images/{productId}.png",
        allowedPrefixes: ["images/"],
        dryRun: true,
        concurrency: 2,
        logger,
      });
    });

    it("keep a variable an undefined override names, and name it by the variable in issues", () => {
      // Act
      const issues = issuesForOverrides(
        { ...BASE, CLEANUP_ETAG_ATTRIBUTE: "imageEtag", CLEANUP_VERSIONS: "all" },
        { versions: undefined },
      );

      // Assess
      expect(issues).toEqual([
        {
          path: "CLEANUP_ETAG_ATTRIBUTE",
          message: 'cannot be used with versions: "all": a purge of every version has no ETag to match',
        },
      ]);
    });

    it("names a bad override overrides.<option>, and a variable by its name", () => {
      // Act
      const issues = issuesForOverrides(
        { ...BASE, CLEANUP_MAX_ATTEMPTS: "3" },
        {
          concurrency: 0,
          logger: {} as Logger,
        },
      );

      // Assess
      expect(issues).toEqual([
        { path: "overrides.concurrency", message: "must be at least 1" },
        ...["debug", "info", "warn", "error"].map((level) => ({
          path: `overrides.logger.${level}`,
          message: "must be a method",
        })),
      ]);
    });

    it("use the S3 client given, and send the deletes through it", async () => {
      // Prepare
      silenceStdout();
      const s3Client = new S3Client({ region: "eu-west-1" });
      const send = vi.spyOn(s3Client, "send");
      const { removeRecord } = createRecordFactory();

      // Act
      const handler = createCleanupHandlerFromEnv({ ...BASE }, { s3Client });
      await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

      // Assess
      expect(send).toHaveBeenCalledTimes(1);
    });
  });

  describe("CLEANUP_METRICS_NAMESPACE", () => {
    it("writes one EMF line per invocation to stdout, with CLEANUP_METRICS_DIMENSIONS", async () => {
      // Prepare
      const stdout = vi.spyOn(process.stdout, "write").mockReturnValue(true);
      const { removeRecord } = createRecordFactory();
      const handler = createCleanupHandlerFromEnv({
        ...BASE,
        CLEANUP_METRICS_NAMESPACE: "ProductImages",
        CLEANUP_METRICS_DIMENSIONS: '{"Table": "products", "Stage": "prod"}',
      });

      // Act
      await handler(
        streamEvent(removeRecord({ keys: productKeys("p-1") }), removeRecord({ keys: productKeys("p-2") })),
      );

      // Assess: the summary line, then the metrics line.
      const [summary, document] = linesOf(stdout);
      expect(stdout).toHaveBeenCalledTimes(2);
      expect(summary).toMatchObject({ level: "INFO", message: "dynamodb-s3-cleanup summary", deleted: 2 });
      expect(document).toMatchObject({
        _aws: { CloudWatchMetrics: [{ Namespace: "ProductImages", Dimensions: [["Table", "Stage"]] }] },
        Table: "products",
        Stage: "prod",
        DeletedObjects: 2,
        FailedObjects: 0,
        InvalidRecords: 0,
        KeptReplaced: 0,
        KeptRecreated: 0,
      });
    });

    it("is off when unset: no onResult", () => {
      expect(optionsFor({}).onResult).toBeUndefined();
    });

    it("gives way to overrides.onResult", async () => {
      // Prepare
      const stdout = vi.spyOn(process.stdout, "write").mockReturnValue(true);
      const summaries: CleanupSummary[] = [];
      const handler = createCleanupHandlerFromEnv(
        { ...BASE, CLEANUP_METRICS_NAMESPACE: "ProductImages" },
        { onResult: (summary) => void summaries.push(summary) },
      );

      // Act
      await handler(streamEvent());

      // Assess: the summary line only, no metrics line.
      expect(summaries).toHaveLength(1);
      expect(linesOf(stdout)).toEqual([expect.objectContaining({ message: "dynamodb-s3-cleanup summary" })]);
    });
  });

  describe("CLEANUP_LOG_LEVEL", () => {
    it("leaves the handler's default logger when neither it nor AWS_LAMBDA_LOG_LEVEL is set", () => {
      expect(optionsFor({}).logger).toBeUndefined();
    });

    it.each([
      [{ AWS_LAMBDA_LOG_LEVEL: "WARN" }, ["warn", "error"]],
      [{ AWS_LAMBDA_LOG_LEVEL: "TRACE" }, ["debug", "info", "warn", "error"]],
      [{ AWS_LAMBDA_LOG_LEVEL: "FATAL" }, []],
      [{ AWS_LAMBDA_LOG_LEVEL: "ERROR", CLEANUP_LOG_LEVEL: "info" }, ["info", "warn", "error"]],
      [{ AWS_LAMBDA_LOG_LEVEL: "DEBUG", CLEANUP_LOG_LEVEL: "error" }, ["error"]],
    ])("with %j, writes %j: CLEANUP_LOG_LEVEL wins over AWS_LAMBDA_LOG_LEVEL", (env, written) => {
      // Prepare
      const stdout = silenceStdout();
      const logger = optionsFor(env).logger as Logger;

      // Act
      for (const method of ["debug", "info", "warn", "error"] as const) logger[method](method, {});

      // Assess
      expect(linesOf(stdout).map((line) => line.message)).toEqual(written);
    });

    it.each([
      ["debug", ["debug", "info", "warn", "error"]],
      ["info", ["info", "warn", "error"]],
      ["warn", ["warn", "error"]],
      ["error", ["error"]],
    ] as const)("at %s, writes JSON lines to stdout at %j and drops the rest", (level, logged) => {
      // Prepare
      const methods = ["debug", "info", "warn", "error"] as const;
      const stdout = silenceStdout();
      const logger = optionsFor({ CLEANUP_LOG_LEVEL: level }).logger as Logger;

      // Act
      for (const method of methods) logger[method](`${method} line`, { n: 1 });

      // Assess
      expect(linesOf(stdout)).toEqual(
        logged.map((method) => ({
          level: method.toUpperCase(),
          message: `${method} line`,
          timestamp: expect.any(String),
          n: 1,
        })),
      );
    });

    it("keeps the summary line out at warn, while the metrics line still goes out", async () => {
      // Prepare
      const stdout = silenceStdout();
      const handler = createCleanupHandlerFromEnv({
        ...BASE,
        CLEANUP_LOG_LEVEL: "warn",
        CLEANUP_METRICS_NAMESPACE: "ProductImages",
      });

      // Act
      await handler(streamEvent());

      // Assess: the metrics line alone.
      expect(linesOf(stdout)).toEqual([expect.objectContaining({ _aws: expect.any(Object) })]);
    });
  });

  describe("behaviour end to end", () => {
    it("deletes nothing under CLEANUP_DRY_RUN=true", async () => {
      // Prepare
      silenceStdout();
      const { removeRecord } = createRecordFactory();
      const handler = createCleanupHandlerFromEnv({ ...BASE, CLEANUP_DRY_RUN: "true" });

      // Act
      const response = await handler(streamEvent(removeRecord({ keys: productKeys("p-1") })));

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      expect(s3.commandCalls(DeleteObjectsCommand)).toHaveLength(0);
    });

    it("deletes only TTL removals under CLEANUP_REMOVALS=ttl", async () => {
      // Prepare
      silenceStdout();
      const { removeRecord, ttlRemoveRecord } = createRecordFactory();
      const handler = createCleanupHandlerFromEnv({ ...BASE, CLEANUP_REMOVALS: "ttl" });

      // Act
      await handler(
        streamEvent(removeRecord({ keys: productKeys("by-user") }), ttlRemoveRecord({ keys: productKeys("expired") })),
      );

      // Assess
      const keys = s3
        .commandCalls(DeleteObjectsCommand)
        .flatMap((call) => call.args[0].input.Delete?.Objects?.map((object) => object.Key));
      expect(keys).toEqual(["images/expired.png"]);
    });
  });
});

describe("envPath", () => {
  it.each([
    ["concurrency", [], "CLEANUP_KEY", "CLEANUP_CONCURRENCY"],
    ["key", [], "CLEANUP_KEY", "CLEANUP_KEY"],
    ["key[2]", [], "CLEANUP_KEY", "CLEANUP_KEY[2]"],
    ["key", [], "CLEANUP_KEY_ATTRIBUTE", "CLEANUP_KEY_ATTRIBUTE"],
    ["key.attribute", [], "CLEANUP_KEY_ATTRIBUTE", "CLEANUP_KEY_ATTRIBUTE"],
    ["allowedPrefixes[0]", [], "CLEANUP_KEY", "CLEANUP_ALLOWED_PREFIXES[0]"],
    ["onResult", [], "CLEANUP_KEY", "CLEANUP_METRICS_NAMESPACE"],
    ["logger", [], "CLEANUP_KEY", "CLEANUP_LOG_LEVEL"],
    ["logger.info", ["logger"], "CLEANUP_KEY", "overrides.logger.info"],
    ["concurrency", ["concurrency"], "CLEANUP_KEY", "overrides.concurrency"],
    ["(options)", [], "CLEANUP_KEY", "(options)"],
    ["baseDelayMs", [], "CLEANUP_KEY", "baseDelayMs"],
  ] as const)("renames %s (overridden: %j, key from %s) to %s", (path, overridden, keyVariable, expected) => {
    expect(envPath(path, overridden, keyVariable)).toBe(expected);
  });
});

function attempt(make: () => unknown): boolean {
  try {
    make();
    return true;
  } catch (error) {
    if (isConfigError(error)) return false;
    throw error;
  }
}

function issuesForOverrides(env: Record<string, string>, overrides: Parameters<typeof createCleanupHandlerFromEnv>[1]) {
  return configError(() => createCleanupHandlerFromEnv(env, overrides)).issues;
}

describe("createReplayHandlerFromEnv", () => {
  const notARecord = { Records: [{ messageId: "m-1", body: "{}" }] };

  /** The config the last factory call resolved. */
  const lastConfig = () => factory.mock.results.at(-1)?.value as { verifyAbsent: unknown; parse: { removals: string } };

  it("reads the same variables, and checks the table by default", () => {
    createReplayHandlerFromEnv({ ...BASE, CLEANUP_REMOVALS: "ttl" });

    expect(lastConfig().verifyAbsent).toEqual({ tableName: undefined });
    expect(lastConfig().parse.removals).toBe("ttl");
  });

  it("turns the check off with CLEANUP_VERIFY_ABSENT=false", () => {
    createReplayHandlerFromEnv({ ...BASE, CLEANUP_VERIFY_ABSENT: "false" });

    expect(lastConfig().verifyAbsent).toBe(false);
  });

  it("answers an SQS event, reporting a message that holds no on-failure record", async () => {
    const { logger, lines } = recordingLogger();
    const handler = createReplayHandlerFromEnv(BASE, { logger });

    expect(await handler(notARecord)).toEqual({ batchItemFailures: [{ itemIdentifier: "m-1" }] });
    expect(lines.some((line) => line.level === "error")).toBe(true);
  });

  it("hands its summary to the onResult of an override, or of CLEANUP_METRICS_NAMESPACE", async () => {
    const summaries: unknown[] = [];
    const handler = createReplayHandlerFromEnv(BASE, {
      logger: recordingLogger().logger,
      onResult: (summary) => {
        summaries.push(summary);
      },
    });
    const write = vi.spyOn(process.stdout, "write").mockImplementation(() => true);
    const withMetrics = createReplayHandlerFromEnv(
      { ...BASE, CLEANUP_METRICS_NAMESPACE: "ProductImages" },
      { logger: recordingLogger().logger },
    );

    await handler(notARecord);
    await withMetrics(notARecord);

    expect(summaries).toEqual([expect.objectContaining({ messages: 1, invalidMessages: 1, batchItemFailures: 1 })]);
    const emf = write.mock.calls.map(([line]) => JSON.parse(String(line)));
    expect(emf).toEqual([expect.objectContaining({ UnreplayableBatches: 0, InvalidRecords: 0 })]);
  });

  it("names a wrong variable, and a wrong client override", () => {
    const issues = configError(() =>
      createReplayHandlerFromEnv({ ...BASE, CLEANUP_CONCURRENCY: "0" }, { streamsClient: 5 as never }),
    ).issues;

    expect(issues).toEqual([
      { path: "CLEANUP_CONCURRENCY", message: "must be an integer from 1 to 64" },
      { path: "overrides.streamsClient", message: "must be a DynamoDBStreamsClient (an object with a send method)" },
    ]);
  });
});
