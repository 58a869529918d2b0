/** Helpers for the benchmarks that fill and check their bucket on moto. */
import { ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import { BUCKET } from "./events.js";

/** Runs `work` over `items`, at most `width` at a time. */
export async function pool<T>(items: readonly T[], width: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

/** The number of objects in the benchmarks' bucket, by listing it (on moto directly). */
export async function countObjects(s3: S3Client): Promise<number> {
  let count = 0;
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: BUCKET, ContinuationToken: token }));
    count += page.KeyCount ?? 0;
    token = page.NextContinuationToken;
  } while (token !== undefined);
  return count;
}
