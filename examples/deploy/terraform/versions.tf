terraform {
  required_version = ">= 1.5"

  required_providers {
    # logging_config on aws_lambda_function needs a provider from 2024 or later.
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.40"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4"
    }
  }
}

# Region and credentials come from the usual places (AWS_REGION, AWS_PROFILE, ...).
provider "aws" {}
