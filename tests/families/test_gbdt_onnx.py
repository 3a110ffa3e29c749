"""The ONNX trees answer as LightGBM on every float32 input, at the split points themselves."""

import numpy as np


def test_onnx_splits_float32_inputs_at_lightgbms_double_thresholds(monkeypatch):
    import lightgbm as lgb
    import onnx
    import onnxruntime

    from trainflow.families.gbdt import exact_thresholds, to_onnx

    rng = np.random.default_rng(0)
    x = rng.normal(size=(3000, 3)).astype(np.float32) * np.float32(1 / 3)  # no exact float32 grid
    y = (x[:, 0] + 0.5 * x[:, 1] > 0.1).astype(int)
    booster = lgb.train({"objective": "binary", "num_leaves": 15, "verbosity": -1, "seed": 0},
                        lgb.Dataset(x, y), num_boost_round=30)  # fmt: skip
    thresholds = []  # (feature, double threshold) of every numeric split
    for info in booster.dump_model()["tree_info"]:
        stack = [info["tree_structure"]]
        while stack:
            node = stack.pop()
            if "split_feature" in node:
                thresholds.append((node["split_feature"], float(node["threshold"])))
                stack += [node["left_child"], node["right_child"]]
    # probe each threshold with the float32 values on both sides of it
    probes = np.repeat(np.median(x, axis=0, keepdims=True), 4 * len(thresholds), axis=0)
    for i, (feature, t) in enumerate(thresholds):
        near = np.float32(t)
        below, above = np.nextafter(near, np.float32(-1)), np.nextafter(near, np.float32(1))
        probes[4 * i : 4 * i + 4, feature] = [below, near, above, near]
    onnx_bytes = to_onnx(booster, 3, "binary")
    session = onnxruntime.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = session.run(None, {"x": probes})[-1][:, 1]
    assert np.abs(got - booster.predict(probes)).max() < 1e-6
    assert exact_thresholds(onnx.load_from_string(onnx_bytes), booster) == 0  # nothing left
    # without the rounding down, the converter's nearest float32 sends probes the other way
    monkeypatch.setattr("trainflow.families.gbdt.exact_thresholds", lambda *a: 0)
    plain = onnxruntime.InferenceSession(to_onnx(booster, 3, "binary"),
                                         providers=["CPUExecutionProvider"])  # fmt: skip
    assert np.abs(plain.run(None, {"x": probes})[-1][:, 1] - booster.predict(probes)).max() > 1e-3
