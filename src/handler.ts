/**
 * The handler factory: parse and select, then the cleanup pipeline (map → plan → delete or preview),
 * then report, within one signal per invocation. It holds no rules of its own beyond the wiring;
 * each step lives in its module.
 */
import { invocationSignal } from "./abort.js";
import { type CleanupConfig, type CleanupOptions, resolveCleanupOptions } from "./cleanup-options.js";
import { createCleanupPipeline } from "./cleanup-pipeline.js";
import { errorMessage } from "./errors.js";
import { EVENT_SOURCES } from "./event-sources.js";
import { parseStreamRecords } from "./parse-stream-records.js";
import { buildBatchResponse, NOTHING_DONE, recordsToRetry, summaryOf, unreportable } from "./report.js";
import type { CleanupHandler, CleanupSummary } from "./types.js";

export type { CleanupOptions, CommonCleanupOptions } from "./cleanup-options.js";

/**
 * Creates the Lambda handler for a DynamoDB stream: for every selected REMOVE record it deletes the
 * item's S3 objects, and it returns the partial batch response that makes Lambda redeliver exactly
 * the records whose objects were not all deleted. It takes the records from a DynamoDB stream,
 * from Kinesis Data Streams for DynamoDB or from EventBridge Pipes, telling them apart per
 * invocation. It returns `timeoutMarginMs` before the function's timeout at the latest.
 *
 * Options are validated here, once; a mistake throws {@link ConfigError} at cold start.
 *
 * @example
 * ```ts
 * export const handler = createCleanupHandler({ bucket: "product-images", key: "{productId}.png" });
 * ```
 */
export function createCleanupHandler(options: CleanupOptions): CleanupHandler {
  return handlerOf(resolveCleanupOptions(options));
}

/** The handler for options already resolved. */
export function handlerOf(config: CleanupConfig): CleanupHandler {
  const { logger, onInvalidRecord, dryRun } = config;
  const cleanUp = createCleanupPipeline(config);

  return async (event, context) => {
    const started = Date.now();
    const { signal, mappingSignal, dispose } = invocationSignal(context, config.timeoutMarginMs);
    try {
      const batch = parseStreamRecords(event, config.parse);
      const source = EVENT_SOURCES[batch.source];
      const records = batch.removals.length + batch.skipped.length + batch.invalid.length;
      const tally = { source: batch.source, records, skipped: batch.skipped.length, dryRun };

      // Found before any key function or delete runs: Lambda must retry this batch whole anyway.
      const cannotReport = onInvalidRecord === "fail" ? unreportable(batch.invalid, source) : undefined;
      if (cannotReport !== undefined) {
        recordsToRetry({ ...NOTHING_DONE, invalid: batch.invalid, onInvalidRecord, dryRun }, logger);
        const summary = summaryOf({
          ...tally,
          ...NOTHING_DONE,
          mapped: [],
          invalid: batch.invalid.length,
          keptRecreated: 0,
          batchItemFailures: undefined,
          aborted: signal.aborted,
          durationMs: Date.now() - started,
        });
        logger.error("dynamodb-s3-cleanup summary: failing the whole batch", {
          ...summary,
          error: cannotReport.message,
        });
        await notify(summary);
        throw cannotReport;
      }

      const { mustRetry, ...done } = await cleanUp(batch, { signal, mappingSignal });
      const response = buildBatchResponse(mustRetry, source);
      const summary = summaryOf({
        ...tally,
        ...done,
        batchItemFailures: response.batchItemFailures.length,
        aborted: signal.aborted,
        durationMs: Date.now() - started,
      });
      logger.info("dynamodb-s3-cleanup summary", { ...summary });
      await notify(summary);
      return response;
    } finally {
      dispose();
    }
  };

  /** Hands the summary to `onResult`; a metrics hook that fails must not fail the cleanup. */
  async function notify(summary: CleanupSummary): Promise<void> {
    if (config.onResult === undefined) return;
    try {
      await config.onResult(summary);
    } catch (error) {
      logger.warn("onResult failed; the cleanup's response is unaffected", {
        error: errorMessage(error),
      });
    }
  }
}
