"""A label scorer built from a recipe: the task comes from the adapter or the caller, never a global list."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EMOTION
from emotion_sft.cli import UserError
from emotion_sft.fileio import DataError
from emotion_sft.label_scoring import LabelScorer, ScorerRecipe
from emotion_sft.task import Task

TICKETS = Task(
    name="tickets",
    labels=("billing", "tech_support", "not_spam"),
    instruction="Route this support ticket.",
)


def tickets_recipe(root: Path, model: str | Path, **extra: str) -> Path:
    """A predict recipe over the tickets task's test split, registered in root/dataset_info.json with and
    without the instruction (as the converter registers a task)."""
    columns = {"prompt": "instruction", "query": "input", "response": "output"}
    registry = {
        "tickets_test": {"file_name": "data/tickets_test.json", "formatting": "alpaca", "columns": columns},
        "tickets_test_text": {
            "file_name": "data/tickets_test.json",
            "formatting": "alpaca",
            "columns": {**columns, "prompt": None},
        },
    }
    (root / "dataset_info.json").write_text(json.dumps(registry))
    settings = {"model_name_or_path": str(model), "template": "smollm2", "default_system": '""', "dataset_dir": "."}
    settings |= {"eval_dataset": "tickets_test_text", **extra}
    recipe = root / "predict.yaml"
    recipe.write_text("".join(f"{key}: {value}\n" for key, value in settings.items()))
    return recipe


@pytest.fixture
def folders(tmp_path: Path) -> dict[str, Path]:
    """A 'model' and an 'adapter' folder (no weights: nothing here loads) and a recipe naming both, relative."""
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "adapter").mkdir()
    (tmp_path / "adapter" / "adapter_config.json").write_text("{}")
    recipe = tickets_recipe(tmp_path, "model", adapter_name_or_path="adapter")
    return {"root": tmp_path, "recipe": recipe, "adapter": tmp_path / "adapter"}


def test_a_recipes_paths_start_at_root_and_the_adapters_task_is_used(folders):
    root, adapter = folders["root"], folders["adapter"]
    TICKETS.save(adapter)
    spec = ScorerRecipe.read(folders["recipe"], root=root, default_task=EMOTION)
    assert (spec.model, spec.adapter, spec.template, spec.default_system) == (root / "model", adapter, "smollm2", "")
    assert spec.task.labels == TICKETS.labels and spec.instruction is False  # the `_text` dataset
    assert "task: tickets (3 labels: billing, tech_support, not_spam)" in spec.describe()
    assert ScorerRecipe.read(folders["recipe"], root=root, task=TICKETS).task.labels == TICKETS.labels
    # an explicit task of other labels is refused, naming the adapter's task file and its labels
    with pytest.raises(DataError, match="trained on the labels billing, tech_support, not_spam"):
        ScorerRecipe.read(folders["recipe"], root=root, task=EMOTION)
    # the base model alone: the given task, the adapter's is not read
    base = ScorerRecipe.read(folders["recipe"], root=root, task=EMOTION, adapter=False)
    assert base.adapter is None and base.task == EMOTION


def test_an_adapter_saved_without_a_task_takes_the_given_then_the_default(folders):
    root = folders["root"]
    assert ScorerRecipe.read(folders["recipe"], root=root, task=TICKETS, default_task=EMOTION).task == TICKETS
    assert ScorerRecipe.read(folders["recipe"], root=root, default_task=EMOTION).task == EMOTION
    with pytest.raises(UserError, match="no task saved beside it"):
        ScorerRecipe.read(folders["recipe"], root=root)


def test_overrides_act_as_on_the_llamafactory_command_line(folders):
    root = folders["root"]
    overrides = {"eval_dataset": "tickets_test", "adapter_name_or_path": None}
    spec = ScorerRecipe.read(folders["recipe"], root=root, task=TICKETS, overrides=overrides)
    assert spec.instruction is True and spec.adapter is None
    with pytest.raises(DataError, match="no dataset 'emotion_test' registered"):
        ScorerRecipe.read(folders["recipe"], root=root, task=TICKETS, overrides={"eval_dataset": "emotion_test"})


@pytest.mark.slow
@pytest.mark.parametrize("dataset", ["tickets_test_text", "tickets_test"])
def test_a_scorer_for_a_made_up_task_scores_exactly_its_labels(tiny_llama, tmp_path, dataset):
    import torch

    recipe = tickets_recipe(tmp_path, tiny_llama, eval_dataset=dataset)
    scorer = LabelScorer.from_recipe(recipe, root=tmp_path, task=TICKETS, dtype=torch.float32)
    assert scorer.labels == scorer.classes_ == TICKETS.labels and scorer.recipe.adapter is None
    texts = ["i was charged twice this month", "the app crashes when i log in", "win a free cruise now"]
    prompt = scorer.tokenizer.decode(scorer.prompt_ids(texts[0]))
    user = TICKETS.user_message(texts[0], instruction=dataset == "tickets_test")
    assert prompt == f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n"
    assert scorer.score(texts, progress=False).shape == (3, 3)
    for result in scorer.classify(texts, batch_size=2, progress=False):
        assert list(result["probs"]) == list(TICKETS.labels) and result["predict"] in TICKETS.labels
        assert sum(result["probs"].values()) == pytest.approx(1.0)
