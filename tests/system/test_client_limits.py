"""``make up`` with small limits per client: the web ACL in front of the API answers a client over its limit
429, with the API's error shape and Retry-After, stores nothing for it, and lets other clients through."""

from __future__ import annotations

import httpx

from tests.system.conftest import LocalStack, module_stack

WRITES, REQUESTS = 10, 30  # per client address in any 5 minutes; AWS WAF's least limit is 10


local_stack = module_stack("client-limits", CLIENT_RATE_LIMIT=str(REQUESTS), CLIENT_WRITE_RATE_LIMIT=str(WRITES))


def client(stack: LocalStack, address: str) -> httpx.Client:
    """A client whose requests leave from ``address`` (every 127.x address is this machine)."""
    return httpx.Client(base_url=stack.api, timeout=60, transport=httpx.HTTPTransport(local_address=address))


def test_a_client_over_its_write_limit_gets_429_and_another_client_still_writes(local_stack: LocalStack) -> None:
    # Given the banner names the limits in force
    assert f"writes-per-client {WRITES} per 300 s" in local_stack.output()
    with client(local_stack, "127.0.0.1") as alice, client(local_stack, "127.0.0.2") as bob:
        # When one client sends one comment more than its write limit
        answers = [alice.post("/comments", json={"comment": f"Lovely service, visit {n}"}) for n in range(WRITES + 1)]
        # Then the last is refused with the API's error shape and a Retry-After, and was not stored
        assert [answer.status_code for answer in answers[:WRITES]] == [201] * WRITES
        refused = answers[-1]
        assert refused.status_code == 429
        assert refused.headers["content-type"] == "application/json"
        assert int(refused.headers["retry-after"]) > 0
        assert "Too many requests" in refused.json()["message"]
        stored = alice.get("/comments", params={"limit": 100}).json()["items"]
        assert f"Lovely service, visit {WRITES}" not in {item["original_comment"] for item in stored}
        assert len(stored) == WRITES
        # And another client is let through, and the first one may still read
        assert bob.post("/comments", json={"comment": "A different visitor"}).status_code == 201
        assert alice.get("/health").status_code == 200


def test_a_client_over_its_limit_on_all_requests_gets_429_on_reads_and_on_the_page(local_stack: LocalStack) -> None:
    with client(local_stack, "127.0.0.3") as carol, client(local_stack, "127.0.0.4") as dave:
        answers = [carol.get("/models").status_code for _ in range(REQUESTS)]
        assert answers == [200] * REQUESTS
        assert carol.get("/models").status_code == 429
        assert carol.get("/").status_code == 429
        assert dave.get("/").status_code == 200
