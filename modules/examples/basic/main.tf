# A root module that deploys Eventsock with two namespaces:
#   terraform init && terraform apply
#   terraform output -json publish_api_keys   # bearer keys for POST <publish_url>
# Client tokens are signed with the secrets in module.eventsock.token_secret_parameter_names
# (header kid: module.eventsock.token_secret_kids).
terraform {
  required_version = ">= 1.3"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.29"
    }
  }
}

provider "aws" {
  region = var.region
}

variable "region" {
  description = "AWS region to deploy to."
  type        = string
  default     = "eu-west-1"
}

module "eventsock" {
  # In the release archive this example sits two levels below the module.
  source = "../.."

  name = "eventsock-demo"
  namespaces = {
    default = {}
    chat    = { client_publish = true, default_store_seconds = 3600 }
  }
  log_retention_days = 14
  tags               = { app = "eventsock-demo" }
}

output "http_endpoint" {
  value = module.eventsock.http_endpoint
}

output "realtime_endpoint" {
  value = module.eventsock.realtime_endpoint
}

output "publish_function_arn" {
  value = module.eventsock.publish_function_arn
}

output "publish_url" {
  value = module.eventsock.publish_url
}

output "history_url" {
  value = module.eventsock.history_url
}

output "publish_api_key_parameter_names" {
  value = module.eventsock.publish_api_key_parameter_names
}

output "token_secret_parameter_names" {
  value = module.eventsock.token_secret_parameter_names
}

output "publish_api_keys" {
  value     = module.eventsock.publish_api_keys
  sensitive = true
}
