"""Every recipe in examples/ passes LLaMA-Factory's own argument parser; the paper recipe is the paper's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import EMOTION, REPO_ROOT
from emotion_sft.recipes import read_recipe, uses_instruction
from emotion_sft.task import SPLITS

EXAMPLES = REPO_ROOT / "examples"
TRAIN_RECIPES = sorted(p for p in EXAMPLES.glob("*.yaml"))
INFER_RECIPES = sorted([*EXAMPLES.glob("inference/*.yaml"), *EXAMPLES.glob("merge_lora/*.yaml")])


def load(path: Path) -> dict:
    return read_recipe(path)


def parse_train(recipe: dict):
    from llamafactory.hparams.parser import _parse_train_args

    # DeepSpeed needs the deepspeed package (GPU extra) at parse time; its config is checked on its own below.
    return _parse_train_args({k: v for k, v in recipe.items() if k != "deepspeed"})


def test_there_is_a_recipe_for_every_job():
    names = {p.relative_to(EXAMPLES).as_posix() for p in [*TRAIN_RECIPES, *INFER_RECIPES]}
    assert names >= {
        "llama3_lora_sft.yaml",
        "llama3_lora_predict.yaml",
        "llama3_qlora_sft.yaml",
        "llama3_lora_sft_ds.yaml",
        "smollm2_lora_sft.yaml",
        "smollm2_lora_predict.yaml",
        "merge_lora/llama3_lora_sft.yaml",
        "inference/llama3_lora_sft.yaml",
        "inference/smollm2_lora_sft.yaml",
    }


@pytest.mark.parametrize("path", TRAIN_RECIPES, ids=lambda p: p.name)
def test_train_and_predict_recipes_parse(path):
    recipe = load(path)
    model_args, data_args, training_args, finetuning_args, generating_args = parse_train(recipe)
    assert finetuning_args.stage == "sft" and finetuning_args.finetuning_type == "lora"
    assert data_args.dataset_dir == "." and (REPO_ROOT / data_args.dataset_dir / "dataset_info.json").is_file()
    registered = json.loads((REPO_ROOT / "dataset_info.json").read_text())
    for name in [*(data_args.dataset or []), *(data_args.eval_dataset or [])]:
        assert name in registered and name in [EMOTION.dataset_name(s, t) for s in SPLITS for t in (False, True)]
    if training_args.do_predict:
        assert data_args.eval_dataset in (["emotion_test"], ["emotion_test_text"])
        assert training_args.predict_with_generate
        assert generating_args.do_sample is False and generating_args.max_new_tokens <= 16
        assert model_args.adapter_name_or_path
    else:
        assert training_args.do_train and data_args.dataset in (["emotion_train"], ["emotion_train_text"])


@pytest.mark.parametrize("model", ["llama3", "smollm2"])
def test_predict_recipes_prompt_as_their_training_recipe(model):
    """The paper's recipes keep the seed's instruction; the CPU recipe sends the text alone; either way the
    predict recipe must build the user turn its adapter was trained on."""
    train, predict = load(EXAMPLES / f"{model}_lora_sft.yaml"), load(EXAMPLES / f"{model}_lora_predict.yaml")
    assert uses_instruction(train, REPO_ROOT) == uses_instruction(predict, REPO_ROOT) == (model == "llama3")
    assert train.get("default_system") == predict.get("default_system")


def test_paper_recipe_has_the_papers_hyperparameters():
    model_args, data_args, training_args, finetuning_args, _ = parse_train(load(EXAMPLES / "llama3_lora_sft.yaml"))
    assert model_args.model_name_or_path == "meta-llama/Meta-Llama-3-8B-Instruct"
    assert model_args.flash_attn == "fa2"
    assert data_args.template == "llama3" and data_args.cutoff_len == 512
    assert finetuning_args.lora_rank == 8 and finetuning_args.lora_target == ["all"]
    assert training_args.learning_rate == 5e-5
    assert training_args.per_device_train_batch_size == 5 and training_args.gradient_accumulation_steps == 4
    assert training_args.num_train_epochs == 3 and training_args.lr_scheduler_type == "cosine"
    assert training_args.fp16 and not training_args.bf16
    assert "adam" in str(training_args.optim).lower()
    assert data_args.eval_dataset == ["emotion_validation"]


def test_gpu_variants_change_only_what_they_say():
    paper = load(EXAMPLES / "llama3_lora_sft.yaml")
    qlora = load(EXAMPLES / "llama3_qlora_sft.yaml")
    ds = load(EXAMPLES / "llama3_lora_sft_ds.yaml")
    assert {k: v for k, v in qlora.items() if paper.get(k) != v} == {
        "quantization_bit": 4,
        "quantization_method": "bnb",
        "output_dir": "saves/llama3-8b/qlora/sft",
    }
    assert {k: v for k, v in ds.items() if paper.get(k) != v} == {
        "deepspeed": "examples/deepspeed/ds_z2_config.json",
        "gradient_accumulation_steps": 1,
        "output_dir": "saves/llama3-8b/lora/sft-ds",
    }
    assert ds["per_device_train_batch_size"] * ds["gradient_accumulation_steps"] * 4 == 20  # on 4 GPUs
    assert (REPO_ROOT / ds["deepspeed"]).is_file()


@pytest.mark.parametrize(("name", "stage"), [("ds_z2_config.json", 2), ("ds_z3_config.json", 3)])
def test_deepspeed_configs(name, stage):
    config = json.loads((EXAMPLES / "deepspeed" / name).read_text())
    assert config["zero_optimization"]["stage"] == stage
    # "auto" lets the HF Trainer fill batch sizes and precision from the recipe, so they cannot disagree.
    assert config["train_micro_batch_size_per_gpu"] == config["gradient_accumulation_steps"] == "auto"


@pytest.mark.parametrize("path", INFER_RECIPES, ids=lambda p: p.relative_to(EXAMPLES).as_posix())
def test_inference_and_merge_recipes_parse(path):
    from llamafactory.hparams.parser import _parse_infer_args

    model_args, data_args, finetuning_args, generating_args = _parse_infer_args(load(path))
    assert finetuning_args.finetuning_type == "lora" and model_args.adapter_name_or_path
    assert data_args.template in {"llama3", "smollm2"}
    if "merge_lora" in path.parts:
        assert model_args.export_dir


def test_cpu_default_train_and_predict_agree():
    """The prompt must be the same at training and prediction time."""
    train, predict = load(EXAMPLES / "smollm2_lora_sft.yaml"), load(EXAMPLES / "smollm2_lora_predict.yaml")
    for key in ("model_name_or_path", "template", "default_system", "cutoff_len", "dataset_dir"):
        assert train[key] == predict[key]
    assert predict["adapter_name_or_path"] == train["output_dir"]
    assert (
        load(EXAMPLES / "llama3_lora_predict.yaml")["adapter_name_or_path"]
        == load(EXAMPLES / "llama3_lora_sft.yaml")["output_dir"]
    )
