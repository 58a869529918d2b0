import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRecordError, type RecordRef } from "../src/errors.js";
import { buildBatchResponse, compareSequenceNumbers } from "../src/report.js";

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
      { numRuns: 1000 },
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
