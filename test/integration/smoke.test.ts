import { CreateBucketCommand, ListBucketsCommand, S3Client } from "@aws-sdk/client-s3";
import { expect, inject, it } from "vitest";
import { localClientConfig } from "../services/index.js";

it("reaches moto", async () => {
  const s3 = new S3Client({ ...localClientConfig(inject("motoEndpoint")), forcePathStyle: true });
  await s3.send(new CreateBucketCommand({ Bucket: "smoke" }));
  const { Buckets } = await s3.send(new ListBucketsCommand({}));
  expect(Buckets?.map((b) => b.Name)).toContain("smoke");
});
