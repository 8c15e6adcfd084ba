"""One suite per port, run against the boto3 adapter (on moto) and the in-memory fake alike."""
