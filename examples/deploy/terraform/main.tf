# Deletes a product's image from S3 when DynamoDB's TTL removes the product (dynamodb-s3-cleanup).
#
# The function is the package's zero-code entry point, configured by CLEANUP_* variables. The event
# source mapping's settings are the package's RECOMMENDED_EVENT_SOURCE_MAPPING and its filter is
# TTL_REMOVE_ONLY_PATTERN; test/deploy/deployments.test.ts fails if they drift apart.
#
# Replay gets the cleanup's on-failure records back: aws_lambda_function.replay (the package's
# dynamodb-s3-cleanup/replay entry, with the same CLEANUP_* variables) consumes the failures queue,
# re-reads each discarded range from the stream and deletes its images, keeping those of products
# written again since (verifyAbsent, on by default for the replay). What it cannot finish in 5
# deliveries, such as a range already trimmed from the stream, ends in the replay_dead_letters queue.
#
# Global tables: a TTL delete replicated from another Region carries no userIdentity, so the TTL
# filter below would drop it. Apply this module in ONE Region only (or every Region deletes the same
# images), filter on local.removals instead of local.ttl_removals, set CLEANUP_TTL_ATTRIBUTE =
# "expiresAt" so the function recognises TTL removals by the item's expiry, and use
# stream_view_type "NEW_AND_OLD_IMAGES" (that fallback reads the OldImage).

locals {
  # Every image key starts with this; the function may delete nothing outside it (option and IAM).
  image_prefix = "images/"

  # The package's TTL_REMOVE_ONLY_PATTERN: REMOVE records made by DynamoDB's TTL sweeper.
  ttl_removals = {
    eventName    = ["REMOVE"]
    userIdentity = { type = ["Service"], principalId = ["dynamodb.amazonaws.com"] }
  }

  # The package's REMOVE_ONLY_PATTERN, for a global table (see the top of this file).
  removals = {
    eventName = ["REMOVE"]
  }

  # Both functions' configuration: the replay deletes exactly what the cleanup would have.
  cleanup_variables = {
    CLEANUP_BUCKET = aws_s3_bucket.images.bucket
    CLEANUP_KEY    = "${local.image_prefix}{productId}.png"
    # Defence in depth with the IAM resource: a key outside the prefix fails its record.
    CLEANUP_ALLOWED_PREFIXES = local.image_prefix
    # The filter already passes only TTL removals; the handler checks again, as filters are a
    # cost saving.
    CLEANUP_REMOVALS          = "ttl"
    CLEANUP_METRICS_NAMESPACE = "ProductImagesCleanup"
  }
}

resource "aws_dynamodb_table" "products" {
  name         = var.table_name
  billing_mode = "PAY_PER_REQUEST"
  hash_key     = "productId"

  attribute {
    name = "productId"
    type = "S"
  }

  # Epoch seconds after which DynamoDB removes the product, and the function its image.
  ttl {
    attribute_name = "expiresAt"
    enabled        = true
  }

  # The key template needs only the keys; the smallest records make the cheapest reads.
  stream_enabled   = true
  stream_view_type = "KEYS_ONLY"
}

# Created here so the module applies on its own. For an existing bucket, use a data "aws_s3_bucket"
# block, or its name and ARN, in place of these references.
resource "aws_s3_bucket" "images" {
  bucket_prefix = "product-images-"
}

resource "aws_s3_bucket_public_access_block" "images" {
  bucket                  = aws_s3_bucket.images.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

# The mapping's on-failure destination: the shard and sequence range of records that ran out of
# retries, so that no failure goes unnoticed. The replay function consumes it.
resource "aws_sqs_queue" "failures" {
  name = "${var.name}-failures"
  # The message only names the records; keep it long enough to be noticed.
  message_retention_seconds = 1209600
  # Encrypted at rest without a KMS key, so the roles need no kms:* actions.
  sqs_managed_sse_enabled = true
  # AWS's advice for a Lambda event source: at least six times the function's timeout (the
  # replay's 120 s), so that a message is not delivered again while an invocation still works on it.
  visibility_timeout_seconds = 720
  # A message the replay reports 5 times goes to its dead-letter queue instead of going round.
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.replay_dead_letters.arn
    maxReceiveCount     = 5
  })
}

# What the replay gave up on: ranges already trimmed from the stream (run reconcile for them), or
# images it still could not delete. The longest retention: SQS keeps a message's first enqueue time
# when it moves it here, so a shorter one would expire it early.
resource "aws_sqs_queue" "replay_dead_letters" {
  name                      = "${var.name}-replay-dead-letters"
  message_retention_seconds = 1209600
  sqs_managed_sse_enabled   = true
}

