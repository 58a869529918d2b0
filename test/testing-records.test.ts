import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import fc from "fast-check";
import { afterAll, beforeEach, describe, expect, expectTypeOf, it } from "vitest";
import {
  type AttributeMap,
  ConfigError,
  createCleanupHandler,
  isConfigError,
  parseStreamRecords,
  type StreamEvent,
  type StreamRecord,
} from "../src/index.js";
import {
  createRecordFactory,
  type InsertRecordOptions,
  insertRecord,
  type ModifyRecordOptions,
  modifyRecord,
  type RecordFactory,
  type RemoveRecordOptions,
  removeRecord,
  type StreamViewType,
  streamEvent,
  ttlRemoveRecord,
} from "../src/testing/index.js";
import { propertyRuns } from "./property-runs.js";

const ARN_OF = (region: string, table: string) =>
  `arn:aws:dynamodb:${region}:123456789012:table/${table}/stream/2026-01-01T00:00:00.000`;
const CREATED = 1_795_000_000;
const TTL_USER_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" };

const seqOf = (record: StreamRecord) => record.dynamodb?.SequenceNumber as string;

/** Every option, loosely typed: for records the typed options rule out, such as a REMOVE given a new image. */
type AnyOptions = RemoveRecordOptions & InsertRecordOptions & ModifyRecordOptions;

/** The ConfigError `act` throws. */
function configErrorOf(act: () => unknown): ConfigError {
  try {
    act();
  } catch (error) {
    expect(isConfigError(error)).toBe(true);
    return error as ConfigError;
  }
  throw new Error("no ConfigError thrown");
}

