"""The HTTP API's Lambda authorizer for the admin routes."""
