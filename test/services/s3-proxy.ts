/**
 * A loopback HTTP proxy in front of an S3 endpoint (moto) that gets in the way of delete requests:
 * it rate-limits them as S3 limits DELETEs per prefix (bench/throttle.ts), or injects faults with
 * seeded randomness into them and into listing requests (test/integration/faults.test.ts).
 *
 * It runs in a node process of its own (`startS3Proxy`), so that its clock and event loop are not
 * those of the client it measures, and it is controlled over two loopback paths that no S3 request
 * can have (bucket names have no `_`): `POST /__proxy/configure` (JSON settings) and
 * `GET /__proxy/stats` (JSON counts).
 *
 * Rate limit (modes `"503"` and `"per-key"`): one token bucket for the whole proxy (the benchmark's
 * keys share one prefix). It holds at most `burstKeys` tokens, holds `startKeys` when `configure` is
 * called, and refills continuously at `keysPerSecond`. A DeleteObjects request of n keys costs n
 * tokens; a DeleteObject request costs 1. Tokens are taken when the request's body has arrived,
 * before it is forwarded.
 *
 * Modes:
 * - `"off"`: everything passes through; deletes are still counted.
 * - `"503"`: a delete request passes whole when the bucket holds all the tokens it costs, and
 *   otherwise gets HTTP 503 with S3's XML error body (`<Code>SlowDown</Code>`); it costs nothing
 *   then. `burstKeys` must be at least 1,000 so that a full DeleteObjects request can ever pass.
 * - `"per-key"`: a DeleteObjects request of n keys gets min(n, whole tokens) of its keys deleted:
 *   the first ones. The other keys are refused with per-key SlowDown entries (see "Refusing keys"). A
 *   DeleteObject request, which has a single key, gets a 503 SlowDown when no token is left.
 * - `"faults"` ({@link FaultSettings}): each delete request draws one fault, or none, with the
 *   configured probabilities: HTTP 503 SlowDown or HTTP 500 InternalError, nothing forwarded; the
 *   connection dropped before forwarding (nothing deleted) or after the upstream answered (deleted,
 *   but the client never hears it); the request held, never forwarded nor answered (`hang`); or,
 *   for a DeleteObjects request, per-key `InternalError` and `SlowDown` entries for some of its keys
 *   (each with probability `keyErrorRate`, at least one). A DeleteObject request drawing per-key
 *   errors is refused whole with the code its key drew. Each ListObjectsV2 and ListObjectVersions
 *   request draws one of its own (`listing`): HTTP 503 SlowDown, the connection dropped, held, or
 *   forwarded `slowMs` late. Draws are SHA-256 hashes of the seed, the request (method, path and
 *   query without the bucket, body) and how many times the same request came since `configure`: the
 *   same seed and the same requests give the same faults, in whatever bucket and whatever order
 *   concurrent requests arrive in.
 *
 * Held requests: the proxy keeps their connection open and never answers, until the client closes
 * it (it gave up), `configure` is called, or the proxy stops; the last two close every held
 * connection, so that nothing outlives a run. `stats().held` counts those still open.
 *
 * Refusing keys: a DeleteObjects request some of whose keys are refused is forwarded upstream as a
 * rebuilt DeleteObjects body holding only the others (the length and checksum headers are dropped or
 * recomputed; moto checks no signature). The refused keys come back as
 * `<Error><Key>…</Key><Code>…</Code>…</Error>` entries added to the upstream's 200 answer (or to an
 * answer of only errors when every key is refused, without asking upstream).
 *
 * Everything else (PutObject, listings without faults, …) passes through unmetered. The proxy counts,
 * since the last `configure`: requests, delete requests, refused delete requests (refused whole, or
 * at least one key refused), keys asked to delete, keys deleted (forwarded and not refused upstream,
 * answer heard or not; repeats counted), keys refused, distinct keys deleted, listing requests, the
 * faults injected by kind, and the same per second of the run (`timeline`).
 *
 * It reads each body whole before forwarding (DeleteObjects bodies are at most ~100 KB) and parses
 * the DeleteObjects XML with regular expressions made for what the AWS SDK sends: `<Object>` blocks
 * each holding a `<Key>` and maybe a `<VersionId>`. Keys are copied between the request and the
 * answer as escaped XML text, never decoded.
 */
