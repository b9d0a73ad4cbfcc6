"""quant-mixed: automatic mixed precision to an accuracy budget.

    scripts/quant-mixed models/fashion-cnn/model.onnx --data fashion-mnist --budget 0.5 -o DIR
    scripts/quant-mixed model.onnx --data x.npz --search-data val.npz --task embedding \\
        --min-cosine 0.999 -o DIR

Chooses each layer's weight precision among 4, 8 and 16 bits and float
(activations stay 8-bit unless --options says otherwise) so that the
quantized model meets the budget at the smallest weight size, and writes the
choice as a recipe (DIR/recipe.json) that quant-opt and quant-eval consume.

The search runs on *search data* (a named data set's `validation` split by
default: training samples disjoint from the calibration ones), never on the
evaluation data; the report then evaluates the chosen recipe and all-W8A8 on
the evaluation data (with the per-layer table and bit-exactness check of
quant-eval), so the budget's effect on unseen samples is measured, not
assumed.

A top-1 budget holds on the search data with a margin: the measured drop
plus z standard errors of it (z for --confidence, 0.9 by default: 1.28), so
that sampling noise in the search data does not choose a recipe that only
looked good on those samples.

The search (greedy, each step measured by running the quantized program):
1. From every layer at 8 bits: while the budget is not met, raise the layer
   whose move one level up (8 -> 16 -> float) gains the most per byte added.
2. Sensitivity: each layer alone one level lower, the rest as they are.
3. In order of least loss per byte saved, lower each layer as far as the
   budget allows, each move checked on the whole model before it is kept.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from statistics import NormalDist

from . import datasets
from .evaluate import Config, Evaluation, EvaluationError, _finite, _fmt, add_arguments, markdown

LEVELS = ("4", "8", "16", "float")
START = "8"
BYTES_PER_ELEMENT = {"4": 0.5, "8": 1.0, "16": 2.0, "float": 4.0}


@dataclasses.dataclass
class Criterion:
    """What the budget bounds: `top1` (the top-1 drop in points, at most
    `limit`), `cosine` (the mean per-sample cosine, at least `limit`) or
    `sqnr` (dB, at least `limit`)."""

    kind: str
    limit: float
    # For `top1`: the budget must hold at this one-sided confidence, the
    # drop plus z standard errors (the search data is a sample; a drop
    # measured on it is not the drop on other data).
    confidence: float = 0.9

    def margin(self, report: dict) -> float:
        if self.kind != "top1" or self.confidence <= 0.5:
            return 0.0
        return 100.0 * NormalDist().inv_cdf(self.confidence) * report.get("top1_drop_stderr", 0.0)

    def value(self, report: dict) -> float:
        if self.kind == "top1":
            if "top1_drop" not in report:
                raise EvaluationError("--budget is a top-1 drop, but the search data has no labels "
                                      "(or the task is not classification): use --min-cosine or --min-sqnr")
            return 100.0 * report["top1_drop"]
        return report["output"]["sample_cosine" if self.kind == "cosine" else "sqnr_db"]

    def loss(self, report: dict) -> float:
        """Larger is worse, whatever the kind."""
        value = self.value(report)
        return value if self.kind == "top1" else -value

    def meets(self, report: dict) -> bool:
        value = self.value(report)
        return value + self.margin(report) <= self.limit if self.kind == "top1" else value >= self.limit

    def describe(self) -> str:
        confidence = f" (at {100 * self.confidence:g}% confidence)" if self.confidence > 0.5 else ""
        return {"top1": f"top-1 drop at most {self.limit:g} points{confidence}",
                "cosine": f"mean sample cosine at least {self.limit:g}",
                "sqnr": f"output SQNR at least {self.limit:g} dB"}[self.kind]


def recipe_for(choice: dict[str, str]) -> dict:
    """The recipe (docs/Quantization.md) of a per-layer choice; layers at 8
    bits follow the defaults."""
    layers = []
    for layer, level in choice.items():
        if level == "float":
            layers.append({"id": layer, "skip": True})
        elif level != START:
            layers.append({"id": layer, "weights": {"bits": int(level)}})
    return {"format": "quant-opt-recipe", "version": 1, "layers": layers}


def weight_bytes(choice: dict[str, str], elements: dict[str, int]) -> float:
    """The weights' size as the search estimates it (the report measures it)."""
    return sum(elements[layer] * BYTES_PER_ELEMENT[level] for layer, level in choice.items())


