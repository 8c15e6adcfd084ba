"""The local stand-in for AWS: resources built from ``template.yaml`` on moto, read, never re-typed."""
