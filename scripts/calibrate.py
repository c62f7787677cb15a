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
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from defaults import DATA_DIR, model_spec
from emotion_sft.classifiers import (
    CALIBRATION_FILE,
    calibrate,
    check_replaceable,
    labelled_split,
    ours,
    save_calibration,
)
from emotion_sft.cli import UserError, run
from emotion_sft.report import plot_reliability

TASK_HELP = "task file (default: the one saved beside the model, else tasks/emotion.yaml)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, required=True, help="model folder: LoRA adapter, encoder or ensemble")
    parser.add_argument("--data", type=Path, help="labelled split to fit on (default: data/<task>_validation.json)")
    parser.add_argument("--task", type=Path, help=TASK_HELP)
    parser.add_argument("--recipe", type=Path, help="an LLM adapter's prompt settings (default: saved beside it)")
    args = parser.parse_args(argv)

    spec = model_spec(args.model, args.task, args.recipe)
    check_replaceable(args.model / CALIBRATION_FILE)
    diagram = args.model / "calibration.png"
    if diagram.exists() and not ours(args.model / CALIBRATION_FILE):
        raise UserError(f"{diagram}: exists and was not written by emotion-sft; not replaced (move it away first)")
    data = args.data or DATA_DIR / spec.task.data_file("validation")
    texts, gold = labelled_split(data, spec.task, every_label=True)
    print(f"{spec.describe()}\ndata: {data} ({len(texts)} rows)")

    model = spec.load(calibrated=False)
    start = time.perf_counter()
    probs = model.predict_proba(texts, progress=True)
    seconds = time.perf_counter() - start
    calibration, after = calibrate(probs, gold)
    path = save_calibration(args.model, {**calibration, "fitted_on": str(data), "made_with": "scripts/calibrate.py"})
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
