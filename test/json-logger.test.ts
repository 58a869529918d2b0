import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { defaultLogger, jsonLine, jsonLogger, lambdaLogLevel, toJsonValue } from "../src/json-logger.js";

const NOW = Date.UTC(2026, 11, 2, 21, 0, 0, 5);
const now = () => NOW;

afterEach(() => {
  vi.restoreAllMocks();
});

/** The lines a logger writes to process.stdout, each parsed. */
function capturedStdout(): { lines: () => string[]; parsed: () => Record<string, unknown>[] } {
  const write = vi.spyOn(process.stdout, "write").mockReturnValue(true);
  const lines = () => write.mock.calls.map(([chunk]) => String(chunk));
  return { lines, parsed: () => lines().map((line) => JSON.parse(line) as Record<string, unknown>) };
}

describe("jsonLogger", () => {
  it("writes one JSON object per line to stdout: level, message, timestamp, then the fields", () => {
    // Prepare
    const stdout = capturedStdout();
    const logger = jsonLogger({ now });

    // Act
    logger.info("dynamodb-s3-cleanup summary", { deleted: 3, failed: 0, nested: { a: [1, 2] } });

    // Assess
    expect(stdout.lines()).toEqual([
      '{"level":"INFO","message":"dynamodb-s3-cleanup summary","timestamp":"2026-12-02T21:00:00.005Z","deleted":3,"failed":0,"nested":{"a":[1,2]}}\n',
    ]);
  });

  it("writes nothing through console", () => {
    // Prepare
    capturedStdout();
    const log = vi.spyOn(console, "log");
    const info = vi.spyOn(console, "info");

    // Act
    jsonLogger().info("line", {});

    // Assess
    expect(log).not.toHaveBeenCalled();
    expect(info).not.toHaveBeenCalled();
  });

  it.each([
    ["debug", "DEBUG"],
    ["info", "INFO"],
    ["warn", "WARN"],
    ["error", "ERROR"],
  ] as const)("writes %s lines with level %s", (method, level) => {
    // Prepare
    const lines: string[] = [];
    const logger = jsonLogger({ write: (line) => lines.push(line), now });

    // Act
    logger[method]("line", {});

    // Assess
    expect(JSON.parse(lines[0] as string)).toEqual({ level, message: "line", timestamp: "2026-12-02T21:00:00.005Z" });
  });

  it.each([
    ["debug", ["debug", "info", "warn", "error"]],
    ["info", ["info", "warn", "error"]],
    ["warn", ["warn", "error"]],
    ["error", ["error"]],
    ["off", []],
    [undefined, ["debug", "info", "warn", "error"]],
  ] as const)("at level %s writes %j and drops the rest", (level, written) => {
    // Prepare
    const messages: string[] = [];
    const logger = jsonLogger({ level, write: (line) => messages.push(JSON.parse(line).message) });

    // Act
    for (const method of ["debug", "info", "warn", "error"] as const) logger[method](method, {});

    // Assess
    expect(messages).toEqual(written);
  });

  it("keeps its own keys when a field has the same name", () => {
    // Act
    const line = JSON.parse(jsonLine("WARN", "real", { level: "x", message: "y", timestamp: 0, other: 1 }, now));

    // Assess
    expect(line).toEqual({ level: "WARN", message: "real", timestamp: "2026-12-02T21:00:00.005Z", other: 1 });
  });

  it("writes a field named __proto__ as a field", () => {
    // Prepare
    const fields = JSON.parse('{"__proto__": {"polluted": true}}');

    // Act
    const line = jsonLine("INFO", "m", fields, now);

    // Assess
    expect(line).toContain('"__proto__":{"polluted":true}');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
  });

  it("says in logError that the fields could not be written, instead of throwing", () => {
    // Prepare
    const fields = {
      get broken(): never {
        throw new Error("getter failed");
      },
    };

    // Act
    const line = JSON.parse(jsonLine("ERROR", "m", fields, now));

    // Assess
    expect(line).toEqual({
      level: "ERROR",
      message: "m",
      timestamp: "2026-12-02T21:00:00.005Z",
      logError: "the fields could not be written: getter failed",
    });
  });

  it("says so too when what a getter throws is no Error, or cannot be read", () => {
    // Prepare
    const throwing = (thrown: unknown) => ({
      get broken(): never {
        throw thrown;
      },
    });
    const unreadable = {
      get message(): never {
        throw new Error("again");
      },
    };
    Object.setPrototypeOf(unreadable, Error.prototype);

    // Act
    const plain = JSON.parse(jsonLine("INFO", "m", throwing("nope"), now));
    const worse = JSON.parse(jsonLine("INFO", "m", throwing(unreadable), now));

    // Assess
    expect(plain.logError).toBe("the fields could not be written: nope");
    expect(worse.logError).toBe("the fields could not be written: unknown error");
  });

  it("writes fields that are not an object under `fields`", () => {
    expect(JSON.parse(jsonLine("INFO", "m", [1, 2], now)).fields).toEqual([1, 2]);
    expect(JSON.parse(jsonLine("INFO", "m", "text", now)).fields).toBe("text");
    expect(JSON.parse(jsonLine("INFO", "m", undefined, now))).not.toHaveProperty("fields");
  });

  it("never writes a line end inside a line, whatever the message and fields", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.dictionary(fc.string(), fc.jsonValue()), (message, fields) => {
        // Act
        const line = jsonLine("INFO", message, fields, now);

        // Assess
        expect(line).not.toMatch(/[\n\r]/);
        expect(JSON.parse(line).message).toBe((message as string & { toWellFormed(): string }).toWellFormed());
      }),
    );
  });
});

