/**
 * Reconcile's scan mode, for templates an object key cannot be read back through (a placeholder of
 * a non-key attribute, such as `{tenantId}/{fileName}`): the table is scanned, in parallel segments
 * projecting only the templates' attributes, into the set of object keys its items render to; a
 * listed object is then live when its key is in the set. The set is held in memory: one entry per
 * item and template.
 */
import type { AttributeValue as DynamoDbValue, ScanCommandOutput } from "@aws-sdk/client-dynamodb";
import { abortable, sendOptions } from "./abort.js";
import type { ClientSource } from "./aws-clients.js";
import { errorMessage, isConfigurationFault, ReconcileError } from "./errors.js";
import type { ItemKeyReader } from "./item-key-reader.js";
import { templateKeyReader } from "./item-key-reader.js";
import { compileTemplate, type KeyTemplate, renderTemplate } from "./key-template.js";
import type { KeyInversionProblem, KeySchemaAttribute } from "./key-template-inversion.js";

/** What a scan needs. */
export interface ScanRequest {
  dynamoDbClient: ClientSource;
  tableName: string;
  templates: readonly string[];
  /** How many segments are scanned at once. */
  segments: number;
  signal?: AbortSignal | undefined;
  /** Called after each page with the items scanned so far. */
  onPage?: ((scanned: number) => void) | undefined;
}

/** The object keys the table's items render to, and how many items were scanned. */
export interface ScannedTable {
  expected: Set<string>;
  items: number;
}

/**
 * Scans the whole table with strongly consistent reads into the object keys its items render to,
 * the way the cleanup handler renders them: S as is, N as stored; an item without a template's
 * attributes (or with one of another type, or empty) renders no key for that template. Rejects
 * with a ReconcileError when any page cannot be read: an incomplete set would make live objects
 * look orphaned.
 */
export async function scanExpectedKeys(request: ScanRequest): Promise<ScannedTable> {
  const { tableName, segments, signal } = request;
  const templates = request.templates.map((template) => compileTemplate(template) as KeyTemplate);
  const names = [...new Set(templates.flatMap((template) => template.attributes))];
  const placeholders = names.map((_, index) => `#a${index}`);
  const scanned: ScannedTable = { expected: new Set(), items: 0 };
  // The first segment that fails stops the others: the scan is worthless without it.
  const failed = new AbortController();
  const scanSignal = signal === undefined ? failed.signal : AbortSignal.any([signal, failed.signal]);
  try {
    const [sdk, client] = await abortable(
      Promise.all([import("@aws-sdk/client-dynamodb"), request.dynamoDbClient()]),
      signal,
    );
    await Promise.all(
      Array.from({ length: segments }, async (_, segment) => {
        let start: Record<string, DynamoDbValue> | undefined;
        do {
          const command = new sdk.ScanCommand({
            TableName: tableName,
            Segment: segment,
            TotalSegments: segments,
            ConsistentRead: true,
            ProjectionExpression: placeholders.join(", "),
            ExpressionAttributeNames: Object.fromEntries(names.map((name, index) => [placeholders[index], name])),
            ...(start === undefined ? {} : { ExclusiveStartKey: start }),
          });
          const output = (await abortable(client.send(command, sendOptions(scanSignal)), scanSignal).catch(
            (error: unknown) => {
              failed.abort(error);
              throw error;
            },
          )) as ScanCommandOutput;
          for (const item of output.Items ?? []) {
            for (const template of templates) {
              const key = render(template, item);
              if (key !== undefined) scanned.expected.add(key);
            }
          }
          scanned.items += output.Items?.length ?? 0;
          request.onPage?.(scanned.items);
          start = output.LastEvaluatedKey;
        } while (start !== undefined);
      }),
    );
  } catch (error) {
    throw new ReconcileError(
      `the scan of table "${tableName}" failed, so nothing was decided: ${errorMessage(error)}`,
      "tableName",
      { cause: error, retryable: !isConfigurationFault(error) },
    );
  }
  return scanned;
}

/** The object key an item renders to through `template`, or `undefined` when it renders none. */
function render(template: KeyTemplate, item: Record<string, DynamoDbValue>): string | undefined {
  const values: string[] = [];
  for (const name of template.attributes) {
    const value = item[name];
    const text = value?.S ?? value?.N;
    if (text === undefined || text === "") return undefined;
    values.push(text);
  }
  return renderTemplate(template, values);
}

/**
 * The reader of object keys in scan mode: each template read on its own attributes (key attributes
 * with the table's types, so that an N key is read as DynamoDB stores it; others as strings). What
 * it gives as an "item key" is the placeholders' values, for the report; presence is decided by
 * the object key itself.
 */
export function scanKeyReader(
  templates: readonly string[],
  keySchema: readonly KeySchemaAttribute[],
): ItemKeyReader | KeyInversionProblem {
  const readers: ItemKeyReader[] = [];
  for (const template of templates) {
    const compiled = compileTemplate(template) as KeyTemplate;
    const schema = [...new Set(compiled.attributes)].map(
      (name): KeySchemaAttribute => ({
        name,
        type: keySchema.find((attribute) => attribute.name === name)?.type ?? "S",
      }),
    );
    const reader = templateKeyReader([template], schema);
    if (typeof reader !== "function") return reader;
    readers.push(reader);
  }
  return (objectKey) => {
    let first: ReturnType<ItemKeyReader> | undefined;
    for (const reader of readers) {
      const read = reader(objectKey);
      if (read.kind === "item") return read;
      first ??= read;
    }
    return first as ReturnType<ItemKeyReader>;
  };
}
