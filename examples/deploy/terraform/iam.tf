# A role of its own with exactly what the function and its mapping do, each on the narrowest resource;
# the same for the replay function.
#
# Other options need more (add statements below, to both policies' S3 statements):
#   CLEANUP_VERSIONS = "all"          s3:DeleteObjectVersion on the objects, s3:ListBucketVersions on
#                                     the bucket (with an s3:prefix condition), and a versioned bucket
#   CLEANUP_ETAG_ATTRIBUTE = "<name>" s3:GetObject on the objects, and stream_view_type "OLD_IMAGE"
#   CLEANUP_KEY_ATTRIBUTE = "<name>"  stream_view_type "OLD_IMAGE" instead of CLEANUP_KEY

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "cleanup" {
  name               = var.name
  description        = "Deletes the images of removed products, and nothing else"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "cleanup" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.cleanup.arn}:*"]
  }

  # The event source mapping reads the stream with the function's role.
  statement {
    actions = [
      "dynamodb:DescribeStream",
      "dynamodb:GetRecords",
      "dynamodb:GetShardIterator",
      "dynamodb:ListStreams",
    ]
    resources = [aws_dynamodb_table.products.stream_arn]
  }

  # Only under the images prefix, like CLEANUP_ALLOWED_PREFIXES: a bad key cannot reach other objects.
  statement {
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.images.arn}/${local.image_prefix}*"]
  }

  # The mapping sends its on-failure message with the function's role too.
  statement {
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }
}

resource "aws_iam_role_policy" "cleanup" {
  name   = "cleanup"
  role   = aws_iam_role.cleanup.id
  policy = data.aws_iam_policy_document.cleanup.json
}

resource "aws_iam_role" "replay" {
  name               = "${var.name}-replay"
  description        = "Replays the removals the cleanup gave up on, and nothing else"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "replay" {
  statement {
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.replay.arn}:*"]
  }

  # The replay re-reads a discarded range itself: an iterator at its first record, then the records.
  # It names the shard from the message, so it needs no DescribeStream.
  statement {
    actions   = ["dynamodb:GetRecords", "dynamodb:GetShardIterator"]
    resources = [aws_dynamodb_table.products.stream_arn]
  }

  # verifyAbsent (on for the replay): a product written again since its removal keeps its image.
  statement {
    actions   = ["dynamodb:BatchGetItem"]
    resources = [aws_dynamodb_table.products.arn]
  }

  statement {
    actions   = ["s3:DeleteObject"]
    resources = ["${aws_s3_bucket.images.arn}/${local.image_prefix}*"]
  }

  # The SQS mapping receives and deletes the on-failure messages with the function's role.
  statement {
    actions   = ["sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"]
    resources = [aws_sqs_queue.failures.arn]
  }
}

resource "aws_iam_role_policy" "replay" {
  name   = "replay"
  role   = aws_iam_role.replay.id
  policy = data.aws_iam_policy_document.replay.json
}
