/**
 * A loopback HTTP proxy in front of an S3 endpoint (moto) that rate-limits delete work in keys per
 * second, as S3 limits DELETEs per prefix, and answers SlowDown above the limit. For bench/throttle.ts.
 *
 * It runs in a node process of its own (`startThrottleProxy`), so that its clock and event loop are
 * not those of the client it measures, and it is controlled over two loopback paths that no S3
 * request can have (bucket names have no `_`): `POST /__throttle/configure` (JSON settings) and
 * `GET /__throttle/stats` (JSON counts).
 *
 * Rate limit: one token bucket for the whole proxy (the benchmark's keys share one prefix). It holds
 * at most `burstKeys` tokens, holds `startKeys` when `configure` is called, and refills
 * continuously at `keysPerSecond`. A DeleteObjects request of n keys costs n tokens; a DeleteObject
 * request costs 1. Tokens are taken when the request's body has arrived, before it is forwarded.
 *
 * Modes:
 * - `"off"`: everything passes through; deletes are still counted.
 * - `"503"`: a delete request passes whole when the bucket holds all the tokens it costs, and
 *   otherwise gets HTTP 503 with S3's XML error body (`<Code>SlowDown</Code>`); it costs nothing
 *   then. `burstKeys` must be at least 1,000 so that a full DeleteObjects request can ever pass.
 * - `"per-key"`: a DeleteObjects request of n keys gets min(n, whole tokens) of its keys deleted:
 *   the first ones, forwarded upstream as a rebuilt DeleteObjects body holding only them (the
 *   length and checksum headers are dropped or recomputed; moto checks no signature). The other
 *   keys come back as `<Error><Key>…</Key><Code>SlowDown</Code>…</Error>` entries added to the
 *   upstream's 200 answer (or to an answer of only errors when no key was granted, without asking
 *   upstream). A DeleteObject request, which has a single key, gets a 503 SlowDown when no token is
 *   left.
 *
 * Everything else (PutObject, listings, …) passes through unmetered. The proxy counts, since the last
 * `configure`: requests, delete requests, throttled delete requests (a 503, or at least one key
 * refused), keys asked to delete, keys deleted (granted and not refused upstream; repeats counted),
 * keys refused, distinct keys deleted, and the same per second of the run (`timeline`).
 *
 * It reads each body whole before forwarding (DeleteObjects bodies are at most ~100 KB) and parses
 * the DeleteObjects XML with regular expressions made for what the AWS SDK sends: `<Object>` blocks
 * each holding a `<Key>` and maybe a `<VersionId>`. Keys are copied between the request and the
 * answer as escaped XML text, never decoded.
 */
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startOnFreePort, startService } from "../test/services/process.js";

/** How delete work above the limit is refused. */
export type ThrottleMode = "off" | "503" | "per-key";

/** The limit and how it is enforced. */
export interface ThrottleSettings {
  mode: ThrottleMode;
  /** Tokens (keys) added to the bucket per second. */
  keysPerSecond: number;
  /** The bucket's capacity in keys: what may go at once after a pause. At least 1,000. */
  burstKeys: number;
  /** The tokens in the bucket when `configure` is called: at most `burstKeys`. */
  startKeys: number;
}

/** What went through the proxy in one second of the run. */
export interface ThrottleSecond {
  requests: number;
  throttledRequests: number;
  keysDeleted: number;
  keysRefused: number;
}

/** The proxy's counters since the last `configure`. */
export interface ThrottleStats {
  settings: ThrottleSettings;
  /** Milliseconds since the last `configure`. */
  elapsedMs: number;
  /** Every request, deletes or not. */
  requests: number;
  /** DeleteObjects and DeleteObject requests. */
  deleteRequests: number;
  /** Delete requests answered 503, or with at least one key refused. */
  throttledRequests: number;
  /** Keys in delete requests, refused or not. */
  keysRequested: number;
  /** Keys forwarded and not refused upstream, repeats counted. */
  keysDeleted: number;
  /** Keys refused with SlowDown (whole requests and per-key). */
  keysRefused: number;
  /** Distinct bucket/key pairs deleted. */
  distinctKeysDeleted: number;
  /** Requests the proxy could not serve: the upstream failed, or a body it could not read (it answered 502). */
  failures: number;
  /** Per second since `configure`, in order. */
  timeline: ThrottleSecond[];
}