describe("toJsonValue", () => {
  it("writes an Error as name, message, code, stack and cause", () => {
    // Prepare
    const cause = Object.assign(new Error("socket hang up"), { code: "ECONNRESET" });
    const error = new TypeError("fetch failed", { cause });

    // Act
    const written = toJsonValue({ error }) as { error: Record<string, unknown> };

    // Assess
    expect(written.error).toEqual({
      name: "TypeError",
      message: "fetch failed",
      stack: error.stack,
      cause: { name: "Error", message: "socket hang up", code: "ECONNRESET", stack: cause.stack },
    });
  });

  it("leaves out a stack the Error lacks and a code that is neither string nor number", () => {
    // Prepare
    const error = Object.assign(new Error("m"), { code: { nested: true }, stack: undefined });

    // Act
    const written = toJsonValue(error);

    // Assess
    expect(written).toEqual({ name: "Error", message: "m" });
  });

  it("writes a numeric code", () => {
    expect(toJsonValue(Object.assign(new Error("m"), { code: 42, stack: undefined }))).toEqual({
      name: "Error",
      message: "m",
      code: 42,
    });
  });

  it("writes bigints and symbols as strings, and leaves out functions and undefined", () => {
    // Act
    const written = toJsonValue({ big: 12345678901234567890n, sym: Symbol("s"), fn: () => 1, none: undefined });

    // Assess
    expect(written).toEqual({ big: "12345678901234567890", sym: "Symbol(s)" });
  });

  it("writes null for a function or undefined in an array, as JSON.stringify does", () => {
    expect(toJsonValue([1, () => 1, undefined])).toEqual([1, null, null]);
  });

  it("writes Dates through toJSON, Maps as objects and Sets as arrays", () => {
    // Act
    const written = toJsonValue({
      at: new Date(NOW),
      map: new Map<unknown, unknown>([
        ["a", 1],
        [2, 3n],
      ]),
      set: new Set(["x", "y"]),
    });

    // Assess
    expect(written).toEqual({ at: "2026-12-02T21:00:00.005Z", map: { a: 1, 2: "3" }, set: ["x", "y"] });
  });

  it("writes a circular reference as [Circular], and a repeated one that is not circular in full", () => {
    // Prepare
    const shared = { n: 1 };
    const cyclic: Record<string, unknown> = { shared, again: shared };
    cyclic.self = cyclic;
    const error = new Error("loop");
    (error as { cause?: unknown }).cause = error;

    // Act
    const written = toJsonValue({ cyclic, error }) as Record<string, Record<string, unknown>>;

    // Assess
    expect(written.cyclic).toEqual({ shared: { n: 1 }, again: { n: 1 }, self: "[Circular]" });
    expect(written.error?.cause).toBe("[Circular]");
  });

  it("cuts objects and arrays nested more than ten levels deep", () => {
    // Prepare
    let deep: unknown = { end: true };
    for (let i = 0; i < 10; i++) deep = i % 2 === 0 ? [deep] : { deeper: deep };
    let deepObject: unknown = { end: true };
    for (let i = 0; i < 10; i++) deepObject = { deeper: deepObject };

    // Act
    const line = JSON.stringify(toJsonValue(deep));
    const objectLine = JSON.stringify(toJsonValue(deepObject));

    // Assess
    expect(line).not.toContain("end");
    expect(objectLine).toContain('"[Object]"');
    expect(JSON.stringify(toJsonValue([[[[[[[[[[[1]]]]]]]]]]]))).toContain('"[Array]"');
  });
});

describe("lambdaLogLevel", () => {
  it.each([
    ["TRACE", "debug"],
    ["DEBUG", "debug"],
    ["INFO", "info"],
    ["WARN", "warn"],
    ["ERROR", "error"],
    ["FATAL", "off"],
    ["warn", "warn"],
    ["VERBOSE", undefined],
    ["", undefined],
    [undefined, undefined],
  ] as const)("reads %j as %j", (value, level) => {
    expect(lambdaLogLevel(value)).toBe(level);
  });
});

describe("defaultLogger", () => {
  it("writes at the level AWS_LAMBDA_LOG_LEVEL sets", () => {
    // Prepare
    const stdout = capturedStdout();
    const logger = defaultLogger({ AWS_LAMBDA_LOG_LEVEL: "WARN" });

    // Act
    logger.info("dropped", {});
    logger.warn("kept", {});

    // Assess
    expect(stdout.parsed().map((line) => line.message)).toEqual(["kept"]);
  });

  it("writes every level without AWS_LAMBDA_LOG_LEVEL, and reads process.env by default", () => {
    // Prepare
    const stdout = capturedStdout();
    vi.stubEnv("AWS_LAMBDA_LOG_LEVEL", "ERROR");
    const fromProcess = defaultLogger();
    vi.unstubAllEnvs();
    const unset = defaultLogger({});

    // Act
    fromProcess.warn("dropped", {});
    fromProcess.error("kept", {});
    unset.debug("debug", {});

    // Assess
    expect(stdout.parsed().map((line) => [line.level, line.message])).toEqual([
      ["ERROR", "kept"],
      ["DEBUG", "debug"],
    ]);
  });
});
