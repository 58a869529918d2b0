import fc from "fast-check";
import { describe, expect, it } from "vitest";
import * as z from "zod/mini";
import { AttributeProblem } from "../src/attribute-value.js";
import {
  CleanupError,
  ConfigError,
  describeShape,
  InvalidEventError,
  type InvalidRecordError,
  isConfigError,
  isInvalidEventError,
  isInvalidRecordError,
} from "../src/errors.js";
import { isSequenceNumber } from "../src/event-sources.js";
import {
  type InvalidRecord,
  isTtlRemoval,
  type ParsedBatch,
  type ParseOptions,
  parseStreamRecords,
  REMOVAL_FILTERS,
  tableNamesIssues,
  tableNamesSchema,
} from "../src/parse-stream-records.js";
import { kinesisEvent, pipesEvent } from "../src/testing/sources.js";
import type { AttributeMap, AttributeValue, RemovalFilter, StreamRecord } from "../src/types.js";
import { formatPath } from "../src/validation.js";
import { createRecordFactory, onlyInvalid, productKeys, streamEvent, TABLE_ARN, TTL_IDENTITY } from "./factories.js";

const STREAMS_API_TTL_IDENTITY = { Type: "Service", PrincipalId: "dynamodb.amazonaws.com" } as const;

/** A copy of `value` without the named property, for records that lack a field. */
function without(value: object, name: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([field]) => field !== name));
}

/** True when `value` is an object with the named property. */
function hasField(value: unknown, name: string): boolean {
  return typeof value === "object" && value !== null && name in value;
}

/** A REMOVE record whose `dynamodb` is replaced by `data`, keeping the other fields. */
function withData(record: StreamRecord, data: Record<string, unknown>): Record<string, unknown> {
  return { ...record, dynamodb: data };
}

/** The one invalid record of a batch that must hold nothing else; its error also passes the guard. */
function onlyInvalidRecord(batch: ParsedBatch): InvalidRecord {
  const invalid = onlyInvalid(batch);
  expect(isInvalidRecordError(invalid.error)).toBe(true);
  return invalid;
}

