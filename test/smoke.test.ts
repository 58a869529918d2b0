import { DeleteObjectsCommand, S3Client } from "@aws-sdk/client-s3";
import { mockClient } from "aws-sdk-client-mock";
import { expect, it } from "vitest";
import { createCleanupHandler } from "../src/index.js";

it("smoke", async () => {
  const s3 = mockClient(S3Client);
  s3.on(DeleteObjectsCommand).resolves({ Errors: [{ Key: "b.png", Code: "AccessDenied", Message: "no" }] });
  const logs: unknown[] = [];
  const log = (m: string, a?: unknown) => logs.push([m, a]);
  const handler = createCleanupHandler({ bucket: "img", key: "{id}.png", s3Client: new S3Client({}), logger: { debug: log, info: log, warn: log, error: log } });
  const rec = (seq: string, id: string, name = "REMOVE") => ({ eventName: name, eventID: `e${seq}`, dynamodb: { SequenceNumber: seq, Keys: { id: { S: id } } } });
  const res = await handler({ Records: [rec("100", "a"), rec("101", "x", "INSERT"), rec("102", "b"), rec("103", "c")] });
  console.log(JSON.stringify(res), JSON.stringify(logs, null, 1), JSON.stringify(s3.calls()[0]?.args[0].input));
  expect(res.batchItemFailures).toEqual([{ itemIdentifier: "102" }]);
});
