// The whole reconcile batch function: one Distributed Map child batch, configured by the RECONCILE_* variables the deployment sets.
import { createReconcileBatchHandler } from "dynamodb-s3-cleanup/reconcile";

export const handler = createReconcileBatchHandler({
  tableName: process.env.RECONCILE_TABLE ?? "",
  bucket: process.env.RECONCILE_BUCKET ?? "",
  key: JSON.parse(process.env.RECONCILE_KEYS ?? "[]") as string[],
  allowedPrefixes: JSON.parse(process.env.RECONCILE_ALLOWED_PREFIXES ?? "[]") as string[],
  delete: process.env.RECONCILE_DELETE === "true",
});
