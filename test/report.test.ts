import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { FailedTarget } from "../src/batch-deleter.js";
import { InvalidRecordError, type RecordRef } from "../src/errors.js";
import { DYNAMODB_STREAMS, KINESIS, PIPES } from "../src/event-sources.js";
import type { ObjectTarget } from "../src/index.js";
import { targetId } from "../src/object-target.js";
import {
  buildBatchResponse,
  collectOwnership,
  compareSequenceNumbers,
  type Ownership,
  ownersOf,
  recordsOf,
  unreportable,
} from "../src/report.js";
import { propertyRuns } from "./property-runs.js";

/** Digit strings of 1 to 40 digits, every length equally likely, so that unequal lengths meet often. */
const sequenceNumberArb = fc
  .integer({ min: 1, max: 40 })
  .chain((digits) => fc.bigInt({ min: digits === 1 ? 0n : 10n ** BigInt(digits - 1), max: 10n ** BigInt(digits) - 1n }))
  .map((value) => value.toString());

/** Two sequence numbers, sometimes equal. */
const pairArb = fc.oneof(
  fc.tuple(sequenceNumberArb, sequenceNumberArb),
  sequenceNumberArb.map((a): [string, string] => [a, a]),
);

describe("compareSequenceNumbers", () => {
  it.each([
    ["99", "100", -1],
    ["100", "99", 1],
    ["100000000000000000000", "99999999999999999999", 1],
    ["9999999999999999999999999999999999999999", "1000000000000000000000000000000000000000", 1],
    ["49039841000000000000000000000000000000", "49039841000000000000000000000000000001", -1],
    ["12345678901234567890123", "12345678901234567890123", 0],
  ])("compares %s with %s as %i", (a, b, expected) => {
    // Act
    const result = compareSequenceNumbers(a, b);

    // Assess
    expect(result).toBe(expected);
  });

  it("orders digit strings of up to 40 digits as BigInt does", () => {
    fc.assert(
      fc.property(pairArb, ([a, b]) => {
        // Prepare
        const expected = BigInt(a) < BigInt(b) ? -1 : BigInt(a) > BigInt(b) ? 1 : 0;

        // Act
        const result = compareSequenceNumbers(a, b);

        // Assess
        expect(result).toBe(expected);
        expect(compareSequenceNumbers(b, a)).toBe(expected === 0 ? 0 : -expected);
      }),
      { numRuns: propertyRuns(1000) },
    );
  });

  it("sorts a list as BigInt values sort", () => {
    fc.assert(
      fc.property(fc.array(sequenceNumberArb), (list) => {
        // Act
        const sorted = [...list].sort(compareSequenceNumbers);

        // Assess
        expect(sorted.map(BigInt)).toEqual(list.map(BigInt).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      }),
    );
  });
});

describe("buildBatchResponse", () => {
  const ref = (index: number, sequenceNumber: string | undefined): RecordRef => ({
    index,
    sequenceNumber,
    eventId: `event-${index}`,
    itemIdentifier: sequenceNumber,
  });

  it("returns an empty list when no record must be retried", () => {
    // Act
    const response = buildBatchResponse([]);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
  });

  it("deduplicates and sorts identifiers by numeric value", () => {
    // Prepare
    const records = [ref(0, "100"), ref(1, "99"), ref(2, "100"), ref(3, "1000000000000000000000"), ref(4, "99")];

    // Act
    const response = buildBatchResponse(records);

    // Assess
    expect(response).toEqual({
      batchItemFailures: [
        { itemIdentifier: "99" },
        { itemIdentifier: "100" },
        { itemIdentifier: "1000000000000000000000" },
      ],
    });
  });

  it("accepts any iterable of records", () => {
    // Prepare
    function* records() {
      yield ref(0, "3");
      yield ref(1, "2");
    }

    // Act
    const response = buildBatchResponse(records());

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "2" }, { itemIdentifier: "3" }] });
  });

  it.each([
    ["no sequence number", undefined],
    ["an empty sequence number", ""],
    ["a sequence number with a letter", "12a"],
    ["a sequence number with spaces", " 12"],
    ["a negative sequence number", "-12"],
  ])("throws InvalidRecordError for a record with %s", (_, sequenceNumber) => {
    // Prepare
    const records = [ref(0, "100"), ref(7, sequenceNumber)];

    // Act
    const build = () => buildBatchResponse(records);

    // Assess
    expect(build).toThrow(InvalidRecordError);
    expect(build).toThrow(
      "record 7 (" +
        (sequenceNumber === undefined ? "" : `SequenceNumber ${sequenceNumber}, `) +
        "eventID event-7): `dynamodb.SequenceNumber` is needed to report this record as failed",
    );
  });

  it("reports every given record exactly once, sorted ascending", () => {
    fc.assert(
      fc.property(fc.array(sequenceNumberArb, { maxLength: 50 }), (sequenceNumbers) => {
        // Prepare
        const records = sequenceNumbers.map((sequenceNumber, index) => ref(index, sequenceNumber));

        // Act
        const identifiers = buildBatchResponse(records).batchItemFailures.map((failure) => failure.itemIdentifier);

        // Assess
        expect(new Set(identifiers)).toEqual(new Set(sequenceNumbers));
        expect(identifiers).toHaveLength(new Set(sequenceNumbers).size);
        for (let i = 1; i < identifiers.length; i++) {
          expect(BigInt(identifiers[i - 1] as string) < BigInt(identifiers[i] as string)).toBe(true);
        }
      }),
    );
  });
});