describe("parseStreamRecords", () => {
  describe("the event", () => {
    it.each([
      ["undefined", undefined, "got undefined"],
      ["null", null, "got null"],
      ["an object without Records", {}, "got an object with keys []"],
      ["Records that is not an array", { Records: "x" }, "got an object with keys [Records]"],
      ["a string", "event", "got a string"],
    ])("throws InvalidEventError for %s", (_name, event, got) => {
      // Act
      const parse = () => parseStreamRecords(event);

      // Assess
      expect(parse).toThrow(InvalidEventError);
      try {
        parse();
      } catch (error) {
        expect(isInvalidEventError(error)).toBe(true);
        expect(error).toBeInstanceOf(CleanupError);
        expect((error as Error).message).toBe(
          `The event has no Records array and is not an array of records (${got}): is the function subscribed to a DynamoDB stream, a Kinesis stream or an EventBridge pipe?`,
        );
      }
    });

    it("throws InvalidEventError for Records that mix Kinesis and DynamoDB stream records", () => {
      // Prepare
      const factory = createRecordFactory();
      const [kinesis] = kinesisEvent([factory.removeRecord()]).Records;

      // Act
      const parse = () => parseStreamRecords({ Records: [factory.removeRecord(), kinesis] });

      // Assess
      expect(parse).toThrow(InvalidEventError);
    });

    it.each([
      ["a DynamoDB stream", streamEvent(), "dynamodb-streams"],
      ["Kinesis", kinesisEvent([createRecordFactory().insertRecord()]), "kinesis"],
      ["EventBridge Pipes", pipesEvent([]), "pipes"],
    ])("says the batch came from %s", (_name, event, source) => {
      // Act
      const batch = parseStreamRecords(event);

      // Assess
      expect(batch.source).toBe(source);
    });

    it("returns three empty lists for an empty Records array", () => {
      // Act
      const batch = parseStreamRecords(streamEvent());

      // Assess
      expect(batch).toEqual({ source: "dynamodb-streams", removals: [], skipped: [], invalid: [] });
    });
  });

  describe("the removals option", () => {
    it.each(["TTL", "all", "", 1, {}])("throws ConfigError for removals %j", (removals) => {
      // Prepare
      const options = { removals } as unknown as { removals: RemovalFilter };

      // Act
      const parse = () => parseStreamRecords(streamEvent(), options);

      // Assess
      expect(parse).toThrow(ConfigError);
      try {
        parse();
      } catch (error) {
        expect(isConfigError(error)).toBe(true);
        expect((error as ConfigError).issues).toEqual([
          { path: "removals", message: 'must be "any", "ttl" or "user"' },
        ]);
        expect((error as Error).message).toContain("`removals`");
      }
    });

    it("checks the option before the event", () => {
      // Act
      const parse = () => parseStreamRecords(undefined, { removals: "none" as RemovalFilter });

      // Assess
      expect(parse).toThrow(ConfigError);
    });
  });

  describe("skipping", () => {
    it("skips INSERT and MODIFY records as not-a-removal", () => {
      // Prepare
      const factory = createRecordFactory();
      const insert = factory.insertRecord();
      const modify = factory.modifyRecord();

      // Act
      const batch = parseStreamRecords(streamEvent(insert, modify));

      // Assess
      expect(batch.removals).toEqual([]);
      expect(batch.invalid).toEqual([]);
      expect(batch.skipped).toEqual([
        {
          index: 0,
          sequenceNumber: insert.dynamodb?.SequenceNumber,
          eventId: insert.eventID,
          itemIdentifier: insert.dynamodb?.SequenceNumber,
          eventName: "INSERT",
          reason: "not-a-removal",
        },
        {
          index: 1,
          sequenceNumber: modify.dynamodb?.SequenceNumber,
          eventId: modify.eventID,
          itemIdentifier: modify.dynamodb?.SequenceNumber,
          eventName: "MODIFY",
          reason: "not-a-removal",
        },
      ]);
    });

    it("skips an INSERT even when its dynamodb part is missing", () => {
      // Prepare
      const insert = without(createRecordFactory().insertRecord(), "dynamodb");

      // Act
      const batch = parseStreamRecords({ Records: [insert] });

      // Assess
      expect(batch.skipped).toEqual([
        {
          index: 0,
          sequenceNumber: undefined,
          eventId: insert.eventID,
          itemIdentifier: undefined,
          eventName: "INSERT",
          reason: "not-a-removal",
        },
      ]);
    });

    it("a non-REMOVE record in the middle of the batch does not stop the records after it", () => {
      // Prepare
      const factory = createRecordFactory();
      const records = [
        factory.removeRecord({ keys: productKeys("p-1") }),
        factory.insertRecord({ keys: productKeys("p-2") }),
        factory.removeRecord({ keys: productKeys("p-3") }),
        factory.modifyRecord({ keys: productKeys("p-4") }),
        factory.removeRecord({ keys: productKeys("p-5") }),
      ];

      // Act
      const batch = parseStreamRecords(streamEvent(...records));

      // Assess
      expect(batch.removals.map((item) => [item.index, item.keys.productId])).toEqual([
        [0, "p-1"],
        [2, "p-3"],
        [4, "p-5"],
      ]);
      expect(batch.skipped.map((record) => [record.index, record.eventName])).toEqual([
        [1, "INSERT"],
        [3, "MODIFY"],
      ]);
      expect(batch.invalid).toEqual([]);
    });
  });

  describe("the removals filter", () => {
    const factory = createRecordFactory();
    const userDelete = factory.removeRecord({ keys: productKeys("by-user") });
    const ttlExpiry = factory.ttlRemoveRecord({ keys: productKeys("by-ttl") });
    const streamsApiTtlExpiry = { ...factory.removeRecord({ keys: productKeys("by-ttl-api") }) };
    streamsApiTtlExpiry.userIdentity = { ...STREAMS_API_TTL_IDENTITY };
    const event = streamEvent(userDelete, ttlExpiry, streamsApiTtlExpiry);

    it.each([
      ["any", ["by-user", "by-ttl", "by-ttl-api"], []],
      ["ttl", ["by-ttl", "by-ttl-api"], [0]],
      ["user", ["by-user"], [1, 2]],
    ] as const)("with removals %s selects %j and skips records %j", (removals, selected, skippedIndexes) => {
      // Act
      const batch = parseStreamRecords(event, { removals });

      // Assess
      expect(batch.removals.map((item) => item.keys.productId)).toEqual(selected);
      expect(batch.skipped).toEqual(
        skippedIndexes.map((index) => ({
          index,
          sequenceNumber: event.Records[index]?.dynamodb?.SequenceNumber,
          eventId: event.Records[index]?.eventID,
          itemIdentifier: event.Records[index]?.dynamodb?.SequenceNumber,
          eventName: "REMOVE",
          reason: "removal-not-selected",
        })),
      );
      expect(batch.invalid).toEqual([]);
    });

    it("selects every removal by default", () => {
      // Act
      const batch = parseStreamRecords(event);

      // Assess
      expect(batch.removals.map((item) => item.removedBy)).toEqual(["user", "ttl", "ttl"]);
    });

    it("recognises a TTL removal from the Lambda casing and from the Streams-API casing", () => {
      // Act
      const batch = parseStreamRecords(event, { removals: "ttl" });

      // Assess
      expect(batch.removals.map((item) => [item.keys.productId, item.removedBy])).toEqual([
        ["by-ttl", "ttl"],
        ["by-ttl-api", "ttl"],
      ]);
    });

    it.each([
      ["absent", undefined],
      ["null", null],
    ])("treats a REMOVE whose userIdentity is %s as a user delete", (_name, userIdentity) => {
      // Prepare
      const record = { ...createRecordFactory().removeRecord(), userIdentity };

      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      expect(batch.removals.map((item) => item.removedBy)).toEqual(["user"]);
    });
  });

  describe("the tableNames option", () => {
    /** A DynamoDB stream ARN of `table`. */
    const streamArn = (table: string) =>
      `arn:aws:dynamodb:us-east-1:123456789012:table/${table}/stream/2026-11-27T00:00:00.000`;
    /** The record as it comes from `table`'s stream. */
    const ofTable = <T extends object>(record: T, table: string) => ({ ...record, eventSourceARN: streamArn(table) });
    /** A Kinesis event of the records, whose payloads then carry each record's table as `tableName`. */
    const decoded = (event: { Records: { kinesis: { data: string } }[] }) =>
      event.Records.map((record) => JSON.parse(Buffer.from(record.kinesis.data, "base64").toString("utf8")));

    it.each<[string, unknown, { path: string; message: string }]>([
      [
        "an empty array",
        [],
        { path: "tableNames", message: "must hold at least one table name (leave it out to take every table)" },
      ],
      ["a string", "products", { path: "tableNames", message: "must be an array of table names" }],
      ["null", null, { path: "tableNames", message: "must be an array of table names" }],
      ["an empty name", ["products", ""], { path: "tableNames[1]", message: "must be a non-empty string" }],
      ["a number", [7], { path: "tableNames[0]", message: "must be a non-empty string" }],
    ])("throws ConfigError naming the option for %s, before reading the event", (_name, tableNames, issue) => {
      // Act
      const parse = () => parseStreamRecords(undefined, { tableNames } as unknown as ParseOptions);

      // Assess
      expect(parse).toThrow(ConfigError);
      try {
        parse();
      } catch (error) {
        expect((error as ConfigError).issues).toEqual([issue]);
      }
    });

    it("checks tableNames by hand exactly as the handler's schema does (property)", () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.anything(), fc.array(fc.oneof(fc.string(), fc.constantFrom("", 0, null), fc.anything()))),
          (tableNames) => {
            // Act
            const result = z.safeParse(tableNamesSchema(), tableNames);

            // Assess: zod may name one element twice (an empty array fails both string checks)
            const named = result.success
              ? []
              : result.error.issues.map((issue) => ({
                  path: formatPath(["tableNames", ...issue.path]),
                  message: issue.message,
                }));
            const expected = named.filter(
              (issue, index) => named.findIndex((other) => other.path === issue.path) === index,
            );
            expect(tableNamesIssues(tableNames)).toEqual(expected);
          },
        ),
        { examples: [[[]], [["a", ""]], ["a"], [null]] },
      );
    });

    it("skips the REMOVE records of other tables as other-table, and selects those of the tables named", () => {
      // Prepare
      const factory = createRecordFactory();
      const products = ofTable(factory.removeRecord({ keys: productKeys("p-1") }), "products");
      const orders = ofTable(factory.ttlRemoveRecord({ keys: productKeys("o-1") }), "orders");
      const archive = ofTable(factory.removeRecord({ keys: productKeys("a-1") }), "archive");

      // Act
      const batch = parseStreamRecords(
        { Records: [products, orders, archive] },
        { tableNames: ["products", "orders"] },
      );

      // Assess
      expect(batch.removals.map((item) => [item.index, item.tableName])).toEqual([
        [0, "products"],
        [1, "orders"],
      ]);
      expect(batch.skipped).toEqual([
        {
          index: 2,
          sequenceNumber: archive.dynamodb?.SequenceNumber,
          eventId: archive.eventID,
          itemIdentifier: archive.dynamodb?.SequenceNumber,
          eventName: "REMOVE",
          reason: "other-table",
          tableName: "archive",
        },
      ]);
      expect(batch.invalid).toEqual([]);
    });

    it("matches table names exactly, case included", () => {
      // Prepare
      const record = ofTable(createRecordFactory().removeRecord(), "Products");

      // Act
      const batch = parseStreamRecords({ Records: [record] }, { tableNames: ["products"] });

      // Assess
      expect(batch.skipped.map((skipped) => skipped.reason)).toEqual(["other-table"]);
    });

    it("reads a Kinesis record's table from its tableName, and EventBridge Pipes' from the eventSourceARN", () => {
      // Prepare
      const factory = createRecordFactory();
      const records = [
        ofTable(factory.removeRecord({ keys: productKeys("p-1") }), "products"),
        ofTable(factory.removeRecord({ keys: productKeys("o-1") }), "orders"),
      ];

      // Act
      const fromKinesis = parseStreamRecords(kinesisEvent(records), { tableNames: ["orders"] });
      const fromPipes = parseStreamRecords(pipesEvent(records), { tableNames: ["orders"] });

      // Assess
      for (const batch of [fromKinesis, fromPipes]) {
        expect(batch.removals.map((item) => [item.index, item.tableName])).toEqual([[1, "orders"]]);
        expect(batch.skipped.map((skipped) => [skipped.index, skipped.reason])).toEqual([[0, "other-table"]]);
      }
    });

    it("takes a Kinesis record's table from its payload, never from the Kinesis stream's ARN", () => {
      // Prepare
      const event = kinesisEvent([ofTable(createRecordFactory().removeRecord(), "orders")], { streamName: "products" });

      // Act
      const batch = parseStreamRecords(event, { tableNames: ["products"] });

      // Assess
      expect(batch.skipped).toMatchObject([{ reason: "other-table", tableName: "orders" }]);
    });

    it("skips INSERT and MODIFY records of any table as not-a-removal", () => {
      // Prepare
      const factory = createRecordFactory();
      const insert = ofTable(factory.insertRecord(), "orders");
      const modify = { ...factory.modifyRecord(), eventSourceARN: undefined };

      // Act
      const batch = parseStreamRecords({ Records: [insert, modify] }, { tableNames: ["products"] });

      // Assess
      expect(batch.skipped.map((skipped) => [skipped.index, skipped.reason])).toEqual([
        [0, "not-a-removal"],
        [1, "not-a-removal"],
      ]);
    });

    it("skips another table's REMOVE as other-table before the removals filter leaves it out", () => {
      // Prepare
      const record = ofTable(createRecordFactory().removeRecord(), "orders");

      // Act
      const batch = parseStreamRecords({ Records: [record] }, { tableNames: ["products"], removals: "ttl" });

      // Assess
      expect(batch.skipped.map((skipped) => skipped.reason)).toEqual(["other-table"]);
    });

    it.each<[string, (record: StreamRecord) => Record<string, unknown>, string | undefined]>([
      ["an unknown eventName", (record) => ({ ...record, eventName: "DELETE" }), "DELETE"],
      ["no eventName", (record) => without(record, "eventName"), undefined],
      ["no SequenceNumber", (record) => withData(record, without(record.dynamodb ?? {}, "SequenceNumber")), "REMOVE"],
      ["no Keys", (record) => withData(record, without(record.dynamodb ?? {}, "Keys")), "REMOVE"],
      [
        "a TTL attribute that is no number",
        (record) => withData(record, { ...record.dynamodb, OldImage: { expiresAt: { N: "soon" } } }),
        "REMOVE",
      ],
    ])("skips another table's record with %s instead of making it invalid", (_name, spoil, eventName) => {
      // Prepare
      const record = spoil(ofTable(createRecordFactory().removeRecord(), "orders") as StreamRecord);

      // Act
      const batch = parseStreamRecords({ Records: [record] }, { tableNames: ["products"], ttlAttribute: "expiresAt" });

      // Assess
      expect(batch.invalid).toEqual([]);
      expect(batch.skipped).toMatchObject([{ index: 0, reason: "other-table", tableName: "orders", eventName }]);
    });

    describe("a REMOVE whose table cannot be read is invalid, never skipped unseen", () => {
      it.each([
        ["missing", undefined, "undefined"],
        ["a Kinesis stream's ARN", "arn:aws:kinesis:us-east-1:123456789012:stream/products", "a string"],
        ["an ARN of a table's index", "arn:aws:dynamodb:us-east-1:123456789012:index/products", "a string"],
        ["not an ARN", "products", "a string"],
        ["a number", 42, "a number"],
      ])("names eventSourceARN when it is %s", (_name, eventSourceARN, got) => {
        // Prepare
        const record = { ...createRecordFactory().removeRecord(), eventSourceARN };
        const sequenceNumber = record.dynamodb?.SequenceNumber;

        // Act
        const batch = parseStreamRecords({ Records: [record] }, { tableNames: ["products"] });

        // Assess
        const invalid = onlyInvalidRecord(batch);
        expect(invalid).toMatchObject({ index: 0, sequenceNumber, itemIdentifier: sequenceNumber });
        expect((invalid.error as InvalidRecordError).field).toBe("eventSourceARN");
        expect(invalid.error.message).toBe(
          `record 0 (SequenceNumber ${sequenceNumber}, eventID ${record.eventID}): \`eventSourceARN\` must be a DynamoDB stream ARN, arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>, to tell the record's table for tableNames (got ${got})`,
        );
      });

      it("names eventSourceARN for a Pipes record too, reported by its eventID", () => {
        // Prepare
        const record = { ...createRecordFactory().removeRecord(), eventSourceARN: undefined };

        // Act
        const batch = parseStreamRecords(pipesEvent([record]), { tableNames: ["products"] });

        // Assess
        const invalid = onlyInvalidRecord(batch);
        expect(invalid.itemIdentifier).toBe(record.eventID);
        expect((invalid.error as InvalidRecordError).field).toBe("eventSourceARN");
      });

      it.each([
        ["missing", undefined, "undefined"],
        ["empty", "", "a string"],
        ["a number", 7, "a number"],
      ])("names a Kinesis record's tableName when it is %s", (_name, tableName, got) => {
        // Prepare
        const event = kinesisEvent([createRecordFactory().removeRecord()]);
        const [payload] = decoded(event);
        const changed = tableName === undefined ? without(payload, "tableName") : { ...payload, tableName };
        const [outer] = event.Records;
        const record = {
          ...outer,
          kinesis: { ...outer?.kinesis, data: Buffer.from(JSON.stringify(changed)).toString("base64") },
        };

        // Act
        const batch = parseStreamRecords({ Records: [record] }, { tableNames: ["products"] });

        // Assess
        const invalid = onlyInvalidRecord(batch);
        expect(invalid.itemIdentifier).toBe(outer?.kinesis.sequenceNumber);
        expect((invalid.error as InvalidRecordError).field).toBe("tableName");
        expect(invalid.error.message).toContain(
          `\`tableName\` must be a non-empty string, to tell the record's table for tableNames (got ${got})`,
        );
      });

      it("keeps such a record a removal when tableNames is not set", () => {
        // Prepare
        const record = { ...createRecordFactory().removeRecord(), eventSourceARN: undefined };

        // Act
        const batch = parseStreamRecords({ Records: [record] });

        // Assess
        expect(batch.removals.map((item) => [item.index, item.tableName])).toEqual([[0, undefined]]);
      });
    });

    it("never selects a record of another table, and never makes one invalid (property)", () => {
      const tables = ["products", "orders", "archive"] as const;
      const factory = createRecordFactory();
      const recordArb = fc.record({
        table: fc.constantFrom(...tables),
        record: fc.oneof(
          fc.constant(null).map(() => factory.removeRecord()),
          fc.constant(null).map(() => factory.ttlRemoveRecord({ oldImage: { expiresAt: { N: "1" } } })),
          fc.constant(null).map(() => factory.insertRecord()),
          fc.constant(null).map(() => factory.modifyRecord()),
          fc.record({
            eventName: fc.oneof(fc.constantFrom("REMOVE", "INSERT", "MODIFY", "DELETE"), fc.anything()),
            eventID: fc.oneof(fc.string({ minLength: 1 }), fc.anything()),
            dynamodb: fc.oneof(
              fc.anything(),
              fc.record(
                {
                  SequenceNumber: fc.oneof(fc.stringMatching(/^\d{21}$/), fc.anything()),
                  Keys: fc.oneof(fc.constant(productKeys("p-1")), fc.anything()),
                  OldImage: fc.anything(),
                },
                { requiredKeys: [] },
              ),
            ),
          }),
        ),
      });
      const shapeArb = fc.constantFrom("dynamodb-streams", "kinesis", "pipes");
      fc.assert(
        fc.property(
          fc.array(recordArb, { maxLength: 12 }),
          fc.subarray([...tables], { minLength: 1 }),
          shapeArb,
          fc.constantFrom<RemovalFilter>("any", "ttl", "user"),
          (entries, tableNames, shape, removals) => {
            // Prepare
            const records = entries.map(({ record, table }) => ofTable(record, table) as StreamRecord);
            const event =
              shape === "kinesis"
                ? kinesisEvent(records)
                : shape === "pipes"
                  ? pipesEvent(records)
                  : streamEvent(...records);
            const inScope = (index: number) => (tableNames as string[]).includes(entries[index]?.table as string);

            // Act
            const batch = parseStreamRecords(event, { tableNames, removals, ttlAttribute: "expiresAt" });

            // Assess
            for (const item of batch.removals) {
              expect(inScope(item.index)).toBe(true);
              expect(item.tableName).toBe(entries[item.index]?.table);
            }
            for (const record of batch.invalid) expect(inScope(record.index)).toBe(true);
            for (const skipped of batch.skipped) {
              if (skipped.reason === "other-table") expect(inScope(skipped.index)).toBe(false);
            }
            const listed = [...batch.removals, ...batch.skipped, ...batch.invalid].map((entry) => entry.index);
            expect(listed.sort((a, b) => a - b)).toEqual(entries.map((_entry, index) => index));
          },
        ),
      );
    });
  });

  describe("the ttlAttribute option", () => {
    const CREATED = 1_795_000_000;
    const image = (expiresAt?: AttributeValue): AttributeMap => ({
      productId: { S: "p-1" },
      ...(expiresAt === undefined ? {} : { expiresAt }),
    });
    /** A REMOVE removed `created` seconds after the epoch, of an item whose expiresAt is `expiresAt`. */
    const removal = (expiresAt: AttributeValue | undefined, created = CREATED, identity?: unknown) => {
      const record = createRecordFactory().removeRecord({
        keys: productKeys("p-1"),
        oldImage: image(expiresAt),
        approximateCreationDateTime: created,
      });
      return identity === undefined ? record : { ...record, userIdentity: identity };
    };
    const withoutCreationTime = (record: StreamRecord): StreamRecord => {
      const { ApproximateCreationDateTime: _, ...data } = record.dynamodb ?? {};
      return { ...record, dynamodb: data };
    };

    it.each([
      ["", "must be a non-empty attribute name"],
      [1, "must be a non-empty attribute name"],
    ])("throws ConfigError for ttlAttribute %j", (ttlAttribute, message) => {
      // Act
      const issues = (() => {
        try {
          parseStreamRecords(streamEvent(), { ttlAttribute: ttlAttribute as string });
        } catch (error) {
          return (error as ConfigError).issues;
        }
        return undefined;
      })();

      // Assess
      expect(issues).toEqual([{ path: "ttlAttribute", message }]);
    });

    describe.each([
      ["a DynamoDB stream", (records: StreamRecord[]) => streamEvent(...records)],
      ["Kinesis in milliseconds", (records: StreamRecord[]) => kinesisEvent(records)],
      ["Kinesis in microseconds", (records: StreamRecord[]) => kinesisEvent(records, { precision: "MICROSECOND" })],
      ["EventBridge Pipes", (records: StreamRecord[]) => pipesEvent(records)],
    ])("from %s", (_source, eventOf) => {
      const removedBy = (record: StreamRecord, options: ParseOptions) =>
        parseStreamRecords(eventOf([record]), options).removals.map((item) => item.removedBy);

      it.each([
        ["expired an hour before its removal", "ttl", { N: String(CREATED - 3600) }, CREATED],
        ["expired the very second of its removal", "ttl", { N: String(CREATED) }, CREATED],
        ["expired half a second before its removal", "ttl", { N: String(CREATED) }, CREATED + 0.5],
        ["expiring half a second after its removal", "user", { N: String(CREATED) }, CREATED - 0.5],
        ["expiring a second after its removal", "user", { N: String(CREATED + 1) }, CREATED],
        ["expiring in a year", "user", { N: String(CREATED + 31_536_000) }, CREATED],
        ["without the attribute", "user", undefined, CREATED],
        ["with the attribute as a string", "user", { S: String(CREATED - 3600) }, CREATED],
        ["with the attribute NULL", "user", { NULL: true }, CREATED],
      ] as const)(
        "counts a REMOVE without userIdentity of an item %s as removed by %s",
        (_name, by, expiresAt, created) => {
          // Prepare
          const record = removal(expiresAt, created);

          // Act
          const result = removedBy(record, { ttlAttribute: "expiresAt" });

          // Assess
          expect(result).toEqual([by]);
        },
      );

      it("selects expired items under removals: ttl, and the others under removals: user", () => {
        // Prepare
        const expired = removal({ N: String(CREATED - 60) });
        const live = removal({ N: String(CREATED + 60) });
        const event = eventOf([expired, live]);

        // Act
        const ttl = parseStreamRecords(event, { removals: "ttl", ttlAttribute: "expiresAt" });
        const user = parseStreamRecords(event, { removals: "user", ttlAttribute: "expiresAt" });

        // Assess
        expect(ttl.removals.map((item) => item.index)).toEqual([0]);
        expect(ttl.skipped.map((record) => [record.index, record.reason])).toEqual([[1, "removal-not-selected"]]);
        expect(user.removals.map((item) => item.index)).toEqual([1]);
        expect(user.skipped.map((record) => [record.index, record.reason])).toEqual([[0, "removal-not-selected"]]);
      });

      it("leaves an expired item without userIdentity a user's removal when ttlAttribute is not set", () => {
        // Prepare
        const record = removal({ N: String(CREATED - 3600) });

        // Act
        const result = removedBy(record, {});

        // Assess
        expect(result).toEqual(["user"]);
      });

      it.each([
        ["DynamoDB's TTL service, for an item not yet expired", { ...TTL_IDENTITY }, CREATED + 3600, "ttl"],
        ["someone else, for an expired item", { type: "User", principalId: "admin" }, CREATED - 3600, "user"],
      ] as const)("believes a userIdentity of %s", (_name, identity, expiresAt, by) => {
        // Prepare
        const record = removal({ N: String(expiresAt) }, CREATED, identity);

        // Act
        const result = removedBy(record, { ttlAttribute: "expiresAt" });

        // Assess
        expect(result).toEqual([by]);
      });

      it("needs no OldImage when userIdentity says TTL", () => {
        // Prepare
        const record = createRecordFactory().ttlRemoveRecord({ keys: productKeys("p-1") });

        // Act
        const batch = parseStreamRecords(eventOf([record]), { removals: "ttl", ttlAttribute: "expiresAt" });

        // Assess
        expect(batch.removals.map((item) => item.removedBy)).toEqual(["ttl"]);
      });

      describe("when the filter cannot be applied", () => {
        const keysOnly = () => createRecordFactory().removeRecord({ keys: productKeys("p-1") });
        const cases = [
          [
            "a KEYS_ONLY record, without OldImage",
            keysOnly,
            "dynamodb.OldImage",
            "is missing: ttlAttribute needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream to tell TTL removals without userIdentity",
          ],
          [
            "a record whose OldImage is null",
            () => {
              const record = keysOnly();
              return { ...record, dynamodb: { ...record.dynamodb, OldImage: null } } as unknown as StreamRecord;
            },
            "dynamodb.OldImage",
            "is missing: ttlAttribute needs an OLD_IMAGE or NEW_AND_OLD_IMAGES stream to tell TTL removals without userIdentity",
          ],
          [
            "a record without ApproximateCreationDateTime",
            () => withoutCreationTime(removal({ N: String(CREATED - 3600) })),
            "dynamodb.ApproximateCreationDateTime",
            "must be a number: ttlAttribute compares it with the item's expiry time",
          ],
        ] as const;

        it.each(cases)('counts %s as a user\'s removal under removals: "any"', (_name, make) => {
          // Act
          const result = removedBy(make(), { ttlAttribute: "expiresAt" });

          // Assess
          expect(result).toEqual(["user"]);
        });

        it.each(
          cases.flatMap(([name, make, field, problem]) =>
            (["ttl", "user"] as const).map((removals) => [name, removals, make, field, problem] as const),
          ),
        )("makes %s invalid under removals: %s, naming the field", (_name, removals, make, field, problem) => {
          // Act
          const batch = parseStreamRecords(eventOf([make()]), { removals, ttlAttribute: "expiresAt" });

          // Assess
          const invalid = onlyInvalidRecord(batch);
          expect((invalid.error as InvalidRecordError).field).toBe(field);
          expect(invalid.error.message).toContain(`\`${field}\` ${problem}`);
        });

        it.each(
          (
            [
              ["an empty N", { N: "" }, "dynamodb.OldImage.expiresAt", "N is not a number"],
              ["an N that is no number", { N: "soon" }, "dynamodb.OldImage.expiresAt", "N is not a number"],
              ["an N that is no string", { N: CREATED - 3600 }, "dynamodb.OldImage.expiresAt", "N must be a string"],
              [
                "an attribute of two types",
                { N: String(CREATED - 3600), S: "x" },
                "dynamodb.OldImage.expiresAt",
                "has several types (N, S)",
              ],
              ["a null attribute", null, "dynamodb.OldImage.expiresAt", "is not an AttributeValue object"],
              ["an OldImage that is a string", "expiresAt", "dynamodb.OldImage", "is not an attribute map"],
            ] as const
          ).flatMap(([name, value, field, problem]) =>
            (["any", "ttl", "user"] as const).map((removals) => [name, removals, value, field, problem] as const),
          ),
        )(
          "makes a REMOVE with %s invalid under removals: %s, naming the field",
          (_name, removals, value, field, problem) => {
            // Prepare
            const record = removal({ N: String(CREATED - 3600) });
            const oldImage = field === "dynamodb.OldImage" ? value : { ...record.dynamodb?.OldImage, expiresAt: value };
            const spoilt = withData(record, { ...record.dynamodb, OldImage: oldImage }) as StreamRecord;

            // Act
            const batch = parseStreamRecords(eventOf([spoilt]), { removals, ttlAttribute: "expiresAt" });

            // Assess
            const invalid = onlyInvalidRecord(batch);
            expect((invalid.error as InvalidRecordError).field).toBe(field);
            expect(invalid.error.message).toContain(`\`${field}\` ${problem}`);
          },
        );

        it("reads only the item's own attribute, never one of Object.prototype", () => {
          // Prepare
          const record = removal(undefined);

          // Act
          const batch = parseStreamRecords(eventOf([record]), { removals: "user", ttlAttribute: "constructor" });

          // Assess
          expect(batch.removals.map((item) => item.removedBy)).toEqual(["user"]);
        });

        it("needs no creation time for an item without the attribute", () => {
          // Prepare
          const record = withoutCreationTime(removal(undefined));

          // Act
          const batch = parseStreamRecords(eventOf([record]), { removals: "user", ttlAttribute: "expiresAt" });

          // Assess
          expect(batch.removals.map((item) => item.removedBy)).toEqual(["user"]);
        });
      });
    });

    it("reads a Kinesis creation time to the microsecond", () => {
      // Prepare
      const expiresAt = CREATED;
      const event = kinesisEvent([removal({ N: String(expiresAt) })], { precision: "MICROSECOND" });
      const at = (microseconds: number) => {
        const [record] = event.Records;
        const payload = JSON.parse(Buffer.from(record?.kinesis.data ?? "", "base64").toString("utf8"));
        payload.dynamodb.ApproximateCreationDateTime = microseconds;
        return {
          Records: [
            {
              ...record,
              kinesis: { ...record?.kinesis, data: Buffer.from(JSON.stringify(payload)).toString("base64") },
            },
          ],
        };
      };

      // Act
      const oneBefore = parseStreamRecords(at(expiresAt * 1_000_000 - 1), { ttlAttribute: "expiresAt" });
      const exactly = parseStreamRecords(at(expiresAt * 1_000_000), { ttlAttribute: "expiresAt" });
      const msBefore = parseStreamRecords(at(expiresAt * 1000 - 1), { ttlAttribute: "expiresAt" });
      const msExactly = parseStreamRecords(at(expiresAt * 1000), { ttlAttribute: "expiresAt" });

      // Assess
      expect(oneBefore.removals.map((item) => item.removedBy)).toEqual(["user"]);
      expect(exactly.removals.map((item) => item.removedBy)).toEqual(["ttl"]);
      expect(msBefore.removals.map((item) => item.removedBy)).toEqual(["user"]);
      expect(msExactly.removals.map((item) => item.removedBy)).toEqual(["ttl"]);
    });

    it("compares a creation time that is no finite number as missing", () => {
      // Prepare
      const record = removal({ N: String(CREATED - 3600) });
      const garbled = withData(record, { ...record.dynamodb, ApproximateCreationDateTime: String(CREATED) });

      // Act
      const any = parseStreamRecords({ Records: [garbled] }, { ttlAttribute: "expiresAt" });
      const ttl = parseStreamRecords({ Records: [garbled] }, { removals: "ttl", ttlAttribute: "expiresAt" });

      // Assess
      expect(any.removals.map((item) => item.removedBy)).toEqual(["user"]);
      expect((onlyInvalidRecord(ttl).error as InvalidRecordError).field).toBe("dynamodb.ApproximateCreationDateTime");
    });
  });

  describe("invalid records", () => {
    it.each([
      ["null", null, "null"],
      ["undefined", undefined, "undefined"],
      ["a string", "REMOVE", "a string"],
      ["a number", 42, "a number"],
      ["a bigint", 42n, "a bigint"],
      ["an array", [{ eventName: "REMOVE" }], "an array"],
      ["a boolean", true, "a boolean"],
    ])("rejects %s as not a record object", (_name, record, got) => {
      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid.index).toBe(0);
      expect(invalid.error.record).toEqual({ index: 0 });
      expect(invalid.error.message).toBe(`record 0: is not a record object (got ${got})`);
      expect((invalid.error as InvalidRecordError).field).toBeUndefined();
    });

    it.each([
      ["is missing", undefined, "(got undefined)"],
      ["is unknown", "DELETE", '(got "DELETE")'],
      ["is lower case", "remove", '(got "remove")'],
      ["is not a string", 3, "(got a number)"],
      ["is an object holding content", { email: "secret@example.com" }, "(got an object with keys [email])"],
      ["is a bigint", 3n, "(got a bigint)"],
    ])("rejects a record whose eventName %s", (_name, eventName, got) => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      const garbled = eventName === undefined ? without(record, "eventName") : { ...record, eventName };

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid).toMatchObject({ index: 0, sequenceNumber, eventId: record.eventID });
      expect((invalid.error as InvalidRecordError).field).toBe("eventName");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${sequenceNumber}, eventID ${record.eventID}): \`eventName\` must be INSERT, MODIFY or REMOVE ${got}`,
      );
    });

    it.each([
      ["missing", undefined],
      ["null", null],
      ["a string", "data"],
    ])("rejects a REMOVE whose dynamodb part is %s", (_name, dynamodb) => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = dynamodb === undefined ? without(record, "dynamodb") : { ...record, dynamodb };

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid).toMatchObject({ index: 0, sequenceNumber: undefined, eventId: record.eventID });
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb");
      expect(invalid.error.message).toBe(`record 0 (eventID ${record.eventID}): \`dynamodb\` is missing`);
    });

    it("rejects a REMOVE without a SequenceNumber", () => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = withData(record, without(record.dynamodb ?? {}, "SequenceNumber"));

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid.sequenceNumber).toBeUndefined();
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.SequenceNumber");
      expect(invalid.error.message).toBe(
        `record 0 (eventID ${record.eventID}): \`dynamodb.SequenceNumber\` must be a string of digits (got undefined)`,
      );
    });

    it.each(["", "12a", "-100", "1.5"])(
      "rejects a REMOVE whose SequenceNumber %j is not a string of digits",
      (sequenceNumber) => {
        // Prepare
        const record = createRecordFactory().removeRecord({ sequenceNumber });

        // Act
        const batch = parseStreamRecords(streamEvent(record));

        // Assess
        const invalid = onlyInvalidRecord(batch);
        expect(invalid.sequenceNumber).toBe(sequenceNumber);
        expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.SequenceNumber");
        expect(invalid.error.message).toContain(`SequenceNumber ${sequenceNumber}`);
        expect(invalid.error.message).toContain("`dynamodb.SequenceNumber` must be a string of digits (got a string)");
      },
    );

    it("rejects a REMOVE whose SequenceNumber is a number", () => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = withData(record, { ...record.dynamodb, SequenceNumber: 100000000000000000000 });

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid.sequenceNumber).toBeUndefined();
      expect(invalid.error.message).toContain("`dynamodb.SequenceNumber` must be a string of digits (got a number)");
    });

    it("describes a SequenceNumber that is an object by its keys, never by its values", () => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const sequenceNumber = { owner: "secret@example.com", value: "100000000000000000000" };
      const garbled = withData(record, { ...record.dynamodb, SequenceNumber: sequenceNumber });

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect(invalid.error.message).toBe(
        `record 0 (eventID ${record.eventID}): \`dynamodb.SequenceNumber\` must be a string of digits (got an object with keys [owner, value])`,
      );
      expect(invalid.error.message).not.toContain("secret@example.com");
    });

    it.each([
      ["missing", undefined],
      ["null", null],
    ])("rejects a REMOVE whose Keys are %s", (_name, keys) => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const sequenceNumber = record.dynamodb?.SequenceNumber;
      const data = keys === undefined ? without(record.dynamodb ?? {}, "Keys") : { ...record.dynamodb, Keys: keys };

      // Act
      const batch = parseStreamRecords({ Records: [withData(record, data)] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.Keys");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${sequenceNumber}, eventID ${record.eventID}): \`dynamodb.Keys\` is missing`,
      );
    });

    it("rejects a REMOVE whose Keys are empty", () => {
      // Prepare
      const record = createRecordFactory().removeRecord({ keys: {} });

      // Act
      const batch = parseStreamRecords(streamEvent(record));

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.Keys");
      expect(invalid.error.message).toContain(`SequenceNumber ${record.dynamodb?.SequenceNumber}`);
      expect(invalid.error.message).toContain("`dynamodb.Keys` is empty");
    });

    it("rejects a REMOVE whose Keys are not an attribute map", () => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = withData(record, { ...record.dynamodb, Keys: [{ S: "p-1" }] });

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.Keys");
      expect(invalid.error.message).toContain("`dynamodb.Keys` is not an attribute map");
    });

    it("rejects a malformed AttributeValue in Keys, naming the attribute", () => {
      // Prepare
      const record = createRecordFactory().removeRecord({ keys: { productId: { X: "p-1" } as never } });
      const sequenceNumber = record.dynamodb?.SequenceNumber;

      // Act
      const batch = parseStreamRecords(streamEvent(record));

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.Keys.productId");
      expect(invalid.error.message).toBe(
        `record 0 (SequenceNumber ${sequenceNumber}, eventID ${record.eventID}): \`dynamodb.Keys.productId\` has an unknown type "X"`,
      );
      expect(invalid.error.cause).toBeInstanceOf(AttributeProblem);
    });

    it("rejects a malformed AttributeValue deep in OldImage, naming its path", () => {
      // Prepare
      const record = createRecordFactory().removeRecord({
        keys: productKeys("p-1"),
        oldImage: { productId: { S: "p-1" }, tags: { L: [{ S: "a" }, { S: "b" }, { N: "many" }] } },
      });

      // Act
      const batch = parseStreamRecords(streamEvent(record));

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.OldImage.tags[2]");
      expect(invalid.error.message).toContain(`SequenceNumber ${record.dynamodb?.SequenceNumber}`);
      expect(invalid.error.message).toContain("`dynamodb.OldImage.tags[2]` N is not a number");
    });

    it("rejects an OldImage that is not an attribute map", () => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = withData(record, { ...record.dynamodb, OldImage: "image" });

      // Act
      const batch = parseStreamRecords({ Records: [garbled] });

      // Assess
      const invalid = onlyInvalidRecord(batch);
      expect((invalid.error as InvalidRecordError).field).toBe("dynamodb.OldImage");
      expect(invalid.error.message).toContain("`dynamodb.OldImage` is not an attribute map");
    });

    it("names the position of an invalid record and keeps the records around it", () => {
      // Prepare
      const factory = createRecordFactory();
      const before = factory.removeRecord({ keys: productKeys("p-1") });
      const broken = factory.removeRecord({ keys: {} });
      const after = factory.removeRecord({ keys: productKeys("p-3") });

      // Act
      const batch = parseStreamRecords(streamEvent(before, broken, after));

      // Assess
      expect(batch.removals.map((item) => item.index)).toEqual([0, 2]);
      expect(batch.invalid.map((record) => record.index)).toEqual([1]);
      expect(batch.invalid[0]?.sequenceNumber).toBe(broken.dynamodb?.SequenceNumber);
      expect(batch.invalid[0]?.error.message).toMatch(/^record 1 \(SequenceNumber \d{21}, eventID event-\d{21}\): /);
    });

    it("lets out an error that is not about the record's data, instead of hiding it", () => {
      // Prepare
      // JSON cannot produce this: only a programming error (here a throwing getter) can.
      const failure = new Error("getter failed");
      const record = createRecordFactory().removeRecord({
        keys: {
          productId: {
            get S(): string {
              throw failure;
            },
          },
        },
      });

      // Act
      const parse = () => parseStreamRecords(streamEvent(record));

      // Assess
      expect(parse).toThrow(failure);
    });

    it("lets a filtered-out REMOVE through as skipped before checking its dynamodb part", () => {
      // Prepare
      const record = without(createRecordFactory().ttlRemoveRecord(), "dynamodb");

      // Act
      const batch = parseStreamRecords({ Records: [record] }, { removals: "user" });

      // Assess
      expect(batch.skipped.map((skipped) => skipped.reason)).toEqual(["removal-not-selected"]);
    });
  });

  describe("removed items", () => {
    it("carries every field of the record", () => {
      // Prepare
      const factory = createRecordFactory();
      const record = factory.ttlRemoveRecord({
        keys: { productId: { S: "p-1" }, version: { N: "12345678901234567890" } },
        oldImage: {
          productId: { S: "p-1" },
          version: { N: "12345678901234567890" },
          imageKeys: { SS: ["images/p-1.png"] },
          price: { N: "1.50" },
        },
        streamViewType: "NEW_AND_OLD_IMAGES",
        approximateCreationDateTime: 1795000000,
      });

      // Act
      const batch = parseStreamRecords(streamEvent(record));

      // Assess
      expect(batch.removals).toHaveLength(1);
      expect(batch.removals[0]).toStrictEqual({
        index: 0,
        sequenceNumber: record.dynamodb?.SequenceNumber,
        eventId: record.eventID,
        itemIdentifier: record.dynamodb?.SequenceNumber,
        keys: { productId: "p-1", version: 12345678901234567890n },
        oldImage: {
          productId: "p-1",
          version: 12345678901234567890n,
          imageKeys: new Set(["images/p-1.png"]),
          price: 1.5,
        },
        removedBy: "ttl",
        tableName: "products",
        approximateCreationDateTime: new Date(1_795_000_000_000),
        streamViewType: "NEW_AND_OLD_IMAGES",
        record,
      });
      expect(batch.removals[0]?.record).toBe(record);
    });

    it("reads ApproximateCreationDateTime as epoch seconds", () => {
      // Prepare
      const record = createRecordFactory().removeRecord({ approximateCreationDateTime: 1700000000.5 });

      // Act
      const [item] = parseStreamRecords(streamEvent(record)).removals;

      // Assess
      expect(item?.approximateCreationDateTime?.getTime()).toBe(1700000000500);
    });

    it("leaves oldImage undefined on a KEYS_ONLY record and when OldImage is null", () => {
      // Prepare
      const factory = createRecordFactory();
      const keysOnly = factory.removeRecord({ keys: productKeys("p-1") });
      const nullImage = factory.removeRecord({ keys: productKeys("p-2") });
      const withNullImage = withData(nullImage, { ...nullImage.dynamodb, OldImage: null });

      // Act
      const batch = parseStreamRecords({ Records: [keysOnly, withNullImage] });

      // Assess
      expect(batch.removals.map((item) => [item.streamViewType, item.oldImage])).toEqual([
        ["KEYS_ONLY", undefined],
        ["KEYS_ONLY", undefined],
      ]);
    });

    it("leaves the optional fields undefined when the record lacks them", () => {
      // Prepare
      const record = {
        eventName: "REMOVE",
        dynamodb: { SequenceNumber: "100000000000000000000", Keys: productKeys("p-1") },
      };

      // Act
      const batch = parseStreamRecords({ Records: [record] });

      // Assess
      expect(batch.removals[0]).toStrictEqual({
        index: 0,
        sequenceNumber: "100000000000000000000",
        eventId: undefined,
        itemIdentifier: "100000000000000000000",
        keys: { productId: "p-1" },
        oldImage: undefined,
        removedBy: "user",
        tableName: undefined,
        approximateCreationDateTime: undefined,
        streamViewType: undefined,
        record,
      });
    });

    it.each([
      ["a table ARN without a stream", "arn:aws:dynamodb:eu-west-1:123456789012:table/orders", "orders"],
      ["a stream ARN", TABLE_ARN, "products"],
      ["an ARN that names no table", "arn:aws:kinesis:us-east-1:123456789012:stream/orders", undefined],
      ["a number", 42, undefined],
    ])("reads the table name from %s", (_name, eventSourceARN, tableName) => {
      // Prepare
      const record = { ...createRecordFactory().removeRecord(), eventSourceARN };

      // Act
      const [item] = parseStreamRecords({ Records: [record] }).removals;

      // Assess
      expect(item?.tableName).toBe(tableName);
    });

    it.each([
      ["a string", "1795000000"],
      ["not finite", Number.POSITIVE_INFINITY],
    ])("leaves approximateCreationDateTime undefined when it is %s", (_name, created) => {
      // Prepare
      const record = createRecordFactory().removeRecord();
      const garbled = withData(record, { ...record.dynamodb, ApproximateCreationDateTime: created });

      // Act
      const [item] = parseStreamRecords({ Records: [garbled] }).removals;

      // Assess
      expect(item).toBeDefined();
      expect(item?.approximateCreationDateTime).toBeUndefined();
    });
  });

  describe("sorting", () => {
    const factory = createRecordFactory();
    const recordArbitrary = fc.oneof(
      fc.constant(null).map(() => factory.removeRecord()),
      fc.constant(null).map(() => factory.ttlRemoveRecord()),
      fc.constant(null).map(() => factory.insertRecord()),
      fc.constant(null).map(() => factory.modifyRecord()),
      fc.anything(),
      fc.record({
        eventName: fc.oneof(fc.constantFrom("REMOVE", "INSERT", "MODIFY", "DELETE"), fc.anything()),
        eventID: fc.oneof(fc.string(), fc.anything()),
        userIdentity: fc.oneof(fc.constant(TTL_IDENTITY), fc.constant(STREAMS_API_TTL_IDENTITY), fc.anything()),
        dynamodb: fc.oneof(
          fc.anything(),
          fc.record(
            {
              SequenceNumber: fc.oneof(fc.stringMatching(/^\d{21}$/), fc.anything()),
              Keys: fc.oneof(fc.constant(productKeys("p-1")), fc.anything()),
              OldImage: fc.anything(),
              ApproximateCreationDateTime: fc.anything(),
            },
            { requiredKeys: [] },
          ),
        ),
      }),
    );

    it("puts every record in exactly one of the three lists (property)", () => {
      fc.assert(
        fc.property(
          fc.array(recordArbitrary, { maxLength: 20 }),
          fc.constantFrom<RemovalFilter>("any", "ttl", "user"),
          (records, removals) => {
            // Act
            const batch = parseStreamRecords({ Records: records }, { removals });

            // Assess
            const indexes = [...batch.removals, ...batch.skipped, ...batch.invalid].map((entry) => entry.index);
            expect(indexes.sort((a, b) => a - b)).toEqual(records.map((_record, index) => index));
          },
        ),
      );
    });

    it("puts every record of a Kinesis or Pipes batch in exactly one of the three lists (property)", () => {
      const streamRecordArb = fc.oneof(
        recordArbitrary.filter((record) => typeof record === "object" && record !== null && !hasField(record, "data")),
        fc.constant(null),
      );
      const kinesisArb = fc.record({
        kinesis: fc.oneof(
          fc.record({
            data: fc.oneof(
              fc.jsonValue().map((payload) => Buffer.from(JSON.stringify(payload) ?? "").toString("base64")),
              streamRecordArb.map((record) => Buffer.from(JSON.stringify(record) ?? "").toString("base64")),
              fc.string(),
              fc.anything(),
            ),
            sequenceNumber: fc.oneof(fc.stringMatching(/^\d{1,56}$/), fc.anything()),
          }),
          fc.anything(),
        ),
        eventSource: fc.constant("aws:kinesis"),
      });
      const eventArb = fc.oneof(
        fc
          .array(kinesisArb, { minLength: 1, maxLength: 20 })
          .map((records) => ({ records, event: { Records: records } })),
        fc
          .array(streamRecordArb, { maxLength: 20 })
          .filter((records) => !records.some((record) => hasField(record, "kinesis")))
          .map((records) => ({ records, event: records })),
      );
      fc.assert(
        fc.property(eventArb, fc.constantFrom<RemovalFilter>("any", "ttl", "user"), ({ records, event }, removals) => {
          // Act
          const batch = parseStreamRecords(event, { removals, ttlAttribute: "expiresAt" });

          // Assess
          const indexes = [...batch.removals, ...batch.skipped, ...batch.invalid].map((entry) => entry.index);
          expect(indexes.sort((a, b) => a - b)).toEqual(records.map((_record, index) => index));
        }),
      );
    });
  });
});

