"""quant-sweep's generated 'What the measurements answer' section: each
cell is the drop of the rows it names, '-' where a row is missing."""

from quant_opt import sweep


def row(name, drop, size=None, **extra):
    return {"recipe_name": name, "top1_drop": drop, "quantized_weight_bytes": size, **extra}


def test_answers_take_each_cell_from_the_rows():
    results = [{"name": "m1", "recipes": [
        row(sweep.RECIPES[0][0], 0.0015, 100), row("W4A8 per-channel", 0.0128, 60),
        row(sweep.qat_name(4, 2), -0.0018, 60, qat={"epochs": 2}),
        row("W4A8 per-channel k-means codebook", 0.0013, 70),
        row(sweep.MIXED, 0.0006, 80), row("W4A8 per-channel + GPTQ", 0.0019, 60),
        row(sweep.PEER, 0.0019), row(sweep.RECIPES[12][0], 0.0003), row(sweep.PEER_DYNAMIC, 0.0021),
    ]}, {"name": "m2", "recipes": [row(sweep.RECIPES[0][0], 0.002, 10),
                                    {"recipe_name": "W4A8 per-channel", "error": "refused"}]}]
    lines = sweep.answers(results)
    cells = [line.strip("| ").split(" | ") for line in lines if line.startswith("| ")]
    table = {cell[0]: cell[1:] for cell in cells}
    assert table["question"] == ["m1", "m2"]
    assert table["PTQ -> QAT, W4A8 per-channel"] == ["1.28 -> -0.18 (2 epochs)", "- -> -"]
    assert table["PTQ -> QAT, W8A8 per-channel"][0] == "0.15 -> -"
    assert table["4-bit weights: uniform -> k-means codebook"][0] == "1.28 -> 0.13"
    assert table[f"mixed precision for a {sweep.MIXED_BUDGET}-point budget: drop at weight size"][0] == \
        "0.06 at 80 B (W8A8: 0.15 at 100 B)"
    assert table["W4A8 per-channel: nearest -> GPTQ -> bias correction"][0] == "1.28 -> 0.19 -> -"
    assert table["W8A8: quant-opt -> ONNX Runtime quantize_static (peer)"][0] == "0.15 -> 0.19"
    assert table["W8A8 dynamic: quant-opt per-token -> per-tensor -> ONNX Runtime quantize_dynamic (peer)"] == \
        ["0.03 -> - -> 0.21", "- -> - -> -"]
    assert "dynamic" in sweep.RECIPES[12][1] and "per_row" in sweep.RECIPES[12][1]


def test_no_accuracy_no_section():
    assert sweep.answers([{"name": "embedding", "recipes": [{"recipe_name": "x", "top1_drop": None}]}]) == []
