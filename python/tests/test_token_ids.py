"""A model that takes token ids: a small BERT-like graph (int64 ids in, a
Gather of a constant word-embedding table, position embeddings, LayerNorm,
a MatMul block with a residual, mean pooling) imported and run as
onnxruntime runs it, and through quant-eval (static W8A8 and dynamic
per-token): the .npz holds int64 ids, calibration skips the integer input,
the embedding table stays float (its gathered rows are quantized as an
activation), and every fused layer is bit-exact (seconds)."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from quant_opt.evaluate import Config, Evaluation, EvaluationError, compare, evaluate, load_data
from quant_opt.execution import run_module
from quant_opt.onnx_import import import_model

VOCAB, SEQ, HIDDEN, FF = 60, 8, 16, 32


def bert_like(elem=TensorProto.INT64, seed=0) -> onnx.ModelProto:
    """ids (N, SEQ) -> word[ids] + position -> LayerNorm -> h; h + fc2(relu(fc1(h)))
    -> mean over the tokens: (N, HIDDEN)."""
    rng = np.random.default_rng(seed)

    def tensor(name, *shape, scale=1.0, offset=0.0):
        return numpy_helper.from_array((offset + rng.normal(0, scale, shape)).astype(np.float32), name)

    initializers = [tensor("word", VOCAB, HIDDEN), tensor("position", SEQ, HIDDEN, scale=0.1),
                    tensor("gamma", HIDDEN, scale=0.1, offset=1.0), tensor("beta", HIDDEN, scale=0.1),
                    tensor("w1", HIDDEN, FF, scale=0.3), tensor("b1", FF, scale=0.1),
                    tensor("w2", FF, HIDDEN, scale=0.3)]
    nodes = [helper.make_node("Gather", ["word", "input_ids"], ["e"], name="/embeddings/word/Gather"),
             helper.make_node("Add", ["e", "position"], ["p"], name="/embeddings/Add"),
             helper.make_node("LayerNormalization", ["p", "gamma", "beta"], ["h"], name="/embeddings/norm",
                              axis=-1, epsilon=1e-12),
             helper.make_node("MatMul", ["h", "w1"], ["m1"], name="/fc1/MatMul"),
             helper.make_node("Add", ["m1", "b1"], ["a1"], name="/fc1/Add"),
             helper.make_node("Relu", ["a1"], ["r"], name="/relu/Relu"),
             helper.make_node("MatMul", ["r", "w2"], ["m2"], name="/fc2/MatMul"),
             helper.make_node("Add", ["m2", "h"], ["s"], name="/residual/Add"),
             helper.make_node("ReduceMean", ["s"], ["embedding"], name="/pool/ReduceMean", axes=[1],
                              keepdims=0)]
    graph = helper.make_graph(nodes, "bert_like", [helper.make_tensor_value_info("input_ids", elem, ["N", SEQ])],
                              [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, None)],
                              initializers)
    model = onnx.shape_inference.infer_shapes(
        helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), strict_mode=True)
    onnx.checker.check_model(model, full_check=True)
    return model


def token_ids(count, seed, dtype=np.int64):
    return np.random.default_rng(seed).integers(0, VOCAB, (count, SEQ)).astype(dtype)


def onnxruntime_run(model, ids, batch):
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input_ids": ids[i:i + batch]})[0]
                           for i in range(0, len(ids), batch)])


@pytest.mark.parametrize("elem", [TensorProto.INT64, TensorProto.INT32])
def test_bert_like_graph_imports_and_runs_as_onnxruntime(elem):
    model = bert_like(elem)
    ids = token_ids(4, 1, onnx.helper.tensor_dtype_to_np_dtype(elem))
    text = import_model(model, len(ids))
    assert f"tensor<4x{SEQ}x{'i64' if elem == TensorProto.INT64 else 'i32'}>" in text.split("\n", 1)[0]
    (got,) = run_module(text, [ids])
    expected = onnxruntime_run(model, ids, len(ids))
    assert got.shape == expected.shape == (4, HIDDEN)
    assert np.abs(got - expected).max() <= 1e-5 * max(1.0, float(np.abs(expected).max()))


@pytest.fixture(scope="module")
def token_data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens")
    model = bert_like()
    onnx.save(model, str(folder / "model.onnx"))
    np.savez(folder / "eval.npz", x=token_ids(100, 2))
    np.savez(folder / "calibration.npz", x=token_ids(50, 3))
    return folder, model


def test_quant_eval_takes_token_ids(token_data, tmp_path):
    """Integer .npz data reaches the program as int64; the float program is
    onnxruntime's; static W8A8 and dynamic per-token quantization keep the
    output close and are bit-exact; the table is not quantized as a weight."""
    folder, model = token_data
    x, _ = load_data(str(folder / "eval.npz"), "test")
    assert x.dtype == np.int64
    config = Config(model=folder / "model.onnx", data=str(folder / "eval.npz"),
                    calibration_data=str(folder / "calibration.npz"), batch=50, layer_samples=50,
                    task="embedding", verbose=False)
    evaluation = Evaluation(config, tmp_path)
    assert evaluation.x_eval.dtype == evaluation.x_cal.dtype == np.int64
    evaluation.prepare()
    peer = onnxruntime_run(model, evaluation.x_eval, 50)
    assert np.abs(evaluation.float_out - peer).max() <= 1e-5 * float(np.abs(peer).max())
    # Calibration observes float activations only: the gathered rows, not the ids.
    tensors = json.loads(evaluation.statistics.read_text())["tensors"]
    assert "/embeddings/word/Gather" in tensors and "input_ids" not in tensors

    dynamic = tmp_path / "dynamic.json"
    dynamic.write_text(json.dumps({"format": "quant-opt-recipe", "version": 1, "activations": {
        "dynamic": "per_row", "signed": True, "symmetric": True}}))
    for recipe in (None, dynamic):
        report = evaluation.run(recipe=recipe, layer_samples=50, tag="dynamic" if recipe else "static")
        assert "top1_agreement" not in report
        assert report["output"]["sample_cosine"] > 0.999, recipe
        assert report["output"]["sqnr_db"] > 25, recipe
        exact = report["bit_exactness"]
        assert exact["mismatches"] == 0 and exact["layers_checked"] >= 2, (recipe, exact)
        # The word-embedding table stays f32 (4 bytes a value).
        assert report["quantized_weight_bytes"] > 4 * VOCAB * HIDDEN
        by_id = {layer["id"]: layer for layer in report["layers"]}
        assert by_id["/embeddings/word/Gather"]["ops"] == "Gather"
        assert compare(evaluation.float_out, evaluation.quant_out)["sample_cosine"] > 0.999


def test_quant_eval_token_id_errors(token_data, tmp_path):
    folder, _ = token_data
    floats = tmp_path / "floats.npz"
    np.savez(floats, x=token_ids(10, 4).astype(np.float32))
    with pytest.raises(EvaluationError, match="the evaluation data is float32, but input 'input_ids' is INT64"):
        evaluate(Config(model=folder / "model.onnx", data=str(floats), calibration_data=str(floats),
                        verbose=False))
    huge = tmp_path / "huge.npz"
    np.savez(huge, x=np.full((10, SEQ), 2 ** 40, np.int64))
    int32_path = tmp_path / "int32.onnx"
    onnx.save(bert_like(TensorProto.INT32), str(int32_path))
    with pytest.raises(EvaluationError, match=r"outside INT32 of input 'input_ids'"):
        evaluate(Config(model=int32_path, data=str(huge), calibration_data=str(huge), verbose=False))
    with pytest.raises(EvaluationError, match="--normalize needs a float input"):
        evaluate(Config(model=folder / "model.onnx", data=str(folder / "eval.npz"),
                        calibration_data=str(folder / "calibration.npz"), normalize=(0.5, 0.5), verbose=False))