import { createHash } from "node:crypto";
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import type { Socket } from "node:net";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { startOnFreePort, startService } from "./process.js";

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

/**
 * Faults injected into delete requests and listing requests, each drawn per request. The six delete
 * request probabilities are of exclusive outcomes: their sum is at most 1, and the rest of the
 * requests pass untouched. So are the four of `listing`.
 */
export interface FaultSettings {
  mode: "faults";
  /** Any integer: the same seed gives the same faults for the same requests. */
  seed: number;
  /** HTTP 503 SlowDown for the whole request; nothing forwarded. */
  slowDown: number;
  /** HTTP 500 InternalError for the whole request; nothing forwarded. */
  internalError: number;
  /** The connection closed before the request is forwarded: nothing deleted, no answer. */
  dropBefore: number;
  /** The request forwarded and answered upstream, then the connection closed: deleted, no answer. */
  dropAfter: number;
  /** Per-key errors for some keys; the others are forwarded. */
  perKey: number;
  /**
   * The request held: never forwarded, never answered, until the client closes the connection, or
   * `configure` or the proxy's stop closes it. Nothing deleted.
   */
  hang: number;
  /** With `perKey`: each key's chance of an error entry (at least one key gets one). */
  keyErrorRate: number;
  /** Faults injected into listing requests (ListObjectsV2 and ListObjectVersions). */
  listing: ListingFaults;
}

/** Faults injected into listing requests, each drawn per request; their chances sum to at most 1. */
export interface ListingFaults {
  /** HTTP 503 SlowDown; nothing forwarded. */
  slowDown: number;
  /** The connection closed without an answer. */
  drop: number;
  /** The request held without an answer, as a delete request's `hang`. */
  hang: number;
  /** The request forwarded `slowMs` late, so that its answer comes that much later. */
  slow: number;
  /** With `slow`: the delay, in ms (an integer up to 60,000). */
  slowMs: number;
}

/** What the proxy does: a rate limit, or faults. */
export type ProxySettings = ThrottleSettings | FaultSettings;

/** The faults injected, by kind. */
export interface FaultCounts {
  /** Requests answered 503 SlowDown. */
  slowDown: number;
  /** Requests answered 500 InternalError. */
  internalError: number;
  /** Requests whose connection was closed before forwarding. */
  dropBefore: number;
  /** Requests forwarded whose connection was closed before the answer. */
  dropAfter: number;
  /** DeleteObjects requests with per-key errors. */
  perKey: number;
  /** Keys given a per-key error. */
  keyErrors: number;
  /** Delete requests held without an answer. */
  hang: number;
  /** Faults injected into listing requests, by kind. */
  listing: ListingFaultCounts;
}

/** The faults injected into listing requests, by kind: how many requests drew each. */
export interface ListingFaultCounts {
  slowDown: number;
  drop: number;
  hang: number;
  slow: number;
}

/** What went through the proxy in one second of the run. */
export interface ProxySecond {
  requests: number;
  throttledRequests: number;
  keysDeleted: number;
  keysRefused: number;
}

/** The proxy's counters since the last `configure`. */
export interface ProxyStats {
  settings: ProxySettings;
  /** Milliseconds since the last `configure`. */
  elapsedMs: number;
  /** Every request, deletes or not. */
  requests: number;
  /** DeleteObjects and DeleteObject requests. */
  deleteRequests: number;
  /** Delete requests refused whole (503, 500), or with at least one key refused. */
  throttledRequests: number;
  /** Keys in delete requests, refused or not. */
  keysRequested: number;
  /** Keys forwarded and not refused upstream, repeats counted, whether the client heard it or not. */
  keysDeleted: number;
  /** Keys refused: by the limit with SlowDown, or by an injected fault (whole requests and per-key). */
  keysRefused: number;
  /** Distinct bucket/key pairs deleted. */
  distinctKeysDeleted: number;
  /** Requests the proxy could not serve: the upstream failed, or a body it could not read (it answered 502). */
  failures: number;
  /** ListObjectsV2 and ListObjectVersions requests. */
  listRequests: number;
  /** Requests held (`hang`) whose connection is still open, now. */
  held: number;
  /** Faults injected (mode `"faults"`). */
  faults: FaultCounts;
  /** Per second since `configure`, in order. */
  timeline: ProxySecond[];
}

