"""`make TARGET TASK=tasks/NAME.yaml`: the emotion recipes pointed at another task's datasets and saves, the task
file passed to every script, and, for the default emotion task, the commands of before tasks were files
(`make -n` prints the commands without running them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import EMOTION, REPO_ROOT, TICKETS, run_script
from emotion_sft.task import Task
from test_loopback import command, make_n

# make reads another task's name with $(VENV)/bin/python: the interpreter running these tests, when it is a venv's.
needs_venv = pytest.mark.skipif(
    not (Path(sys.prefix) / "bin" / "python").is_file(), reason=f"no {sys.prefix}/bin/python for make's VENV"
)

TARGETS = ["data", "train", "train-full", "predict", "eval", "label-scores", "encoder", "compare", "webui", "serve",
           "learning-curve", "bench"]  # fmt: skip

# The emotion task's commands as they were before tasks were files; the scripts now also get --task, their default.
TODAY = {
    "llamafactory-cli train examples/smollm2_lora_sft.yaml": ".venv/bin/llamafactory-cli train "
    "examples/smollm2_lora_sft.yaml",
    "examples/smollm2_lora_sft_full.yaml": ".venv/bin/llamafactory-cli train examples/smollm2_lora_sft_full.yaml",
    "examples/smollm2_lora_predict.yaml": ".venv/bin/llamafactory-cli train examples/smollm2_lora_predict.yaml "
    "adapter_name_or_path=saves/smollm2-135m/lora/sft output_dir=saves/smollm2-135m/lora/predict",
    "save_steps=": ".venv/bin/llamafactory-cli train examples/smollm2_lora_sft.yaml save_steps=250 "
    "output_dir=saves/smollm2-135m/lora/curve",
    "llamafactory-cli api": 'API_HOST=127.0.0.1 API_PORT=8000 API_KEY="$key" HF_HUB_OFFLINE=1 '
    ".venv/bin/llamafactory-cli api examples/inference/smollm2_lora_sft.yaml "
    "adapter_name_or_path=saves/smollm2-135m/lora/sft",
    "scripts/eval_accuracy.py saves/": ".venv/bin/python scripts/eval_accuracy.py "
    "saves/smollm2-135m/lora/predict/generated_predictions.jsonl --output-dir saves/smollm2-135m/lora/eval",
    "scripts/predict_label_scores.py": ".venv/bin/python scripts/predict_label_scores.py --adapter "
    "saves/smollm2-135m/lora/sft --output saves/smollm2-135m/lora/label_scores/predictions.jsonl",
    "scripts/train_encoder_baseline.py": ".venv/bin/python scripts/train_encoder_baseline.py --output-dir "
    "saves/minilm-l6/lora",
    "scripts/eval_accuracy.py $files": '.venv/bin/python scripts/eval_accuracy.py $files --names "${names#,}" '
    "--output-dir saves/compare",
    "scripts/learning_curve.py": ".venv/bin/python scripts/learning_curve.py saves/smollm2-135m/lora/curve "
    "--first-token",
    "scripts/webui.py": ".venv/bin/python scripts/webui.py --host 127.0.0.1 --port 7860",
    "scripts/bench.py": ".venv/bin/python scripts/bench.py",
}
SCRIPTS = ["eval_accuracy.py saves/", "predict_label_scores.py", "train_encoder_baseline.py", "eval_accuracy.py $files",
           "learning_curve.py", "webui.py", "bench.py"]  # fmt: skip


@pytest.fixture
def tickets(tmp_path) -> Path:
    path = tmp_path / "tickets.yaml"
    path.write_text(yaml.safe_dump(TICKETS))
    return path


def make_for(task: Path, *args: str, **env: str) -> str:
    """make -n with another task, as on a CPU with fast bf16 (the commands' precision: its own tests below)."""
    return make_n(*args, f"TASK={task}", f"VENV={sys.prefix}", "PRECISION=bf16", **env)


def test_emotion_commands_are_todays():
    output = make_n(*TARGETS, "PRECISION=bf16", EMOTION_DATA_DIR="/data/emotion")  # as on a CPU with fast bf16
    for program, today in TODAY.items():
        line = " ".join(command(output, program).split())  # continued lines joined with one space
        expected = today + (" --task tasks/emotion.yaml" if program.startswith("scripts/") else "")
        assert line.strip().endswith(expected), (program, line)  # no dataset or folder override added
    data = " ".join(command(output, "convert_dataset.py").split())  # convert_emotion.py: this with the emotion task
    assert data == (
        ".venv/bin/python scripts/convert_dataset.py --task tasks/emotion.yaml --source /data/emotion "
        "--output-dir data --dataset-info dataset_info.json"
    )
    assert "saves/emotion" not in output and "dataset=" not in output  # the recipes' own datasets and folders
    assert (
        ".venv/bin/python scripts/task_info.py tasks/emotion.yaml --save saves/smollm2-135m/lora/sft "
        "--recipe examples/smollm2_lora_sft.yaml\n"
    ) in output


def test_emotion_source_defaults_as_before(tmp_path):
    environment = {"EMOTION_DATA_DIR": ""}
    line = command(make_n("data", **environment), "convert_dataset.py")
    local = Path(__file__).resolve().parents[2] / "shared" / "data" / "emotion" / "train.txt"
    assert ("--source ../shared/data/emotion" if local.is_file() else "--source dair-ai/emotion") in line
    assert "--source mine" in command(make_n("data", "SOURCE=mine", **environment), "convert_dataset.py")


@needs_venv
def test_another_task_trains_and_scores_its_own_datasets(tickets):
    output = make_for(tickets, *TARGETS, "SOURCE=/data/tickets", EMOTION_DATA_DIR="/data/emotion")
    assert "emotion" not in output  # no emotion dataset, file or saves/ folder anywhere
    assert f"scripts/convert_dataset.py --task {tickets} --source /data/tickets --output-dir data" in output
    saves = "saves/tickets/smollm2-135m/lora"
    train = command(output, "llamafactory-cli train examples/smollm2_lora_sft.yaml dataset=")
    assert train.endswith(f"examples/smollm2_lora_sft.yaml dataset=tickets_train_text output_dir={saves}/sft")
    # the task and the training recipe's prompt settings (with the same overrides) beside the adapter
    assert (
        f"scripts/task_info.py {tickets} --save {saves}/sft --recipe examples/smollm2_lora_sft.yaml "
        f"dataset=tickets_train_text output_dir={saves}/sft"
    ) in output
    full = command(output, "smollm2_lora_sft_full.yaml")
    assert "dataset=tickets_train_text eval_dataset=tickets_validation_text" in full
    assert "output_dir=saves/tickets/smollm2-135m/lora-full/sft" in full
    predict = command(output, "smollm2_lora_predict.yaml")
    assert f"adapter_name_or_path={saves}/sft output_dir={saves}/predict eval_dataset=tickets_test_text" in predict
    curve = command(output, "save_steps=")
    assert f"output_dir={saves}/curve dataset=tickets_train_text" in curve
    for script in SCRIPTS:
        assert f"--task {tickets}" in command(output, f"scripts/{script}"), script
    for script in ("predict_label_scores.py", "learning_curve.py"):
        assert "--data data/tickets_test.json" in command(output, script)
    assert f"--output-dir {saves}/eval" in command(output, "eval_accuracy.py saves/")
    assert "--output-dir saves/tickets/minilm-l6/lora" in command(output, "train_encoder_baseline.py")
    assert "--output-dir saves/tickets/compare" in command(output, "eval_accuracy.py $files")
    assert "--output-dir saves/tickets/bench" in command(output, "bench.py")
    assert f"adapter_name_or_path={saves}/sft" in command(output, "llamafactory-cli api")
    assert f"classify_api.py --task {tickets}" in output  # make serve says how to classify with its labels


@needs_venv
def test_demo_passes_the_task_to_every_stage(tickets):
    output = make_for(tickets, "demo", "SOURCE=/data/tickets")
    assert f"convert_dataset.py --task {tickets} --source /data/tickets" in output
    assert "dataset=tickets_train_text" in output and "eval_dataset=tickets_test_text" in output
    assert f"--output-dir saves/tickets/smollm2-135m/lora/eval --task {tickets}" in output.replace("\\\n  ", "")
    assert "emotion" not in output


@needs_venv
def test_another_task_reads_its_own_source(tickets):
    line = command(make_for(tickets, "data", EMOTION_DATA_DIR="/data/emotion"), "convert_dataset.py")
    assert "--source" not in line  # the converter takes the task's `source`, or says to give one


@needs_venv
def test_make_names_a_task_file_it_cannot_read(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: tickets\nlabels: [billing]\ninstruction: Route it.\n")
    result = subprocess.run(
        ["make", "-n", "train", f"TASK={bad}", f"VENV={sys.prefix}"], cwd=REPO_ROOT, capture_output=True, text=True
    )
    assert result.returncode != 0
    assert f"error: {bad}: key 'labels'" in result.stderr and f"cannot read the name of task {bad}" in result.stderr


def test_task_info_prints_a_field_and_saves_the_task_beside_a_model(tickets, tmp_path):
    result = run_script("task_info.py", tickets, "name")
    assert result.returncode == 0 and result.stdout == "tickets\n", result.stderr
    assert run_script("task_info.py", "tasks/emotion.yaml", "source").stdout == "dair-ai/emotion\n"
    model = tmp_path / "sft"
    result = run_script("task_info.py", tickets, "--save", model)
    assert result.returncode == 1 and result.stderr == f"error: {model}: no such folder (train the model first)\n"
    model.mkdir()
    result = run_script("task_info.py", tickets, "--save", model)
    assert result.returncode == 0, result.stderr
    assert Task.load(model) == Task.load(tickets) and str(model / "task.yaml") in result.stdout
    assert run_script("task_info.py", "tasks/emotion.yaml", "--save", model).returncode == 0
    assert Task.load(model / "task.yaml") == EMOTION
    result = run_script("task_info.py", tickets)
    assert result.returncode == 2 and "give a field to print or --save DIR" in result.stderr
    # --recipe: the prompt settings the adapter was trained with, overrides applied, for classify.py
    recipe = "examples/smollm2_lora_sft.yaml"
    result = run_script("task_info.py", tickets, "--save", model, "--recipe", recipe, "dataset=tickets_train_text")
    assert result.returncode == 0, result.stderr
    saved = yaml.safe_load((model / "training_recipe.yaml").read_text())
    assert saved == {
        "model_name_or_path": "models/SmolLM2-135M-Instruct",
        "template": "smollm2",
        "default_system": "",
        "dataset": "tickets_train_text",
        "dataset_dir": ".",
        "cutoff_len": 128,
    }
    result = run_script("task_info.py", tickets, "--save", model, "--recipe", recipe, "dataset")
    assert result.returncode == 2 and "overrides are KEY=VALUE, got 'dataset'" in result.stderr


@needs_venv
def test_head_trains_smollm2_as_a_classifier_of_the_tasks_labels(tickets):
    emotion = " ".join(command(make_n("head", "PRECISION=bf16"), "train_encoder_baseline.py").split())
    assert "SmolLM2-135M-Instruct --output-dir saves/smollm2-135m/head --task tasks/emotion.yaml" in emotion
    assert emotion.endswith("--epochs 1 --batch-size 16 --learning-rate 5e-4 --lora-alpha 16 --bf16")
    own = " ".join(command(make_for(tickets, "head"), "train_encoder_baseline.py").split())
    assert f"--output-dir saves/tickets/smollm2-135m/head --task {tickets}" in own


@needs_venv
def test_the_full_recipes_curve_is_train_full_saving_checkpoints(tickets):
    output = make_n("learning-curve-full", "PRECISION=bf16")
    train = " ".join(command(output, "save_steps=").split())
    assert train.endswith(
        ".venv/bin/llamafactory-cli train examples/smollm2_lora_sft_full.yaml save_steps=250 "
        "output_dir=saves/smollm2-135m/lora-full/curve"
    )  # the recipe's own datasets, and not make learning-curve's folder
    curve = " ".join(command(output, "scripts/learning_curve.py").split())
    assert curve == (
        ".venv/bin/python scripts/learning_curve.py saves/smollm2-135m/lora-full/curve --first-token "
        "--task tasks/emotion.yaml"
    )
    other = make_for(tickets, "learning-curve-full", "SOURCE=/data/tickets", EMOTION_DATA_DIR="/data/emotion")
    assert "emotion" not in other
    assert " ".join(command(other, "save_steps=").split()).endswith(
        "save_steps=250 output_dir=saves/tickets/smollm2-135m/lora-full/curve dataset=tickets_train_text "
        "eval_dataset=tickets_validation_text"
    )
    assert command(other, "scripts/learning_curve.py").endswith(
        f"saves/tickets/smollm2-135m/lora-full/curve --first-token --task {tickets} --data data/tickets_test.json"
    )


# The llamafactory-cli commands of the CPU recipes (all say bf16: true), found by these strings in make -n's output.
CPU_RECIPE_COMMANDS = ["llamafactory-cli train examples/smollm2_lora_sft.yaml", "smollm2_lora_sft_full.yaml",
                       "smollm2_lora_predict.yaml", "save_steps="]  # fmt: skip


@needs_venv
def test_a_cpu_without_fast_bf16_runs_the_recipes_in_fp32():
    fp32 = make_n("train", "train-full", "predict", "learning-curve", "head", "PRECISION=fp32")
    for program in CPU_RECIPE_COMMANDS:
        assert command(fp32, program).split()[-1] == "bf16=false", program
    assert "--bf16" not in command(fp32, "train_encoder_baseline.py")
    assert fp32.count("precision: fp32 (this CPU has no fast bf16") == 4  # train, train-full, predict, curve
    assert fp32.count("precision: fp32 (where make head trains") == 1  # its device may be a GPU without bf16
    assert "precision: fp32" not in make_n("head", "PRECISION=bf16")
    bf16 = make_n("train", "train-full", "predict", "learning-curve", "PRECISION=bf16")
    assert "bf16=false" not in bf16 and "precision: fp32" not in bf16
    full_curve = make_n("learning-curve-full", "PRECISION=fp32")
    assert command(full_curve, "save_steps=").split()[-1] == "bf16=false"
    assert "precision: fp32 (this CPU has no fast bf16" in full_curve
    assert "bf16=false" not in make_n("learning-curve-full", "PRECISION=bf16")
    # auto, the default, is what this machine's CPU can do, as emotion_sft.precision prints it
    here = subprocess.run([sys.executable, "-m", "emotion_sft.precision"], capture_output=True, text=True).stdout
    assert here.strip() in ("bf16", "fp32")
    assert ("bf16=false" in command(make_n("train", f"VENV={sys.prefix}"), "smollm2_lora_sft.yaml")) == (
        here.strip() == "fp32"
    )


def test_an_unknown_precision_is_one_line():
    result = subprocess.run(["make", "-n", "train", "PRECISION=fp16"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert result.returncode != 0 and "PRECISION=fp16: give auto, bf16 or fp32." in result.stderr
