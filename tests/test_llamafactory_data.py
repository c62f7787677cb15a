"""The registered datasets load through LLaMA-Factory's own data pipeline, tokenized with SmolLM2's template."""

from __future__ import annotations

import json

import pytest

from conftest import EMOTION, convert_sample

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("suffix", ["", "_text"])
def test_registry_loads_through_llamafactory_get_dataset(suffix, emotion_dir, smollm2_tokenizer_dir, tmp_path):
    from llamafactory.data import get_dataset, get_template_and_fix_tokenizer
    from llamafactory.hparams import get_train_args
    from llamafactory.model import load_tokenizer

    data_dir = tmp_path / "registry"
    convert_sample(emotion_dir, data_dir, 40, 12, 12)

    model_args, data_args, training_args, _, _ = get_train_args(
        {
            "model_name_or_path": str(smollm2_tokenizer_dir),
            "stage": "sft",
            "do_train": True,
            "finetuning_type": "lora",
            "template": "smollm2",
            "dataset_dir": str(data_dir),
            "dataset": f"emotion_train{suffix}",
            "eval_dataset": f"emotion_validation{suffix},emotion_test{suffix}",
            "eval_on_each_dataset": True,
            "cutoff_len": 256,
            "output_dir": str(tmp_path / "out"),
            "overwrite_cache": True,
            "preprocessing_num_workers": 1,
            "report_to": "none",
        }
    )
    tokenizer_module = load_tokenizer(model_args)
    tokenizer = tokenizer_module["tokenizer"]
    template = get_template_and_fix_tokenizer(tokenizer, data_args)
    module = get_dataset(template, model_args, data_args, training_args, stage="sft", **tokenizer_module)

    train, evals = module["train_dataset"], module["eval_dataset"]
    assert len(train) == 40
    assert {name: len(ds) for name, ds in evals.items()} == {f"emotion_{s}{suffix}": 12 for s in ("validation", "test")}
    records = json.loads((data_dir / "data" / "emotion_train.json").read_text())
    for row, record in zip(train, records, strict=True):
        prompt = tokenizer.decode(row["input_ids"])
        answer = tokenizer.decode([t for t, y in zip(row["input_ids"], row["labels"], strict=True) if y != -100])
        # User turn = the package's instruction, then the text (the text alone for the `_text` datasets),
        # exactly as Task.user_message builds it; the supervised part is the label alone.
        user = EMOTION.user_message(record["input"], instruction=not suffix)
        assert user.startswith(EMOTION.instruction) != bool(suffix)
        assert f"<|im_start|>user\n{user}<|im_end|>" in prompt
        assert answer.strip() == f"{record['output']}<|im_end|>"
        assert record["output"] in EMOTION.labels