describe("buildBatchResponse for each event source", () => {
  const kinesisRef = (index: number, itemIdentifier: string | undefined, eventId = `event-${index}`): RecordRef => ({
    index,
    sequenceNumber: itemIdentifier,
    eventId,
    itemIdentifier,
  });
  const pipesRef = (index: number, eventId: string | undefined): RecordRef => ({
    index,
    sequenceNumber: `10000000000000000000${index}`,
    eventId,
    itemIdentifier: eventId,
  });

  it("reports a DynamoDB stream's records by itemIdentifier, by default", () => {
    // Prepare
    const record: RecordRef = { index: 0, sequenceNumber: "5", eventId: "e", itemIdentifier: "7" };

    // Act
    const response = buildBatchResponse([record]);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "7" }] });
    expect(buildBatchResponse([record], DYNAMODB_STREAMS)).toEqual(response);
  });

  it("sorts Kinesis sequence numbers by value and reports each once", () => {
    // Prepare
    const long = "49654321000000000000000000000000000000000000000000000002";
    const longer = "149654321000000000000000000000000000000000000000000000001";
    const records = [kinesisRef(0, longer), kinesisRef(1, long), kinesisRef(2, "9"), kinesisRef(3, long)];

    // Act
    const response = buildBatchResponse(records, KINESIS);

    // Assess
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: "9" }, { itemIdentifier: long }, { itemIdentifier: longer }],
    });
  });

  it("reports every Kinesis duplicate of a record: same eventID, own sequence numbers", () => {
    // Prepare
    const records = [kinesisRef(0, "11", "same"), kinesisRef(1, "10", "same")];

    // Act
    const response = buildBatchResponse(records, KINESIS);

    // Assess
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: "10" }, { itemIdentifier: "11" }] });
  });

  it("reports Pipes' eventIDs in batch order, even when they do not sort, each once", () => {
    // Prepare
    const records = [pipesRef(2, "mid"), pipesRef(0, "zeta"), pipesRef(1, "alpha"), pipesRef(0, "zeta")];

    // Act
    const response = buildBatchResponse(records, PIPES);

    // Assess
    expect(response).toEqual({
      batchItemFailures: [{ itemIdentifier: "zeta" }, { itemIdentifier: "alpha" }, { itemIdentifier: "mid" }],
    });
  });

  it("reports every given Pipes record exactly once, in batch order (property)", () => {
    const eventIdsInAnyOrder = fc
      .uniqueArray(fc.string({ minLength: 1 }), { maxLength: 30 })
      .chain((eventIds) =>
        fc.tuple(
          fc.constant(eventIds),
          fc.shuffledSubarray([...eventIds.keys()], { minLength: eventIds.length }),
          fc.array(fc.nat({ max: Math.max(0, eventIds.length - 1) }), { maxLength: eventIds.length === 0 ? 0 : 5 }),
        ),
      );
    fc.assert(
      fc.property(eventIdsInAnyOrder, ([eventIds, order, repeated]) => {
        // Prepare
        const records = [...order, ...repeated].map((index) => pipesRef(index, eventIds[index]));

        // Act
        const response = buildBatchResponse(records, PIPES);

        // Assess
        expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(eventIds);
      }),
    );
  });

  it.each([
    ["Kinesis", KINESIS, kinesisRef(1, undefined), "record 1 (eventID event-1): `kinesis.sequenceNumber`"],
    [
      "Kinesis",
      KINESIS,
      kinesisRef(1, "49-1"),
      "record 1 (SequenceNumber 49-1, eventID event-1): `kinesis.sequenceNumber`",
    ],
    ["Pipes", PIPES, pipesRef(1, undefined), "record 1 (SequenceNumber 100000000000000000001): `eventID`"],
    ["Pipes", PIPES, pipesRef(1, ""), "record 1 (SequenceNumber 100000000000000000001, eventID ): `eventID`"],
  ])("throws for a %s record without a usable identifier, naming the source's field", (_name, source, bad, named) => {
    // Act
    const build = () => buildBatchResponse([bad], source);

    // Assess
    expect(build).toThrow(InvalidRecordError);
    expect(build).toThrow(
      `${named} is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried`,
    );
    expect(unreportable([bad], source)?.field).toBe(source.identifierField);
  });

  it("takes an eventID that is not digits for Pipes, and not for a DynamoDB stream", () => {
    // Prepare
    const records = [pipesRef(0, "6f1c1b8e-0000-4000-8000-000000000001")];

    // Act
    const forPipes = unreportable(records, PIPES);
    const forStreams = unreportable(records, DYNAMODB_STREAMS);

    // Assess
    expect(forPipes).toBeUndefined();
    expect(forStreams?.field).toBe("dynamodb.SequenceNumber");
  });
});

