/**
 * Realistic DynamoDB stream records for tests. REMOVE records carry no NewImage, TTL removals carry
 * the TTL userIdentity, and sequence numbers grow within one factory.
 *
 * The record factories of dynamodb-s3-cleanup/testing (src/testing/records.ts) build records from
 * plain items with realistic defaults; these take raw AttributeValues (invalid ones included), and
 * many tests depend on their exact defaults (eventID "event-<SequenceNumber>", KEYS_ONLY unless an
 * old image is given, images on any event), so only `streamEvent` is shared.
 */
import { expect } from "vitest";
import {
  type AttributeMap,
  type InvalidRecord,
  InvalidRecordError,
  type ParsedBatch,
  type StreamRecord,
} from "../src/index.js";

export const TABLE_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/products/stream/2026-11-27T00:00:00.000";

export const TTL_IDENTITY = { type: "Service", principalId: "dynamodb.amazonaws.com" } as const;

export interface RecordOptions {
  keys?: AttributeMap;
  oldImage?: AttributeMap;
  newImage?: AttributeMap;
  sequenceNumber?: string;
  streamViewType?: "KEYS_ONLY" | "NEW_IMAGE" | "OLD_IMAGE" | "NEW_AND_OLD_IMAGES";
  approximateCreationDateTime?: number;
}

/** A record factory with its own growing sequence numbers (21 digits, like AWS's). */
export function createRecordFactory(start = 100000000000000000000n) {
  let next = start;
  const nextSequenceNumber = () => {
    const value = next;
    next += 1000n;
    return value.toString();
  };

  const record = (
    eventName: "INSERT" | "MODIFY" | "REMOVE",
    options: RecordOptions,
    extra: Partial<StreamRecord> = {},
  ): StreamRecord => {
    const sequenceNumber = options.sequenceNumber ?? nextSequenceNumber();
    const streamViewType = options.streamViewType ?? (options.oldImage ? "OLD_IMAGE" : "KEYS_ONLY");
    return {
      eventID: `event-${sequenceNumber}`,
      eventName,
      eventVersion: "1.1",
      eventSource: "aws:dynamodb",
      awsRegion: "us-east-1",
      eventSourceARN: TABLE_ARN,
      dynamodb: {
        ApproximateCreationDateTime: options.approximateCreationDateTime ?? 1795000000,
        Keys: options.keys ?? { productId: { S: "p-1" } },
        ...(options.newImage ? { NewImage: options.newImage } : {}),
        ...(options.oldImage ? { OldImage: options.oldImage } : {}),
        SequenceNumber: sequenceNumber,
        SizeBytes: 64,
        StreamViewType: streamViewType,
      },
      ...extra,
    };
  };

  return {
    nextSequenceNumber,
    /** A user's DeleteItem: no userIdentity. */
    removeRecord: (options: RecordOptions = {}) => record("REMOVE", options),
    /** A TTL expiry: userIdentity of DynamoDB's TTL service. */
    ttlRemoveRecord: (options: RecordOptions = {}) => record("REMOVE", options, { userIdentity: { ...TTL_IDENTITY } }),
    insertRecord: (options: RecordOptions = {}) =>
      record("INSERT", { ...options, newImage: options.newImage ?? options.keys ?? { productId: { S: "p-1" } } }),
    modifyRecord: (options: RecordOptions = {}) =>
      record("MODIFY", {
        ...options,
        newImage: options.newImage ?? options.keys ?? { productId: { S: "p-1" } },
      }),
  };
}

/** Wraps records in the event Lambda delivers: the one users get from dynamodb-s3-cleanup/testing. */
export { streamEvent } from "../src/testing/records.js";

/** Keys of a product item. */
export const productKeys = (productId: string): AttributeMap => ({ productId: { S: productId } });

/** A logger that records every call, for assertions. */
export function recordingLogger() {
  const lines: { level: "debug" | "info" | "warn" | "error"; message: string; attributes?: Record<string, unknown> }[] =
    [];
  const at = (level: "debug" | "info" | "warn" | "error") => (message: string, attributes?: Record<string, unknown>) =>
    lines.push(attributes === undefined ? { level, message } : { level, message, attributes });
  return { lines, logger: { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") } };
}

/** The record without `dynamodb.SequenceNumber`. */
export function withoutSequenceNumber(record: StreamRecord): StreamRecord {
  const { SequenceNumber: _, ...data } = record.dynamodb ?? {};
  return { ...record, dynamodb: data };
}

/** The one invalid record of a batch that must hold nothing else. */
export function onlyInvalid(batch: ParsedBatch): InvalidRecord {
  expect(batch.removals).toEqual([]);
  expect(batch.skipped).toEqual([]);
  expect(batch.invalid).toHaveLength(1);
  const [invalid] = batch.invalid;
  if (invalid === undefined) throw new Error("no invalid record");
  expect(invalid.error).toBeInstanceOf(InvalidRecordError);
  return invalid;
}