describe("record factories", () => {
  describe("removeRecord", () => {
    it("builds a user's REMOVE of a KEYS_ONLY stream, with Lambda's fields", () => {
      // Prepare
      const before = Math.floor(Date.now() / 1000);

      // Act
      const record = removeRecord({ keys: { productId: "p-1" } });

      // Assess
      expect(record).toStrictEqual({
        eventID: expect.stringMatching(/^[0-9a-f]{32}$/),
        eventName: "REMOVE",
        eventVersion: "1.1",
        eventSource: "aws:dynamodb",
        awsRegion: "us-east-1",
        dynamodb: {
          ApproximateCreationDateTime: expect.any(Number),
          Keys: { productId: { S: "p-1" } },
          SequenceNumber: expect.stringMatching(/^\d{21,}$/),
          SizeBytes: expect.any(Number),
          StreamViewType: "KEYS_ONLY",
        },
        eventSourceARN: ARN_OF("us-east-1", "table"),
      });
      const created = record.dynamodb?.ApproximateCreationDateTime as number;
      expect(Number.isInteger(created)).toBe(true);
      expect(created).toBeGreaterThanOrEqual(before);
      expect(created).toBeLessThanOrEqual(Math.floor(Date.now() / 1000));
      expect(record.dynamodb?.SizeBytes).toBeGreaterThan(0);
    });

    it("carries the old image on an OLD_IMAGE stream, and never a new image", () => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, oldImage: { productId: "p-1", price: 9.99 } });

      // Assess
      expect(record.dynamodb?.StreamViewType).toBe("OLD_IMAGE");
      expect(record.dynamodb?.OldImage).toStrictEqual({ productId: { S: "p-1" }, price: { N: "9.99" } });
      expect(record.dynamodb).not.toHaveProperty("NewImage");
      expect(record).not.toHaveProperty("userIdentity");
    });

    it("grows SizeBytes with the images it carries", () => {
      // Act
      const keysOnly = removeRecord({ keys: { productId: "p-1" } });
      const withImage = removeRecord({
        keys: { productId: "p-1" },
        oldImage: { productId: "p-1", notes: "x".repeat(100) },
      });

      // Assess
      expect(withImage.dynamodb?.SizeBytes).toBeGreaterThan((keysOnly.dynamodb?.SizeBytes as number) + 100);
    });
  });

  describe("ttlRemoveRecord", () => {
    it("builds a REMOVE with the userIdentity of DynamoDB's TTL service", () => {
      // Act
      const record = ttlRemoveRecord({
        keys: { productId: "p-1" },
        oldImage: { productId: "p-1", expiresAt: CREATED },
      });

      // Assess
      expect(record.eventName).toBe("REMOVE");
      expect(record.userIdentity).toStrictEqual(TTL_USER_IDENTITY);
      expect(record.dynamodb?.OldImage).toStrictEqual({ productId: { S: "p-1" }, expiresAt: { N: String(CREATED) } });
      expect(record.dynamodb).not.toHaveProperty("NewImage");
    });

    it("gives each record its own userIdentity object", () => {
      // Act
      const first = ttlRemoveRecord({ keys: { productId: "p-1" } });
      const second = ttlRemoveRecord({ keys: { productId: "p-2" } });

      // Assess
      expect(first.userIdentity).not.toBe(second.userIdentity);
    });
  });

  describe("insertRecord", () => {
    it("carries the new image on a NEW_AND_OLD_IMAGES stream, and never an old image", () => {
      // Act
      const record = insertRecord({ keys: { productId: "p-1" }, newImage: { productId: "p-1", price: 9.99 } });

      // Assess
      expect(record.eventName).toBe("INSERT");
      expect(record.dynamodb?.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
      expect(record.dynamodb?.NewImage).toStrictEqual({ productId: { S: "p-1" }, price: { N: "9.99" } });
      expect(record.dynamodb).not.toHaveProperty("OldImage");
      expect(record).not.toHaveProperty("userIdentity");
    });

    it("carries no image without one given: a KEYS_ONLY stream", () => {
      // Act
      const record = insertRecord({ keys: { productId: "p-1" } });

      // Assess
      expect(record.dynamodb?.StreamViewType).toBe("KEYS_ONLY");
      expect(Object.keys(record.dynamodb ?? {})).toEqual([
        "ApproximateCreationDateTime",
        "Keys",
        "SequenceNumber",
        "SizeBytes",
        "StreamViewType",
      ]);
    });
  });

  describe("modifyRecord", () => {
    it("carries both images on a NEW_AND_OLD_IMAGES stream", () => {
      // Act
      const record = modifyRecord({
        keys: { productId: "p-1" },
        oldImage: { productId: "p-1", price: 9.99 },
        newImage: { productId: "p-1", price: 7.49 },
      });

      // Assess
      expect(record.eventName).toBe("MODIFY");
      expect(record.dynamodb?.StreamViewType).toBe("NEW_AND_OLD_IMAGES");
      expect(record.dynamodb?.OldImage?.price).toStrictEqual({ N: "9.99" });
      expect(record.dynamodb?.NewImage?.price).toStrictEqual({ N: "7.49" });
    });

    it("defaults to OLD_IMAGE with only an old image", () => {
      // Act
      const record = modifyRecord({ keys: { productId: "p-1" }, oldImage: { productId: "p-1", price: 9.99 } });

      // Assess
      expect(record.dynamodb?.StreamViewType).toBe("OLD_IMAGE");
      expect(record.dynamodb).toHaveProperty("OldImage");
      expect(record.dynamodb).not.toHaveProperty("NewImage");
    });
  });

  describe("streamViewType", () => {
    const build = {
      REMOVE: (options: AnyOptions) => removeRecord(options),
      INSERT: (options: AnyOptions) => insertRecord(options),
      MODIFY: (options: AnyOptions) => modifyRecord(options),
    };
    const cases: [keyof typeof build, StreamViewType, string[]][] = [
      ["REMOVE", "KEYS_ONLY", []],
      ["REMOVE", "NEW_IMAGE", []],
      ["REMOVE", "OLD_IMAGE", ["OldImage"]],
      ["REMOVE", "NEW_AND_OLD_IMAGES", ["OldImage"]],
      ["INSERT", "KEYS_ONLY", []],
      ["INSERT", "NEW_IMAGE", ["NewImage"]],
      ["INSERT", "OLD_IMAGE", []],
      ["INSERT", "NEW_AND_OLD_IMAGES", ["NewImage"]],
      ["MODIFY", "KEYS_ONLY", []],
      ["MODIFY", "NEW_IMAGE", ["NewImage"]],
      ["MODIFY", "OLD_IMAGE", ["OldImage"]],
      ["MODIFY", "NEW_AND_OLD_IMAGES", ["NewImage", "OldImage"]],
    ];

    it.each(cases)("a %s on a %s stream carries %j of the images given", (eventName, streamViewType, images) => {
      // Prepare
      const options = {
        keys: { productId: "p-1" },
        oldImage: { productId: "p-1", v: 1 },
        newImage: { productId: "p-1", v: 2 },
        streamViewType,
      };

      // Act
      const record = build[eventName](options);

      // Assess
      expect(record.dynamodb?.StreamViewType).toBe(streamViewType);
      expect(Object.keys(record.dynamodb ?? {}).filter((name) => name.endsWith("Image"))).toEqual(images);
      expect(record.dynamodb?.Keys).toStrictEqual({ productId: { S: "p-1" } });
    });
  });

  describe("marshalling", () => {
    it("marshalls plain values to Lambda's AttributeValue JSON, binary as base64 at any depth", () => {
      // Prepare
      const oldImage = {
        id: "p-1",
        price: 9.99,
        count: 3,
        big: 12345678901234567890n,
        active: true,
        gone: null,
        tags: new Set(["a", "b"]),
        sizes: new Set([1, 2]),
        blob: new Uint8Array([0, 255]),
        blobs: new Set([new Uint8Array([1]), new Uint8Array([2])]),
        nested: { list: ["x", 1, { deep: new Uint8Array([104, 105]) }] },
      };

      // Act
      const record = removeRecord({ keys: { id: "p-1" }, oldImage });

      // Assess
      expect(record.dynamodb?.OldImage).toStrictEqual({
        id: { S: "p-1" },
        price: { N: "9.99" },
        count: { N: "3" },
        big: { N: "12345678901234567890" },
        active: { BOOL: true },
        gone: { NULL: true },
        tags: { SS: ["a", "b"] },
        sizes: { NS: ["1", "2"] },
        blob: { B: "AP8=" },
        blobs: { BS: ["AQ==", "Ag=="] },
        nested: { M: { list: { L: [{ S: "x" }, { N: "1" }, { M: { deep: { B: "aGk=" } } }] } } },
      });
    });

    it("marshalls keys of every scalar type", () => {
      // Act
      const record = removeRecord({ keys: { pk: "user#1", sk: 42, raw: new Uint8Array([7]) } });

      // Assess
      expect(record.dynamodb?.Keys).toStrictEqual({ pk: { S: "user#1" }, sk: { N: "42" }, raw: { B: "Bw==" } });
    });

    it("passes marshallOptions to marshall", () => {
      // Prepare
      const oldImage = { productId: "p-1", note: undefined };

      // Act
      const withoutOption = () => removeRecord({ keys: { productId: "p-1" }, oldImage });
      const record = removeRecord({
        keys: { productId: "p-1" },
        oldImage,
        marshallOptions: { removeUndefinedValues: true },
      });

      // Assess
      expect(withoutOption).toThrow(/removeUndefinedValues/);
      expect(record.dynamodb?.OldImage).toStrictEqual({ productId: { S: "p-1" } });
    });

    it("keeps attribute maps flat even when marshallOptions asks for a top-level container", () => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, marshallOptions: { convertTopLevelContainer: true } });

      // Assess
      expect(record.dynamodb?.Keys).toStrictEqual({ productId: { S: "p-1" } });
    });

    it("round-trips string, integer and boolean keys through parseStreamRecords", () => {
      // Prepare
      const name = fc.string({ minLength: 1, maxLength: 8 }).filter((key) => key !== "__proto__");
      const value = fc.oneof(fc.string(), fc.integer(), fc.boolean());

      fc.assert(
        fc.property(fc.dictionary(name, value, { minKeys: 1, maxKeys: 5 }), (keys) => {
          // Act
          const { removals } = parseStreamRecords(streamEvent(removeRecord({ keys })));

          // Assess
          expect(removals[0]?.keys).toStrictEqual({ ...keys });
        }),
        { numRuns: propertyRuns(200) },
      );
    });
  });

  describe("options", () => {
    it("puts tableName and region in awsRegion and eventSourceARN", () => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, tableName: "products", region: "eu-west-1" });

      // Assess
      expect(record.awsRegion).toBe("eu-west-1");
      expect(record.eventSourceARN).toBe(ARN_OF("eu-west-1", "products"));
    });

    it.each([
      ["a Date, rounded down to the second", new Date(CREATED * 1000 + 999), CREATED],
      ["epoch seconds, as given", CREATED, CREATED],
      ["fractional epoch seconds, as given", CREATED + 0.5, CREATED + 0.5],
    ])("takes approximateCreationDateTime as %s", (_name, approximateCreationDateTime, expected) => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, approximateCreationDateTime });

      // Assess
      expect(record.dynamodb?.ApproximateCreationDateTime).toBe(expected);
    });

    it.each([
      ["a string, as given", "3", "3"],
      ["a 40-digit string, as given", "9".repeat(40), "9".repeat(40)],
      ["a bigint, padded to 21 digits", 3n, "000000000000000000003"],
      ["a large bigint", 10n ** 30n, `1${"0".repeat(30)}`],
    ])("takes sequenceNumber as %s", (_name, sequenceNumber, expected) => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, sequenceNumber });

      // Assess
      expect(record.dynamodb?.SequenceNumber).toBe(expected);
    });

    it.each([
      ["an empty string", ""],
      ["a string with a letter", "12a"],
      ["a negative number as a string", "-1"],
      ["a negative bigint", -1n],
    ])("rejects %s as sequenceNumber with a ConfigError naming it", (_name, sequenceNumber) => {
      // Act
      const error = configErrorOf(() => removeRecord({ keys: { productId: "p-1" }, sequenceNumber }));

      // Assess
      expect(error.issues).toEqual([
        { path: "sequenceNumber", message: "must be a string of digits or a bigint of at least 0" },
      ]);
    });

    it("derives eventID from the sequence number: the same record gets the same id", () => {
      // Act
      const a = removeRecord({ keys: { productId: "p-1" }, sequenceNumber: "100000000000000000001" });
      const b = insertRecord({ keys: { productId: "p-2" }, sequenceNumber: "100000000000000000001" });
      const c = removeRecord({ keys: { productId: "p-1" }, sequenceNumber: "100000000000000000002" });

      // Assess
      expect(a.eventID).toBe(b.eventID);
      expect(a.eventID).not.toBe(c.eventID);
    });
  });

  describe("overrides", () => {
    it("replaces top-level fields and merges dynamodb field by field", () => {
      // Prepare
      const rawKeys: AttributeMap = { productId: { N: "1.50" } };

      // Act
      const record = removeRecord({
        keys: { productId: 1.5 },
        sequenceNumber: "100000000000000000001",
        overrides: { eventVersion: "1.0", awsRegion: "ddblocal", dynamodb: { Keys: rawKeys, SizeBytes: 1 } },
      });

      // Assess
      expect(record.eventVersion).toBe("1.0");
      expect(record.awsRegion).toBe("ddblocal");
      expect(record.dynamodb).toStrictEqual({
        ApproximateCreationDateTime: expect.any(Number),
        Keys: rawKeys,
        SequenceNumber: "100000000000000000001",
        SizeBytes: 1,
        StreamViewType: "KEYS_ONLY",
      });
    });

    it("removes a field set to undefined", () => {
      // Act
      const record = ttlRemoveRecord({
        keys: { productId: "p-1" },
        overrides: { userIdentity: undefined, eventID: undefined, dynamodb: { SequenceNumber: undefined } },
      });

      // Assess
      expect(record).not.toHaveProperty("userIdentity");
      expect(record).not.toHaveProperty("eventID");
      expect(record.dynamodb).not.toHaveProperty("SequenceNumber");
      expect(record.dynamodb).toHaveProperty("Keys");
    });

    it("removes dynamodb when it is set to undefined, and sets it when it is not an object", () => {
      // Act
      const without = removeRecord({ keys: { productId: "p-1" }, overrides: { dynamodb: undefined } });
      const nulled = removeRecord({
        keys: { productId: "p-1" },
        overrides: { dynamodb: null as unknown as undefined },
      });

      // Assess
      expect(without).not.toHaveProperty("dynamodb");
      expect(nulled.dynamodb).toBeNull();
    });

    it("leaves a record as built when overrides is empty", () => {
      // Act
      const record = removeRecord({ keys: { productId: "p-1" }, sequenceNumber: "1", overrides: {} });

      // Assess
      expect(record).toStrictEqual(
        removeRecord({
          keys: { productId: "p-1" },
          sequenceNumber: "1",
          approximateCreationDateTime: record.dynamodb?.ApproximateCreationDateTime as number,
        }),
      );
    });
  });

  describe("sequence numbers", () => {
    it("increase across calls of the top-level functions, with at least 21 digits", () => {
      // Prepare
      const builders = [removeRecord, ttlRemoveRecord, insertRecord, modifyRecord];

      // Act
      const numbers = Array.from({ length: 2000 }, (_, i) =>
        seqOf((builders[i % builders.length] as typeof removeRecord)({ keys: { productId: `p-${i}` } })),
      );

      // Assess
      for (const [i, number] of numbers.entries()) {
        expect(number).toMatch(/^\d{21,}$/);
        if (i > 0) expect(BigInt(number)).toBeGreaterThan(BigInt(numbers[i - 1] as string));
      }
    });

    it("in a factory, start at firstSequenceNumber and grow by 1,000 across every kind of record", () => {
      // Prepare
      const factory = createRecordFactory();

      // Act
      const numbers = [
        seqOf(factory.removeRecord({ keys: { productId: "p-1" } })),
        seqOf(factory.ttlRemoveRecord({ keys: { productId: "p-2" } })),
        factory.nextSequenceNumber(),
        seqOf(factory.insertRecord({ keys: { productId: "p-3" } })),
        seqOf(factory.modifyRecord({ keys: { productId: "p-4" } })),
      ];

      // Assess
      expect(numbers).toEqual([
        "100000000000000000000",
        "100000000000000001000",
        "100000000000000002000",
        "100000000000000003000",
        "100000000000000004000",
      ]);
    });

    it("in a factory, are the same on every run, and so are the records", () => {
      // Prepare
      const build = (factory: RecordFactory) => [
        factory.removeRecord({ keys: { productId: "p-1" }, approximateCreationDateTime: CREATED }),
        factory.ttlRemoveRecord({ keys: { productId: "p-2" }, approximateCreationDateTime: CREATED }),
      ];

      // Act
      const first = build(createRecordFactory({ tableName: "products" }));
      const second = build(createRecordFactory({ tableName: "products" }));

      // Assess
      expect(first).toStrictEqual(second);
    });

    it("in a factory, are not used up by records given an explicit sequenceNumber", () => {
      // Prepare
      const { removeRecord: remove } = createRecordFactory({ firstSequenceNumber: "200000000000000000000" });

      // Act
      const numbers = [
        remove({ keys: { productId: "p-1" } }),
        remove({ keys: { productId: "p-2" }, sequenceNumber: "200000000000000000500" }),
        remove({ keys: { productId: "p-3" } }),
      ].map(seqOf);

      // Assess
      expect(numbers).toEqual(["200000000000000000000", "200000000000000000500", "200000000000000001000"]);
    });

    it.each([
      ["a short string", "1", ["000000000000000000001", "000000000000000001001"]],
      ["a bigint", 5n * 10n ** 20n, ["500000000000000000000", "500000000000000001000"]],
      ["a 40-digit string", "1".repeat(40), ["1".repeat(40), `${"1".repeat(36)}2111`]],
    ])("in a factory, start at firstSequenceNumber given as %s", (_name, firstSequenceNumber, expected) => {
      // Prepare
      const factory = createRecordFactory({ firstSequenceNumber });

      // Act
      const numbers = [factory.nextSequenceNumber(), factory.nextSequenceNumber()];

      // Assess
      expect(numbers).toEqual(expected);
    });

    it.each([
      ["an empty string", ""],
      ["a decimal", "1.5"],
      ["a negative bigint", -5n],
    ])("rejects %s as firstSequenceNumber with a ConfigError naming it", (_name, firstSequenceNumber) => {
      // Act
      const error = configErrorOf(() => createRecordFactory({ firstSequenceNumber }));

      // Assess
      expect(error).toBeInstanceOf(ConfigError);
      expect(error.issues.map((issue) => issue.path)).toEqual(["firstSequenceNumber"]);
    });

    it("never repeat in a factory, whatever the mix of calls", () => {
      fc.assert(
        fc.property(
          fc.array(fc.constantFrom("remove", "ttl", "insert", "modify", "next"), { maxLength: 50 }),
          (calls) => {
            // Prepare
            const factory = createRecordFactory({ firstSequenceNumber: "7" });
            const key = { keys: { productId: "p" } };

            // Act
            const numbers = calls.map((call) => {
              if (call === "next") return factory.nextSequenceNumber();
              const build = {
                remove: factory.removeRecord,
                ttl: factory.ttlRemoveRecord,
                insert: factory.insertRecord,
                modify: factory.modifyRecord,
              }[call];
              return seqOf(build(key));
            });

            // Assess
            numbers.forEach((number, i) => {
              expect(number).toMatch(/^\d{21}$/);
              expect(BigInt(number)).toBe(7n + 1000n * BigInt(i));
            });
          },
        ),
      );
    });
  });

  describe("createRecordFactory's stream options", () => {
    it("applies tableName and region to every record, unless a record says otherwise", () => {
      // Prepare
      const factory = createRecordFactory({ tableName: "products", region: "eu-central-1" });

      // Act
      const own = factory.insertRecord({ keys: { productId: "p-1" } });
      const other = factory.modifyRecord({ keys: { productId: "p-2" }, tableName: "orders", region: "us-west-2" });

      // Assess
      expect(own.eventSourceARN).toBe(ARN_OF("eu-central-1", "products"));
      expect(own.awsRegion).toBe("eu-central-1");
      expect(other.eventSourceARN).toBe(ARN_OF("us-west-2", "orders"));
    });

    it("builds TTL removals with the TTL userIdentity", () => {
      // Act
      const record = createRecordFactory().ttlRemoveRecord({ keys: { productId: "p-1" } });

      // Assess
      expect(record.userIdentity).toStrictEqual(TTL_USER_IDENTITY);
    });
  });

  describe("streamEvent", () => {
    it("wraps records, in order, in the event Lambda delivers", () => {
      // Prepare
      const records = [removeRecord({ keys: { productId: "p-1" } }), insertRecord({ keys: { productId: "p-2" } })];

      // Act
      const event = streamEvent(...records);

      // Assess
      expect(event).toStrictEqual({ Records: records });
      expect(event.Records[0]).toBe(records[0]);
      expect(streamEvent()).toStrictEqual({ Records: [] });
      expectTypeOf(event).toEqualTypeOf<StreamEvent>();
    });
  });
});

