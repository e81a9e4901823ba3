#!/usr/bin/env python3
"""Pretrains the demo model's MobileNetV1 backbone as a shape classifier.

    python scripts/paddle/pretrain_backbone.py --dataset /tmp/shapes_voc --out /tmp/backbone.pdparams \
        [--scale 0.25] [--steps 400] [--max-minutes 6]

No ImageNet weights can be downloaded here, and a YOLOv3 trained from scratch on
2 CPU cores for 90 minutes learns almost nothing: the detection loss gives the
backbone a weak, noisy signal (a few positive anchors among thousands), so the
class loss stays at chance. This is the usual cure, an ImageNet-style
pretraining of the backbone, done on the dataset itself: 96x96 crops of the
train split, each labelled with the class of the (non-difficult) object centred
in it or "background", classified by PaddleDetection's own MobileNet (the same
class and scale as in the detector config) + global average pool + one linear
layer. Only the backbone's weights are saved, with the detector's parameter
names (backbone.*), for train_demo.py --pretrained.

Deterministic up to Paddle's CPU kernels (seeded crops and initialisation).
"""

import argparse
import os
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_dump  # noqa: E402,F401  (imports cv2 before paddle)

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn as nn  # noqa: E402
import paddle.nn.functional as F  # noqa: E402
from ppdet.modeling.backbones.mobilenet_v1 import MobileNet  # noqa: E402

SEED = 20261127
CROP = 96
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def load_split(dataset, classes):
    images, objects = [], []
    with open(os.path.join(dataset, 'train.txt')) as f:
        for line in f:
            img_rel, xml_rel = line.split()
            im = cv2.imread(os.path.join(dataset, img_rel), cv2.IMREAD_COLOR)
            if im is None:
                raise SystemExit('cannot read %s' % img_rel)
            images.append(cv2.cvtColor(im, cv2.COLOR_BGR2RGB))
            boxes = []
            for o in ET.parse(os.path.join(dataset, xml_rel)).findall('object'):
                b = o.find('bndbox')
                box = [float(b.find(k).text) for k in ('xmin', 'ymin', 'xmax', 'ymax')]
                boxes.append((classes.index(o.find('name').text), int(o.find('difficult').text), box))
            objects.append(boxes)
    return images, objects


def sample(rng, images, objects, num_classes):
    """One crop: an object's (label = its class) or background (label = num_classes)."""
    while True:
        i = int(rng.integers(len(images)))
        im, boxes = images[i], objects[i]
        easy = [b for b in boxes if not b[1]]
        h, w = im.shape[:2]
        if easy and rng.random() < 0.75:
            cls, _, (x1, y1, x2, y2) = easy[int(rng.integers(len(easy)))]
            side = max(x2 - x1, y2 - y1) * rng.uniform(1.1, 1.7)
            cx = (x1 + x2) / 2 + rng.uniform(-0.1, 0.1) * side
            cy = (y1 + y2) / 2 + rng.uniform(-0.1, 0.1) * side
            label = cls
        else:
            side = float(np.exp(rng.uniform(np.log(24), np.log(200))))
            cx, cy = rng.uniform(0, w), rng.uniform(0, h)
            # background: no object centre inside the crop
            if any(abs((b[2][0] + b[2][2]) / 2 - cx) < side / 2 and abs((b[2][1] + b[2][3]) / 2 - cy) < side / 2
                   for b in boxes):
                continue
            label = num_classes
        m = np.float32([[CROP / side, 0, CROP / 2 - cx * CROP / side], [0, CROP / side, CROP / 2 - cy * CROP / side]])
        crop = cv2.warpAffine(im, m, (CROP, CROP), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crop = crop.astype(np.float32) / 255
        crop = crop * rng.uniform(0.75, 1.25) + rng.uniform(-0.1, 0.1)   # contrast and brightness
        return ((crop - MEAN) / STD).transpose(2, 0, 1), label


class Classifier(nn.Layer):
    def __init__(self, scale, num_outputs):
        super().__init__()
        self.backbone = MobileNet(scale=scale, feature_maps=[4, 6, 13], with_extra_blocks=False)
        self.fc = nn.Linear(self.backbone.out_shape[-1].channels, num_outputs)

    def forward(self, x):
        feat = self.backbone({'image': x})[-1]
        return self.fc(F.adaptive_avg_pool2d(feat, 1).flatten(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--scale', type=float, default=0.25)
    ap.add_argument('--steps', type=int, default=400)
    ap.add_argument('--batch', type=int, default=64)
    ap.add_argument('--lr', type=float, default=0.002)
    ap.add_argument('--max-minutes', type=float, default=6)
    args = ap.parse_args()
    paddle.set_device('cpu')
    paddle.seed(SEED)
    rng = np.random.default_rng(SEED)
    with open(os.path.join(args.dataset, 'label_list.txt')) as f:
        classes = [c.strip() for c in f if c.strip()]
    images, objects = load_split(args.dataset, classes)
    model = Classifier(args.scale, len(classes) + 1)
    sched = paddle.optimizer.lr.CosineAnnealingDecay(args.lr, T_max=args.steps)
    opt = paddle.optimizer.Adam(learning_rate=sched, parameters=model.parameters())
    model.train()
    start, correct, seen, losses = time.time(), 0, 0, []
    step = 0
    for step in range(1, args.steps + 1):
        batch = [sample(rng, images, objects, len(classes)) for _ in range(args.batch)]
        x = paddle.to_tensor(np.stack([b[0] for b in batch]).astype(np.float32))
        y = paddle.to_tensor(np.array([b[1] for b in batch], np.int64))
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        loss.backward()
        opt.step()
        opt.clear_grad()
        sched.step()
        losses.append(float(loss))
        correct += int((logits.argmax(1) == y).astype('int64').sum())
        seen += args.batch
        if step % 50 == 0:
            print('step %d loss %.3f accuracy %.3f (last 50 steps) %.0f s' % (step, np.mean(losses[-50:]), correct / seen,
                                                                          time.time() - start), flush=True)
            correct = seen = 0
        if time.time() - start > args.max_minutes * 60:
            print('stopped by the %.0f-minute limit' % args.max_minutes)
            break
    state = {k: v for k, v in model.state_dict().items() if k.startswith('backbone.')}
    paddle.save(state, args.out)
    print('saved %d backbone tensors to %s after %d steps, %.1f min' % (len(state), args.out, step,
                                                                        (time.time() - start) / 60))


if __name__ == '__main__':
    main()
