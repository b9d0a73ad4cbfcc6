"""quant-mixed (quant_opt.mixed_precision): the greedy search on a model of
known answers, and the tool end to end on digits-cnn, its claims checked by
separate quant-eval runs of the recipe it wrote."""

import itertools
import json
from pathlib import Path

import pytest

from quant_opt.evaluate import Config, EvaluationError, evaluate
from quant_opt.mixed_precision import (BYTES_PER_ELEMENT, LEVELS, Criterion, main, recipe_for, search,
                                       weight_bytes)

ROOT = Path(__file__).resolve().parents[2]
DIGITS = ROOT / "models" / "digits-cnn" / "model.onnx"

# A model whose top-1 drop is the sum of each layer's drop at its level.
LAYERS = {"a": 100, "b": 1000, "c": 4000, "d": 500}
DROP = {"a": {"4": 0.4, "8": 0.05, "16": 0.0, "float": 0.0},
        "b": {"4": 0.1, "8": 0.02, "16": 0.0, "float": 0.0},
        "c": {"4": 0.3, "8": 0.30, "16": 0.01, "float": 0.0},
        "d": {"4": 0.04, "8": 0.0, "16": 0.0, "float": 0.0}}


def additive(drop):
    calls = []

    def measure(choice):
        calls.append(choice)
        return {"top1_drop": sum(drop[layer][level] for layer, level in choice.items()) / 100}
    return measure, calls


def cheapest_meeting(budget, drop, layers):
    best = None
    for levels in itertools.product(LEVELS, repeat=len(layers)):
        choice = dict(zip(layers, levels))
        if sum(drop[layer][level] for layer, level in choice.items()) <= budget + 1e-12:
            size = weight_bytes(choice, layers)
            best = size if best is None else min(best, size)
    return best


def test_search_meets_the_budget_and_no_layer_can_go_lower():
    measure, calls = additive(DROP)
    choice, report, steps = search(LAYERS, measure, Criterion("top1", 0.5))
    assert 100 * report["top1_drop"] <= 0.5
    assert len(calls) == len(steps) == len({tuple(sorted(c.items())) for c in calls})
    for layer, level in choice.items():
        if level != LEVELS[0]:
            lower = {**choice, layer: LEVELS[LEVELS.index(level) - 1]}
            assert sum(DROP[l][v] for l, v in lower.items()) > 0.5, (layer, choice)
    # On this additive model the greedy order finds the cheapest choice.
    assert weight_bytes(choice, LAYERS) == cheapest_meeting(0.5, DROP, LAYERS)
    assert choice == {"a": "8", "b": "4", "c": "4", "d": "4"}


def test_search_raises_layers_when_all_8_bit_misses_the_budget():
    measure, _ = additive(DROP)
    # All at 8 bits loses 0.37 points: a (most gained per byte) and then c go up.
    choice, report, steps = search(LAYERS, measure, Criterion("top1", 0.1))
    assert steps[0]["value"] == pytest.approx(0.37) and not steps[0]["meets"]
    assert choice["c"] in ("16", "float")
    assert 100 * report["top1_drop"] <= 0.1
    assert weight_bytes(choice, LAYERS) == cheapest_meeting(0.1, DROP, LAYERS)


def test_search_says_when_the_budget_cannot_be_met():
    measure, _ = additive({layer: {level: 1.0 for level in LEVELS} for layer in LAYERS})
    with pytest.raises(EvaluationError, match=r"cannot be met: with every layer at float .* 4"):
        search(LAYERS, measure, Criterion("top1", 0.5))


def test_search_with_a_floor_criterion_and_fewer_levels():
    def measure(choice):
        return {"output": {"sample_cosine": 1.0 - 0.01 * sum(level == "4" for level in choice.values()),
                           "sqnr_db": 0.0}}
    choice, report, _ = search(LAYERS, measure, Criterion("cosine", 0.985), levels=("4", "8"))
    assert sorted(choice.values()) == ["4", "8", "8", "8"]
    assert choice["c"] == "4"  # the most bytes saved for the same loss
    assert report["output"]["sample_cosine"] >= 0.985


def test_recipe_for_writes_only_what_differs_from_8_bits():
    assert recipe_for({"x": "8", "y": "4", "z": "float", "w": "16"}) == {
        "format": "quant-opt-recipe", "version": 1,
        "layers": [{"id": "y", "weights": {"bits": 4}}, {"id": "z", "skip": True},
                   {"id": "w", "weights": {"bits": 16}}]}
    assert BYTES_PER_ELEMENT["4"] * 2 == BYTES_PER_ELEMENT["8"]


