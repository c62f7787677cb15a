#!/usr/bin/env python
"""Fit a temperature on the validation split, so that a model's probabilities mean what they say.

    python scripts/calibrate.py --model saves/smollm2-135m/lora/sft
    python scripts/calibrate.py --model saves/minilm-l6/lora

MODEL: a LoRA adapter (llamafactory-cli train), an encoder (train_encoder_baseline.py) or an ensemble
(ensemble.py). Its probabilities of the validation split (data/<task>_validation.json) are computed once and a
temperature is fitted by scikit-learn (CalibratedClassifierCV over the frozen model, method="temperature").
Writes MODEL/calibration.json (the temperature, ECE and log loss before and after), which classify.py,
predict_split.py and ensemble.py apply, and MODEL/calibration.png (the reliability diagram). A temperature
changes no prediction, only the confidence.

--balance also chooses label offsets for macro F1 on the same split: the probabilities divided by the labels'
frequencies in the training split (data/<task>_train.json) raised to a power of 0, 0.1, ..., 1, the power with
the highest macro F1 kept (choose_balance). Offsets do change predictions: towards the rare labels.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from defaults import DATA_DIR, model_spec
from emotion_sft.classifiers import (
    CALIBRATION_FILE,
    OFFSETS,
    calibrate,
    check_replaceable,
    choose_balance,
    labelled_split,
    ours,
    save_calibration,
)
from emotion_sft.cli import UserError, run
from emotion_sft.report import markdown, plot_reliability

TASK_HELP = "task file (default: the one saved beside the model, else tasks/emotion.yaml)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model folder: LoRA adapter, encoder or ensemble")
    parser.add_argument("--data", type=Path, help="labelled split to fit on (default: data/<task>_validation.json)")
    parser.add_argument("--task", type=Path, help=TASK_HELP)
    parser.add_argument("--recipe", type=Path, help="an LLM adapter's prompt settings (default: saved beside it)")
    parser.add_argument("--balance", action="store_true", help="also choose label offsets for macro F1 (see above)")
    parser.add_argument("--train-data", type=Path, help="--balance's label counts (default: data/<task>_train.json)")
    args = parser.parse_args(argv)

    spec = model_spec(args.model, args.task, args.recipe)
    check_replaceable(args.model / CALIBRATION_FILE)
    diagram = args.model / "calibration.png"
    if diagram.exists() and not ours(args.model / CALIBRATION_FILE):
        raise UserError(f"{diagram}: exists and was not written by emotion-sft; not replaced (move it away first)")
    data = args.data or DATA_DIR / spec.task.data_file("validation")
    texts, gold = labelled_split(data, spec.task, every_label=True)
    if args.balance:  # read before the model loads: a missing or broken training split stops it here
        train = args.train_data or DATA_DIR / spec.task.data_file("train")
        counts = np.bincount(labelled_split(train, spec.task, every_label=True)[1], minlength=len(spec.task.labels))
    print(f"{spec.describe()}\ndata: {data} ({len(texts)} rows)")

    model = spec.load(calibrated=False)
    start = time.perf_counter()
    probs = model.predict_proba(texts, progress=True)
    seconds = time.perf_counter() - start
    calibration, after = calibrate(probs, gold)
    calibration.update(fitted_on=str(data), made_with="scripts/calibrate.py")
    if args.balance:
        table = choose_balance(after, gold, counts / counts.sum())
        best = table[0]
        calibration.update({"balance_power": best["power"], OFFSETS: best["offsets"], "priors_from": str(train),
                            "balance_tried": table})  # fmt: skip
        print(markdown(pd.DataFrame(sorted(table, key=lambda r: r["power"])).drop(columns="offsets")))
        none = next(row for row in table if row["power"] == 0.0)
        print(f"label offsets: power {best['power']:.1f}; macro F1 {none['macro_f1']:.4f} -> {best['macro_f1']:.4f}, "
              f"accuracy {none['accuracy']:.4f} -> {best['accuracy']:.4f}")  # fmt: skip
    path = save_calibration(args.model, calibration)
    correct = probs.argmax(axis=1) == gold
    plot_reliability(
        {
            f"{spec.kind} {args.model.name}, {data.name}": {
                "correct": correct,
                "confidence": after.max(axis=1),
                "uncalibrated": probs.max(axis=1),
            }
        },
        diagram,
    )
    print(
        f"scored {len(texts)} rows in {seconds:.1f} s; accuracy {calibration['accuracy']:.4f}\n"
        f"temperature {calibration['temperature']:.3f}: ECE {calibration['ece_before']:.4f} -> "
        f"{calibration['ece_after']:.4f}, log loss {calibration['log_loss_before']:.4f} -> "
        f"{calibration['log_loss_after']:.4f}\nwrote {path} and {args.model / 'calibration.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