def search(layers: dict[str, int], measure, criterion: Criterion, levels=LEVELS, log=lambda *a: None):
    """The greedy search over `layers` (id -> weight elements); `measure`
    maps a choice (id -> level) to an evaluation report. Returns (choice,
    report, steps). Raises EvaluationError when even the highest level
    everywhere misses the budget."""
    levels = list(levels)
    steps = []
    cache = {}

    def run(choice, what):
        key = tuple(sorted(choice.items()))
        if key not in cache:
            cache[key] = measure(dict(choice))
            steps.append({"step": what, "choice": dict(choice), "value": criterion.value(cache[key]),
                          "margin": criterion.margin(cache[key]), "meets": criterion.meets(cache[key]),
                          "estimated_bytes": weight_bytes(choice, layers)})
            margin = criterion.margin(cache[key])
            log(f"  {what}: {criterion.kind} {_fmt(criterion.value(cache[key]), 3)}"
                + (f" (+{margin:.2f} margin)" if margin else "")
                + ("" if criterion.meets(cache[key]) else " (over budget)"))
        return cache[key]

    start = START if START in levels else levels[0]
    choice = {layer: start for layer in layers}
    report = run(choice, f"every layer at {start}")
    # 1. Raise layers until the budget is met.
    while not criterion.meets(report):
        best = None
        for layer, level in choice.items():
            index = levels.index(level)
            if index + 1 == len(levels):
                continue
            trial = {**choice, layer: levels[index + 1]}
            trial_report = run(trial, f"{layer} at {levels[index + 1]}")
            added = max(weight_bytes(trial, layers) - weight_bytes(choice, layers), 1e-9)
            gain = (criterion.loss(report) - criterion.loss(trial_report)) / added
            if best is None or gain > best[0]:
                best = (gain, trial, trial_report)
        if best is None:
            raise EvaluationError(f"the budget ({criterion.describe()}) cannot be met: with every layer at "
                                  f"{levels[-1]} the search data gives {_fmt(criterion.value(report), 4)}")
        _, choice, report = best
    # 2. Sensitivity of each layer one level lower, the rest as chosen.
    order = []
    for layer, level in choice.items():
        index = levels.index(level)
        if index == 0:
            continue
        trial = {**choice, layer: levels[index - 1]}
        trial_report = run(trial, f"sensitivity: {layer} at {levels[index - 1]}")
        saved = max(weight_bytes(choice, layers) - weight_bytes(trial, layers), 1e-9)
        order.append(((criterion.loss(trial_report) - criterion.loss(report)) / saved, layer))
    # 3. Lower each layer, least loss per byte first, while the budget holds.
    for _, layer in sorted(order):
        while levels.index(choice[layer]) > 0:
            trial = {**choice, layer: levels[levels.index(choice[layer]) - 1]}
            trial_report = run(trial, f"{layer} at {trial[layer]}")
            if not criterion.meets(trial_report):
                break
            choice, report = trial, trial_report
    return choice, report, steps


def layer_elements(evaluation: Evaluation, options: str) -> dict[str, int]:
    """The layers with quantized weights (by recipe id) and their weight
    element counts, from a quantization with `options`."""
    parameters = evaluation.work / "parameters.json"
    pipeline = evaluation.pipeline_options(options, None) + f" parameters={parameters}"
    evaluation.tools.opt(evaluation.float_mlir, [f"--qnn-quantize-pipeline={pipeline}"],
                         evaluation.work / "parameters.mlir")
    weights = json.loads(parameters.read_text())["weights"]
    contractions = evaluation.details.get("contractions", {})
    return {layer: int(contractions[layer]["weight"].size) for layer in weights if layer in contractions}


def search_on(search_config: Config, criterion: Criterion, levels, work: Path, log=lambda *a: None) -> dict:
    """The search on `search_config`'s data (calibrated as it says), in
    `work`: the chosen recipe and what the search saw."""
    (work / "search").mkdir()
    searching = Evaluation(search_config, work / "search")
    searching.prepare()
    layers = layer_elements(searching, search_config.options)
    if not layers:
        raise EvaluationError(f"{search_config.model}: no layer has quantized weights: nothing to choose")
    log(f"quant-mixed: {len(layers)} layers, {criterion.describe()}, on {search_config.data} "
        f"{search_config.split if search_config.data in datasets.NAMES else ''} "
        f"({len(searching.x_eval)} samples)")
    count = [0]

    def measure(choice):
        count[0] += 1
        recipe = work / f"trial{count[0]}.json"
        recipe.write_text(json.dumps(recipe_for(choice)))
        return searching.run(search_config.options, recipe, tag=f"trial{count[0]}")

    choice, report, steps = search(layers, measure, criterion, levels, log)
    return {"recipe": recipe_for(choice),
            "search_data": {"data": search_config.data, "split": search_config.split,
                            "samples": int(len(searching.x_eval))},
            "layers": [{"id": layer, "weight_elements": elements, "level": choice[layer]}
                       for layer, elements in layers.items()],
            "search": {"value": criterion.value(report), "margin": criterion.margin(report), "steps": steps,
                       "runs": len(steps)}}


