/**
 * A fake S3-compatible store on loopback for tests at the HTTP level: a real @aws-sdk/client-s3
 * talks to a node:http server on a free port of 127.0.0.1 whose answers each test file decides.
 * Stores started here are stopped by {@link stopFakeStores} (call it in `afterEach`).
 */
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";

/** A request the store received, its body read. */
export interface StoreRequest {
  method: string;
  url: URL;
  /** The first path segment (path-style addressing). */
  bucket: string;
  /** The rest of the path, decoded: the object key of a DeleteObject. */
  key: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Ends the response: a status, and an XML body when given. */
export type Answer = (status: number, xml?: string) => void;

/** An S3 error document. */
export const xmlError = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${message}</Message><RequestId>4442587FB7D0A2F9</RequestId></Error>`;

/** Undoes XML escaping: the five entities and numeric character references. */
export const unescapeXml = (text: string) =>
  text.replace(/&(lt|gt|quot|apos|amp|#(\d+)|#x([0-9a-fA-F]+));/g, (_, name: string, dec?: string, hex?: string) => {
    if (dec !== undefined) return String.fromCodePoint(Number(dec));
    if (hex !== undefined) return String.fromCodePoint(Number.parseInt(hex, 16));
    return { lt: "<", gt: ">", quot: '"', apos: "'", amp: "&" }[name] as string;
  });

/** Escapes text for an XML element. */
export const escapeXml = (text: string) =>
  text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");

const running: { server: Server; client: S3Client }[] = [];

/**
 * Starts a store whose every request, once its body is read, goes to `handle`; returns an
 * S3Client pointed at it and the list of the requests received, in order.
 */
export async function startFakeStore(
  handle: (request: StoreRequest, answer: Answer) => void,
): Promise<{ client: S3Client; requests: StoreRequest[] }> {
  const requests: StoreRequest[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      const url = new URL(request.url ?? "/", "http://store");
      const [, bucket = "", ...rest] = url.pathname.split("/");
      const received: StoreRequest = {
        method: request.method ?? "",
        url,
        bucket,
        key: decodeURIComponent(rest.join("/")),
        headers: request.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      };
      requests.push(received);
      handle(received, (status, xml = "") => {
        response.writeHead(status, xml === "" ? {} : { "content-type": "application/xml" });
        response.end(xml);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new S3Client({
    endpoint: `http://127.0.0.1:${port}`,
    forcePathStyle: true,
    region: "us-east-1",
    credentials: { accessKeyId: "test", secretAccessKey: "test" },
  });
  running.push({ server, client });
  return { client, requests };
}

/** Stops every store started since the last call, and destroys its client. */
export async function stopFakeStores(): Promise<void> {
  for (const { server, client } of running.splice(0)) {
    client.destroy();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