/** A running proxy process. */
export interface S3Proxy {
  /** `http://127.0.0.1:<port>`: the endpoint clients use instead of the upstream's. */
  endpoint: string;
  /** The proxy process's PID. */
  pid: number;
  /** Sets the mode, fills the bucket with `startKeys` (rate limits) and resets every counter. */
  configure(settings: ProxySettings): Promise<void>;
  stats(): Promise<ProxyStats>;
  /** Stops the process, by its PID. */
  stop(): Promise<void>;
}

/** The proxy's server in this process, and its controls. */
interface ProxyServer {
  server: Server;
  configure(settings: ProxySettings): void;
  stats(): ProxyStats;
  /** Closes every connection, held ones included, and the server. */
  close(): Promise<void>;
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

/** A number in [0, 1) drawn from the seed and `parts`: the same arguments, the same number. */
function draw(seed: number, ...parts: readonly (string | number)[]): number {
  return (
    createHash("sha256")
      .update([seed, ...parts].join("\0"))
      .digest()
      .readUInt32BE(0) /
    2 ** 32
  );
}

/** The per-key and whole-request error codes the proxy sends, with S3's status and message for each. */
const ERRORS = {
  SlowDown: { status: 503, message: "Please reduce your request rate." },
  InternalError: { status: 500, message: "We encountered an internal error. Please try again." },
} as const;
type ErrorCode = keyof typeof ERRORS;

const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** S3's answer to a request refused whole: HTTP 503 or 500 with this body. */
function errorBody(code: ErrorCode, requestId: string): string {
  return (
    `${XML_DECLARATION}<Error><Code>${code}</Code><Message>${ERRORS[code].message}</Message>` +
    `<RequestId>${requestId}</RequestId><HostId>s3-proxy</HostId></Error>`
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
      throw new Error(`s3 proxy: an <Object> without <Key> in a DeleteObjects body: ${block}`);
    }
    if (first < 0) first = match.index;
    end = match.index + block.length;
    entries.push({ block, key, versionId: /<VersionId>([\s\S]*?)<\/VersionId>/.exec(block)?.[1] });
  }
  if (entries.length === 0) {
    throw new Error(`s3 proxy: no <Object> in a DeleteObjects body: ${text.slice(0, 300)}`);
  }
  return { head: text.slice(0, first), entries, tail: text.slice(end) };
}

