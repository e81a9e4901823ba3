#!/usr/bin/env python3
"""The COCO metric fixture: a generated annotation file and results, and what
pycocotools' COCOeval says of them (tests/data/coco/). tx2yolo's own metric
(eval/coco_metric.h) must give the same 12 numbers.

    python3 -m venv /tmp/coco-venv && /tmp/coco-venv/bin/pip install -r scripts/coco/requirements.txt
    /tmp/coco-venv/bin/python scripts/coco/make_coco_fixture.py tests/data/coco   # writes a/, b/, c/

Deterministic (seeded). The cases are chosen to reach every branch of the
metric: categories with ids that are not 0..K-1, a category without any
ground truth, crowd regions (matched by intersection over the detection's
area, several detections each), annotation areas that differ from the box
areas (the area ranges use the annotation's), objects in all three area
ranges, images without objects, images with more than 100 detections, equal
scores, duplicate and missed detections, and detections of a category the
annotation file does not have.
"""
import json
import os
import random
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval
import pycocotools

# One case per seed, each in its own folder.
CASES = {"a": 20261204, "b": 11, "c": 12}
CATEGORIES = [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}, {"id": 7, "name": "train"},
              {"id": 18, "name": "dog"}, {"id": 25, "name": "giraffe"}]  # giraffe: never annotated


def r2(x):
    return round(float(x), 2)


def make(rng):
    images, annotations, results = [], [], []
    ann_id = 1
    for i in range(40):
        image_id = 1000 + 7 * i  # not positions
        w, h = rng.choice([(640, 480), (500, 375), (320, 320)])
        images.append({"id": image_id, "file_name": f"{image_id:012d}.jpg", "width": w, "height": h})
        if i % 9 == 4:
            continue  # no objects
        for _ in range(rng.randint(1, 8)):
            size = rng.choice([12, 20, 28, 40, 60, 90, 120, 200])  # small, medium and large
            bw = max(2.0, size * rng.uniform(0.6, 1.4))
            bh = max(2.0, size * rng.uniform(0.6, 1.4))
            x = rng.uniform(0, max(1.0, w - bw))
            y = rng.uniform(0, max(1.0, h - bh))
            cat = rng.choice(CATEGORIES[:4])["id"]
            crowd = 1 if rng.random() < 0.08 else 0
            area = bw * bh * rng.uniform(0.55, 0.95)  # a mask's area, not the box's
            annotations.append({"id": ann_id, "image_id": image_id, "category_id": cat,
                                "bbox": [r2(x), r2(y), r2(bw), r2(bh)], "area": r2(area), "iscrowd": crowd,
                                "segmentation": [[r2(x), r2(y), r2(x + bw), r2(y), r2(x + bw), r2(y + bh)]]})
            ann_id += 1
            # Detections of it: none (missed), one, or several (duplicates; a crowd takes them all).
            for _ in range(rng.choice([0, 1, 1, 1, 2, 3] if not crowd else [2, 3])):
                jitter = size * rng.uniform(0.0, 0.35)
                results.append({"image_id": image_id,
                                "category_id": cat if rng.random() > 0.07 else rng.choice(CATEGORIES)["id"],
                                "bbox": [r2(x + rng.uniform(-jitter, jitter)), r2(y + rng.uniform(-jitter, jitter)),
                                         r2(bw * rng.uniform(0.7, 1.3)), r2(bh * rng.uniform(0.7, 1.3))],
                                "score": r2(rng.uniform(0.05, 1.0))})
        # False positives, some with equal scores.
        for k in range(rng.randint(0, 6)):
            bw, bh = rng.uniform(8, 150), rng.uniform(8, 150)
            results.append({"image_id": image_id, "category_id": rng.choice(CATEGORIES)["id"],
                            "bbox": [r2(rng.uniform(0, w - 8)), r2(rng.uniform(0, h - 8)), r2(bw), r2(bh)],
                            "score": 0.5 if k % 2 else r2(rng.uniform(0.01, 0.9))})
        # A crowded image: more than 100 detections of one category.
        if i == 11:
            for k in range(130):
                results.append({"image_id": image_id, "category_id": 1,
                                "bbox": [r2(rng.uniform(0, w - 40)), r2(rng.uniform(0, h - 40)), 30.0, 30.0],
                                "score": r2(0.3 + 0.001 * (k % 50))})
    # A category id not in the annotation file: ignored by the metric.
    results.append({"image_id": images[0]["id"], "category_id": 99, "bbox": [1, 1, 10, 10], "score": 0.9})
    return images, annotations, results


def write_case(out_dir, seed):
    rng = random.Random(seed)
    images, annotations, results = make(rng)
    os.makedirs(out_dir, exist_ok=True)
    gt_path = os.path.join(out_dir, "instances.json")
    dt_path = os.path.join(out_dir, "detections.json")
    with open(gt_path, "w") as f:
        json.dump({"info": {"description": "tx2yolo COCO metric fixture (scripts/coco/make_coco_fixture.py)"},
                   "images": images, "annotations": annotations, "categories": CATEGORIES}, f)
    with open(dt_path, "w") as f:
        json.dump(results, f)
    gt = COCO(gt_path)
    dt = gt.loadRes(dt_path)
    ev = COCOeval(gt, dt, "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    names = ["AP", "AP50", "AP75", "AP_small", "AP_medium", "AP_large",
             "AR1", "AR10", "AR100", "AR_small", "AR_medium", "AR_large"]
    with open(os.path.join(out_dir, "pycocotools_stats.json"), "w") as f:
        json.dump({"pycocotools": pycocotools.__version__ if hasattr(pycocotools, "__version__") else "2.0.8",
                   "numpy": np.__version__, "images": len(images), "annotations": len(annotations),
                   "detections": len(results), "seed": seed,
                   "stats": {n: float(v) for n, v in zip(names, ev.stats)}}, f, indent=1)
    print(f"wrote {gt_path}, {dt_path} ({len(annotations)} objects, {len(results)} detections)")


def main(out_dir):
    for name, seed in CASES.items():
        write_case(os.path.join(out_dir, name), seed)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "tests/data/coco")