describe("REMOVAL_FILTERS", () => {
  it("lists the values of the removals option", () => {
    // Assess
    expect(REMOVAL_FILTERS).toStrictEqual(["any", "ttl", "user"]);
  });
});

describe("describeShape", () => {
  it.each([
    ["null", "null", null],
    ["undefined", "undefined", undefined],
    ["an array", "an array", ["secret@example.com"]],
    ["an empty object", "an object with keys []", {}],
    ["an object", "an object with keys [email, id]", { email: "secret@example.com", id: 7 }],
    ["an object with six keys", "an object with keys [a, b, c, d, e]", { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6 }],
    ["an object without prototype", "an object with keys [id]", Object.assign(Object.create(null), { id: 1 })],
    ["a Date", "an object with keys []", new Date(0)],
    ["a string", "a string", "secret@example.com"],
    ["an empty string", "a string", ""],
    ["a number", "a number", 42],
    ["NaN", "a number", Number.NaN],
    ["a bigint", "a bigint", 12345678901234567890n],
    ["a boolean", "a boolean", true],
    ["a function", "a function", () => "secret@example.com"],
    ["a symbol", "a symbol", Symbol("secret")],
  ])("describes %s as %j", (_name, expected, value) => {
    // Act
    const shape = describeShape(value);

    // Assess
    expect(shape).toBe(expected);
  });

  it("describes any string, number or bigint, alone or under a key, by its type only (property)", () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ minLength: 12 }), fc.double(), fc.bigInt()),
        fc.string({ minLength: 1 }),
        (value, key) => {
          // Act
          const direct = describeShape(value);
          const nested = describeShape({ [key]: value });

          // Assess
          expect(direct).toBe(`a ${typeof value}`);
          expect(nested).toBe(`an object with keys [${key}]`);
        },
      ),
    );
  });
});