def validation_config(config: Config) -> Config:
    """The search data of a named data set: its `validation` split (the
    same calibration; no per-layer runs)."""
    if config.data not in datasets.NAMES or config.calibration_data is not None:
        raise EvaluationError(f"--data {config.data} is a file: give --search-data (the samples to choose "
                              "the recipe on; the evaluation samples would choose and judge at once)")
    return dataclasses.replace(config, split="validation", layer_samples=0, limit=None, verbose=False)


def choose(config: Config, search_config: Config, criterion: Criterion, levels, layer_samples: int,
           verbose: bool, output: Path) -> dict:
    """The search on `search_config`'s data, then the chosen recipe (written
    to `output`/recipe.json) and all-W8A8 evaluated on `config`'s."""
    log = (lambda *a: print(*a, file=sys.stderr)) if verbose else (lambda *a: None)
    started = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        found = search_on(search_config, criterion, levels, work, log)
        log("quant-mixed: evaluating the chosen recipe and all-W8A8 on the evaluation data")
        (work / "final").mkdir()
        final = Evaluation(config, work / "final")
        final.prepare()
        output.mkdir(parents=True, exist_ok=True)
        (output / "recipe.json").write_text(json.dumps(found["recipe"], indent=2) + "\n")
        chosen = final.run(config.options, output / "recipe.json", layer_samples=layer_samples, tag="chosen")
        baseline = final.run(config.options, None, tag="baseline")
    return {"model": str(config.model), "name": config.name or config.model.parent.name,
            "criterion": dataclasses.asdict(criterion), "levels": list(levels), "options": config.options,
            **found, "chosen": chosen, "baseline": baseline,
            # Measured, without a margin: the evaluation data is what the
            # budget was meant for.
            "chosen_on_evaluation_data": {"value": criterion.value(chosen),
                                          "meets": dataclasses.replace(criterion, confidence=0.5).meets(chosen)},
            "seconds": round(time.time() - started, 1)}


def render(result: dict) -> str:
    criterion = Criterion(**result["criterion"])
    chosen, baseline = result["chosen"], result["baseline"]
    search = result["search_data"]
    lines = [f"## {result['name']}: mixed precision, {criterion.describe()}", "",
             f"Model `{result['model']}`; chosen on {search['data']} {search['split']} "
             f"({search['samples']} samples) in {result['search']['runs']} runs of the quantized program, "
             f"among weights at {', '.join(result['levels'])} (activations as the options say: "
             f"`{result['options'] or 'defaults'}`); evaluated on {chosen['data']} {chosen['split']} "
             f"({chosen['samples']} samples).", "",
             "| layer | weight elements | chosen |", "|---|---|---|"]
    lines += [f"| `{layer['id']}` | {layer['weight_elements']} | "
              f"{'float' if layer['level'] == 'float' else layer['level'] + '-bit'} |"
              for layer in result["layers"]]
    metric = {"top1": "top-1 drop (points)", "cosine": "mean sample cosine", "sqnr": "SQNR (dB)"}[criterion.kind]
    lines += ["", f"| recipe | {metric}, search data | {metric}, evaluation data | top-1 (%) | weights (bytes) |",
              "|---|---|---|---|---|"]
    first = result["search"]["steps"][0]
    digits = 5 if criterion.kind == "cosine" else 2

    def searched(value, margin):
        return _fmt(value, digits) + (f" (+{margin:.2f} margin)" if margin else "")
    for name, report, search_value in (
            ("all W8A8", baseline, searched(first["value"], first["margin"])
             if all(v == START for v in first["choice"].values()) else "-"),
            ("chosen", chosen, searched(result["search"]["value"], result["search"]["margin"]))):
        top1 = report.get("quantized_top1")
        lines.append(f"| {name} | {search_value} | {_fmt(criterion.value(report), digits)} | "
                     f"{_fmt(100 * top1 if top1 is not None else None)} | {report['quantized_weight_bytes']} |")
    verdict = result["chosen_on_evaluation_data"]
    lines += ["", f"Float weights {chosen['float_weight_bytes']} bytes; the chosen recipe is "
              f"{chosen['quantized_weight_bytes'] / max(baseline['quantized_weight_bytes'], 1):.2f}x the size of "
              f"all-W8A8. On the evaluation data it {'meets' if verdict['meets'] else 'does not meet'} the budget.",
              "", "The recipe:", "", "```json", json.dumps(result["recipe"], indent=2), "```", "",
              "The chosen recipe's quant-eval report:", "", markdown(chosen)]
    return "\n".join(lines)