# The function logs here only; creating the group means the role needs no logs:CreateLogGroup.
resource "aws_cloudwatch_log_group" "cleanup" {
  name              = "/aws/lambda/${var.name}"
  retention_in_days = 30
}

# Build them first: cd function && npm install && npm run build (esbuild bundles index.ts and
# replay.ts).
data "archive_file" "function" {
  type        = "zip"
  source_file = "${path.module}/function/dist/index.mjs"
  output_path = "${path.module}/build/function.zip"
}

data "archive_file" "replay" {
  type        = "zip"
  source_file = "${path.module}/function/dist/replay.mjs"
  output_path = "${path.module}/build/replay.zip"
}

resource "aws_lambda_function" "cleanup" {
  function_name    = var.name
  role             = aws_iam_role.cleanup.arn
  filename         = data.archive_file.function.output_path
  source_code_hash = data.archive_file.function.output_base64sha256
  handler          = "index.handler"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  memory_size      = 256
  # A full batch is one DeleteObjects request; the rest is room for retries with backoff. The handler
  # starts nothing new in the last 2 s (CLEANUP_TIMEOUT_MARGIN_MS) and reports the rest.
  timeout = 60

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.cleanup.name
  }

  environment {
    variables = local.cleanup_variables
  }
}

resource "aws_lambda_event_source_mapping" "products_stream" {
  event_source_arn = aws_dynamodb_table.products.stream_arn
  function_name    = aws_lambda_function.cleanup.function_name

  # Without it Lambda ignores batchItemFailures and retries whole batches for one failed image.
  function_response_types = ["ReportBatchItemFailures"]
  # A batch that throws is halved until the bad record is alone, instead of blocking the shard.
  bisect_batch_on_function_error = true
  # The defaults (-1) retry a failing record until it leaves the stream, a day later.
  maximum_retry_attempts        = 10
  maximum_record_age_in_seconds = 21600
  # Up to one full DeleteObjects request per invocation; cleanup is not in a hurry.
  batch_size                         = 1000
  maximum_batching_window_in_seconds = 5
  # Removals already in the stream when the mapping is created are cleaned up too.
  starting_position = "TRIM_HORIZON"

  # Records that ran out of retries are named here instead of silently skipped.
  destination_config {
    on_failure {
      destination_arn = aws_sqs_queue.failures.arn
    }
  }

  # Only TTL removals invoke the function: INSERT, MODIFY and users' deletes cost nothing.
  # Not for a global table: see the top of this file.
  filter_criteria {
    filter {
      pattern = jsonencode(local.ttl_removals)
    }
  }

  # Lambda checks the role can read the stream when the mapping is created: attach the policy first.
  depends_on = [aws_iam_role_policy.cleanup]
}

resource "aws_cloudwatch_log_group" "replay" {
  name              = "/aws/lambda/${var.name}-replay"
  retention_in_days = 30
}

resource "aws_lambda_function" "replay" {
  function_name    = "${var.name}-replay"
  role             = aws_iam_role.replay.arn
  filename         = data.archive_file.replay.output_path
  source_code_hash = data.archive_file.replay.output_base64sha256
  handler          = "replay.handler"
  runtime          = "nodejs22.x"
  architectures    = ["arm64"]
  memory_size      = 256
  # Each message is re-read from the stream and cleaned up in turn; the handler starts nothing new in
  # the last 2 s and reports the messages it did not finish. The failures queue's visibility timeout
  # is 6 times this.
  timeout = 120

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.replay.name
  }

  environment {
    variables = local.cleanup_variables
  }
}

resource "aws_lambda_event_source_mapping" "failures" {
  event_source_arn = aws_sqs_queue.failures.arn
  function_name    = aws_lambda_function.replay.function_name

  # Without it one unfinished message would fail, and redeliver, every message of its batch.
  function_response_types = ["ReportBatchItemFailures"]
  # Each message names up to a whole discarded batch (1,000 records).
  batch_size = 5

  # The fewest concurrent replays SQS allows: each is a stream reader too, next to the cleanup's
  # mapping, and DynamoDB Streams serves about 2 readers per shard.
  scaling_config {
    maximum_concurrency = 2
  }

  # Lambda checks the role can receive from the queue when the mapping is created.
  depends_on = [aws_iam_role_policy.replay]
}