describe("isTtlRemoval", () => {
  it.each([
    ["the Lambda casing", { ...TTL_IDENTITY }, true],
    ["the Streams-API casing", { ...STREAMS_API_TTL_IDENTITY }, true],
    ["no userIdentity", undefined, false],
    ["a null userIdentity", null, false],
    ["a string", "dynamodb.amazonaws.com", false],
    ["another service", { type: "Service", principalId: "events.amazonaws.com" }, false],
    ["a user", { type: "User", principalId: "dynamodb.amazonaws.com" }, false],
    ["the principal alone", { principalId: "dynamodb.amazonaws.com" }, false],
    ["the type alone", { type: "Service" }, false],
  ])("tells whether a record with %s is a TTL removal", (_name, userIdentity, expected) => {
    // Prepare
    const record: StreamRecord = { eventName: "REMOVE", userIdentity };

    // Act
    const ttl = isTtlRemoval(record);

    // Assess
    expect(ttl).toBe(expected);
  });
});

describe("isSequenceNumber", () => {
  it.each(["100000000000000000000", "4000000000000000000000000000000000000001", "0"])("accepts %s", (value) => {
    // Act
    const accepted = isSequenceNumber(value);

    // Assess
    expect(accepted).toBe(true);
  });

  it.each(["", "12a", "-1", " 1", "1.0", 1, 10n, null, undefined])("rejects %s", (value) => {
    // Act
    const accepted = isSequenceNumber(value);

    // Assess
    expect(accepted).toBe(false);
  });
});
