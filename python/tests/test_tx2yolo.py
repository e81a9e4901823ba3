"""The Python package against the CLI, on the bundled demo model and image.

Run by tools/python-check.sh (the CTest Python.PipInstallAndPytest) after
`pip install .`; TX2YOLO_CLI names the tx2yolo binary to compare with.
"""
import json
import os
import platform
import subprocess
import threading
import time

import numpy as np
import pytest
from PIL import Image

import tx2yolo

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODEL = os.path.join(ROOT, "models", "demo.safetensors")
CLI = os.environ.get("TX2YOLO_CLI", os.path.join(ROOT, "build", "tx2yolo"))
PADDLE = os.path.join(ROOT, "tests", "data", "paddle")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo image as BGR pixels, and a PNG of exactly those pixels (so that
    the CLI, which decodes with OpenCV, sees the same values)."""
    rgb = np.asarray(Image.open(os.path.join(ROOT, "assets", "demo.jpg")).convert("RGB"))
    png = str(tmp_path_factory.mktemp("img") / "demo.png")
    Image.fromarray(rgb).save(png)
    return np.ascontiguousarray(rgb[:, :, ::-1]), png


@pytest.fixture(scope="module")
def det():
    return tx2yolo.Detector(MODEL, backend="cpu")


def cli_detections(image_path, model=MODEL, tmp=None):
    out = os.path.join(tmp, "cli.json")
    subprocess.run([CLI, "detect", image_path, "--model", model, "--backend", "cpu", "--json", out],
                   check=True, stdout=subprocess.DEVNULL)
    return json.load(open(out))


def expect_same(dets, cli, names):
    assert dets.dtype.names == ("class_id", "score", "x1", "y1", "x2", "y2")
    assert len(dets) == len(cli) > 0
    for d, c in zip(dets, cli):
        x, y, w, h = c["bbox"]
        assert names[d["class_id"]] == c["category_name"]
        assert abs(float(d["score"]) - c["score"]) <= 1e-5
        np.testing.assert_allclose([d["x1"], d["y1"], d["x2"], d["y2"]], [x, y, x + w, y + h], atol=1e-3)


def test_detections_equal_the_cli(demo, det, tmp_path):
    bgr, png = demo
    expect_same(det.detect(bgr), cli_detections(png, tmp=str(tmp_path)), det.class_names)
    assert det.class_names == ["circle", "square", "triangle"]
    assert det.input_size == (320, 320)
    assert "cpu" in det.backend


def test_views_are_read_with_their_strides(demo, det):
    bgr, _ = demo
    crop = bgr[17:300, 23:411]  # rows strided: read in place
    assert not crop.flags["C_CONTIGUOUS"]
    np.testing.assert_array_equal(det.detect(crop), det.detect(np.ascontiguousarray(crop)))
    every_other = bgr[:, ::2]  # pixels strided within a row: copied once
    np.testing.assert_array_equal(det.detect(every_other), det.detect(np.ascontiguousarray(every_other)))
    before = bgr.copy()
    det.detect(bgr)
    np.testing.assert_array_equal(bgr, before)  # the input is not written


def test_detect_batch_equals_one_by_one(demo):
    bgr, _ = demo
    images = [bgr, bgr[40:300, 10:400], np.ascontiguousarray(bgr[::-1])]
    batched = tx2yolo.Detector(MODEL, backend="cpu", batch=2)
    single = tx2yolo.Detector(MODEL, backend="cpu")
    results = batched.detect_batch(images)  # 3 images at batch 2: two runs
    assert len(results) == 3
    for image, got in zip(images, results):
        np.testing.assert_array_equal(got, single.detect(image))


@pytest.mark.parametrize("bad, message", [
    (np.zeros((64, 64, 3), np.float32), "uint8"),
    (np.zeros((64, 64), np.uint8), "(H, W, 3)"),
    (np.zeros((64, 64, 4), np.uint8), "(H, W, 3)"),
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    ([[[0, 0, 0]]], "numpy array"),
])
def test_bad_images_raise_value_error(det, bad, message):
    with pytest.raises(ValueError) as e:
        det.detect(bad)
    assert message in str(e.value)
    with pytest.raises(ValueError):
        det.detect_batch([np.zeros((8, 8, 3), np.uint8), bad])


def test_engine_errors_raise_tx2yolo_error(tmp_path):
    assert issubclass(tx2yolo.Error, RuntimeError)
    with pytest.raises(tx2yolo.Error) as e:
        tx2yolo.Detector(str(tmp_path / "missing.safetensors"))
    assert "missing.safetensors" in str(e.value) and "\n" not in str(e.value)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    with pytest.raises(tx2yolo.Error):
        tx2yolo.Detector(str(corrupt))
    with pytest.raises(tx2yolo.Error):
        tx2yolo.Detector(MODEL, backend="tpu")
    with pytest.raises(tx2yolo.Error):
        tx2yolo.Detector(MODEL, precision="fp8")
    with pytest.raises(tx2yolo.Error):
        tx2yolo.Detector(MODEL, backend="cpu", precision="fp16")  # the CPU computes in FP32 only
    with pytest.raises(tx2yolo.Error):
        tx2yolo.Detector(MODEL, backend="cpu", score_threshold=float("nan"))
    with pytest.raises(ValueError):
        tx2yolo.Detector(MODEL, input_size=33)
    with pytest.raises(ValueError):
        tx2yolo.Detector(MODEL, backend="cpu").detect_batch([])
    with pytest.raises(tx2yolo.Error):
        tx2yolo.inspect(str(corrupt))


def test_inspect_returns_the_metadata(det):
    info = tx2yolo.inspect(MODEL)
    assert info["config"]["classes"] == det.class_names
    assert len(info["sha256"]) == 64 and info["file_bytes"] == os.path.getsize(MODEL)
    assert len(info["tensors"]) > 50 and all(isinstance(s, tuple) for s in info["tensors"].values())
    assert "nodes" in info["graph"] or "input" in info["graph"]


def test_convert_a_paddle_fixture_like_the_cli(demo, tmp_path):
    _, png = demo
    src = os.path.join(PADDLE, "std", "model.pdparams")
    config = os.path.join(PADDLE, "configs", "yolov3_mbv1_std_voc.yml")
    out = str(tmp_path / "py.safetensors")
    report = tx2yolo.convert(src, out, config=config, defaults="voc")
    assert report["format"] and report["num_classes"] == 20 and not report["separable_head"]
    cli_out = str(tmp_path / "cli.safetensors")
    subprocess.run([CLI, "convert", src, "--config", config, "--defaults", "voc", "-o", cli_out, "--quiet"],
                   check=True, stdout=subprocess.DEVNULL)
    assert tx2yolo.inspect(out)["tensors"] == tx2yolo.inspect(cli_out)["tensors"]
    converted = tx2yolo.Detector(out, backend="cpu")
    expect_same(converted.detect(np.asarray(Image.open(png))[:, :, ::-1].copy()),
                cli_detections(png, model=cli_out, tmp=str(tmp_path)), converted.class_names)
    with pytest.raises(tx2yolo.Error):
        tx2yolo.convert(str(tmp_path / "nothing.pdparams"), str(tmp_path / "x.safetensors"), defaults="voc")
    assert not os.path.exists(tmp_path / "x.safetensors")  # no half-written output


def test_gemm_convs_keep_the_reference_detections(demo):
    bgr, _ = demo
    fast = tx2yolo.Detector(MODEL, backend="cpu", cpu_convs="gemm")
    reference = tx2yolo.Detector(MODEL, backend="cpu", cpu_convs="reference")
    assert "OpenBLAS" in fast.backend and "OpenBLAS" not in reference.backend
    # The default ("auto") on x86-64 is onednn where libdnnl2 loads, else gemm with OpenBLAS.
    onednn = None
    try:
        onednn = tx2yolo.Detector(MODEL, backend="cpu", cpu_convs="onednn")
    except tx2yolo.Error as e:
        assert "--cpu-convs onednn is not available" in str(e)
    if platform.machine() == "x86_64":
        expected = "oneDNN" if onednn is not None else "OpenBLAS"
        assert expected in tx2yolo.Detector(MODEL, backend="cpu").backend
    ref = reference.detect(bgr)
    for path in [fast] + ([onednn] if onednn is not None else []):
        got = path.detect(bgr)
        assert len(ref) == len(got) > 0, path.backend
        np.testing.assert_array_equal(ref["class_id"], got["class_id"])
        np.testing.assert_allclose(got["score"], ref["score"], atol=1e-4)
    with pytest.raises(ValueError):
        tx2yolo.Detector(MODEL, cpu_convs="fast")


def test_the_gil_is_released_while_detecting(demo):
    bgr, _ = demo
    slow = tx2yolo.Detector(MODEL, backend="cpu", input_size=960, threads=1)
    slow.detect(bgr)  # warm up
    start = time.perf_counter()
    slow.detect(bgr)
    duration = time.perf_counter() - start
    worker = threading.Thread(target=slow.detect, args=(bgr,))
    gaps, last = [], time.perf_counter()
    worker.start()
    while worker.is_alive():
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    worker.join()
    # Held, the GIL would stop this loop for the whole detection.
    assert max(gaps) < duration / 2, (max(gaps), duration)
