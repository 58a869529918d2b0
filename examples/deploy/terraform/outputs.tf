output "table_name" {
  value = aws_dynamodb_table.products.name
}

output "bucket_name" {
  value = aws_s3_bucket.images.bucket
}

output "failure_queue_url" {
  description = "Poll this for records that ran out of retries."
  value       = aws_sqs_queue.failures.url
}