/** A per-key error entry of a DeleteObjects answer. */
function errorEntry({ key, versionId }: DeleteEntry, code: ErrorCode): string {
  const version = versionId === undefined ? "" : `<VersionId>${versionId}</VersionId>`;
  return `<Error><Key>${key}</Key>${version}<Code>${code}</Code><Message>${ERRORS[code].message}</Message></Error>`;
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

/**
 * What the proxy does with one delete request: forward it whole; refuse it whole with an error;
 * close the connection before forwarding it or after the upstream's answer; hold it without an
 * answer; or refuse some of its keys (by their index in the request) and forward the others.
 */
type Decision =
  | { kind: "forward" }
  | { kind: "refuse"; code: ErrorCode }
  | { kind: "drop-before" }
  | { kind: "drop-after" }
  | { kind: "hang" }
  | { kind: "refuse-keys"; refused: Map<number, ErrorCode> };

/** What the proxy does with one listing request: as with a delete, or forward it late. */
type ListDecision =
  | Extract<Decision, { kind: "forward" | "refuse" | "drop-before" | "hang" }>
  | { kind: "slow"; delayMs: number };

/**
 * The faults a delete request may draw, in the order their probabilities are stacked: `hang` came
 * last, so that settings without it draw what they drew before.
 */
export const FAULT_KINDS = ["slowDown", "internalError", "dropBefore", "dropAfter", "perKey", "hang"] as const;
/** The faults a listing request may draw, in the order their probabilities are stacked. */
export const LISTING_FAULT_KINDS = ["slowDown", "drop", "hang", "slow"] as const;
/** The longest `slowMs`. */
const MAX_SLOW_MS = 60_000;

function checkSettings(next: ProxySettings): void {
  const fail = (message: string) => {
    throw new Error(`s3 proxy: ${message}`);
  };
  if (next.mode === "faults") {
    if (!Number.isSafeInteger(next.seed)) fail("seed must be an integer");
    const inRange = (value: number) => value >= 0 && value <= 1;
    for (const name of [...FAULT_KINDS, "keyErrorRate"] as const) {
      if (!inRange(next[name])) fail(`${name} must be from 0 to 1`);
    }
    if (FAULT_KINDS.reduce((sum, name) => sum + next[name], 0) > 1) {
      fail(`${FAULT_KINDS.join(" + ")} must be at most 1`);
    }
    const { listing } = next;
    if (typeof listing !== "object" || listing === null) fail("listing must be an object of listing faults");
    for (const name of LISTING_FAULT_KINDS) {
      if (!inRange(listing[name])) fail(`listing.${name} must be from 0 to 1`);
    }
    if (LISTING_FAULT_KINDS.reduce((sum, name) => sum + listing[name], 0) > 1) {
      fail(`listing.${LISTING_FAULT_KINDS.join(" + listing.")} must be at most 1`);
    }
    if (!Number.isInteger(listing.slowMs) || listing.slowMs < 0 || listing.slowMs > MAX_SLOW_MS) {
      fail(`listing.slowMs must be an integer from 0 to ${MAX_SLOW_MS}`);
    }
    return;
  }
  if (!["off", "503", "per-key"].includes(next.mode)) fail(`unknown mode ${String(next.mode)}`);
  if (next.mode !== "off" && !(next.burstKeys >= MAX_KEYS_PER_REQUEST)) {
    fail(`burstKeys must be at least ${MAX_KEYS_PER_REQUEST}, the largest request`);
  }
  if (!(next.keysPerSecond > 0)) fail("keysPerSecond must be more than 0");
  if (!(next.startKeys >= 0 && next.startKeys <= next.burstKeys)) fail("startKeys must be from 0 to burstKeys");
}

/** The proxy's server (not listening yet) in front of `upstream`, such as moto's endpoint. */
function createProxyServer(upstream: string, initial: ProxySettings): ProxyServer {
  const target = new URL(upstream);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  let settings = initial;
  let started = performance.now();
  let bucket: TokenBucket | undefined;
  let counts = emptyCounts();
  let distinct = new Set<string>();
  /** How many times each request (by digest) came since `configure`, for the fault draws. */
  let seen = new Map<string, number>();
  let requestIds = 0;
  /** The connections of requests held (`hang`) that are still open. */
  const held = new Set<Socket>();

  function emptyCounts(): Omit<ProxyStats, "settings" | "elapsedMs" | "distinctKeysDeleted" | "held"> {
    return {
      requests: 0,
      deleteRequests: 0,
      throttledRequests: 0,
      keysRequested: 0,
      keysDeleted: 0,
      keysRefused: 0,
      failures: 0,
      listRequests: 0,
      faults: {
        slowDown: 0,
        internalError: 0,
        dropBefore: 0,
        dropAfter: 0,
        perKey: 0,
        keyErrors: 0,
        hang: 0,
        listing: { slowDown: 0, drop: 0, hang: 0, slow: 0 },
      },
      timeline: [],
    };
  }

  /** Closes the connections of held requests: their clients hear the connection closed. */
  function releaseHeld(): void {
    for (const socket of held) socket.destroy();
    held.clear();
  }

  function configure(next: ProxySettings): void {
    checkSettings(next);
    releaseHeld();
    settings = next;
    started = performance.now();
    bucket =
      next.mode === "faults" ? undefined : new TokenBucket(next.keysPerSecond, next.burstKeys, next.startKeys, started);
    counts = emptyCounts();
    distinct = new Set();
    seen = new Map();
  }

  /** The current second's counters. */
  function second(now: number): ProxySecond {
    const index = Math.max(0, Math.floor((now - started) / 1000));
    while (counts.timeline.length <= index) {
      counts.timeline.push({ requests: 0, throttledRequests: 0, keysDeleted: 0, keysRefused: 0 });
    }
    return counts.timeline[index] as ProxySecond;
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

  /** The rate limit's decision for a delete request of `count` keys; `single` for a DeleteObject. */
  function throttle(
    limit: ThrottleSettings,
    limiter: TokenBucket,
    count: number,
    single: boolean,
    now: number,
  ): Decision {
    if (limit.mode === "off") return { kind: "forward" };
    if (limit.mode === "503") {
      return limiter.takeAll(count, now) ? { kind: "forward" } : { kind: "refuse", code: "SlowDown" };
    }
    const granted = limiter.takeUpTo(count, now);
    if (granted === count) return { kind: "forward" };
    if (single) return { kind: "refuse", code: "SlowDown" };
    const refused = new Map<number, ErrorCode>();
    for (let index = granted; index < count; index++) refused.set(index, "SlowDown");
    return { kind: "refuse-keys", refused };
  }

  /**
   * The draws of one request: numbers in [0, 1) from the seed, the request (method, path and query
   * without the bucket, body) and how many times the same request came since `configure`, so that a
   * test may use a fresh bucket on each run and get the same faults.
   */
  function drawsFor(seed: number, incoming: IncomingMessage, body: Buffer) {
    const { pathname, search } = new URL(incoming.url ?? "/", "http://proxy");
    const request = `${incoming.method} ${pathname.split("/").slice(2).join("/")}${search}\n`;
    const digest = createHash("sha256").update(request).update(body).digest("hex");
    const occurrence = (seen.get(digest) ?? 0) + 1;
    seen.set(digest, occurrence);
    return (...parts: (string | number)[]) => draw(seed, digest, occurrence, ...parts);
  }

  /** The fault drawn for a delete request of `count` keys (`single` for a DeleteObject), counted. */
  function fault(
    faults: FaultSettings,
    incoming: IncomingMessage,
    body: Buffer,
    count: number,
    single: boolean,
  ): Decision {
    const roll = drawsFor(faults.seed, incoming, body);
    const codeFor = (index: number): ErrorCode => (roll("code", index) < 0.5 ? "InternalError" : "SlowDown");
    const kind = stacked(FAULT_KINDS, faults, roll("request"));
    if (kind !== undefined) counts.faults[kind]++;
    switch (kind) {
      case undefined:
        return { kind: "forward" };
      case "slowDown":
        return { kind: "refuse", code: "SlowDown" };
      case "internalError":
        return { kind: "refuse", code: "InternalError" };
      case "dropBefore":
        return { kind: "drop-before" };
      case "dropAfter":
        return { kind: "drop-after" };
      case "hang":
        return { kind: "hang" };
      case "perKey": {
        if (single) {
          counts.faults.keyErrors++;
          return { kind: "refuse", code: codeFor(0) };
        }
        const refused = new Map<number, ErrorCode>();
        for (let index = 0; index < count; index++) {
          if (roll("key", index) < faults.keyErrorRate) refused.set(index, codeFor(index));
        }
        if (refused.size === 0) {
          const index = Math.floor(roll("one key") * count);
          refused.set(index, codeFor(index));
        }
        counts.faults.keyErrors += refused.size;
        return { kind: "refuse-keys", refused };
      }
    }
  }

  /** The fault drawn for a listing request, counted. */
  function listingFault(incoming: IncomingMessage, body: Buffer): ListDecision {
    if (settings.mode !== "faults") return { kind: "forward" };
    const { listing } = settings;
    const kind = stacked(LISTING_FAULT_KINDS, listing, drawsFor(settings.seed, incoming, body)("request"));
    if (kind !== undefined) counts.faults.listing[kind]++;
    switch (kind) {
      case undefined:
        return { kind: "forward" };
      case "slowDown":
        return { kind: "refuse", code: "SlowDown" };
      case "drop":
        return { kind: "drop-before" };
      case "hang":
        return { kind: "hang" };
      case "slow":
        return { kind: "slow", delayMs: listing.slowMs };
    }
  }

  /** What to do with a delete request of `count` keys; `single` for a DeleteObject. */
  function decide(incoming: IncomingMessage, body: Buffer, count: number, single: boolean): Decision {
    if (settings.mode === "faults") return fault(settings, incoming, body, count, single);
    return throttle(settings, bucket as TokenBucket, count, single, performance.now());
  }

  function forward(incoming: IncomingMessage, body: Buffer, bodyRewritten: boolean): Promise<Answer> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        {
          host: target.hostname,
          port: target.port,
          method: incoming.method,
          path: incoming.url ?? "/",
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

  function replyError(response: ServerResponse, code: ErrorCode): void {
    const requestId = `s3-proxy-${++requestIds}`;
    reply(
      response,
      ERRORS[code].status,
      { "content-type": "application/xml", "x-amz-request-id": requestId },
      Buffer.from(errorBody(code, requestId)),
    );
  }

  /** Closes the client's connection without an answer. */
  function drop(response: ServerResponse): void {
    response.socket?.destroy();
  }

  /** Leaves a request without an answer, its connection open until the client or `releaseHeld` closes it. */
  function hold(response: ServerResponse): void {
    const socket = response.socket;
    if (socket === null || socket.destroyed) return;
    held.add(socket);
    socket.once("close", () => held.delete(socket));
  }

  /** Answers a request that is not forwarded: with an error, by closing the connection, or never. */
  function refuseWhole(
    response: ServerResponse,
    decision: Extract<Decision, { kind: "refuse" | "drop-before" | "hang" }>,
  ): void {
    if (decision.kind === "refuse") replyError(response, decision.code);
    else if (decision.kind === "drop-before") drop(response);
    else hold(response);
  }

  /** A ListObjectsV2 or ListObjectVersions request: forwarded, or given the fault it draws. */
  async function handleListing(incoming: IncomingMessage, response: ServerResponse, body: Buffer) {
    counts.listRequests++;
    const decision = listingFault(incoming, body);
    if (decision.kind === "refuse" || decision.kind === "drop-before" || decision.kind === "hang") {
      refuseWhole(response, decision);
      return;
    }
    if (decision.kind === "slow") {
      await delay(decision.delayMs);
      if (response.destroyed) return; // The client gave up meanwhile.
    }
    const answer = await forward(incoming, body, false);
    reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
  }

  /** Passes an upstream answer on, or drops the connection instead with `drop-after`. */
  function relay(response: ServerResponse, answer: Answer, decision: Decision): void {
    if (decision.kind === "drop-after") drop(response);
    else reply(response, answer.status, copyHeaders(answer.headers, false), answer.body);
  }

  async function handleDeleteObjects(incoming: IncomingMessage, response: ServerResponse, body: Buffer) {
    const now = performance.now();
    const parsed = parseDeleteBody(body.toString("utf8"));
    const keyOf = (entry: DeleteEntry) => `${bucketOf(incoming)}/${entry.key}`;
    const count = parsed.entries.length;
    const decision = decide(incoming, body, count, false);
    if (decision.kind === "refuse" || decision.kind === "drop-before" || decision.kind === "hang") {
      countDelete(now, count, [], decision.kind === "refuse" ? count : 0);
      refuseWhole(response, decision);
      return;
    }
    if (decision.kind !== "refuse-keys") {
      const answer = await forward(incoming, body, false);
      const refusedUpstream = new Set(answer.status === 200 ? refusedKeys(answer.body.toString("utf8")) : []);
      const deleted =
        answer.status === 200 ? parsed.entries.filter((entry) => !refusedUpstream.has(entry.key)).map(keyOf) : [];
      countDelete(performance.now(), count, deleted, 0);
      relay(response, answer, decision);
      return;
    }
    const kept = parsed.entries.filter((_, index) => !decision.refused.has(index));
    const errors = [...decision.refused]
      .sort(([a], [b]) => a - b)
      .map(([index, code]) => errorEntry(parsed.entries[index] as DeleteEntry, code))
      .join("");
    if (kept.length === 0) {
      countDelete(now, count, [], decision.refused.size);
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
    countDelete(performance.now(), count, deleted, decision.refused.size);
    const close = text.lastIndexOf("</DeleteResult>");
    if (close < 0) throw new Error(`s3 proxy: upstream's DeleteObjects answer has no </DeleteResult>: ${text}`);
    const merged = Buffer.from(text.slice(0, close) + errors + text.slice(close));
    const headers = copyHeaders(answer.headers, false);
    delete headers["content-md5"];
    reply(response, 200, headers, merged);
  }

  async function handleDeleteObject(incoming: IncomingMessage, response: ServerResponse, body: Buffer) {
    const now = performance.now();
    const decision = decide(incoming, body, 1, true);
    if (decision.kind === "refuse" || decision.kind === "drop-before" || decision.kind === "hang") {
      countDelete(now, 1, [], decision.kind === "refuse" ? 1 : 0);
      refuseWhole(response, decision);
      return;
    }
    const answer = await forward(incoming, body, false);
    const { pathname } = new URL(incoming.url ?? "/", "http://proxy");
    const key = escapeXml(decodeURIComponent(pathname.split("/").slice(2).join("/")));
    countDelete(performance.now(), 1, answer.status < 300 ? [`${bucketOf(incoming)}/${key}`] : [], 0);
    relay(response, answer, decision);
  }

  function stats(): ProxyStats {
    return {
      ...counts,
      faults: { ...counts.faults, listing: { ...counts.faults.listing } },
      timeline: counts.timeline.map((bin) => ({ ...bin })),
      settings,
      elapsedMs: performance.now() - started,
      distinctKeysDeleted: distinct.size,
      held: held.size,
    };
  }

  /** The control paths: `POST /__proxy/configure` and `GET /__proxy/stats`. */
  function control(incoming: IncomingMessage, response: ServerResponse, body: Buffer): void {
    const json = (status: number, value: unknown) =>
      reply(response, status, { "content-type": "application/json" }, Buffer.from(JSON.stringify(value)));
    try {
      if (incoming.method === "GET" && incoming.url === STATS_PATH) json(200, stats());
      else if (incoming.method === "POST" && incoming.url === CONFIGURE_PATH) {
        configure(JSON.parse(body.toString("utf8")) as ProxySettings);
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
        } else if (isListing(incoming, url)) {
          await handleListing(incoming, response, body);
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
          Buffer.from(`s3 proxy: ${error instanceof Error ? error.message : String(error)}`),
        );
      }
    })();
  });
  server.keepAliveTimeout = 30_000;
  server.on("close", () => agent.destroy());
  configure(initial);
  const close = () =>
    new Promise<void>((resolve) => {
      releaseHeld();
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return { server, configure, stats, close };
}

const CONTROL_PREFIX = "/__proxy/";
const CONFIGURE_PATH = `${CONTROL_PREFIX}configure`;
const STATS_PATH = `${CONTROL_PREFIX}stats`;

/**
 * Starts the proxy in a node process of its own (this file, through tsx) on a free loopback port,
 * in front of `upstream`, with `settings`. It is stopped by its PID (`stop()`), and stops by itself
 * when this process is gone.
 */
export async function startS3Proxy(upstream: string, settings: ProxySettings): Promise<S3Proxy> {
  const service = await startOnFreePort((port) => {
    const endpoint = `http://127.0.0.1:${port}`;
    return startService({
      name: "s3-proxy",
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
      cwd: fileURLToPath(new URL("../..", import.meta.url)),
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
    if (!response.ok) throw new Error(`s3 proxy ${path}: ${value.error ?? response.status}`);
    return value;
  };
  const proxy: S3Proxy = {
    endpoint: service.endpoint,
    pid: service.pid,
    configure: async (next) => {
      await call(CONFIGURE_PATH, next);
    },
    stats: () => call<ProxyStats>(STATS_PATH),
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
    throw new Error("usage: s3-proxy.ts --port <n> --upstream <url> [--parent <pid>]");
  }
  const { server, close } = createProxyServer(values.upstream, {
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
    void close().then(() => process.exit(0));
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  const parent = values.parent === undefined ? undefined : Number(values.parent);
  if (parent !== undefined) {
    // Not left behind when the process that started it is killed.
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

/** The probability band `chosen` falls in when `kinds`' chances are stacked in order, or undefined past them all. */
function stacked<K extends string>(kinds: readonly K[], chances: Readonly<Record<K, number>>, chosen: number) {
  let below = 0;
  return kinds.find((kind) => {
    below += chances[kind];
    return chosen < below;
  });
}

/** True for a ListObjectsV2 or ListObjectVersions request: a GET of a bucket (path style). */
function isListing(incoming: IncomingMessage, url: URL): boolean {
  const bucketOnly = url.pathname.split("/").filter((part) => part !== "").length === 1;
  return (
    incoming.method === "GET" &&
    bucketOnly &&
    (url.searchParams.get("list-type") === "2" || url.searchParams.has("versions"))
  );
}

/** The bucket of a path-style request: the first segment of its path. */
function bucketOf(incoming: IncomingMessage): string {
  return new URL(incoming.url ?? "/", "http://proxy").pathname.split("/")[1] ?? "";
}