/** A running proxy process. */
export interface ThrottleProxy {
  /** `http://127.0.0.1:<port>`: the endpoint clients use instead of the upstream's. */
  endpoint: string;
  /** The proxy process's PID. */
  pid: number;
  /** Sets the limit and mode, fills the bucket with `startKeys` and resets every counter. */
  configure(settings: ThrottleSettings): Promise<void>;
  stats(): Promise<ThrottleStats>;
  /** Stops the process, by its PID. */
  stop(): Promise<void>;
}

/** The proxy's server in this process, and its controls. */
interface ThrottleServer {
  server: Server;
  configure(settings: ThrottleSettings): void;
  stats(): ThrottleStats;
}

/** The largest DeleteObjects request S3 accepts, in keys. */
const MAX_KEYS_PER_REQUEST = 1000;

/** A token bucket: `capacity` tokens at most, `rate` added per second, continuously. */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly rate: number,
    readonly capacity: number,
    start: number,
    now: number,
  ) {
    this.tokens = Math.min(capacity, start);
    this.last = now;
  }

  private refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
  }

  /** Takes `count` tokens if all of them are there; true when it did. */
  takeAll(count: number, now: number): boolean {
    this.refill(now);
    if (this.tokens < count) return false;
    this.tokens -= count;
    return true;
  }

  /** Takes as many whole tokens as there are, up to `count`; returns how many. */
  takeUpTo(count: number, now: number): number {
    this.refill(now);
    const taken = Math.min(count, Math.floor(this.tokens));
    this.tokens -= taken;
    return taken;
  }
}

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';
const SLOW_DOWN_MESSAGE = "Please reduce your request rate.";

/** S3's answer to a request above the rate: HTTP 503 with this body. */
function slowDownBody(requestId: string): string {
  return (
    `${XML_DECLARATION}<Error><Code>SlowDown</Code><Message>${SLOW_DOWN_MESSAGE}</Message>` +
    `<RequestId>${requestId}</RequestId><HostId>throttle-proxy</HostId></Error>`
  );
}

/** One `<Object>` of a DeleteObjects body: its text, and its key and version as escaped XML text. */
interface DeleteEntry {
  block: string;
  key: string;
  versionId: string | undefined;
}

/** A DeleteObjects body split into the text around its objects and the objects. */
interface DeleteBody {
  head: string;
  entries: DeleteEntry[];
  tail: string;
}

const OBJECT_BLOCK = /<Object>[\s\S]*?<\/Object>/g;

function parseDeleteBody(text: string): DeleteBody {
  const entries: DeleteEntry[] = [];
  let first = -1;
  let end = -1;
  for (const match of text.matchAll(OBJECT_BLOCK)) {
    const block = match[0];
    const key = /<Key>([\s\S]*?)<\/Key>/.exec(block)?.[1];
    if (key === undefined) {
      throw new Error(`throttle proxy: an <Object> without <Key> in a DeleteObjects body: ${block}`);
    }
    if (first < 0) first = match.index;
    end = match.index + block.length;
    entries.push({ block, key, versionId: /<VersionId>([\s\S]*?)<\/VersionId>/.exec(block)?.[1] });
  }
  if (entries.length === 0) {
    throw new Error(`throttle proxy: no <Object> in a DeleteObjects body: ${text.slice(0, 300)}`);
  }
  return { head: text.slice(0, first), entries, tail: text.slice(end) };
}

/** A per-key SlowDown entry of a DeleteObjects answer. */
function slowDownEntry({ key, versionId }: DeleteEntry): string {
  const version = versionId === undefined ? "" : `<VersionId>${versionId}</VersionId>`;
  return `<Error><Key>${key}</Key>${version}<Code>SlowDown</Code><Message>${SLOW_DOWN_MESSAGE}</Message></Error>`;
}

/** The keys (escaped XML text) of the `<Error>` entries of a DeleteObjects answer. */
function refusedKeys(answer: string): string[] {
  return [...answer.matchAll(/<Error>[\s\S]*?<Key>([\s\S]*?)<\/Key>[\s\S]*?<\/Error>/g)].map((match) => match[1] ?? "");
}

/** `&`, `<`, `>` escaped: how a key from a URL path is written in XML, to count it with the batch keys. */
const escapeXml = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Headers that must not be copied as they are onto a request or answer whose body may change. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "expect", "upgrade"]);
/** Headers that describe a body's bytes: dropped when the proxy rewrites the body. */
const describesBody = (name: string) =>
  name === "content-md5" ||
  name.startsWith("x-amz-checksum-") ||
  name === "x-amz-sdk-checksum-algorithm" ||
  name === "x-amz-trailer" ||
  name === "x-amz-decoded-content-length";

