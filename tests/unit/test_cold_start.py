"""What a cold start pays for: bytecode shipped with the build, nothing imported that a request does not use."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from compile_bytecode import RUNTIME, compile_tree, main
from sentiment_template.reader import Template, load
from tests.conftest import ROOT

HASH_BASED = 0b01  # PEP 552 flags: hash-based, source not checked


def module(tree: Path, name: str, body: str) -> Path:
    source = tree / "pkg" / f"{name}.py"
    source.parent.mkdir(parents=True, exist_ok=True)
    (source.parent / "__init__.py").touch()
    source.write_text(body)
    return source


def test_bytecode_is_hash_based_and_unchecked(tmp_path: Path) -> None:
    source = module(tmp_path / "ApiFunction", "handler", "def where():\n    return 1\n")
    assert compile_tree(tmp_path / "ApiFunction")
    data = Path(importlib.util.cache_from_source(str(source))).read_bytes()
    assert data[:4] == importlib.util.MAGIC_NUMBER
    assert int.from_bytes(data[4:8], "little") == HASH_BASED


def test_the_bytecode_is_used_whatever_time_the_zip_gave_the_sources(tmp_path: Path) -> None:
    layer = tmp_path / "SharedLayer"
    source = module(layer / "python", "shared", "def answer():\n    return 'compiled'\n")
    assert compile_tree(layer)
    # Only unchecked bytecode survives this: sam package zips every file as of 1980-01-01. The source is
    # changed too, so the answer shows which of the two ran.
    source.write_text("def answer():\n    return 'recompiled'\n")
    os.utime(source, (315532800, 315532800))
    run = subprocess.run(
        [sys.executable, "-c", "import pkg.shared as m; print(m.answer())"],
        env={**os.environ, "PYTHONPATH": str(layer / "python"), "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert run.stdout.strip() == "compiled"


def test_a_module_that_does_not_compile_fails_the_build(tmp_path: Path) -> None:
    module(tmp_path / "Broken", "bad", "def (:\n")
    assert not compile_tree(tmp_path / "Broken")
    assert main([str(tmp_path / "Broken")], version=RUNTIME) == 1


def test_it_refuses_another_python_or_a_missing_build(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path)], version=(3, 11, 9))
    assert "run this with Python 3.12, the functions' runtime (this is 3.11)" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main([str(tmp_path / "NoSuchFunction")], version=RUNTIME)
    assert "NoSuchFunction (run sam build first)" in capsys.readouterr().err
    assert main([str(tmp_path)], version=RUNTIME) == 0


def test_the_bytecode_is_for_the_template_runtime() -> None:
    runtime = load(ROOT / "template.yaml")["Globals"]["Function"]["Runtime"]
    assert runtime == "python{}.{}".format(*RUNTIME)


def function_environment(function: str, **extra: str) -> dict[str, str]:
    """What the function's process sees: the template's variables, its code and layer on the path."""
    template = Template.read(ROOT / "template.yaml", prefix="t")
    code = str(template.resources[function]["Properties"]["CodeUri"])
    return {
        **os.environ,
        **template.function_environment(function, "http://localhost"),
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in (code, "layers/shared")),
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "1",
        **extra,
    }


def test_the_api_import_leaves_the_openapi_models_to_the_route_that_needs_them() -> None:
    env = function_environment("ApiFunction")
    probe = (
        "import sys, api_function.handler as api, api_function.openapi as openapi\n"
        "print(sorted(m for m in ('aws_lambda_powertools.event_handler.openapi.models', 'pydantic_settings', "
        "'sklearn') if m in sys.modules))\n"
        "openapi.openapi_document(api.app)\n"
        "print('aws_lambda_powertools.event_handler.openapi.models' in sys.modules)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    assert run.stdout.split("\n")[:2] == ["[]", "True"]


def snapstart_functions() -> list[str]:
    resources = load(ROOT / "template.yaml")["Resources"]
    return sorted(
        name
        for name, resource in resources.items()
        if resource["Properties"].get("SnapStart", {}).get("ApplyOn") == "PublishedVersions"
        if resource["Type"] == "AWS::Serverless::Function"
    )


def test_the_latency_bound_functions_start_from_a_snapshot_of_a_published_version() -> None:
    resources = load(ROOT / "template.yaml")["Resources"]
    assert snapstart_functions() == ["AdminAuthorizerFunction", "ApiFunction", "ReviewerAuthorizerFunction"]
    for name in snapstart_functions():
        assert resources[name]["Properties"]["AutoPublishAlias"] == "live"  # API Gateway calls the version
    authorizers = resources["HttpApi"]["Properties"]["Auth"]["Authorizers"]
    assert authorizers["AdminKey"]["FunctionArn"] == {"Ref": "AdminAuthorizerFunction.Alias"}
    assert authorizers["ReviewerKey"]["FunctionArn"] == {"Ref": "ReviewerAuthorizerFunction.Alias"}


@pytest.mark.processes  # a Python process a function: make check leaves it out
@pytest.mark.parametrize("function", snapstart_functions())
def test_init_calls_nothing_a_snapshot_would_freeze(function: str) -> None:
    """A snapshot is taken after init and resumed many times: a connection, secret or id made at init
    would be shared by every restored environment. Init here makes no network call at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    port = listener.getsockname()[1]
    handler = load(ROOT / "template.yaml")["Resources"][function]["Properties"]["Handler"]
    package, _, _ = str(handler).rpartition(".")
    env = function_environment(
        function, AWS_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="x", AWS_SECRET_ACCESS_KEY="x"
    )
    try:
        run = subprocess.run(
            [sys.executable, "-c", f"import {package}"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert run.returncode == 0, run.stderr
        with pytest.raises(TimeoutError):
            listener.accept()  # nothing connected during init
    finally:
        listener.close()


def test_the_api_loads_with_the_collector_paused_and_leaves_its_init_frozen() -> None:
    handler = load(ROOT / "template.yaml")["Resources"]["ApiFunction"]["Properties"]["Handler"]
    module, _, function = str(handler).rpartition(".")
    env = function_environment("ApiFunction")
    probe = (
        "import gc, importlib\n"
        "collections = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'start' and collections.append(info['generation']))\n"
        f"entry = importlib.import_module({module!r})\n"
        f"assert callable(entry.{function})\n"
        "print(collections.count(2), gc.isenabled(), gc.get_freeze_count() > 10000)\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=True)
    # no full collection while it loaded; the collector back on; what init built frozen
    assert run.stdout.split() == ["0", "True", "True"]


def test_the_api_imports_without_its_environment_and_its_first_request_names_what_is_missing() -> None:
    """Settings are read on first use: the OpenAPI generator and tests import the API with no environment,
    and a function deployed without a variable fails its first request, naming the variable."""
    env = function_environment("ApiFunction")
    del env["COMMENTS_TABLE"]
    probe = (
        "from api_function.main import lambda_handler\n"
        "print('imported')\n"
        "class Context:\n"
        "    function_name, memory_limit_in_mb, aws_request_id = 'ApiFunction', 512, 'r'\n"
        "    invoked_function_arn = 'arn:aws:lambda:us-east-1:123456789012:function:ApiFunction'\n"
        "lambda_handler({'rawPath': '/health', 'requestContext': {'http': {'method': 'GET'}}}, Context())\n"
    )
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert run.stdout.split() == ["imported"]
    assert run.returncode != 0
    assert "ApiSettings\ncomments_table\n  Field required" in run.stderr


def functions() -> list[str]:
    resources = load(ROOT / "template.yaml")["Resources"]
    return sorted(name for name, resource in resources.items() if resource["Type"] == "AWS::Serverless::Function")


@pytest.mark.processes  # a Python process a function: make check leaves it out
@pytest.mark.parametrize("function", functions())
def test_every_function_imports_without_its_environment(function: str) -> None:
    """Every function builds its settings and stores on first use: its handler imports with none of the
    template's variables set (tests and tools import it so), and reads them when it is first called."""
    template = load(ROOT / "template.yaml")["Resources"][function]["Properties"]
    package, _, name = str(template["Handler"]).rpartition(".")
    env = {
        "PATH": os.environ["PATH"],
        "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in (str(template["CodeUri"]), "layers/shared")),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    probe = f"import {package} as module\nassert callable(module.{name})\n"
    run = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True, text=True, check=False)
    assert run.returncode == 0, run.stderr
