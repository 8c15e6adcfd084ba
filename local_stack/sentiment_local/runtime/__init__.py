"""Lambda's runtime, locally: the functions' execution environments, the HTTP API's gateway and CloudFront's
web ACL in front of it, the event sources and schedules that invoke the functions, and the topics' deliveries."""
