/**
 * Deployment constants: the event filters and the event source mapping settings the examples in
 * examples/ use, so that a SAM template, a CDK app or a Terraform module can take them as they are.
 * The constants are plain data; {@link filterCriteria} builds the filters for other choices, and
 * checks its options as the factories do.
 */
import * as z from "zod/mini";
import { tableNamesSchema } from "./parse-stream-records.js";
import { validateOptions } from "./validation.js";

/** The DynamoDB stream records that can delete anything: REMOVE records. */
export const REMOVE_ONLY_PATTERN = { eventName: ["REMOVE"] } as const;

/** REMOVE records made by DynamoDB's TTL sweeper (AWS's documented pattern). */
export const TTL_REMOVE_ONLY_PATTERN = {
  eventName: ["REMOVE"],
  userIdentity: { type: ["Service"], principalId: ["dynamodb.amazonaws.com"] },
} as const;

/** A mapping's `FilterCriteria` with one pattern, as CloudFormation and the Lambda API spell it. */
export interface FilterCriteria {
  readonly Filters: readonly [{ readonly Pattern: string }];
}

const criteria = (pattern: object): FilterCriteria => ({ Filters: [{ Pattern: JSON.stringify(pattern) }] });

/**
 * FilterCriteria for a DynamoDB stream mapping: only REMOVE records invoke the function. Filtering
 * is a cost saving, not a safeguard: the handler checks every record's eventName itself.
 */
export const REMOVE_ONLY_FILTER_CRITERIA: FilterCriteria = criteria(REMOVE_ONLY_PATTERN);

/**
 * FilterCriteria for a DynamoDB stream mapping: only TTL REMOVE records invoke the function. Do not
 * use it in a global table's replica Regions: replicated TTL deletes carry no userIdentity there
 * (see the `ttlAttribute` option).
 */
export const TTL_REMOVE_ONLY_FILTER_CRITERIA: FilterCriteria = criteria(TTL_REMOVE_ONLY_PATTERN);

/** FilterCriteria for a Kinesis mapping (Kinesis Data Streams for DynamoDB): REMOVE records only. */
export const KINESIS_REMOVE_ONLY_FILTER_CRITERIA: FilterCriteria = criteria({ data: REMOVE_ONLY_PATTERN });

/** FilterCriteria for a Kinesis mapping (Kinesis Data Streams for DynamoDB): TTL REMOVE records only. */
export const KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA: FilterCriteria = criteria({ data: TTL_REMOVE_ONLY_PATTERN });

/** Options of {@link filterCriteria}. */
export type FilterCriteriaOptions =
  | {
      /**
       * A DynamoDB stream mapping (the same patterns fit an EventBridge pipe with a DynamoDB stream
       * source). A stream carries the records of its own table only, so it takes no `tableNames`.
       */
      source: "dynamodb-streams";
      /**
       * Which REMOVE records invoke the function: all, or only TTL removals.
       * @default "any"
       */
      removals?: "any" | "ttl" | undefined;
      tableNames?: undefined;
    }
  | {
      /** A Kinesis mapping (Kinesis Data Streams for DynamoDB): the patterns sit under `data`. */
      source: "kinesis";
      /**
       * Which REMOVE records invoke the function: all, or only TTL removals.
       * @default "any"
       */
      removals?: "any" | "ttl" | undefined;
      /**
       * Only these tables' records invoke the function, matched on the payload's `tableName`: for a
       * stream that several tables write to. Give the handler the same `tableNames`: a filter saves
       * invocations, the handler's check is the safeguard.
       * @default undefined (every table)
       */
      tableNames?: readonly string[] | undefined;
    };

