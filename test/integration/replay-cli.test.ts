/**
 * The replay command against moto's SQS: it receives every message of a real queue, hands them to
 * a handler (a fake one here: the replay handler has tests of its own), deletes those done and
 * leaves the reported one invisible on the queue until its visibility timeout ends.
 */
import { randomUUID } from "node:crypto";
import { CreateQueueCommand, GetQueueAttributesCommand, SendMessageBatchCommand, SQSClient } from "@aws-sdk/client-sqs";
import { describe, expect, inject, it } from "vitest";
import {
  type ReplayCommandHandler,
  type ReplayCommandIo,
  type ReplayCommandMessage,
  runReplayCommand,
} from "../../src/replay-cli.js";
import { localClientConfig } from "../services/index.js";

/** A queue on moto holding one message per body. */
async function queueOf(sqs: SQSClient, bodies: string[]): Promise<string> {
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: `on-failure-${randomUUID().slice(0, 8)}` }));
  const queueUrl = QueueUrl as string;
  for (let start = 0; start < bodies.length; start += 10) {
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: bodies.slice(start, start + 10).map((body, index) => ({ Id: String(index), MessageBody: body })),
      }),
    );
  }
  return queueUrl;
}

async function queueCounts(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible),
  };
}

/** Runs the command on `queueUrl` with a handler that reports the messages whose body `report` names. */
async function replay(sqs: SQSClient, queueUrl: string, report: (body: string) => boolean) {
  const seen: ReplayCommandMessage[] = [];
  const handler: ReplayCommandHandler = async ({ Records }) => {
    seen.push(...Records);
    return {
      batchItemFailures: Records.filter((record) => report(record.body)).map((record) => ({
        itemIdentifier: record.messageId,
      })),
    };
  };
  const stdout: string[] = [];
  const io: ReplayCommandIo = {
    env: {},
    readFile: () => Promise.reject(new Error("no --config in this test")),
    stdout: (text) => stdout.push(text),
    stderr: () => {},
    stderrIsTty: false,
    createHandler: () => handler,
    sqsClient: sqs,
    onInterrupt: () => () => {},
    waitTimeSeconds: 1,
  };
  // One poll at a time: moto's SQS may hand one message to two ReceiveMessage calls that overlap.
  // The bound on concurrent batches is tested with aws-sdk-client-mock.
  const code = await runReplayCommand(
    ["--queue-url", queueUrl, "--visibility-timeout", "600", "--concurrency", "1"],
    io,
  );
  return { code, seen, summary: stdout.join("") };
}

describe("the replay command on moto's SQS", () => {
  const sqs = new SQSClient(localClientConfig(inject("motoEndpoint")));
  const bodies = Array.from({ length: 23 }, (_, index) => JSON.stringify({ batch: index }));

  it("drains the queue, deleting every message done, and exits with 0", async () => {
    const queueUrl = await queueOf(sqs, bodies);
    const { code, seen, summary } = await replay(sqs, queueUrl, () => false);
    expect(code).toBe(0);
    expect(seen.map((record) => record.body).sort()).toEqual([...bodies].sort());
    expect(seen.every((record) => record.eventSource === "aws:sqs" && record.receiptHandle !== "")).toBe(true);
    expect(seen.map((record) => record.attributes.ApproximateReceiveCount)).toEqual(bodies.map(() => "1"));
    expect(await queueCounts(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    expect(summary).toMatch(/done and deleted from the queue +23\n/);
  });

  it("leaves the messages the handler reports in flight, and exits with 1", async () => {
    const queueUrl = await queueOf(sqs, bodies);
    const reported = new Set([bodies[3], bodies[17]]);
    const { code, seen } = await replay(sqs, queueUrl, (body) => reported.has(body));
    expect(code).toBe(1);
    expect(seen).toHaveLength(23);
    expect(await queueCounts(sqs, queueUrl)).toEqual({ visible: 0, inFlight: 2 });
  });
});
