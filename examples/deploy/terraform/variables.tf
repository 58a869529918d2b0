variable "name" {
  description = "Names the functions, their roles, log groups and queues (the replay's with a -replay suffix)."
  type        = string
  default     = "product-images-cleanup"
}

variable "table_name" {
  description = "The products table."
  type        = string
  default     = "products"
}
