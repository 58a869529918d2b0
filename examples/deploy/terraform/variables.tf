variable "name" {
  description = "Names the function, its role, log group and dead-letter queue."
  type        = string
  default     = "product-images-cleanup"
}

variable "table_name" {
  description = "The products table."
  type        = string
  default     = "products"
}
