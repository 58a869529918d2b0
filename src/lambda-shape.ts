/**
 * From the AWS SDK's shape to Lambda's: binary attribute values become base64 strings, and a
 * DynamoDB Streams API record becomes the record a Lambda event carries; and back, for the keys the
 * re-creation guard asks DynamoDB about. Private: the testing entry, the replay handler and the
 * re-creation guard use it.
 */
import type { _Record } from "@aws-sdk/client-dynamodb-streams";
import type { AttributeMap, AttributeValue, StreamRecord, StreamRecordData } from "./types.js";

/**
 * An AttributeValue as the SDK gives it (from `marshall` or from GetRecords): binary as Uint8Array.
 * Loose on purpose, so that the AttributeValue unions of @aws-sdk/client-dynamodb and
 * @aws-sdk/client-dynamodb-streams both fit.
 */
export interface SdkAttributeValue {
  B?: Uint8Array | undefined;
  BS?: Uint8Array[] | undefined;
  M?: Record<string, SdkAttributeValue> | undefined;
  L?: SdkAttributeValue[] | undefined;
}

function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

const base64IfBinary = (value: unknown): unknown => (value instanceof Uint8Array ? toBase64(value) : value);

/** A copy of `value` without the properties whose value is undefined. */
export function withoutUndefined(value: object): Record<string, unknown> {
  return Object.fromEntries(Object.entries(value).filter(([, field]) => field !== undefined));
}

/** One AttributeValue in Lambda's JSON shape: `B` and `BS` as base64, at any depth of `M` and `L`. */
export function toLambdaValue(value: SdkAttributeValue): AttributeValue {
  const converted: Record<string, unknown> = { ...value };
  if (value.B instanceof Uint8Array) converted.B = toBase64(value.B);
  if (Array.isArray(value.BS)) converted.BS = value.BS.map(base64IfBinary);
  if (typeof value.M === "object" && value.M !== null) converted.M = toLambdaMap(value.M);
  if (Array.isArray(value.L)) converted.L = value.L.map(toLambdaValue);
  return converted as AttributeValue;
}

/** An attribute map (`Keys`, `OldImage`, `NewImage`) in Lambda's JSON shape. */
export function toLambdaMap(map: Record<string, SdkAttributeValue>): AttributeMap {
  // fromEntries defines each name as an own property, `__proto__` included.
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, toLambdaValue(value)]));
}

const bytesIfBase64 = (value: unknown): unknown =>
  typeof value === "string" ? new Uint8Array(Buffer.from(value, "base64")) : value;

/**
 * One AttributeValue in the SDK's shape, the inverse of {@link toLambdaValue}: base64 `B` and `BS`
 * become Uint8Array, at any depth of `M` and `L`. Every other member is copied as it is.
 */
export function toSdkValue(value: AttributeValue): SdkAttributeValue {
  const converted: Record<string, unknown> = { ...value };
  if (typeof value.B === "string") converted.B = bytesIfBase64(value.B);
  if (Array.isArray(value.BS)) converted.BS = value.BS.map(bytesIfBase64);
  if (typeof value.M === "object" && value.M !== null) converted.M = toSdkMap(value.M);
  if (Array.isArray(value.L)) converted.L = value.L.map(toSdkValue);
  return converted as SdkAttributeValue;
}

/** An attribute map in the SDK's shape, the inverse of {@link toLambdaMap}. */
export function toSdkMap(map: AttributeMap): Record<string, SdkAttributeValue> {
  return Object.fromEntries(Object.entries(map).map(([name, value]) => [name, toSdkValue(value)]));
}

const IMAGES = ["Keys", "NewImage", "OldImage"] as const;

/**
 * A record from GetRecords as Lambda's event source mapping delivers it, and nothing more: adds
 * `eventSourceARN`, turns `ApproximateCreationDateTime` from a Date into epoch seconds, spells
 * userIdentity `{ principalId, type }` instead of `{ PrincipalId, Type }`, and turns binary values
 * into base64 strings. Every other field is left as it is.
 */
export function toLambdaRecord(record: _Record, eventSourceARN: string): StreamRecord {
  const converted: Record<string, unknown> = { ...record, eventSourceARN };
  const { userIdentity, dynamodb } = record;
  if (userIdentity) {
    const { PrincipalId, Type, ...other } = userIdentity;
    converted.userIdentity = withoutUndefined({ ...other, principalId: PrincipalId, type: Type });
  }
  if (dynamodb) {
    const data: Record<string, unknown> = { ...dynamodb };
    const created: unknown = dynamodb.ApproximateCreationDateTime;
    if (created instanceof Date) data.ApproximateCreationDateTime = created.getTime() / 1000;
    for (const image of IMAGES) {
      const map = dynamodb[image];
      if (map) data[image] = toLambdaMap(map);
    }
    converted.dynamodb = data as StreamRecordData;
  }
  return converted as StreamRecord;
}