def test_digits_recipe_meets_the_budget_when_measured_again(tmp_path, capsys):
    """The tool's claims, checked by quant-eval runs of its recipe: within
    the budget on the search data (validation split), smaller than all-W8A8,
    and the integer code bit-exact."""
    out = tmp_path / "out"
    assert main([str(DIGITS), "--data", "digits", "--budget", "0.5", "-o", str(out), "-q",
                 "--layer-samples", "100"]) == 0
    recipe = out / "recipe.json"
    assert json.loads(recipe.read_text())["format"] == "quant-opt-recipe"
    result = json.loads((out / "report.json").read_text())
    assert "mixed precision, top-1 drop at most 0.5 points" in (out / "report.md").read_text()
    again = evaluate(Config(model=DIGITS, data="digits", split="validation", recipe=recipe, layer_samples=0,
                            verbose=False))
    assert 100 * again["top1_drop"] <= 0.5
    assert again["top1_drop"] == pytest.approx(result["search"]["value"] / 100)
    w8a8 = evaluate(Config(model=DIGITS, data="digits", layer_samples=0, verbose=False))
    assert again["quantized_weight_bytes"] < w8a8["quantized_weight_bytes"]
    assert result["chosen"]["bit_exactness"]["mismatches"] == 0
    assert result["chosen"]["bit_exactness"]["layers_checked"] > 0


@pytest.mark.parametrize("args,message", [
    ([], "give exactly one of --budget"),
    (["--budget", "0.5", "--min-sqnr", "30"], "give exactly one of --budget"),
    (["--budget", "-1"], "--budget -1.0: a top-1 drop budget is a number of points >= 0"),
    (["--min-cosine", "2"], "--min-cosine 2.0: a cosine is between -1 and 1"),
])
def test_cli_errors(tmp_path, capsys, args, message):
    assert main([str(DIGITS), "--data", "digits", "-o", str(tmp_path), "-q", *args]) == 1
    assert message in capsys.readouterr().err


def test_a_data_file_needs_search_data(tmp_path, capsys):
    assert main([str(DIGITS), "--data", str(tmp_path / "x.npz"), "--budget", "1", "-o", str(tmp_path)]) == 1
    assert "give --search-data" in capsys.readouterr().err


def test_bad_levels_are_named(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main([str(DIGITS), "--data", "digits", "--budget", "1", "--levels", "4,2", "-o", str(tmp_path)])
    assert "'4,2': expected two or more of 4, 8, 16, float" in capsys.readouterr().err


def test_top1_budget_holds_with_the_confidence_margin():
    report = {"top1_drop": 0.004, "top1_drop_stderr": 0.001}  # 0.4 points, 0.1 standard error
    assert Criterion("top1", 0.5, 0.5).meets(report)  # no margin
    assert Criterion("top1", 0.5, 0.9).margin(report) == pytest.approx(0.128155, abs=1e-5)
    assert Criterion("top1", 0.55, 0.9).meets(report) and not Criterion("top1", 0.5, 0.9).meets(report)


def test_drop_standard_error_is_the_paired_one(tmp_path):
    """quant-eval's top1_drop_stderr: the standard error of the mean of
    (float right) - (quantized right) over the samples, recomputed here from
    the two programs' labels."""
    import numpy as np
    from quant_opt.evaluate import Evaluation
    evaluation = Evaluation(Config(model=DIGITS, data="digits", verbose=False), tmp_path)
    y = evaluation.y_eval
    rng = np.random.default_rng(0)
    float_out = np.eye(10, dtype=np.float32)[np.where(rng.random(len(y)) < 0.9, y, (y + 1) % 10)]
    quant_out = np.eye(10, dtype=np.float32)[np.where(rng.random(len(y)) < 0.8, y, (y + 2) % 10)]
    report = evaluation.accuracy(float_out, quant_out)
    f_right, q_right = float_out.argmax(1) == y, quant_out.argmax(1) == y
    b, c = np.mean(f_right & ~q_right), np.mean(q_right & ~f_right)
    assert report["top1_drop"] == pytest.approx(b - c)
    assert report["top1_drop_stderr"] == pytest.approx(np.sqrt((b + c - (b - c) ** 2) / len(y)))
