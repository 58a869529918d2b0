/**
 * Powertools for AWS Lambda: its Logger takes the cleanup's log lines, and its Metrics publishes
 * the invocation's counts, fed from `onResult` (called once per invocation with the summary).
 * Without Powertools, `emfMetrics({ namespace })` writes the same four metrics.
 */
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import { createCleanupHandler } from "dynamodb-s3-cleanup";

const logger = new Logger({ serviceName: "product-images-cleanup" });
const metrics = new Metrics({ namespace: "ProductImages", serviceName: "product-images-cleanup" });

export const handler = createCleanupHandler({
  bucket: "product-images",
  key: "images/{productId}.png",
  logger,
  onResult: (summary) => {
    metrics.addMetric("DeletedObjects", MetricUnit.Count, summary.deleted);
    metrics.addMetric("FailedObjects", MetricUnit.Count, summary.failed);
    metrics.addMetric("InvalidRecords", MetricUnit.Count, summary.invalid);
    metrics.addMetric("KeptReplaced", MetricUnit.Count, summary.keptReplaced);
    metrics.publishStoredMetrics();
  },
});
