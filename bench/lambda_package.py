"""The API function as Lambda loads it: cold import time and unzipped package sizes.

Import time: the function and its layer are laid out as a deploy lays them out, for this machine's
Python 3.12 (the Lambda runtime's version; the current interpreter when 3.12 is not on PATH): the
layer's pinned requirements installed without bytecode and the project's sources copied without it, as
`sam build` leaves them, then compiled by ``scripts/compile_bytecode.py``, as `make build` ships them.
Each is imported in fresh interpreters that cannot write bytecode (Lambda's code is read-only). Sizes:
each function with its layer, from ``make build``. Writes ``build/bench/lambda.md`` and prints it.
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
OWN_SHARE_TARGET_MS = 60  # the project's own code above its libraries' floor
RUNS = 15
SOURCE_RUNS = 5
SOURCES, SHIPPED, LIBRARIES_ONLY, OWN = "sources only", "with bytecode", "libraries alone", "own share"
ENV = {
    "COMMENTS_TABLE": "comments",
    "MONITORING_TABLE": "monitoring",
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
    "_HANDLER": "api_function.main.lambda_handler",
}
TIMED = "import time; t = time.perf_counter(); {}; print((time.perf_counter() - t) * 1000)"
PROBE = TIMED.format("import api_function.main")  # the template's Handler module
# The floor: only the libraries the handler must load (HTTP API resolver with validation, idempotency on
# DynamoDB, Logger, Tracer, Metrics, pydantic with one model), none of the project's code. Measured
# alongside the handler. pydantic loads its model machinery (about 60 ms here) only when the first model
# is defined: the floor defines one, as any handler that validates with pydantic models must.
FLOOR = (
    "import boto3, pydantic, aws_lambda_powertools.event_handler, aws_lambda_powertools.utilities.idempotency; "
    "from aws_lambda_powertools import Logger, Metrics, Tracer; Logger(); Metrics(); Tracer(); "
    "aws_lambda_powertools.event_handler.APIGatewayHttpResolver(enable_validation=True); "
    "pydantic.create_model('Probe', text=(str, ...))"
)
LIBRARIES = TIMED.format(FLOOR)
# The project's own share: the floor loaded first, then the handler's import timed on its own, in the same
# interpreter. Less noisy than the difference of two cold imports, which moves by ±50 ms run to run here.
OWN_SHARE = FLOOR + "; " + TIMED.format("import api_function.main")


def install(python: str, target: Path, *requirements: str, compile_bytecode: bool = True) -> Path:
    if not target.exists():
        flags = [] if compile_bytecode else ["--no-compile"]
        subprocess.run(
            [python, "-m", "pip", "install", "--quiet", *flags, "--target", str(target), *requirements],
            cwd=ROOT,
            check=True,
            stderr=subprocess.DEVNULL,
        )
    return target


def deploy_layout(python: str) -> tuple[Path, Path]:
    """The API function and the shared layer as `sam build` leaves them: sources, no bytecode."""
    deployed = OUT / "deployed"
    shutil.rmtree(deployed, ignore_errors=True)
    no_bytecode = shutil.ignore_patterns("__pycache__", "*.pyc")
    task = deployed / "task"
    shutil.copytree(ROOT / "functions" / "api" / "api_function", task / "api_function", ignore=no_bytecode)
    layer = deployed / "opt"
    install(python, layer / "python", "-r", "layers/shared/requirements.txt", compile_bytecode=False)
    shutil.copytree(
        ROOT / "layers" / "shared" / "sentiment_common", layer / "python" / "sentiment_common", ignore=no_bytecode
    )
    return task, layer


def import_times(python: str) -> dict[str, list[float]]:
    """Cold import of the handler as built and as shipped, and of its libraries alone."""
    task, layer = deploy_layout(python)
    runtime = install(python, OUT / "runtime", "boto3==1.44.5")  # the Lambda runtime's copy, with its bytecode
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join([str(task), str(layer / "python"), str(runtime)]),
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task and /opt are read-only
        "LAMBDA_TASK_ROOT": str(task),
        **ENV,
    }

    def once(probe: str) -> float:
        run = subprocess.run([python, "-c", probe], env=env, check=True, capture_output=True, text=True)
        return float(run.stdout)

    times: dict[str, list[float]] = {SOURCES: [], SHIPPED: [], LIBRARIES_ONLY: [], OWN: []}
    for _ in range(SOURCE_RUNS):
        times[SOURCES].append(once(PROBE))
    subprocess.run([python, str(ROOT / "scripts" / "compile_bytecode.py"), str(layer), str(task)], check=True)
    for _ in range(RUNS):  # alternating, so both see the same machine
        times[SHIPPED].append(once(PROBE))
        times[LIBRARIES_ONLY].append(once(LIBRARIES))
        times[OWN].append(once(OWN_SHARE))
    return times


def timing(measure: str, times: list[float], target: str = "") -> str:
    return f"| {measure} | median {statistics.median(times):.0f} ms, max {max(times):.0f} ms | {target} |"


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
    times = import_times(python)
    median = statistics.median(times[SHIPPED])
    verdict = f"≤ {IMPORT_TARGET_MS} ms: {'PASS' if median <= IMPORT_TARGET_MS else 'FAIL'}"
    share = statistics.median(times[OWN])
    share_verdict = f"≤ {OWN_SHARE_TARGET_MS} ms: {'PASS' if share <= OWN_SHARE_TARGET_MS else 'FAIL'}"
    lines = [
        "| measure | result | target |",
        "| --- | --- | --- |",
        timing(f"API handler cold import as `make build` ships it ({version}, {RUNS} runs)", times[SHIPPED], verdict),
        timing("the same, its libraries alone (no project code)", times[LIBRARIES_ONLY]),
        timing(
            "the project's own share: the handler's import with its libraries already loaded", times[OWN], share_verdict
        ),
        timing(f"the handler as `sam build` alone leaves it (no bytecode, {SOURCE_RUNS} runs)", times[SOURCES]),
        *package_rows(),
    ]
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "lambda.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
