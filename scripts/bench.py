#!/usr/bin/env python
"""Benchmark training and scoring on this machine; print a markdown table and write JSON.

    python scripts/bench.py                 # ~20 min on 2 cores: 320 training rows, the full test split
    python scripts/bench.py --quick         # a few rows of each, ~3 min (CI runs this)

Sections, each measured in this one run on the same model and rows, so their ratios compare:
1. LoRA SFT through `llamafactory-cli train`: a naive LLaMA-Factory run (fp32, the template's default
   system prompt, the seed's instruction, batch 5 x 4) and then the CPU recipe's levers one by one, ending
   with the recipe itself. On a CPU without fast bf16 (AVX2 only) every run is fp32 and bf16 is no lever.
2. Test-split classification: `do_predict` with generation against label scoring, with both accuracies,
   and the compute ceiling: the rate at which this machine's best matrix product (bf16, or fp32 on a CPU
   without fast bf16) could run the tokens every scorer must process.
3. The encoder baseline's training and prediction throughput.
4. On a CUDA machine only: SmolLM2 LoRA SFT in bf16 with SDPA (and FlashAttention-2 if installed), with
   tokens/s and model FLOPs utilisation.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import re
import sys
import time
from pathlib import Path

from defaults import MODELS_DIR, REPO_ROOT, SAVES_DIR, TASK_FILE
from emotion_sft.bench import (
    GPU_PEAK_FLOPS,
    TrainConfig,
    cpu_configs,
    llamafactory,
    machine,
    markdown_table,
    matmul_flops,
)
from emotion_sft.cli import UserError, output_dir, positive_int, run
from emotion_sft.converter import read_alpaca
from emotion_sft.fileio import dumps_json, write_text_atomic
from emotion_sft.precision import cpu_bf16, cpu_dtype
from emotion_sft.predictions import read_predictions
from emotion_sft.task import SPLITS, Task

SFT_RECIPE = REPO_ROOT / "examples" / "smollm2_lora_sft.yaml"
PREDICT_RECIPE = REPO_ROOT / "examples" / "smollm2_lora_predict.yaml"
# Overrides every training measurement shares: the same rows, no checkpoints or plots, token counting on.
COMMON = {
    "num_train_epochs": 1,
    "logging_steps": 1000,
    "save_steps": 100000,
    "plot_loss": "false",
    "overwrite_output_dir": "true",
    "include_num_input_tokens_seen": "non_padding",
}


def train_section(configs: list[TrainConfig], args, extra: dict | None = None) -> list[dict]:
    rows = []
    for config in configs:
        name = re.sub(r"[^a-z0-9]+", "-", config.name.lower()).strip("-")
        overrides = {
            **COMMON,
            "model_name_or_path": args.model,
            "dataset_dir": args.dataset_dir,
            "max_samples": args.train_rows,
            "output_dir": args.output_dir / "train" / name,
            "dataset": args.task.dataset_name("train", text_only=True),  # the recipe's, for the bench's task
            **config.overrides,
            **(extra or {}),
        }
        print(f"[bench] train: {config.name} ({config.change})", flush=True)
        result = llamafactory(SFT_RECIPE, overrides, args.output_dir / "logs" / f"train-{name}.log", REPO_ROOT)
        runtime = result["train_runtime"]
        rows.append(
            {
                "config": config.name,
                "change": config.change,
                "samples": args.train_rows,
                "samples_per_s": args.train_rows / runtime,
                "tokens_per_s": (result.get("num_input_tokens_seen") or 0) / runtime,
                "tokens_per_sample": (result.get("num_input_tokens_seen") or 0) / args.train_rows,
                "peak_rss_gb": result["peak_rss_gb"],
                "train_runtime_s": runtime,
                "adapter": str(overrides["output_dir"]),
            }
        )
        rows[-1]["speedup"] = rows[-1]["samples_per_s"] / rows[0]["samples_per_s"]
        print(f"[bench]   {rows[-1]['samples_per_s']:.2f} samples/s, {rows[-1]['speedup']:.2f}x", flush=True)
    return rows


def scoring_section(args, adapter: Path) -> list[dict]:
    from emotion_sft.label_scoring import LabelScorer

    test = read_alpaca(args.dataset_dir / "data" / args.task.data_file("test"))[: args.test_rows]
    n = len(test)
    print(f"[bench] scoring {n} test rows with {adapter}: do_predict (generation)", flush=True)
    out = args.output_dir / "predict"
    # The predict recipe as llamafactory-cli runs it, and the label scorer reads it, on the bench's task.
    overrides = {
        "model_name_or_path": args.model,
        "adapter_name_or_path": adapter,
        "dataset_dir": args.dataset_dir,
        "eval_dataset": args.task.dataset_name("test", text_only=True),
    }
    result = llamafactory(
        PREDICT_RECIPE,
        {**overrides, "max_samples": n, "output_dir": out},
        args.output_dir / "logs" / "predict.log",
        REPO_ROOT,
    )
    predictions = read_predictions(out / "generated_predictions.jsonl", args.task)
    rows = [
        {
            "method": "do_predict (generation)",
            "rows": n,
            "samples_per_s": n / result["predict_runtime"],
            "accuracy": float((predictions["pred"] == predictions["gold"]).mean()),
        }
    ]
    whole = LabelScorer.from_recipe(
        PREDICT_RECIPE, root=REPO_ROOT, task=args.task, overrides=overrides, dtype=cpu_dtype()
    )
    first = dataclasses.replace(whole, first_token=True)  # the same loaded model, scored differently
    for scorer, method in [(whole, "label scoring (whole label)"), (first, "label scoring (first token)")]:
        print(f"[bench] {method}", flush=True)
        start = time.perf_counter()
        results = scorer.classify([r["input"] for r in test], progress=False)
        seconds = time.perf_counter() - start
        correct = sum(r["predict"] == t["output"] for r, t in zip(results, test, strict=True))
        rows.append({"method": method, "rows": n, "samples_per_s": n / seconds, "accuracy": correct / n})
    rows.append(compute_ceiling(first, [r["input"] for r in test]))
    for row in rows:
        row["speedup"] = row["samples_per_s"] / rows[0]["samples_per_s"]
    return rows


def compute_ceiling(scorer, texts: list[str]) -> dict:
    """The fastest any scorer of this model could run here: FLOPs it cannot avoid at the machine's peak.

    Each row must run every token after the shared prefix through the model once (2 FLOPs per weight per
    token, embeddings excluded); the rate is the best matrix product of the model's MLP shape in the dtype
    the scorer runs in here (bf16, or fp32 on a CPU without fast bf16).
    """
    tokens = sum(len(scorer.prompt_ids(t)) - len(scorer.prefix) for t in texts) / len(texts)
    params = sum(p.numel() for name, p in scorer.model.named_parameters() if "embed" not in name)
    config = scorer.model.config
    dtype = cpu_dtype()
    rate = matmul_flops(32 * round(tokens), config.hidden_size, config.intermediate_size, dtype)
    name = str(dtype).removeprefix("torch.")
    print(f"[bench] {name} matmul peak {rate / 1e9:.0f} GFLOP/s; {tokens:.1f} tokens/row after the prefix", flush=True)
    return {
        "method": f"compute ceiling: {tokens:.1f} tokens/row x {params / 1e6:.0f}M weights at {rate / 1e9:.0f} GFLOP/s",
        "rows": len(texts),
        "samples_per_s": rate / (2 * params * tokens),
        "accuracy": None,
    }


def encoder_section(args) -> list[dict]:
    from emotion_sft.encoder import EncoderClassifier, EncoderConfig, train

    rows, data = args.encoder_rows, args.dataset_dir / "data"
    config = EncoderConfig(epochs=1, max_train_samples=rows, max_eval_samples=min(rows, 2000))
    print(f"[bench] encoder: train on {rows} rows, predict {args.test_rows} test rows", flush=True)
    metrics = train(config, data, args.output_dir / "encoder", args.task)
    classifier = EncoderClassifier(args.output_dir / "encoder", args.task)
    texts = [r["input"] for r in read_alpaca(data / args.task.data_file("test"))[: args.test_rows]]
    start = time.perf_counter()
    classifier.predict(texts)
    seconds = time.perf_counter() - start
    return [
        {"stage": "train", "rows": rows, "samples_per_s": metrics["train_samples_per_second"]},
        {"stage": "predict", "rows": len(texts), "samples_per_s": len(texts) / seconds},
    ]


def gpu_section(args) -> list[dict]:
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    if not torch.cuda.is_available():
        print("[bench] GPU section skipped: no CUDA device", flush=True)
        return []
    name = torch.cuda.get_device_name(0)
    peak = next((flops for key, flops in GPU_PEAK_FLOPS.items() if key in name), None)
    with torch.device("meta"):
        params = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(args.model)).num_parameters()
    kernels = ["sdpa"] + (["fa2"] if importlib.util.find_spec("flash_attn") else [])
    configs = [TrainConfig(f"GPU bf16 {k}", f"{name}, attention {k}", {"flash_attn": k}) for k in kernels]
    gpu = {"use_cpu": "false", "bf16": "true", "per_device_train_batch_size": 32, "dataloader_num_workers": 2}
    rows = train_section(configs, args, gpu)
    for row in rows:  # LoRA: forward 2N + backward through activations 2N FLOPs per token (frozen weights)
        row["mfu"] = 4 * params * row["tokens_per_s"] / peak if peak else None
    return rows


SECTIONS = ("train", "scoring", "encoder", "gpu")


def sections_type(value: str) -> set[str]:
    """argparse type: a comma-separated, non-empty subset of SECTIONS."""
    sections = {name.strip() for name in value.split(",") if name.strip()}
    unknown = sorted(sections - set(SECTIONS))
    if unknown or not sections:
        raise argparse.ArgumentTypeError(f"{value!r}: give one or more of {', '.join(SECTIONS)} (comma-separated)")
    return sections


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a few rows per section, for CI")
    parser.add_argument("--model", type=Path, default=MODELS_DIR / "SmolLM2-135M-Instruct")
    parser.add_argument(
        "--adapter",
        type=Path,
        default=SAVES_DIR / "smollm2-135m" / "lora" / "sft",
        help="adapter to score (default: make train's; else the bench's own, trained on --train-rows)",
    )
    parser.add_argument("--dataset-dir", type=Path, default=REPO_ROOT, help="folder with dataset_info.json")
    parser.add_argument("--task", type=Path, default=TASK_FILE, help="task file (default: tasks/emotion.yaml)")
    parser.add_argument("--output-dir", type=output_dir, default=SAVES_DIR / "bench")
    parser.add_argument("--train-rows", type=positive_int, help="rows per training measurement (default 320; quick 20)")
    parser.add_argument("--test-rows", type=positive_int, help="test rows scored (default all 2,000; quick 16)")
    parser.add_argument("--encoder-rows", type=positive_int, help="encoder training rows (default 1,024; quick 64)")
    parser.add_argument("--sections", type=sections_type, default="train,scoring,encoder,gpu", help="(default: all)")
    args = parser.parse_args(argv)
    args.train_rows = args.train_rows or (20 if args.quick else 320)
    args.test_rows = args.test_rows or (16 if args.quick else 2000)
    args.encoder_rows = args.encoder_rows or (64 if args.quick else 1024)
    sections = args.sections
    # Everything a section needs is checked before the first one runs (they take minutes each).
    args.task = Task.load(args.task)
    needed = [(args.model / "config.json", "make model"), (args.dataset_dir / "dataset_info.json", "make data")]
    if sections & {"scoring", "encoder"}:
        needed.append((args.dataset_dir / "data" / args.task.data_file("test"), "make data"))
    if "encoder" in sections:
        needed += [(args.dataset_dir / "data" / args.task.data_file(split), "make data") for split in SPLITS[:2]]
    for path, what in needed:
        if not path.is_file():
            raise UserError(f"{path} not found: run `{what}` first")
    if "scoring" in sections and "train" not in sections and not (args.adapter / "adapter_config.json").is_file():
        raise UserError(f"no adapter at {args.adapter}: run make train, or include the train section")

    report = {"machine": machine(), "quick": args.quick, "model": str(args.model), "task": args.task.name}
    print(f"[bench] {report['machine']}", flush=True)
    if "train" in sections:
        report["train"] = train_section(cpu_configs(args.task, bf16=cpu_bf16()), args)
    if "scoring" in sections:
        adapter = args.adapter
        if not (adapter / "adapter_config.json").is_file():  # checked above: the train section ran
            adapter = Path(report["train"][-1]["adapter"])
            print(f"[bench] {args.adapter} has no adapter; scoring the bench's own ({adapter})", flush=True)
        report["scoring_adapter"] = str(adapter)
        report["scoring"] = scoring_section(args, adapter)
    if "encoder" in sections:
        report["encoder"] = encoder_section(args)
    if "gpu" in sections:
        report["gpu"] = gpu_section(args)

    text = render(report)
    write_text_atomic(args.output_dir / "bench.json", dumps_json(report))
    write_text_atomic(args.output_dir / "bench.md", text)
    print(text)
    print(f"\nwrote {args.output_dir / 'bench.md'} and {args.output_dir / 'bench.json'}")
    return 0


def render(report: dict) -> str:
    m = report["machine"]
    parts = [
        f"Measured {m['date']} on {m['cpu']} ({m['cores']} cores, {m['memory_gb']} GB"
        + (f", {m['gpu']}" if m["gpu"] else ", no GPU")
        + f"), torch {m['torch']} with {m['threads']} threads, "
        + ("bf16 on the CPU" if m.get("cpu_bf16", True) else "fp32 on the CPU (no fast bf16: AVX2 only)")
        + (" (quick mode: a few rows, not for quoting)" if report["quick"] else "")
        + "."
    ]
    if report.get("train"):
        parts.append(
            f"\n**LoRA SFT** ({report['train'][0]['samples']} training rows each, `llamafactory-cli train`):\n\n"
            + markdown_table(
                report["train"],
                {
                    "config": "config",
                    "change": "what changes",
                    "samples_per_s": "samples/s",
                    "tokens_per_s": "tokens/s",
                    "tokens_per_sample": "tokens/sample",
                    "peak_rss_gb": "peak RSS (GB)",
                    "speedup": "vs naive",
                },
            )
        )
    if report.get("scoring"):
        parts.append(
            f"\n**Classifying the test split** (adapter `{report['scoring_adapter']}`):\n\n"
            + markdown_table(
                report["scoring"],
                {
                    "method": "method",
                    "rows": "rows",
                    "samples_per_s": "samples/s",
                    "accuracy": "accuracy",
                    "speedup": "vs do_predict",
                },
            )
        )
    if report.get("encoder"):
        parts.append(
            "\n**Encoder baseline** (all-MiniLM-L6-v2 + LoRA):\n\n"
            + markdown_table(report["encoder"], {"stage": "stage", "rows": "rows", "samples_per_s": "samples/s"})
        )
    if "gpu" in report:
        parts.append(
            "\n**GPU**: skipped, no CUDA device."
            if not report["gpu"]
            else "\n**GPU** LoRA SFT:\n\n"
            + markdown_table(
                report["gpu"],
                {
                    "config": "config",
                    "samples_per_s": "samples/s",
                    "tokens_per_s": "tokens/s",
                    "peak_rss_gb": "peak host RSS (GB)",
                    "mfu": "MFU",
                },
            )
        )
    return "\n".join(parts) + "\n"


if __name__ == "__main__":
    sys.exit(run(main))
