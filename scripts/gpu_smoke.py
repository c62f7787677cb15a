#!/usr/bin/env python
"""The paper recipe on a GPU, in minutes: its exact method and training settings on the embedded SmolLM2-135M.

    python scripts/gpu_smoke.py            # make gpu-smoke

Runs examples/llama3_lora_sft.yaml as written (LoRA rank 8 on all linear layers, lr 5e-5, batch 5 x 4,
cosine, fp16, FlashAttention-2) with only the model, template and length changed: SmolLM2-135M-Instruct
for --steps optimizer steps (a whole cosine schedule over steps x 20 rows). Then llama3_lora_predict.yaml
on --predict-rows test rows and scripts/eval_accuracy.py. Prints samples/s, trained tokens/s, peak GPU
memory, model FLOPs utilisation, final loss and accuracy; writes OUTPUT_DIR/gpu_smoke.{json,md}. Fails if a
logged loss is not finite. Without flash-attn it says so and runs `sdpa`; without CUDA it stops at once.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

from defaults import MODELS_DIR, REPO_ROOT, SAVES_DIR
from emotion_sft.bench import gpu_smoke_overrides, llamafactory, lora_mfu, markdown_table
from emotion_sft.cli import UserError, output_dir, positive_int, run
from emotion_sft.converter import read_registry
from emotion_sft.fileio import dumps_json, write_text_atomic
from emotion_sft.recipes import read_recipe

TRAIN_RECIPE = REPO_ROOT / "examples" / "llama3_lora_sft.yaml"
PREDICT_RECIPE = REPO_ROOT / "examples" / "llama3_lora_predict.yaml"
COLUMNS = {
    "gpu": "GPU",
    "attention": "attention",
    "samples_per_s": "samples/s",
    "tokens_per_s": "trained tokens/s",
    "peak_gpu_gb": "peak GPU memory (GB)",
    "mfu": "MFU",
    "final_loss": "final loss",
    "accuracy": "accuracy",
    "rows": "test rows",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "SmolLM2-135M-Instruct")
    parser.add_argument("--steps", type=positive_int, default=50, help="optimizer steps (default: %(default)s)")
    parser.add_argument("--predict-rows", type=positive_int, default=200, help="test rows (default: %(default)s)")
    parser.add_argument("--attention", choices=["auto", "fa2", "sdpa"], default="auto", help="auto: fa2 if installed")
    parser.add_argument("--output-dir", type=output_dir, default=SAVES_DIR / "gpu-smoke")
    parser.add_argument("--check", action="store_true", help="only check that there is a CUDA GPU")
    args = parser.parse_args(argv)

    import torch

    if not torch.cuda.is_available():
        raise UserError("no CUDA GPU (torch.cuda.is_available() is False): gpu-smoke runs the paper recipe on a GPU")
    if args.check:
        return 0
    if not (args.model / "config.json").is_file():
        raise UserError(f"{args.model}: no model folder; run `make model` first")
    if (
        "emotion_train" not in read_registry(REPO_ROOT / "dataset_info.json")
        or not (REPO_ROOT / "data" / "emotion_train.json").is_file()
    ):
        raise UserError("data/emotion_train.json missing; run `make data` first")
    attention = args.attention
    if attention == "auto":
        attention = "fa2" if importlib.util.find_spec("flash_attn") else "sdpa"
    if attention == "sdpa" and args.attention == "auto":
        print(
            "\n" + "!" * 100 + "\n!! flash-attn is NOT installed: running with `sdpa`, NOT FlashAttention-2. "
            "`make setup-gpu` builds it.\n" + "!" * 100 + "\n",
            file=sys.stderr,
            flush=True,
        )
    gpu = torch.cuda.get_device_name(0)
    recipe = read_recipe(TRAIN_RECIPE)
    out = args.output_dir
    overrides = gpu_smoke_overrides(recipe, args.model, args.steps, attention, out / "sft")
    print(
        f"gpu: {gpu}\nrecipe: {TRAIN_RECIPE.relative_to(REPO_ROOT)} (lr {recipe['learning_rate']}, batch "
        f"{recipe['per_device_train_batch_size']} x {recipe['gradient_accumulation_steps']}, "
        f"{recipe['lr_scheduler_type']}, fp16 {recipe.get('fp16')}, LoRA rank {recipe['lora_rank']} on "
        f"{recipe['lora_target']})\nmodel: {args.model}, attention: {attention}, {args.steps} steps "
        f"({overrides['max_samples']} rows)\nlogs: {out / 'logs'}",
        flush=True,
    )

    train = llamafactory(TRAIN_RECIPE, overrides, out / "logs" / "train.log", REPO_ROOT)
    history = json.loads((out / "sft" / "trainer_state.json").read_text())["log_history"]
    losses = [entry["loss"] for entry in history if "loss" in entry]
    bad = [i + 1 for i, loss in enumerate(losses) if not math.isfinite(loss)]
    if not losses or bad:
        raise UserError(f"loss not finite at logged step(s) {bad[:10]} of {len(losses)}: see {out / 'logs'}")
    runtime = train["train_runtime"]
    from transformers import AutoConfig, AutoModelForCausalLM

    with torch.device("meta"):
        params = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model)).num_parameters()
    tokens_per_s = (train.get("num_input_tokens_seen") or 0) / runtime

    predict = {
        "model_name_or_path": args.model,
        "adapter_name_or_path": out / "sft",
        "template": "smollm2",
        "flash_attn": attention,
        "max_samples": args.predict_rows,
        "output_dir": out / "predict",
    }
    llamafactory(PREDICT_RECIPE, predict, out / "logs" / "predict.log", REPO_ROOT)
    scored = subprocess.run(
        [sys.executable, REPO_ROOT / "scripts" / "eval_accuracy.py", out / "predict" / "generated_predictions.jsonl",
         "--output-dir", out / "eval"],
        capture_output=True, text=True,
    )  # fmt: skip
    if scored.returncode != 0:
        raise UserError(f"eval_accuracy.py failed: {scored.stderr.strip()}")
    metrics = json.loads((out / "eval" / "metrics.json").read_text())

    row = {
        "gpu": gpu,
        "attention": attention,
        "samples_per_s": overrides["max_samples"] / runtime,
        "tokens_per_s": tokens_per_s,
        "peak_gpu_gb": train.get("peak_gpu_gb"),
        "mfu": lora_mfu(params, tokens_per_s, gpu),
        "final_loss": losses[-1],
        "accuracy": metrics["accuracy"],
        "rows": metrics["n"],
        "steps": args.steps,
        "train_runtime_s": runtime,
        "losses": losses,
    }
    table = markdown_table([{**row, "mfu": f"{row['mfu']:.1%}" if row["mfu"] else None}], COLUMNS)
    out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out / "gpu_smoke.json", dumps_json(row))
    write_text_atomic(out / "gpu_smoke.md", table + "\n")
    print(f"\n{table}\n\nfirst/last loss {losses[0]:.3f} / {losses[-1]:.3f}; wrote {out / 'gpu_smoke.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
