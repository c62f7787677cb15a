"""The real recipes, run end to end through `llamafactory-cli`: LoRA SFT, predict, score.

The model is a tiny Llama built from a config with SmolLM2's real tokenizer, so the whole chain runs in
about a minute; everything else (recipes, template, data, CLI, scorer) is what users run.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from conftest import EMOTION, EXAMPLES, REPO_ROOT, convert_sample, free_port, run_script, serving
from emotion_sft.bench import CLI, llamafactory, llamafactory_env
from emotion_sft.parser import UNPARSED
from emotion_sft.precision import cpu_bf16

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def run(tiny_llama, emotion_dir, tmp_path_factory) -> Path:
    """Convert a sample of the real data, train 3 steps with the CPU recipe, predict the test sample."""
    root = tmp_path_factory.mktemp("pipeline")
    convert_sample(emotion_dir, root, 48, 12, 20)
    common = {"model_name_or_path": tiny_llama, "dataset_dir": root}
    train = {"output_dir": root / "sft", "max_steps": 3, "logging_steps": 1, "save_steps": 2, "plot_loss": "false"}
    predict = {"adapter_name_or_path": root / "sft", "output_dir": root / "predict"}
    # a failed run raises with the end of its log
    llamafactory(EXAMPLES / "smollm2_lora_sft.yaml", {**common, **train}, root / "logs" / "sft.log", REPO_ROOT)
    llamafactory(EXAMPLES / "smollm2_lora_predict.yaml", {**common, **predict}, root / "logs" / "pred.log", REPO_ROOT)
    return root


def test_training_saves_a_lora_adapter_and_checkpoints(run):
    adapter = json.loads((run / "sft" / "adapter_config.json").read_text())
    assert adapter["peft_type"] == "LORA" and adapter["r"] == 8
    assert set(adapter["target_modules"]) == {
        "q_proj",
        "k_proj",
        "v_proj",
        "o_proj",
        "gate_proj",
        "up_proj",
        "down_proj",
    }
    assert (run / "sft" / "adapter_model.safetensors").stat().st_size > 0
    assert (run / "sft" / "checkpoint-2").is_dir()
    state = json.loads((run / "sft" / "trainer_state.json").read_text())
    assert state["global_step"] == 3 and all("loss" in entry for entry in state["log_history"][:3])


def test_predict_writes_one_row_per_test_example(run):
    rows = [json.loads(line) for line in (run / "predict" / "generated_predictions.jsonl").read_text().splitlines()]
    records = json.loads((run / "data" / "emotion_test.json").read_text())
    assert len(rows) == len(records) == 20
    for row, record in zip(rows, records, strict=True):
        assert set(row) >= {"prompt", "predict", "label"}
        assert row["label"].strip() == record["output"]
        assert record["input"] in row["prompt"]
        assert row["prompt"].startswith("<|im_start|>user\n")  # default_system "": no system turn


def test_eval_accuracy_scores_real_llamafactory_predictions(run):
    predictions = run / "predict" / "generated_predictions.jsonl"
    result = run_script("eval_accuracy.py", predictions, "--output-dir", run / "eval")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["n"] == 20 and 0 <= metrics["accuracy"] <= 1
    assert 0 <= metrics["n_unparsed"] <= 20
    assert (run / "eval" / "report.md").is_file() and (run / "eval" / "confusion_matrix.png").is_file()


def scorer_for(run: Path, tiny_llama: Path, first_token: bool = False):
    """The label scorer of the predict recipe that made generated_predictions.jsonl (same overrides)."""
    import torch

    from emotion_sft.label_scoring import LabelScorer

    return LabelScorer.from_recipe(
        EXAMPLES / "smollm2_lora_predict.yaml",
        root=REPO_ROOT,
        task=EMOTION,
        model=tiny_llama,
        adapter=run / "sft",
        overrides={"dataset_dir": run},
        dtype=torch.float32,
        first_token=first_token,
    )


@pytest.fixture(scope="module")
def scorer(run, tiny_llama):
    scorer = scorer_for(run, tiny_llama)
    assert not scorer.instruction  # the CPU recipe trains on the text alone
    assert scorer.labels == EMOTION.labels and scorer.recipe.default_system == ""
    return scorer


def test_label_scorer_builds_llamafactorys_exact_prompt(run, scorer):
    rows = [json.loads(line) for line in (run / "predict" / "generated_predictions.jsonl").read_text().splitlines()]
    records = json.loads((run / "data" / "emotion_test.json").read_text())
    for row, record in zip(rows, records, strict=True):
        assert scorer.tokenizer.decode(scorer.prompt_ids(record["input"])) == row["prompt"]


def test_label_scores_equal_a_plain_forward_pass(run, scorer):
    """The cached, batched, left-padded computation gives log P(label + end of turn | prompt) exactly."""
    import torch

    texts = [r["input"] for r in json.loads((run / "data" / "emotion_test.json").read_text())][:5]
    # The recipe's prompt (the text alone) and the paper's (the instruction first: a long shared prefix).
    for variant in [scorer, dataclasses.replace(scorer, instruction=True)]:
        fast = variant.score(texts, batch_size=3, progress=False)
        assert variant.prefix == variant.prompt_ids("x")[: len(variant.prefix)]
        assert (len(variant.prefix) > 10) == variant.instruction  # the instruction is cached once
        for i, text in enumerate(texts):
            prompt = variant.prompt_ids(text)
            for k in range(len(variant.labels)):
                answer = variant.answers[k, : variant.answer_len[k]].tolist()
                ids = torch.tensor([prompt + answer])
                with torch.inference_mode():
                    logp = torch.log_softmax(variant.model(input_ids=ids).logits[0].float(), -1)
                expected = sum(logp[len(prompt) - 1 + j, t].item() for j, t in enumerate(answer))
                assert fast[i, k] == pytest.approx(expected, abs=1e-3)


def test_first_token_scores_equal_a_plain_forward_pass(run, tiny_llama):
    import torch

    scorer = scorer_for(run, tiny_llama, first_token=True)
    texts = [r["input"] for r in json.loads((run / "data" / "emotion_test.json").read_text())][:5]
    fast = scorer.score(texts, batch_size=3, progress=False)
    for i, text in enumerate(texts):
        with torch.inference_mode():
            logits = scorer.model(input_ids=torch.tensor([scorer.prompt_ids(text)])).logits[0, -1].float()
        expected = torch.log_softmax(logits, -1)[scorer.answers[:, 0]]
        assert fast[i] == pytest.approx(expected.numpy(), abs=1e-3)


def test_learning_curve_scores_every_checkpoint(run, tiny_llama):
    output = run / "curve"
    result = run_script(
        "learning_curve.py",
        run / "sft",
        "--model",
        tiny_llama,
        "--data",
        run / "data" / "emotion_test.json",
        "--output-dir",
        output,
    )
    assert result.returncode == 0, result.stderr
    curve = json.loads((output / "curve.json").read_text())
    assert [(p["step"], p["samples"]) for p in curve] == [(0, 0), (2, 16), (3, 24)]  # base model, then 8/step
    assert all(0 <= p["ci_low"] <= p["accuracy"] <= p["ci_high"] <= 1 for p in curve)
    assert (output / "learning_curve.png").stat().st_size > 10_000


def test_learning_curve_needs_checkpoints(tmp_path):
    result = run_script("learning_curve.py", tmp_path)
    assert result.returncode == 1 and "no checkpoint-N adapters" in result.stderr


def test_label_scoring_script_is_scored_beside_generation(run, tiny_llama):
    output = run / "label_scores" / "predictions.jsonl"
    result = run_script(
        "predict_label_scores.py",
        "--model",
        tiny_llama,
        "--adapter",
        run / "sft",
        "--data",
        run / "data" / "emotion_test.json",
        "--output",
        output,
        "--fp32",
    )
    assert result.returncode == 0, result.stderr
    assert "samples/s" in result.stdout
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 20
    for row in rows:
        assert row["predict"] in row["probs"] and sum(row["probs"].values()) == pytest.approx(1.0)
        assert max(row["probs"], key=row["probs"].get) == row["predict"]
    compared = run_script(
        "eval_accuracy.py",
        run / "predict" / "generated_predictions.jsonl",
        output,
        "--names",
        "generation,label-scoring",
        "--output-dir",
        run / "compare",
    )
    assert compared.returncode == 0, compared.stderr
    metrics = json.loads((run / "compare" / "metrics.json").read_text())
    assert metrics["others"]["label-scoring"]["n_unparsed"] == 0
    assert metrics["mcnemar"][0]["a"] == "generation" and metrics["mcnemar"][0]["b"] == "label-scoring"


@pytest.fixture(scope="module")
def api_server(run, tiny_llama):
    """`llamafactory-cli api` as `make serve` runs it: the inference recipe, the run's adapter, a free loopback
    port and an API key in a key file (yields the URL and the key file)."""
    from emotion_sft.client import ensure_api_key

    key_file = run / "api_key"
    port = free_port()
    command = [CLI, "api", "examples/inference/smollm2_lora_sft.yaml", f"model_name_or_path={tiny_llama}"]
    # the dtype do_predict ran in: the predict recipe's bf16, or fp32 on a CPU without fast bf16
    command += [f"adapter_name_or_path={run / 'sft'}", f"infer_dtype={'bfloat16' if cpu_bf16() else 'float32'}"]
    env = llamafactory_env(API_HOST="127.0.0.1", API_PORT=str(port), API_KEY=ensure_api_key(key_file))
    url = f"http://127.0.0.1:{port}"
    with serving(command, url + "/docs", run / "api.log", env):  # /v1/models wants the key
        yield url, key_file


def test_served_adapter_answers_as_do_predict_did(run, api_server):
    from emotion_sft.client import ClassifierClient, read_api_key
    from emotion_sft.parser import parse_label

    url, key_file = api_server
    rows = [json.loads(line) for line in (run / "predict" / "generated_predictions.jsonl").read_text().splitlines()]
    records = json.loads((run / "data" / "emotion_test.json").read_text())
    texts = [r["input"] for r in records[:6]]
    results = ClassifierClient(url, EMOTION, read_api_key(key_file)).classify(texts, progress=False)
    assert [r.text for r in results] == texts
    for result, row in zip(results, rows, strict=False):
        assert result.answer.strip() == row["predict"].strip()  # same prompt, template, system and adapter
        assert result.label == parse_label(row["predict"], EMOTION)


def test_classify_api_script_prints_a_label_per_sentence(api_server):
    url, key_file = api_server
    sentences = ["i feel so alone tonight", "what a lovely surprise"]
    result = run_script("classify_api.py", "--url", url + "/v1/", "--api-key-file", key_file, *sentences)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("\t")[1] for line in lines] == sentences
    assert all(line.split("\t")[0] in (*EMOTION.labels, UNPARSED) for line in lines)


def test_served_api_refuses_a_request_without_the_key(api_server, tmp_path):
    url, _ = api_server
    result = run_script("classify_api.py", "--url", url, "--api-key-file", tmp_path / "none", "hello")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith(f"error: {url}/v1/chat/completions answered 401 (wrong or missing API key)")


def test_classify_api_script_names_a_missing_server():
    result = run_script("classify_api.py", "--url", f"http://127.0.0.1:{free_port()}", "hello")
    assert result.returncode == 1 and "no API server at" in result.stderr and "make serve" in result.stderr
