#!/usr/bin/env python
"""Average two models' calibrated probabilities, with the weight chosen on the validation split.

    python scripts/ensemble.py --members saves/smollm2-135m/lora/sft saves/minilm-l6/lora \
        --output-dir saves/smollm2-135m/lora/ensemble

Each member (a LoRA adapter, an encoder or another ensemble) is calibrated first: its saved temperature, or one
fitted here on the validation split and saved beside it (as calibrate.py does). The ensemble predicts
w * p_first + (1 - w) * p_second; w is the one of 0, 0.05, ..., 1 with the lowest validation log loss (a
smoother criterion than accuracy, which differs by a few rows between weights: see choose_weight). Writes
OUTPUT/ensemble.json (the members, relative to OUTPUT, their weights and temperatures, and every weight's
validation figures) and the ensemble's own temperature (OUTPUT/calibration.json, calibration.png).
classify.py, predict_split.py and calibrate.py take OUTPUT as a model: `make ensemble` writes $(SAVES)/ensemble.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from defaults import DATA_DIR, model_spec
from emotion_sft.classifiers import (
    CALIBRATION_FILE,
    ENSEMBLE_FILE,
    calibrate,
    check_replaceable,
    choose_weight,
    combine,
    labelled_split,
    save_calibration,
    save_ensemble,
    scale,
)
from emotion_sft.cli import UserError, output_dir, run
from emotion_sft.report import markdown, plot_reliability


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=Path, nargs=2, required=True, metavar="MODEL", help="two model folders")
    parser.add_argument("--output-dir", type=output_dir, required=True, help="the ensemble's folder")
    parser.add_argument("--data", type=Path, help="labelled split to choose on (default: data/<task>_validation.json)")
    parser.add_argument("--task", type=Path, help="task file (default: the one saved beside the members)")
    args = parser.parse_args(argv)

    if args.members[0].resolve() == args.members[1].resolve():
        parser.error("--members: give two different models")
    specs = [model_spec(member, args.task) for member in args.members]
    if specs[0].task.labels != specs[1].task.labels:
        raise UserError(f"{args.members[0]} and {args.members[1]} were trained on different labels")
    task = specs[0].task
    out = args.output_dir
    if out.resolve() in {m.resolve() for m in args.members}:
        parser.error("--output-dir: give a new folder, not a member's")
    uncalibrated = [m / CALIBRATION_FILE for m, spec in zip(args.members, specs, strict=True) if not spec.calibration]
    for path in [out / ENSEMBLE_FILE, out / CALIBRATION_FILE, *uncalibrated]:  # the files written below
        check_replaceable(path)
    if out.is_dir() and any(out.iterdir()) and not (out / ENSEMBLE_FILE).is_file():
        raise UserError(f"{out}: a folder with other files in it; give a new or empty folder")
    data = args.data or DATA_DIR / task.data_file("validation")
    texts, gold = labelled_split(data, task, every_label=True)
    print(f"data: {data} ({len(texts)} rows)")

    calibrated = []
    for member, spec in zip(args.members, specs, strict=True):
        print(spec.describe())
        probs = spec.load(calibrated=False).predict_proba(texts, progress=True)
        if spec.calibration:
            temperature = float(spec.calibration["temperature"])
            print(f"{member}: its saved temperature {temperature:.3f}")
        else:
            calibration, _ = calibrate(probs, gold)
            save_calibration(member, {**calibration, "fitted_on": str(data), "made_with": "scripts/ensemble.py"})
            temperature = calibration["temperature"]
            print(f"{member}: fitted temperature {temperature:.3f}, saved in {member / CALIBRATION_FILE}")
        calibrated.append(scale(probs, temperature))

    table = choose_weight(calibrated[0], calibrated[1], gold)
    weight = table[0]["weight"]
    members = {str(m): float((gold == p.argmax(axis=1)).mean()) for m, p in zip(args.members, calibrated, strict=True)}
    save_ensemble(
        out,
        args.members,
        [weight, 1.0 - weight],
        {"chosen_on": str(data), "validation_accuracy_of_members": members, "weights_tried": table},
    )
    probs = combine(calibrated, [weight, 1.0 - weight])
    calibration, after = calibrate(probs, gold)
    save_calibration(out, {**calibration, "fitted_on": str(data), "made_with": "scripts/ensemble.py"})
    plot_reliability(
        {
            f"ensemble, {data.name}": {
                "correct": probs.argmax(axis=1) == gold,
                "confidence": after.max(axis=1),
                "uncalibrated": probs.max(axis=1),
            }
        },
        out / "calibration.png",
    )
    print(markdown(pd.DataFrame(sorted(table, key=lambda r: r["weight"]))))
    for member, accuracy in members.items():
        print(f"{member}: validation accuracy {accuracy:.4f}")
    print(
        f"ensemble: weight {weight:.2f} on {args.members[0]}, validation accuracy {calibration['accuracy']:.4f}; "
        f"its temperature {calibration['temperature']:.3f} (ECE {calibration['ece_before']:.4f} -> "
        f"{calibration['ece_after']:.4f})\nwrote {out / ENSEMBLE_FILE}, {out / CALIBRATION_FILE}, "
        f"{out / 'calibration.png'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(run(main))
