"""A bounded load on the tx2yolo Triton model (bench/triton_load.sh runs it):
N client threads, each sending M requests of one image over HTTP on
127.0.0.1, one request at a time. Prints throughput, p50/p99 latency and the
errors, and a JSON line with the same figures. Every request has a timeout,
so a dead server gives errors, never a hang.

  python triton_load.py --url 127.0.0.1:PORT --clients 4 --requests 25 --image IMG [--timeout 10]
"""
import argparse
import json
import threading
import time

import cv2
import numpy as np
import tritonclient.http as httpclient


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--clients", type=int, default=4)
    ap.add_argument("--requests", type=int, default=25)
    ap.add_argument("--image", required=True)
    ap.add_argument("--timeout", type=float, default=10.0)
    ap.add_argument("--label", default="load")
    a = ap.parse_args()
    image = cv2.imread(a.image, cv2.IMREAD_COLOR)[np.newaxis]
    latencies, errors, lock = [], [], threading.Lock()

    def client_loop():
        client = httpclient.InferenceServerClient(a.url, connection_timeout=a.timeout, network_timeout=a.timeout)
        for _ in range(a.requests):
            inp = httpclient.InferInput("IMAGE", list(image.shape), "UINT8")
            inp.set_data_from_numpy(image)
            t0 = time.perf_counter()
            try:
                r = client.infer("tx2yolo", inputs=[inp], outputs=[httpclient.InferRequestedOutput("DETECTIONS")])
                ok = r.as_numpy("DETECTIONS").shape[-1] == 6
                err = None if ok else "bad output shape"
            except Exception as e:  # a refused connection, a timeout, a server error
                err = f"{type(e).__name__}: {str(e)[:80]}"
            dt = time.perf_counter() - t0
            with lock:
                (errors.append(err) if err else latencies.append(dt))

    threads = [threading.Thread(target=client_loop) for _ in range(a.clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) * 1000 if latencies else np.array([float("nan")])
    res = {"label": a.label, "clients": a.clients, "requests_each": a.requests, "ok": len(latencies),
           "errors": len(errors), "wall_s": round(wall, 3), "throughput_rps": round(len(latencies) / wall, 2),
           "p50_ms": round(float(np.percentile(lat, 50)), 2), "p99_ms": round(float(np.percentile(lat, 99)), 2),
           "first_error": errors[0] if errors else None}
    print(f"{a.label}: {a.clients} clients x {a.requests} requests: {res['ok']} ok, {res['errors']} errors in "
          f"{wall:.2f} s; {res['throughput_rps']} requests/s; latency p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
