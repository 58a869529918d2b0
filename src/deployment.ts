/**
 * Deployment constants: the event filters and the event source mapping settings the examples in
 * examples/ use, so that a SAM template, a CDK app or a Terraform module can take them as they are.
 * Plain data only: importing them costs nothing and pulls in no other module.
 */

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