function copyHeaders(headers: IncomingHttpHeaders, bodyRewritten: boolean): Record<string, string | string[]> {
  const copy: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || (bodyRewritten && describesBody(name))) continue;
    copy[name] = value;
  }
  return copy;
}

function readBody(stream: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    stream.on("data", (chunk: Buffer) => chunks.push(chunk));
    stream.once("end", () => resolve(Buffer.concat(chunks)));
    stream.once("error", reject);
    stream.once("aborted", () => reject(new Error("aborted")));
  });
}

/** An upstream answer, read whole. */
interface Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** The proxy's server (not listening yet) in front of `upstream`, such as moto's endpoint. */
function createThrottleServer(upstream: string, initial: ThrottleSettings): ThrottleServer {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let settings = initial;
  let started = performance.now();
  let bucket = new TokenBucket(settings.keysPerSecond, settings.burstKeys, settings.startKeys, started);
  let counts = emptyCounts();
  let distinct = new Set<string>();
  let requestIds = 0;

  function emptyCounts(): Omit<ThrottleStats, "settings" | "elapsedMs" | "distinctKeysDeleted"> {
    return {
      requests: 0,
      deleteRequests: 0,
      throttledRequests: 0,
      keysRequested: 0,
      keysDeleted: 0,
      keysRefused: 0,
      failures: 0,
      timeline: [],
    };
  }

  function configure(next: ThrottleSettings): void {
    if (!["off", "503", "per-key"].includes(next.mode)) throw new Error(`throttle proxy: unknown mode ${next.mode}`);
    if (next.mode !== "off" && !(next.burstKeys >= MAX_KEYS_PER_REQUEST)) {
      throw new Error(`throttle proxy: burstKeys must be at least ${MAX_KEYS_PER_REQUEST}, the largest request`);
    }
    if (!(next.keysPerSecond > 0)) throw new Error("throttle proxy: keysPerSecond must be more than 0");
    if (!(next.startKeys >= 0 && next.startKeys <= next.burstKeys)) {
      throw new Error("throttle proxy: startKeys must be from 0 to burstKeys");
    }
    settings = next;
    started = performance.now();
    bucket = new TokenBucket(next.keysPerSecond, next.burstKeys, next.startKeys, started);
    counts = emptyCounts();
    distinct = new Set();
  }

  /** The current second's counters. */
  function second(now: number): ThrottleSecond {
    const index = Math.max(0, Math.floor((now - started) / 1000));
    while (counts.timeline.length <= index) {
      counts.timeline.push({ requests: 0, throttledRequests: 0, keysDeleted: 0, keysRefused: 0 });
    }
    return counts.timeline[index] as ThrottleSecond;
  }

  function countDelete(now: number, keys: number, deleted: readonly string[], refused: number): void {
    const bin = second(now);
    counts.deleteRequests++;
    counts.keysRequested += keys;
    counts.keysDeleted += deleted.length;
    bin.keysDeleted += deleted.length;
    counts.keysRefused += refused;
    bin.keysRefused += refused;
    if (refused > 0) {
      counts.throttledRequests++;
      bin.throttledRequests++;
    }
    for (const key of deleted) distinct.add(key);
  }

  function forward(
    incoming: IncomingMessage,
    body: Buffer,
    bodyRewritten: boolean,
    path = incoming.url ?? "/",
  ): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path,
          agent,
          headers: { ...copyHeaders(incoming.headers, bodyRewritten), "content-length": String(body.length) },
        },
        (answer) => {
          readBody(answer).then(
            (answerBody) => resolve({ status: answer.statusCode ?? 502, headers: answer.headers, body: answerBody }),
            reject,
          );
        },
      );
      outgoing.once("error", reject);
      outgoing.end(body);
    });
  }

  function reply(response: ServerResponse, status: number, headers: Record<string, string | string[]>, body: Buffer) {
    if (response.destroyed) return;
    response.writeHead(status, { ...headers, "content-length": String(body.length) });
    response.end(body);
  }

  function replySlowDown(response: ServerResponse): void {
    const requestId = `throttle-${++requestIds}`;
    reply(
      response,
      503,
      { "content-type": "application/xml", "x-amz-request-id": requestId },
      Buffer.from(slowDownBody(requestId)),
    );
  }

  async function handleDeleteObjects(incoming: IncomingMessage, response: ServerResponse, body: Buffer) {
    const now = performance.now();
    const parsed = parseDeleteBody(body.toString("utf8"));
    const keyOf = (entry: DeleteEntry) => `${bucketOf(incoming)}/${entry.key}`;
    const count = parsed.entries.length;
    if (settings.mode === "503" && !bucket.takeAll(count, now)) {
      countDelete(now, count, [], count);
      replySlowDown(response);
      return;
    }
    const granted = settings.mode === "per-key" ? bucket.takeUpTo(count, now) : count;
    if (settings.mode !== "per-key" || granted === count) {
      const answer = await forward(incoming, body, false);
      const refusedUpstream = new Set(answer.status === 200 ? refusedKeys(answer.body.toString("utf8")) : []);
      const deleted =
        answer.status === 200 ? parsed.entries.filter((entry) => !refusedUpstream.has(entry.key)).map(keyOf) : [];
      countDelete(performance.now(), count, deleted, 0);
      reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
      return;
    }
    const kept = parsed.entries.slice(0, granted);
    const refused = parsed.entries.slice(granted);
    const errors = refused.map(slowDownEntry).join("");
    if (kept.length === 0) {
      countDelete(now, count, [], refused.length);
      const answer = `${XML_DECLARATION}<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${errors}</DeleteResult>`;
      reply(response, 200, { "content-type": "application/xml" }, Buffer.from(answer));
      return;
    }
    const rebuilt = Buffer.from(parsed.head + kept.map((entry) => entry.block).join("") + parsed.tail);
    const answer = await forward(incoming, rebuilt, true);
    if (answer.status !== 200) {
      // The upstream refused the rebuilt request as a whole: pass its answer on, nothing deleted.
      countDelete(performance.now(), count, [], 0);
      reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
      return;
    }
    const text = answer.body.toString("utf8");
    const refusedUpstream = new Set(refusedKeys(text));
    const deleted = kept.filter((entry) => !refusedUpstream.has(entry.key)).map(keyOf);
    countDelete(performance.now(), count, deleted, refused.length);
    const close = text.lastIndexOf("</DeleteResult>");
    if (close < 0) throw new Error(`throttle proxy: upstream's DeleteObjects answer has no </DeleteResult>: ${text}`);
    const merged = Buffer.from(text.slice(0, close) + errors + text.slice(close));
    const headers = copyHeaders(answer.headers, false);
    delete headers["content-md5"];
    reply(response, 200, headers, merged);
  }

  async function handleDeleteObject(incoming: IncomingMessage, response: ServerResponse, body: Buffer) {
    const now = performance.now();
    if (settings.mode !== "off" && !bucket.takeAll(1, now)) {
      countDelete(now, 1, [], 1);
      replySlowDown(response);
      return;
    }
    const answer = await forward(incoming, body, false);
    const { pathname } = new URL(incoming.url ?? "/", "http://proxy");
    const key = escapeXml(decodeURIComponent(pathname.split("/").slice(2).join("/")));
    countDelete(performance.now(), 1, answer.status < 300 ? [`${bucketOf(incoming)}/${key}`] : [], 0);
    reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
  }

  function stats(): ThrottleStats {
    return {
      ...counts,
      timeline: counts.timeline.map((bin) => ({ ...bin })),
      settings,
      elapsedMs: performance.now() - started,
      distinctKeysDeleted: distinct.size,
    };
  }

  /** The control paths: `POST /__throttle/configure` and `GET /__throttle/stats`. */
  function control(incoming: IncomingMessage, response: ServerResponse, body: Buffer): void {
    const json = (status: number, value: unknown) =>
      reply(response, status, { "content-type": "application/json" }, Buffer.from(JSON.stringify(value)));
    try {
      if (incoming.method === "GET" && incoming.url === STATS_PATH) json(200, stats());
      else if (incoming.method === "POST" && incoming.url === CONFIGURE_PATH) {
        configure(JSON.parse(body.toString("utf8")) as ThrottleSettings);
        json(200, stats().settings);
      } else json(404, { error: `no control path ${incoming.method} ${incoming.url}` });
    } catch (error) {
      json(400, { error: error instanceof Error ? error.message : String(error) });
    }
  }

  const server = createServer((incoming, response) => {
    response.on("error", () => undefined);
    void (async () => {
      let body: Buffer;
      try {
        body = await readBody(incoming);
      } catch {
        return; // The client went away before sending its request whole: nothing to do.
      }
      if (incoming.url?.startsWith(CONTROL_PREFIX)) {
        control(incoming, response, body);
        return;
      }
      counts.requests++;
      second(performance.now()).requests++;
      try {
        const url = new URL(incoming.url ?? "/", "http://proxy");
        const objectPath = url.pathname.split("/").filter((part) => part !== "").length >= 2;
        if (incoming.method === "POST" && url.searchParams.has("delete")) {
          await handleDeleteObjects(incoming, response, body);
        } else if (incoming.method === "DELETE" && objectPath && !url.searchParams.has("uploadId")) {
          await handleDeleteObject(incoming, response, body);
        } else {
          const answer = await forward(incoming, body, false);
          reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
        }
      } catch (error) {
        counts.failures++;
        reply(
          response,
          502,
          { "content-type": "text/plain" },
          Buffer.from(`throttle proxy: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  server.on("close", () => agent.destroy());
  configure(initial);
  return { server, configure, stats };
}

const CONTROL_PREFIX = "/__throttle/";
const CONFIGURE_PATH = `${CONTROL_PREFIX}configure`;
const STATS_PATH = `${CONTROL_PREFIX}stats`;

/**
 * Starts the proxy in a node process of its own (this file, through tsx) on a free loopback port,
 * in front of `upstream`, with `settings`. It is stopped by its PID (`stop()`), and stops by itself
 * when this process is gone.
 */
export async function startThrottleProxy(upstream: string, settings: ThrottleSettings): Promise<ThrottleProxy> {
  const service = await startOnFreePort((port) => {
    const endpoint = `http://127.0.0.1:${port}`;
    return startService({
      name: "throttle-proxy",
      command: process.execPath,
      args: [
        "--import",
        "tsx",
        fileURLToPath(import.meta.url),
        "--port",
        String(port),
        "--upstream",
        upstream,
        "--parent",
        String(process.pid),
      ],
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      endpoint,
      ready: async () => (await fetch(`${endpoint}${STATS_PATH}`, { signal: AbortSignal.timeout(2000) })).ok,
    });
  });
  const call = async <T>(path: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${service.endpoint}${path}`, {
      method: body === undefined ? "GET" : "POST",
      ...(body === undefined ? {} : { body: JSON.stringify(body), headers: { "content-type": "application/json" } }),
    });
    const value = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new Error(`throttle proxy ${path}: ${value.error ?? response.status}`);
    return value;
  };
  const proxy: ThrottleProxy = {
    endpoint: service.endpoint,
    pid: service.pid,
    configure: async (next) => {
      await call(CONFIGURE_PATH, next);
    },
    stats: () => call<ThrottleStats>(STATS_PATH),
    stop: () => service.stop(),
  };
  try {
    await proxy.configure(settings);
  } catch (error) {
    await proxy.stop();
    throw error;
  }
  return proxy;
}

/** The proxy process: `--port <n> --upstream <url> --parent <pid>`. */
async function serve(): Promise<void> {
  const { values } = parseArgs({
    options: { port: { type: "string" }, upstream: { type: "string" }, parent: { type: "string" } },
    strict: true,
  });
  if (values.port === undefined || values.upstream === undefined) {
    throw new Error("usage: throttle-proxy.ts --port <n> --upstream <url> [--parent <pid>]");
  }
  const { server } = createThrottleServer(values.upstream, {
    mode: "off",
    keysPerSecond: 1,
    burstKeys: MAX_KEYS_PER_REQUEST,
    startKeys: MAX_KEYS_PER_REQUEST,
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(Number(values.port), "127.0.0.1", () => resolve());
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const parent = values.parent === undefined ? undefined : Number(values.parent);
  if (parent !== undefined) {
    // Not left behind when the benchmark that started it is killed.
    setInterval(() => {
      try {
        process.kill(parent, 0);
      } catch {
        stop();
      }
    }, 1000).unref();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  serve().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}

/** The bucket of a path-style request: the first segment of its path. */
function bucketOf(incoming: IncomingMessage): string {
  return new URL(incoming.url ?? "/", "http://proxy").pathname.split("/")[1] ?? "";
}
