/**
 * Requests: sends one DeleteObjects or DeleteObject request and reads its answer into an error per
 * object. With the listing module, the only code that talks to S3. Every request takes the call's
 * signal, both as the SDK's `abortSignal` and as a race (see {@link abortable}), so that it returns
 * when the signal fires even if the client ignores it.
 */
import {
  DeleteObjectCommand,
  type DeleteObjectCommandInput,
  DeleteObjectsCommand,
  type ObjectIdentifier,
  type S3Client,
} from "@aws-sdk/client-s3";
import { abortable, sendOptions } from "./abort.js";
import { withContentMd5 } from "./content-md5.js";
import { abortedFailure, asConditional, classifyCode, fromThrown, isThrottled, type KeyError } from "./s3-errors.js";
import { isThrottling, type SendRate } from "./send-rate.js";
import type { ObjectTarget } from "./types.js";

/** S3's limit on keys per DeleteObjects request. */
export const MAX_KEYS_PER_REQUEST = 1000;

/** What a request needs besides its objects. */
export interface RequestContext {
  s3Client: S3Client;
  signal: AbortSignal | undefined;
  /** Send DeleteObjects with Content-MD5 instead of the SDK's checksum headers. */
  contentMd5: boolean;
  /** Paces every attempt of a delete, the SDK's own retries included (`adaptiveRate`). */
  readonly sendRate: SendRate | undefined;
}

/** The name of the pacing middleware in a command's stack. */
export const SEND_RATE_MIDDLEWARE = "dynamodbS3CleanupSendRate";

/**
 * Makes each attempt of a delete command wait for its turn at the pace, and tells the pace how the
 * attempt went: how many of its `keys` S3 throttled (per-key SlowDown errors, or all of them when
 * the attempt is refused whole). The middleware goes on the command's own stack, at the
 * finalizeRequest step after the SDK's retry middleware, so that it runs once per attempt.
 */
function paced<C extends DeleteObjectsCommand | DeleteObjectCommand>(
  command: C,
  { sendRate, signal }: RequestContext,
  keys: number,
): C {
  if (sendRate === undefined) return command;
  // Both commands' stacks take the same middleware; one type spares a union TypeScript cannot call.
  (command as DeleteObjectsCommand).middlewareStack.add(
    (next) => async (args) => {
      const ticket = await sendRate.acquire(keys, signal);
      try {
        const result = await next(args);
        const errors = (result.output as { Errors?: { Code?: string }[] | undefined }).Errors ?? [];
        sendRate.settle(ticket, keys, errors.filter((entry) => isThrottling(entry.Code ?? "")).length);
        return result;
      } catch (error) {
        sendRate.settle(ticket, keys, isThrottled(error) ? keys : 0);
        throw error;
      }
    },
    { step: "finalizeRequest", priority: "low", name: SEND_RATE_MIDDLEWARE },
  );
  return command;
}

/**
 * A request's answer: the error of each object that was not deleted (an object without an entry
 * was deleted), or, when the whole request threw, the thrown error too, for the caller to decide
 * whether to split the request or fall back to single deletes.
 */
export interface RequestOutcome {
  errors: Map<ObjectTarget, KeyError>;
  thrown?: unknown;
}

