"""Client side of the Triton test (tests/triton/triton_check.sh): sends
images to the tx2yolo model over HTTP and gRPC and compares the detections
with `tx2yolo detect --json`; sends bad requests and expects INVALID_ARGUMENT
with the server still serving afterwards.

  python triton_client.py [--only-compare] HTTP_URL GRPC_URL MODEL_NAME CLI_JSON_DIR IMAGE...
"""
import json
import os
import sys
import time

import cv2
import numpy as np
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from tritonclient.utils import InferenceServerException


def infer(client, module, name, image):
    batch = image[np.newaxis]
    inp = module.InferInput("IMAGE", list(batch.shape), "UINT8")
    inp.set_data_from_numpy(batch)
    outs = [module.InferRequestedOutput("DETECTIONS"), module.InferRequestedOutput("CLASS_NAMES")]
    r = client.infer(name, inputs=[inp], outputs=outs)
    return r.as_numpy("DETECTIONS")[0], [c.decode() if isinstance(c, bytes) else c for c in r.as_numpy("CLASS_NAMES")[0]]


def compare(dets, classes, cli, label):
    # CLI: COCO records, bbox [x, y, w, h], in NMS order (by score).
    assert len(dets) == len(cli), f"{label}: {len(dets)} detections, the CLI has {len(cli)}"
    for row, want in zip(dets, cli):
        cls, score, x1, y1, x2, y2 = (float(v) for v in row)
        bx, by, bw, bh = want["bbox"]
        assert classes[int(cls)] == want["category_name"], (label, row, want)
        assert abs(score - want["score"]) < 1e-6, (label, score, want["score"])
        for got, exp in ((x1, bx), (y1, by), (x2, bx + bw), (y2, by + bh)):
            assert abs(got - exp) < 1e-3, (label, row, want["bbox"])


def expect_invalid(fn, label):
    try:
        fn()
    except InferenceServerException as e:
        text = f"{e.status()} {e.message()}"
        assert "INVALID_ARG" in text.upper().replace(" ", "_") or "400" in text, f"{label}: {text}"
        print(f"ok: {label}: refused: {e.message()[:100]}")
        return
    raise AssertionError(f"{label}: accepted")


def main():
    args = sys.argv[1:]
    only_compare = args[0] == "--only-compare"
    if only_compare:
        args = args[1:]
    http_url, grpc_url, name, cli_dir = args[:4]
    images = args[4:]
    clients = [(httpclient.InferenceServerClient(http_url), httpclient, "HTTP"),
               (grpcclient.InferenceServerClient(grpc_url), grpcclient, "gRPC")]
    for path in images:
        image = cv2.imread(path, cv2.IMREAD_COLOR)
        cli = json.load(open(os.path.join(cli_dir, os.path.basename(path) + ".json")))
        for client, module, proto in clients:
            dets, classes = infer(client, module, name, image)
            compare(dets, classes, cli, f"{proto} {os.path.basename(path)}")
            print(f"ok: {name}: {proto} {os.path.basename(path)}: {len(dets)} detections equal detect --json")
    if only_compare:
        return
    client, module, proto = clients[0]
    gclient, gmodule, _ = clients[1]

    def send(cl, mod, array, dtype):
        inp = mod.InferInput("IMAGE", list(array.shape), dtype)
        inp.set_data_from_numpy(array)
        cl.infer(name, inputs=[inp])

    good = cv2.imread(images[0], cv2.IMREAD_COLOR)
    expect_invalid(lambda: send(client, module, good[np.newaxis].astype(np.float32), "FP32"), "HTTP FP32 image")
    expect_invalid(lambda: send(gclient, gmodule, good[np.newaxis].astype(np.float32), "FP32"), "gRPC FP32 image")
    expect_invalid(lambda: send(client, module, np.zeros((1, 0, 0, 3), np.uint8), "UINT8"), "HTTP zero-sized image")
    expect_invalid(lambda: send(gclient, gmodule, np.zeros((1, 0, 5, 3), np.uint8), "UINT8"), "gRPC zero-height image")
    expect_invalid(lambda: send(client, module, np.zeros((1, 8, 8, 4), np.uint8), "UINT8"), "HTTP four channels")
    expect_invalid(lambda: send(client, module, good, "UINT8"), "HTTP rank 3 (no batch dimension)")
    # Still serving, and right.
    dets, classes = infer(client, module, name, good)
    compare(dets, classes, json.load(open(os.path.join(cli_dir, os.path.basename(images[0]) + ".json"))), "after")
    print("ok: the server still answers correctly after the bad requests")
    # Two images in one request: each image's own detections, padded rows after.
    pair = np.stack([good, good])
    inp = module.InferInput("IMAGE", list(pair.shape), "UINT8")
    inp.set_data_from_numpy(pair)
    r = client.infer(name, inputs=[inp], outputs=[module.InferRequestedOutput("DETECTIONS")]).as_numpy("DETECTIONS")
    assert r.shape[0] == 2 and np.array_equal(r[0], r[1]), r.shape
    print("ok: a request of two images gets two equal results")
    # The backend reports its statistics: the successful requests so far, with their compute time.
    # The backend reports a request's statistics after it has sent the
    # response (as Triton's own backends do), so the last request's may land
    # a moment after the client has its answer: wait for them, briefly.
    expected = 2 * len(images) + 2  # both protocols for each image, then "after" and the pair
    deadline = time.monotonic() + 10
    while True:
        stats = client.get_inference_statistics(name)["model_stats"][0]
        ok = int(stats["inference_stats"]["success"]["count"])
        if ok >= expected or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    compute = int(stats["inference_stats"]["compute_infer"]["ns"])
    assert ok >= expected and compute > 0 and int(stats["execution_count"]) > 0, stats
    print(f"ok: the model statistics count {ok} successful requests and {compute / 1e6:.1f} ms of compute")


if __name__ == "__main__":
    main()
