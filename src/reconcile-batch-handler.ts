/**
 * `createReconcileBatchHandler(options)`: the Lambda handler of one Step Functions Distributed Map
 * child batch, for buckets too large for one machine. The state machine reads an S3 Inventory
 * manifest (or a listing) and hands each child up to 1,000 objects; the handler reads them
 * (distributed-map-items.ts), then probes, decides and deletes exactly as `reconcile` does per page.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { invocationSignal } from "./abort.js";
import { dynamoDbClientOf } from "./aws-clients.js";
import { readBatchItems } from "./distributed-map-items.js";
import { ReconcileBatchError } from "./errors.js";
import { defaultLogger } from "./json-logger.js";
import { noCounts, type ObjectReconciler } from "./reconcile-objects.js";
import {
  createReconcilerFor,
  type ReconcilerOptions,
  reconcilerCrossCheck,
  reconcilerFields,
  reconcilerRequired,
} from "./reconcile-setup.js";
import type { ReconcileBatchResult } from "./reconcile-types.js";
import { nonNegativeInt, optionsSchema, validateOptions } from "./validation.js";

/** Options of {@link createReconcileBatchHandler}. */
export interface ReconcileBatchHandlerOptions extends ReconcilerOptions {
  /**
   * Whether this function may delete at all. A batch deletes only when this is true and the run's
   * input says so too (`BatchInput.delete: true`), so a first run of the state machine only reports.
   * @default false
   */
  delete?: boolean | undefined;
  /**
   * How long before the function's timeout the batch stops waiting and returns (or throws): what it
   * did not finish is retried with the batch.
   * @default 10000
   */
  timeoutMarginMs?: number | undefined;
}

/** One child batch's input: `Items` from the ItemReader, `BatchInput` from the ItemBatcher. */
export interface ReconcileBatchEvent {
  Items: unknown[];
  BatchInput?: { delete?: boolean | undefined } | undefined;
}

/** The Lambda handler of a child batch. */
export type ReconcileBatchHandler = (
  event: ReconcileBatchEvent,
  context?: { getRemainingTimeInMillis?(): number },
) => Promise<ReconcileBatchResult>;

/**
 * Creates the handler of a Distributed Map child batch. The table is described on the first batch
 * of each instance. Resolves with the batch's counts, which the state machine's ResultWriter keeps;
 * throws {@link ReconcileBatchError} when the batch is not finished, an InvalidEventError when the
 * event is no child batch, and a ConfigError (for bad options, at creation) or ReconcileError (the
 * table cannot be described).
 *
 * @example
 * ```ts
 * export const handler = createReconcileBatchHandler({
 *   tableName: "products",
 *   bucket: "product-images",
 *   key: "images/{productId}.png",
 *   delete: true,
 * });
 * ```
 */
export function createReconcileBatchHandler(options: ReconcileBatchHandlerOptions): ReconcileBatchHandler {
  validateOptions(
    optionsSchema(reconcilerRequired(), { ...reconcilerFields, timeoutMarginMs: nonNegativeInt }, options),
    options,
    reconcilerCrossCheck,
  );
  const { bucket, timeoutMarginMs = 10_000, logger = defaultLogger() } = options;
  const s3Client = options.s3Client ?? new S3Client({});
  const dynamoDbClient = dynamoDbClientOf(options.dynamoDbClient);
  const reconcilers = new Map<boolean, Promise<ObjectReconciler>>();
  /** The reconciler that deletes, or the one that only reports; a failed creation is tried again next time. */
  const reconcilerOf = (deleting: boolean, signal: AbortSignal): Promise<ObjectReconciler> => {
    let reconciler = reconcilers.get(deleting);
    if (reconciler === undefined) {
      reconciler = createReconcilerFor({ ...options, delete: deleting }, { s3Client, dynamoDbClient, logger }, signal);
      reconciler.catch(() => reconcilers.delete(deleting));
      reconcilers.set(deleting, reconciler);
    }
    return reconciler;
  };

  return async (event, context) => {
    const { objects, invalid, deleteRequested } = readBatchItems(event, bucket);
    const { signal, dispose } = invocationSignal(context, timeoutMarginMs);
    try {
      // A batch of nothing but invalid items needs no table: it is not even described.
      const counts =
        objects.length === 0
          ? noCounts()
          : await (await reconcilerOf(options.delete === true && deleteRequested, signal))(objects, signal);
      const result: ReconcileBatchResult = { ...counts, invalidItems: invalid.length };
      for (const item of invalid) logger.warn("reconcile batch: an item is not an object of the bucket", { ...item });
      logger.info("dynamodb-s3-cleanup reconcile batch summary", { bucket, ...result });
      if (result.failed > 0 || result.unchecked > 0 || result.invalidItems > 0) throw new ReconcileBatchError(result);
      return result;
    } finally {
      dispose();
    }
  };
}

export type { ReconcileBatchResult } from "./reconcile-types.js";