describe("records the library reads", () => {
  it("parseStreamRecords sorts them as a real stream's records", () => {
    // Prepare
    const {
      removeRecord: remove,
      ttlRemoveRecord: ttl,
      insertRecord: insert,
      modifyRecord: modify,
    } = createRecordFactory({ tableName: "products" });
    const created = new Date(CREATED * 1000);
    const event = streamEvent(
      insert({ keys: { productId: "p-1" }, newImage: { productId: "p-1", owner: "a@example.com" } }),
      modify({ keys: { productId: "p-1" }, oldImage: { productId: "p-1" }, newImage: { productId: "p-1", v: 2 } }),
      remove({ keys: { productId: "p-2" }, approximateCreationDateTime: created }),
      ttl({ keys: { productId: "p-3" }, oldImage: { productId: "p-3", expiresAt: CREATED - 60 } }),
    );

    // Act
    const { removals, skipped, invalid } = parseStreamRecords(event);

    // Assess
    expect(invalid).toEqual([]);
    expect(skipped.map(({ eventName, reason }) => [eventName, reason])).toEqual([
      ["INSERT", "not-a-removal"],
      ["MODIFY", "not-a-removal"],
    ]);
    expect(removals).toMatchObject([
      {
        index: 2,
        keys: { productId: "p-2" },
        removedBy: "user",
        tableName: "products",
        approximateCreationDateTime: created,
        streamViewType: "KEYS_ONLY",
        oldImage: undefined,
      },
      {
        index: 3,
        keys: { productId: "p-3" },
        oldImage: { productId: "p-3", expiresAt: CREATED - 60 },
        removedBy: "ttl",
        streamViewType: "OLD_IMAGE",
      },
    ]);
    expect(removals.map((removal) => removal.sequenceNumber)).toEqual([
      seqOf(event.Records[2] as StreamRecord),
      seqOf(event.Records[3] as StreamRecord),
    ]);
    expect(removals.map((removal) => removal.itemIdentifier)).toEqual(
      removals.map((removal) => removal.sequenceNumber),
    );
  });

  it.each([
    ["ttl", ["p-ttl"]],
    ["user", ["p-user"]],
    ["any", ["p-user", "p-ttl"]],
  ] as const)('parseStreamRecords with removals: "%s" selects %j', (removals, expected) => {
    // Prepare
    const event = streamEvent(
      removeRecord({ keys: { productId: "p-user" } }),
      ttlRemoveRecord({ keys: { productId: "p-ttl" } }),
    );

    // Act
    const batch = parseStreamRecords(event, { removals });

    // Assess
    expect(batch.removals.map((removal) => removal.keys.productId)).toEqual(expected);
  });

  describe("createCleanupHandler", () => {
    const s3 = mockClient(S3Client);
    const silent = { debug() {}, info() {}, warn() {}, error() {} };

    beforeEach(() => {
      s3.reset();
      s3.on(DeleteObjectsCommand).resolves({});
    });

    afterAll(() => {
      s3.restore();
    });

    it("deletes the objects of exactly the REMOVE records", async () => {
      // Prepare
      const handler = createCleanupHandler({
        bucket: "product-images",
        key: "images/{productId}.png",
        s3Client: new S3Client({ region: "us-east-1" }),
        logger: silent,
      });
      const event = streamEvent(
        insertRecord({ keys: { productId: "p-1" }, newImage: { productId: "p-1" } }),
        removeRecord({ keys: { productId: "p-2" } }),
        modifyRecord({ keys: { productId: "p-3" }, oldImage: { productId: "p-3" }, newImage: { productId: "p-3" } }),
        ttlRemoveRecord({ keys: { productId: "p-4" }, oldImage: { productId: "p-4" } }),
        removeRecord({ keys: { productId: "p-5" }, oldImage: { productId: "p-5" } }),
      );

      // Act
      const response = await handler(event);

      // Assess
      expect(response).toEqual({ batchItemFailures: [] });
      const keys = s3
        .commandCalls(DeleteObjectsCommand)
        .flatMap((call) => call.args[0].input.Delete?.Objects?.map((object) => object.Key));
      expect(keys.sort()).toEqual(["images/p-2.png", "images/p-4.png", "images/p-5.png"]);
    });

    it("reports the REMOVE whose object S3 failed to delete, by its SequenceNumber", async () => {
      // Prepare
      s3.on(DeleteObjectsCommand).resolves({
        Errors: [{ Key: "images/p-2.png", Code: "AccessDenied", Message: "Access Denied" }],
      });
      const handler = createCleanupHandler({
        bucket: "product-images",
        key: "images/{productId}.png",
        s3Client: new S3Client({ region: "us-east-1" }),
        logger: silent,
      });
      const { removeRecord: remove } = createRecordFactory();
      const denied = remove({ keys: { productId: "p-2" } });

      // Act
      const response = await handler(streamEvent(remove({ keys: { productId: "p-1" } }), denied));

      // Assess
      expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: seqOf(denied) }] });
    });
  });
});