/**
 * Builds the `FilterCriteria` of an event source mapping: REMOVE records only (or TTL removals only),
 * and for Kinesis, only the records of the tables named. Without `tableNames` it equals the matching
 * constant, such as {@link KINESIS_TTL_REMOVE_ONLY_FILTER_CRITERIA}. Throws {@link ConfigError} when
 * an option is wrong, `tableNames` with `source: "dynamodb-streams"` included: a DynamoDB stream
 * belongs to one table, so there is nothing to select.
 *
 * @example
 * ```ts
 * const criteria = filterCriteria({ source: "kinesis", removals: "ttl", tableNames: ["products"] });
 * // { Filters: [{ Pattern: '{"data":{"eventName":["REMOVE"],"userIdentity":{…},"tableName":["products"]}}' }] }
 * ```
 */
export function filterCriteria(options: FilterCriteriaOptions): FilterCriteria {
  const schema = z.strictObject({
    source: z.enum(["dynamodb-streams", "kinesis"], { error: 'must be "dynamodb-streams" or "kinesis"' }),
    removals: z.optional(
      z.enum(["any", "ttl"], {
        error:
          'must be "any" or "ttl" (users\' removals cannot be told by a filter: use removals: "user" in the handler)',
      }),
    ),
    tableNames: z.optional(tableNamesSchema()),
  });
  const { source, removals, tableNames } = validateOptions(schema, options, (input) =>
    input.source === "dynamodb-streams" && input.tableNames !== undefined
      ? [
          {
            path: "tableNames",
            message:
              'cannot be used with source "dynamodb-streams": a DynamoDB stream holds the records of its own table only',
          },
        ]
      : [],
  );
  const pattern = removals === "ttl" ? TTL_REMOVE_ONLY_PATTERN : REMOVE_ONLY_PATTERN;
  if (source === "dynamodb-streams") return criteria(pattern);
  return criteria({ data: tableNames === undefined ? pattern : { ...pattern, tableName: [...tableNames] } });
}

/**
 * The event source mapping settings this library is built for (DynamoDB stream or Kinesis source):
 *
 * - `FunctionResponseTypes: ["ReportBatchItemFailures"]`: without it Lambda ignores the handler's
 *   partial batch response and retries whole batches.
 * - `BisectBatchOnFunctionError`: a batch that throws (say, a record without a usable sequence
 *   number) is split until the bad record is alone.
 * - `MaximumRetryAttempts: 10` and `MaximumRecordAgeInSeconds: 21600` (6 hours): the defaults
 *   (-1, -1) retry a record that always fails until it expires from the stream, a day later, and
 *   block its shard meanwhile. A record that runs out of retries goes to the on-failure destination
 *   (see {@link recommendedEventSourceMapping}).
 * - `BatchSize: 1000` with `MaximumBatchingWindowInSeconds: 5`: up to one full DeleteObjects
 *   request per invocation; cleanup is not latency-sensitive.
 * - `StartingPosition: "TRIM_HORIZON"`: removals already in the stream when the mapping is created
 *   are cleaned up too.
 */
export const RECOMMENDED_EVENT_SOURCE_MAPPING = {
  FunctionResponseTypes: ["ReportBatchItemFailures"],
  BisectBatchOnFunctionError: true,
  MaximumRetryAttempts: 10,
  MaximumRecordAgeInSeconds: 21600,
  BatchSize: 1000,
  MaximumBatchingWindowInSeconds: 5,
  StartingPosition: "TRIM_HORIZON",
} as const;

/**
 * {@link RECOMMENDED_EVENT_SOURCE_MAPPING} with the on-failure destination (an SQS queue or SNS
 * topic ARN, which receive the failed records' shard and sequence range; or an S3 bucket ARN, which
 * receives the records), in the Lambda API's and CloudFormation's spelling.
 *
 * @example
 * ```ts
 * const settings = recommendedEventSourceMapping("arn:aws:sqs:eu-west-1:123456789012:cleanup-dlq");
 * ```
 */
export function recommendedEventSourceMapping(onFailureDestinationArn: string) {
  return {
    ...RECOMMENDED_EVENT_SOURCE_MAPPING,
    DestinationConfig: { OnFailure: { Destination: onFailureDestinationArn } },
  };
}