/** A record of a DynamoDB stream; without a second argument, one with a usable sequence number. */
function ref(index: number, ...sequenceNumber: [string | undefined] | []): RecordRef {
  const value = sequenceNumber.length === 0 ? `${index + 1}00` : sequenceNumber[0];
  return { index, sequenceNumber: value, eventId: `event-${index}`, itemIdentifier: value };
}

/** The ownership map as plain data: each target with its records, in map order. */
const plain = (owners: Map<string, Ownership>) =>
  [...owners].map(([id, owner]) => ({ id, target: owner.target, records: recordsOf(owner) }));

const failure = (target: ObjectTarget): FailedTarget => ({
  target,
  code: "AccessDenied",
  message: "Access Denied",
  retryable: false,
});

describe("collectOwnership", () => {
  it("returns an empty map when no record has targets", () => {
    // Prepare
    const mapped = [
      { item: ref(0), targets: [] },
      { item: ref(1), targets: [] },
    ];

    // Act
    const owners = collectOwnership(mapped);

    // Assess
    expect(owners.size).toBe(0);
  });

  it("keeps one entry per distinct bucket, key and versionId, with every record that owns it", () => {
    // Prepare
    const [a, b, c] = [ref(0), ref(1), ref(2)];
    const plainKey = { bucket: "media", key: "k" };
    const version1 = { bucket: "media", key: "k", versionId: "v1" };
    const otherBucket = { bucket: "backup", key: "k" };
    const mapped = [
      { item: a, targets: [plainKey, version1] },
      { item: b, targets: [{ bucket: "media", key: "k" }, otherBucket] },
      { item: c, targets: [{ bucket: "media", key: "k", versionId: "v1" }] },
    ];

    // Act
    const owners = collectOwnership(mapped);

    // Assess
    expect(plain(owners)).toEqual([
      { id: targetId(plainKey), target: plainKey, records: [a, b] },
      { id: targetId(version1), target: version1, records: [a, c] },
      { id: targetId(otherBucket), target: otherBucket, records: [b] },
    ]);
    expect(owners.get(targetId(plainKey))?.target).toBe(plainKey);
  });

  it("tells apart targets whose bucket and key join to the same text", () => {
    // Prepare
    const [a, b] = [ref(0), ref(1)];
    const first = { bucket: "ab", key: "c" };
    const second = { bucket: "a", key: "bc" };
    const versioned = { bucket: "a", key: "c", versionId: "b" };

    // Act
    const owners = collectOwnership([
      { item: a, targets: [first, versioned] },
      { item: b, targets: [second] },
    ]);

    // Assess
    expect(plain(owners).map(({ target, records }) => ({ target, records }))).toEqual([
      { target: first, records: [a] },
      { target: versioned, records: [a] },
      { target: second, records: [b] },
    ]);
  });

  it("keeps a record once when it lists the same object twice", () => {
    // Prepare
    const [a, b] = [ref(0), ref(1)];
    const target = { bucket: "media", key: "k" };

    // Act
    const owners = collectOwnership([
      { item: a, targets: [target, { bucket: "media", key: "k" }] },
      { item: b, targets: [target] },
      { item: a, targets: [target] },
    ]);

    // Assess
    expect(plain(owners)).toEqual([{ id: targetId(target), target, records: [a, b] }]);
  });

  it("accepts any iterable of mapped records", () => {
    // Prepare
    const a = ref(0);
    function* mapped() {
      yield { item: a, targets: [{ bucket: "media", key: "k" }] };
    }

    // Act
    const owners = collectOwnership(mapped());

    // Assess
    expect(plain(owners)).toEqual([
      { id: targetId({ bucket: "media", key: "k" }), target: { bucket: "media", key: "k" }, records: [a] },
    ]);
  });
});

