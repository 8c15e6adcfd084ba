"""In-memory stand-ins for the ports in ``sentiment_common.ports``, held to the adapters by ``tests/contract``."""