// Characters XML 1.0 cannot carry: a key holding one makes S3 reject a whole DeleteObjects body.
const NOT_XML = /[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;
// What a DeleteObjects body can carry: XML 1.0's characters without line ends, which XML parsers
// normalise (CR and CRLF to LF), so they may not survive the round trip. One regex, tested per key.
const NOT_BATCHABLE = /[^\t\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/u;

/** True when a key can travel in an XML body: every character is allowed by XML 1.0. */
export function isXmlSafe(key: string): boolean {
  return !NOT_XML.test(key);
}

/** True when a key goes in a DeleteObjects body; other keys go in the URL of a single DeleteObject. */
export function canBatch(key: string): boolean {
  return !NOT_BATCHABLE.test(key);
}

/** The error every object of a request gets when the request threw: cut off when the signal fired. */
function thrownError(error: unknown, signal: AbortSignal | undefined, conditional = false): KeyError {
  if (!signal?.aborted) return fromThrown(error, conditional);
  const { code, message } = abortedFailure(signal);
  return { code, message, class: "retryable", thrown: true };
}

/** Sends one DeleteObjects request (Quiet) for objects of one bucket. Never throws. */
export async function sendDeleteObjects(
  context: RequestContext,
  bucket: string,
  objects: readonly ObjectTarget[],
): Promise<RequestOutcome> {
  const { s3Client, signal, contentMd5 } = context;
  const errors = new Map<ObjectTarget, KeyError>();
  try {
    const command = new DeleteObjectsCommand({
      Bucket: bucket,
      Delete: { Objects: objects.map(objectIdentifier), Quiet: true },
    });
    const output = await abortable(
      s3Client.send(
        paced(contentMd5 ? withContentMd5(command) : command, context, objects.length),
        sendOptions(signal),
      ),
      signal,
    );
    if (output.Errors && output.Errors.length > 0) matchErrors(objects, output.Errors, errors);
    return { errors };
  } catch (error) {
    const keyError = thrownError(error, signal);
    for (const object of objects) errors.set(object, keyError);
    return { errors, thrown: error };
  }
}

/**
 * Sends one DeleteObject request; an `etag` goes as `If-Match`, and a PreconditionFailed (HTTP 412)
 * then means the object was replaced. Never throws.
 */
export async function sendDeleteObject(context: RequestContext, object: ObjectTarget): Promise<RequestOutcome> {
  const { s3Client, signal } = context;
  const errors = new Map<ObjectTarget, KeyError>();
  const { bucket, key, versionId, etag } = object;
  const input: DeleteObjectCommandInput = { Bucket: bucket, Key: key };
  if (versionId !== undefined) input.VersionId = versionId;
  if (etag !== undefined) input.IfMatch = etag;
  try {
    await abortable(s3Client.send(paced(new DeleteObjectCommand(input), context, 1), sendOptions(signal)), signal);
    return { errors };
  } catch (error) {
    errors.set(object, thrownError(error, signal, etag !== undefined));
    return { errors, thrown: error };
  }
}

/** An object's entry in a DeleteObjects body: its key, and its versionId and etag (as `ETag`) when it has them. */
function objectIdentifier({ key, versionId, etag }: ObjectTarget): ObjectIdentifier {
  const object: ObjectIdentifier = { Key: key };
  if (versionId !== undefined) object.VersionId = versionId;
  if (etag !== undefined) object.ETag = etag;
  return object;
}

interface ErrorEntry {
  Key?: string | undefined;
  VersionId?: string | undefined;
  Code?: string | undefined;
  Message?: string | undefined;
}

/**
 * Attributes each per-key error to the objects it concerns. An entry names a key and maybe a
 * version. One without a VersionId also fails the key's other versions in the request, unless they
 * have an entry of their own; one that names no key sent (or no key at all) fails every object of
 * the request without an entry of its own. An error is never counted as a success.
 */
function matchErrors(
  objects: readonly ObjectTarget[],
  entries: readonly ErrorEntry[],
  errors: Map<ObjectTarget, KeyError>,
): void {
  const byKey = new Map<string, ObjectTarget[]>();
  for (const object of objects) {
    const same = byKey.get(object.key);
    if (same === undefined) byKey.set(object.key, [object]);
    else same.push(object);
  }
  const ownEntry = new Set<ObjectTarget>();
  let unattributed: KeyError | undefined;
  for (const entry of entries) {
    const code = entry.Code ?? "UnknownError";
    const error: KeyError = { code, message: entry.Message ?? code, class: classifyCode(code), thrown: false };
    const sameKey = entry.Key === undefined ? undefined : byKey.get(entry.Key);
    if (sameKey === undefined) {
      unattributed ??= error;
      continue;
    }
    const exact = sameKey.filter((object) => object.versionId === entry.VersionId);
    for (const object of exact) {
      // Only an entry for exactly this object says its condition failed: an object sent with an
      // etag is then kept, not failed.
      errors.set(object, object.etag === undefined ? error : asConditional(error));
      ownEntry.add(object);
    }
    if (entry.VersionId === undefined || exact.length === 0) {
      for (const object of sameKey) if (!ownEntry.has(object)) errors.set(object, error);
    }
  }
  if (unattributed !== undefined) {
    for (const object of objects) if (!errors.has(object)) errors.set(object, unattributed);
  }
}
