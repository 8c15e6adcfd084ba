"""moto's server with the local stack's journal in front of it, as ``make up`` runs them, and nothing
else: the template's tables, buckets and queues, restored from ``<data>/journal`` on start.

    python journal_server.py <data folder> [compact bytes]

Prints one JSON line once it serves (``{"url": ..., "restored": {...}}``); SIGTERM stops it cleanly,
SIGKILL as a crash would.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from dataclasses import asdict
from pathlib import Path

import boto3
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from sentiment_local.moto import gaps as moto_gaps
from sentiment_local.moto.server import JournalRequests
from sentiment_local.persistence.journal import MIN_COMPACT_BYTES, Journal
from sentiment_local.resources import create_buckets, create_queues, create_tables
from sentiment_local.runtime.functions import Runner
from sentiment_local.stack import StopSignal
from sentiment_template.reader import REGION, ROOT, Template

PREFIX = "journal"


def main(data: Path, compact_bytes: int) -> None:
    os.environ.update({"AWS_ACCESS_KEY_ID": "local", "AWS_SECRET_ACCESS_KEY": "local", "AWS_DEFAULT_REGION": REGION})
    template = Template.read(ROOT / "template.yaml", prefix=PREFIX)
    journal = Journal(data / "journal", template, legacy=data / "snapshot", compact_bytes=compact_bytes)
    runner = Runner([], endpoint="http://127.0.0.1:1", logs_dir=data / "logs")
    moto_gaps.install(runner, lambda: "http://127.0.0.1:1", changes=journal)
    app = JournalRequests(DomainDispatcherApplication(create_backend_app), journal)
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    clients = {name: boto3.client(name, endpoint_url=url, region_name=REGION) for name in ("dynamodb", "s3", "sqs")}
    create_tables(template, clients["dynamodb"])
    create_buckets(template, clients["s3"])
    create_queues(template, clients["sqs"])
    restored = journal.restore()
    stop_signal = StopSignal().install()
    print(json.dumps({"url": url, "restored": asdict(restored)}), flush=True)
    stop_signal.wait()
    server.shutdown()
    journal.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else MIN_COMPACT_BYTES)