describe("ownersOf", () => {
  it("returns every record that owns the failed target, in the order they were collected", () => {
    // Prepare
    const [a, b, c] = [ref(0), ref(1), ref(2)];
    const owners = collectOwnership([
      { item: b, targets: [{ bucket: "media", key: "shared" }] },
      { item: a, targets: [{ bucket: "media", key: "own" }] },
      { item: c, targets: [{ bucket: "media", key: "shared" }] },
    ]);

    // Act
    const shared = ownersOf(owners, failure({ bucket: "media", key: "shared" }));
    const own = ownersOf(owners, failure({ bucket: "media", key: "own" }));

    // Assess
    expect(shared).toEqual([b, c]);
    expect(shared[0]).toBe(b);
    expect(own).toEqual([a]);
  });

  it("finds the owners by bucket, key and versionId, not by object identity", () => {
    // Prepare
    const [a, b] = [ref(0), ref(1)];
    const owners = collectOwnership([
      { item: a, targets: [{ bucket: "media", key: "k", versionId: "v1" }] },
      { item: b, targets: [{ bucket: "media", key: "k" }] },
    ]);

    // Act
    const versioned = ownersOf(owners, failure({ bucket: "media", key: "k", versionId: "v1" }));
    const unversioned = ownersOf(owners, failure({ bucket: "media", key: "k" }));

    // Assess
    expect(versioned).toEqual([a]);
    expect(unversioned).toEqual([b]);
  });

  it("returns a new array each time, so that a caller cannot change the ownership", () => {
    // Prepare
    const a = ref(0);
    const owners = collectOwnership([{ item: a, targets: [{ bucket: "media", key: "k" }] }]);

    // Act
    ownersOf(owners, failure({ bucket: "media", key: "k" })).push(ref(9));
    const again = ownersOf(owners, failure({ bucket: "media", key: "k" }));

    // Assess
    expect(again).toEqual([a]);
  });
});

describe("unreportable", () => {
  it("returns undefined when there are no records", () => {
    // Act
    const error = unreportable([]);

    // Assess
    expect(error).toBeUndefined();
  });

  it("returns undefined when every record has a usable SequenceNumber", () => {
    // Prepare
    const records = [ref(0, "0"), ref(1, "100"), ref(2, "9999999999999999999999999999999999999999")];

    // Act
    const error = unreportable(records);

    // Assess
    expect(error).toBeUndefined();
  });

  it.each([
    ["no sequence number", undefined, "record 4 (eventID event-4)"],
    ["an empty sequence number", "", "record 4 (SequenceNumber , eventID event-4)"],
    ["a sequence number with a letter", "12a", "record 4 (SequenceNumber 12a, eventID event-4)"],
    ["a decimal sequence number", "1.5", "record 4 (SequenceNumber 1.5, eventID event-4)"],
  ])("returns an InvalidRecordError naming a record with %s", (_, sequenceNumber, named) => {
    // Prepare
    const bad = ref(4, sequenceNumber);
    const records = [ref(0), ref(1), bad, ref(5)];

    // Act
    const error = unreportable(records);

    // Assess
    expect(error).toBeInstanceOf(InvalidRecordError);
    expect(error?.message).toBe(
      `${named}: \`dynamodb.SequenceNumber\` is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried`,
    );
    expect(error?.record).toStrictEqual({
      index: bad.index,
      sequenceNumber: bad.sequenceNumber,
      eventId: bad.eventId,
      itemIdentifier: bad.itemIdentifier,
    });
    expect(error?.field).toBe("dynamodb.SequenceNumber");
  });

  it("returns the first record without a usable SequenceNumber, and reads no further", () => {
    // Prepare
    const first = ref(2, undefined);
    const read: number[] = [];
    function* records() {
      for (const record of [ref(0), ref(1), first, ref(3, "x"), ref(4)]) {
        read.push(record.index);
        yield record;
      }
    }

    // Act
    const error = unreportable(records());

    // Assess
    expect(error?.record).toStrictEqual({
      index: 2,
      sequenceNumber: undefined,
      eventId: "event-2",
      itemIdentifier: undefined,
    });
    expect(error?.message).toBe(
      "record 2 (eventID event-2): `dynamodb.SequenceNumber` is needed to report this record as failed, and it has no usable one: failing the whole invocation so that the batch is retried",
    );
    expect(read).toEqual([0, 1, 2]);
  });

  it("is the error buildBatchResponse throws", () => {
    // Prepare
    const records = [ref(0), ref(1, "abc")];

    // Act
    const build = () => buildBatchResponse(records);

    // Assess
    expect(build).toThrow(unreportable(records)?.message as string);
  });
});
