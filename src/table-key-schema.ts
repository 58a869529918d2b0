/**
 * A table's key schema, from DescribeTable: the names of its partition and sort key attributes and
 * their types, which say how an object key is read back into an item key (an N key as a number).
 */
import { abortable, sendOptions } from "./abort.js";
import type { ClientSource } from "./aws-clients.js";
import { errorMessage, isConfigurationFault, ReconcileError } from "./errors.js";
import type { KeySchemaAttribute } from "./key-template-inversion.js";

/** Everything of a table that reconcile reads: its key attributes, partition key first. */
export interface TableDescription {
  keySchema: KeySchemaAttribute[];
  /** The table's item count as DynamoDB last counted it (about every six hours), for progress. */
  itemCount: number | undefined;
}

/**
 * Describes `tableName`. Rejects with a {@link ReconcileError} that names the table when it cannot be
 * described (missing, no permission for `dynamodb:DescribeTable`, the signal) or when its
 * description holds no usable key schema.
 */
export async function describeTableKey(
  dynamoDbClient: ClientSource,
  tableName: string,
  signal?: AbortSignal | undefined,
): Promise<TableDescription> {
  let table: DescribedTable | undefined;
  try {
    const [{ DescribeTableCommand }, client] = await abortable(
      Promise.all([import("@aws-sdk/client-dynamodb"), dynamoDbClient()]),
      signal,
    );
    const output = (await abortable(
      client.send(new DescribeTableCommand({ TableName: tableName }), sendOptions(signal)),
      signal,
    )) as { Table?: DescribedTable };
    table = output.Table;
  } catch (error) {
    throw new ReconcileError(`DescribeTable on table "${tableName}" failed: ${errorMessage(error)}`, "tableName", {
      cause: error,
      retryable: !isConfigurationFault(error),
    });
  }
  const keySchema = keySchemaOf(table);
  if (typeof keySchema === "string") {
    throw new ReconcileError(`DescribeTable on table "${tableName}" answered without ${keySchema}`, "tableName");
  }
  return { keySchema, itemCount: table?.ItemCount };
}

interface DescribedTable {
  KeySchema?: { AttributeName?: string | undefined; KeyType?: string | undefined }[] | undefined;
  AttributeDefinitions?: { AttributeName?: string | undefined; AttributeType?: string | undefined }[] | undefined;
  ItemCount?: number | undefined;
}

/** The key attributes of a description, HASH first, or what the description lacks. */
function keySchemaOf(table: DescribedTable | undefined): KeySchemaAttribute[] | string {
  const elements = table?.KeySchema ?? [];
  const hash = elements.find((element) => element.KeyType === "HASH");
  const range = elements.find((element) => element.KeyType === "RANGE");
  if (hash?.AttributeName === undefined) return "a partition (HASH) key in its KeySchema";
  const keySchema: KeySchemaAttribute[] = [];
  for (const name of [hash.AttributeName, range?.AttributeName]) {
    if (name === undefined) continue;
    const type = table?.AttributeDefinitions?.find((definition) => definition.AttributeName === name)?.AttributeType;
    if (type !== "S" && type !== "N" && type !== "B") return `the type (S, N or B) of key attribute "${name}"`;
    keySchema.push({ name, type });
  }
  return keySchema;
}