def criterion_from(args) -> Criterion:
    if not 0 < args.confidence < 1:
        raise EvaluationError(f"--confidence {args.confidence}: a probability between 0 and 1 (0.5: no margin)")
    given = [(kind, value) for kind, value in (("top1", args.budget), ("cosine", args.min_cosine),
                                               ("sqnr", args.min_sqnr)) if value is not None]
    if len(given) != 1:
        raise EvaluationError("give exactly one of --budget (top-1 points), --min-cosine and --min-sqnr")
    kind, value = given[0]
    if kind == "top1" and not value >= 0:
        raise EvaluationError(f"--budget {value}: a top-1 drop budget is a number of points >= 0")
    if kind == "cosine" and not -1 <= value <= 1:
        raise EvaluationError(f"--min-cosine {value}: a cosine is between -1 and 1")
    return Criterion(kind, value, args.confidence)


def parse_levels(text: str) -> tuple[str, ...]:
    levels = tuple(part.strip() for part in text.split(","))
    unknown = [level for level in levels if level not in LEVELS]
    if unknown or len(set(levels)) != len(levels) or len(levels) < 2:
        raise argparse.ArgumentTypeError(f"'{text}': expected two or more of {', '.join(LEVELS)}, "
                                         "each once")
    return tuple(level for level in LEVELS if level in levels)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="quant-mixed", description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", type=Path, help="the float ONNX model")
    add_arguments(parser)
    parser.add_argument("--search-data",
                        help="the samples the search measures (default: the 'validation' split of a named "
                             "--data; required when --data is a file)")
    parser.add_argument("--budget", type=float, help="the largest top-1 drop allowed, in points (e.g. 0.5)")
    parser.add_argument("--confidence", type=float, default=0.9,
                        help="for --budget: the drop measured on the search data plus its standard error "
                             "times the normal quantile of this confidence must be within the budget "
                             "(default: 0.9; 0.5 compares the measured drop alone)")
    parser.add_argument("--min-cosine", type=float, help="the smallest mean per-sample cosine allowed")
    parser.add_argument("--min-sqnr", type=float, help="the smallest output SQNR allowed, in dB")
    parser.add_argument("--levels", type=parse_levels, default=LEVELS,
                        help="the weight precisions to choose from (default: 4,8,16,float)")
    parser.add_argument("--options", default="",
                        help="qnn-quantize-pipeline options every trial shares (e.g. the activation method)")
    parser.add_argument("--task", choices=("classification", "embedding"), default="classification")
    parser.add_argument("-o", "--output", type=Path, required=True,
                        help="directory for recipe.json, report.md and report.json")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    args = parser.parse_args(argv)
    try:
        criterion = criterion_from(args)
        config = Config(model=args.model, data=args.data, calibration_data=args.calibration_data,
                        split=args.split, options=args.options, batch=args.batch, limit=args.limit,
                        calibration_limit=args.calibration_limit, layer_samples=args.layer_samples,
                        verbose=False, task=args.task, normalize=args.normalize)
        if args.search_data is None:
            search_config = validation_config(config)
        else:
            # A file of samples; calibrated as the evaluation is.
            search_config = dataclasses.replace(
                config, data=args.search_data, layer_samples=0, limit=None,
                calibration_data=args.calibration_data or (None if args.data in datasets.NAMES else args.data))
        result = choose(config, search_config, criterion, args.levels, args.layer_samples, not args.quiet,
                        args.output)
        (args.output / "report.json").write_text(json.dumps(_finite(result), indent=2, default=str) + "\n")
        text = render(result)
        (args.output / "report.md").write_text(text)
    except (EvaluationError, OSError) as error:
        print(f"quant-mixed: error: {error}", file=sys.stderr)
        return 1
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
