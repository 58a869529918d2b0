output "table_name" {
  value = aws_dynamodb_table.products.name
}

output "bucket_name" {
  value = aws_s3_bucket.images.bucket
}

output "failure_queue_url" {
  description = "Records that ran out of retries; the replay function consumes it."
  value       = aws_sqs_queue.failures.url
}

output "replay_dead_letter_queue_url" {
  description = "Poll this for ranges the replay could not clean up; run reconcile for them."
  value       = aws_sqs_queue.replay_dead_letters.url
}
