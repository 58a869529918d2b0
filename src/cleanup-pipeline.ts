/**
 * The cleanup pipeline for one parsed batch: map → (check the table) → plan → delete (or preview) →
 * the records to retry. Both handlers run it: the stream handler on the batch it was invoked with,
 * the replay handler on each range it re-read. Built once per handler, run once per batch.
 */
import { S3Client } from "@aws-sdk/client-s3";
import { dynamoDbClientOf } from "./aws-clients.js";
import type { DeleterConfig } from "./batch-deleter.js";
import type { CleanupConfig } from "./cleanup-options.js";
import { type CleanupOutcome, type CleanupPlan, executePlan, planCleanup, previewPlan } from "./cleanup-plan.js";
import { type RecordRef, refOf } from "./errors.js";
import { buildKeyMapper, type MappedRemoval, mapRemovals } from "./key-mapper.js";
import type { ParsedBatch, RemovedItem } from "./parse-stream-records.js";
import { createPresenceCheck, type Presence, type PresenceCheck } from "./recreation-guard.js";
import { recordsToRetry } from "./report.js";
import { createSendRate } from "./send-rate.js";

/** The signals a batch runs under: see `invocationSignal`. */
export interface BatchSignals {
  signal: AbortSignal;
  mappingSignal: AbortSignal;
}

/** What the pipeline did with a batch: the records to retry, and what its summary counts. */
export interface BatchCleanup {
  /** Every record that must be delivered again, possibly more than once. */
  mustRetry: RecordRef[];
  /** The removals mapped, each with its targets; those found re-created included. */
  mapped: readonly MappedRemoval[];
  /** Records that could not be parsed or mapped. */
  invalid: number;
  /** Removals whose item exists again: their objects were kept. */
  keptRecreated: number;
  plan: CleanupPlan<RecordRef>;
  outcome: CleanupOutcome;
}

/** The pipeline of a handler: its key mapper, S3 client, send rate and presence check, made once. */
export type CleanupPipeline = (batch: ParsedBatch, signals: BatchSignals) => Promise<BatchCleanup>;

/** Builds the pipeline for resolved options, with the presence check when `verifyAbsent` is on. */
export function createCleanupPipeline(config: CleanupConfig): CleanupPipeline {
  const { logger, onInvalidRecord, dryRun } = config;
  const mapKeys = buildKeyMapper(config.key, config.keyMapper);
  const deleter: DeleterConfig = {
    ...config.deleter,
    s3Client: config.s3Client ?? new S3Client({}),
  };
  // One pace for every invocation of the handler: S3's limits are per prefix, not per invocation.
  const sendRate = deleter.adaptiveRate ? createSendRate(deleter.sleep) : undefined;
  const presence: PresenceCheck | undefined =
    config.verifyAbsent === false
      ? undefined
      : createPresenceCheck({
          dynamoDbClient: dynamoDbClientOf(config.dynamoDbClient),
          tableName: config.verifyAbsent.tableName,
          concurrency: deleter.concurrency,
          sleep: deleter.sleep,
          random: deleter.random,
        });

  return async (batch, { signal, mappingSignal }) => {
    const removals = await mapRemovals(batch.removals, mapKeys, {
      concurrency: deleter.concurrency,
      signal: mappingSignal,
    });
    const { mapped, cutOff } = removals;
    const invalid = [...batch.invalid, ...removals.invalid].sort((a, b) => a.index - b.index);
    const { toDelete, recreated, unchecked } = await checkPresence(mapped, presence, signal);
    for (const { item, error } of unchecked) {
      logger.warn("Item not checked for re-creation: its objects are kept, and its record retried", {
        ...refOf(item),
        error: error.message,
      });
    }
    for (const item of recreated) {
      logger.info("Item re-created since its removal: its objects are kept", { ...refOf(item) });
    }
    const plan = planCleanup(toDelete);
    const outcome = dryRun
      ? await previewPlan(plan, deleter, signal, logger)
      : await executePlan(plan, deleter, signal, sendRate);
    const mustRetry = recordsToRetry({ plan, outcome, invalid, cutOff, onInvalidRecord, dryRun }, logger);
    mustRetry.push(...unchecked.map(({ item }) => item));
    return { mustRetry, mapped, invalid: invalid.length, keptRecreated: recreated.length, plan, outcome };
  };
}

/** Splits the mapped removals by what the table says; without a check, all of them may go. */
async function checkPresence(
  mapped: readonly MappedRemoval[],
  presence: PresenceCheck | undefined,
  signal: AbortSignal,
): Promise<{
  toDelete: readonly MappedRemoval[];
  recreated: RemovedItem[];
  unchecked: Presence<RemovedItem>["unchecked"];
}> {
  // Removals without objects have nothing to keep: no table read for them.
  const withObjects = mapped.filter((removal) => removal.targets.length > 0);
  if (presence === undefined || withObjects.length === 0) return { toDelete: mapped, recreated: [], unchecked: [] };
  const { absent, recreated, unchecked } = await presence(
    withObjects.map((removal) => removal.item),
    signal,
  );
  const mayGo = new Set(absent);
  return { toDelete: withObjects.filter((removal) => mayGo.has(removal.item)), recreated, unchecked };
}
