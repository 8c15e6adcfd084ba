"""The API function as Lambda loads it: cold import time and unzipped package sizes.

Import time: the shared layer's pinned requirements are installed for this machine's Python 3.12
(the Lambda runtime's version; the current interpreter when 3.12 is not on PATH), then the API
handler is imported in fresh interpreters. Sizes: each function with its layer, from ``make build``.
Writes ``build/bench/lambda.md`` and prints it.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "build" / "bench"
SAM_BUILD = ROOT / "build" / "sam"
LIMIT_MB = 250
IMPORT_TARGET_MS = 300
RUNS = 15
ENV = {
    "COMMENTS_TABLE": "comments",
    "DATA_BUCKET": "data",
    "PENDING_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/123456789012/pending",
    "IDEMPOTENCY_TABLE": "idempotency",
    "REGISTRY_TABLE": "registry",
    "STATE_MACHINE_ARN": "arn:aws:states:us-east-1:123456789012:stateMachine:retrain",
    "INFERENCE_BACKEND": "sagemaker",
    "SAGEMAKER_ENDPOINT_NAME": "model",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_SERVICE_NAME": "api",
    "POWERTOOLS_METRICS_NAMESPACE": "SentimentFeedbackLoop",
    # What the Lambda runtime sets before it imports a handler. The X-Ray SDK checks LAMBDA_TASK_ROOT:
    # inside Lambda it samples locally instead of building X-Ray API clients at import.
    "AWS_REGION": "us-east-1",
    "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
    "AWS_LAMBDA_FUNCTION_NAME": "ApiFunction",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
    "AWS_XRAY_DAEMON_ADDRESS": "169.254.79.129:2000",
    "_HANDLER": "api_function.handler.lambda_handler",
}
TIMED = "import time; t = time.perf_counter(); {}; print((time.perf_counter() - t) * 1000)"
PROBE = TIMED.format("import api_function.handler")
# The floor: only the libraries the handler must load (HTTP API resolver with validation, idempotency on
# DynamoDB, Logger, Tracer, Metrics, pydantic), none of the project's code. Measured alongside the handler.
LIBRARIES = TIMED.format(
    "import boto3, pydantic, aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.idempotency; "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics(); Tracer(); "
    "aws_lambda_powertools.event_handler.APIGatewayHttpResolver(enable_validation=True)"
)


def install(python: str, name: str, *requirements: str) -> Path:
    target = OUT / name
    if not target.exists():
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--target", str(target), *requirements],
            cwd=ROOT,
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return target


def import_times(python: str) -> tuple[list[float], list[float]]:
    """Cold import of the handler and of its libraries alone, alternating so both see the same machine."""
    layer = install(python, "layer", "-r", "layers/shared/requirements.txt")
    runtime = install(python, "runtime", "boto3==1.44.5")  # what the Lambda runtime provides
    path = os.pathsep.join([str(ROOT / "functions" / "api"), str(ROOT / "layers" / "shared"), str(layer), str(runtime)])
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": path,
        "PYTHONDONTWRITEBYTECODE": "0",
        "LAMBDA_TASK_ROOT": str(ROOT / "functions" / "api"),
        **ENV,
    }
    subprocess.run(
        [python, "-c", PROBE], env=env, check=True, capture_output=True
    )  # compile .pyc once, as a deploy would
    handler: list[float] = []
    libraries: list[float] = []
    for _ in range(RUNS):
        for probe, times in ((PROBE, handler), (LIBRARIES, libraries)):
            run = subprocess.run([python, "-c", probe], env=env, check=True, capture_output=True, text=True)
            times.append(float(run.stdout))
    return handler, libraries


def size_mb(path: Path) -> float:
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / 1e6


def package_rows() -> list[str]:
    if not SAM_BUILD.exists():
        return ["| package sizes | not measured: run `make build` first | |"]
    layer = size_mb(SAM_BUILD / "SharedLayer")
    rows = [f"| shared layer, unzipped | {layer:.1f} MB | |"]
    for function in sorted(path for path in SAM_BUILD.iterdir() if path.name.endswith("Function")):
        total = size_mb(function) + layer
        sklearn = any(function.rglob("sklearn")) or any((SAM_BUILD / "SharedLayer").rglob("sklearn"))
        verdict = "PASS" if total < LIMIT_MB and not sklearn else "FAIL"
        found = "yes" if sklearn else "no"
        rows.append(
            f"| {function.name} + layer, unzipped | {total:.1f} MB (scikit-learn: {found}) "
            f"| < {LIMIT_MB} MB: {verdict} |"
        )
    return rows


def main() -> int:
    launcher = shutil.which("python3.12") or sys.executable
    # Resolve version-manager shims to the interpreter itself, so fresh processes need no extra env.
    python = subprocess.run(
        [launcher, "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, check=True
    ).stdout.strip()
    version = subprocess.run([python, "--version"], capture_output=True, text=True, check=True).stdout.strip()
    times, floor = import_times(python)
    median, worst = statistics.median(times), max(times)
    lines = [
        "| measure | result | target |",
        "| --- | --- | --- |",
        f"| API handler cold import ({version}, {RUNS} fresh interpreters) "
        f"| median {median:.0f} ms, max {worst:.0f} ms "
        f"| ≤ {IMPORT_TARGET_MS} ms: {'PASS' if median <= IMPORT_TARGET_MS else 'FAIL'} |",
        f"| the same, its libraries alone (no project code) | median {statistics.median(floor):.0f} ms, "
        f"max {max(floor):.0f} ms | |",
        *package_rows(),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lambda.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
