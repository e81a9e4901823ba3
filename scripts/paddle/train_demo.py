#!/usr/bin/env python3
"""Trains tx2yolo's demo model with PaddleDetection and records Paddle's own mAP.

    python scripts/paddle/train_demo.py --dataset /tmp/shapes_voc --out /tmp/demo_train \
        [--epochs 24] [--max-minutes 68] [--pretrained backbone.pdparams]

1. Trains scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml (YOLOv3-
   MobileNetV1 x0.25 with the separable head, 320x320, CPU; the backbone from
   --pretrained, else from scratch, which does not converge in 90 minutes) on the
   train split of make_voc_dataset.py's dataset, for --epochs epochs or until
   --max-minutes have passed (then it stops after the current step; the
   cosine schedule is planned for --epochs).
2. Saves <out>/model_final.pdparams.
3. Runs PaddleDetection's own VOC evaluation (VOCMetric, IoU 0.5, difficult
   ignored) of that checkpoint on the test split, with the 11-point and the
   area ("integral") metric, and writes <out>/paddle_eval.json: mAP, per-class
   AP, number of test images, versions.
Deterministic up to Paddle's CPU kernels and the data loader's shuffling seed.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_dump  # noqa: E402,F401  (imports cv2 before paddle)
import sep_head  # noqa: E402,F401  (registers SepYOLOv3FPN)

import numpy as np  # noqa: E402
import paddle  # noqa: E402
from ppdet.core.workspace import load_config, merge_config  # noqa: E402
from ppdet.engine import Trainer  # noqa: E402
from ppdet.engine.callbacks import Callback  # noqa: E402
import ppdet  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONFIG = os.path.join(HERE, 'configs', 'shapes_demo', 'yolov3_mbv1_sep_shapes.yml')
SEED = 20261127


class StopTraining(Exception):
    pass


class TimeLimit(Callback):
    def __init__(self, model, seconds):
        super().__init__(model)
        self.deadline = time.time() + seconds

    def on_step_end(self, status):
        if time.time() > self.deadline:
            raise StopTraining()


def set_objectness_prior(model, logit, num_classes):
    """Starts every head's objectness logit at `logit` (sigmoid(-4.6) = 0.01), the
    prior-probability initialisation of RetinaNet, instead of 0 (0.5), so that
    the first steps are not spent on a huge objectness loss."""
    for conv in model.yolo_head.yolo_outputs:
        b = conv.bias.numpy()
        per_anchor = 5 + num_classes
        for a in range(b.shape[0] // per_anchor):
            b[a * per_anchor + 4] = logit
        conv.bias.set_value(b)


def set_dataset_dir(cfg, dataset_dir):
    for k in ('TrainDataset', 'EvalDataset', 'TestDataset'):
        cfg[k].dataset_dir = dataset_dir


def capture_map_results():
    """PaddleDetection resets its metric after logging it; keep what
    DetectionMAP.accumulate computed (mAP, and AP per class with its name)."""
    from ppdet.metrics import map_utils
    captured = {}
    original = map_utils.DetectionMAP.accumulate

    def accumulate(self):
        original(self)
        names = [n for n, c in zip(self.classes, self.class_gt_counts) if c > 0]
        captured['mAP'] = float(self.mAP)
        captured['per_class'] = {n: float(r['ap']) for n, r in zip(names, self.eval_results)}

    map_utils.DetectionMAP.accumulate = accumulate
    return captured


def evaluate(cfg_path, dataset_dir, weights, map_type):
    load_config(cfg_path)
    cfg = merge_config({'map_type': map_type, 'weights': weights})
    set_dataset_dir(cfg, dataset_dir)
    trainer = Trainer(cfg, mode='eval')
    trainer.load_weights(weights)
    captured = capture_map_results()
    trainer.evaluate()
    return captured['mAP'], captured['per_class'], len(trainer.dataset.roidbs)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, default=24)
    ap.add_argument('--max-minutes', type=float, default=68)
    ap.add_argument('--eval-only', action='store_true')
    ap.add_argument('--pretrained', help='backbone weights from pretrain_backbone.py (backbone.* names)')
    ap.add_argument('--objectness-prior', type=float, default=-4.6,
                    help='initial objectness logit of the heads (None: PaddleDetection default)')
    args = ap.parse_args()
    paddle.set_device('cpu')
    paddle.seed(SEED)
    np.random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, 'model_final')
    dataset = os.path.abspath(args.dataset)

    if not args.eval_only:
        load_config(CONFIG)
        merge_config({'epoch': args.epochs, 'save_dir': args.out,
                      'LearningRate': {'schedulers': [{'name': 'CosineDecay', 'max_epochs': args.epochs},
                                                      {'name': 'LinearWarmup', 'start_factor': 0.1, 'steps': 200}]}})
        cfg = merge_config({})
        set_dataset_dir(cfg, dataset)
        trainer = Trainer(cfg, mode='train')
        if args.pretrained:
            state = paddle.load(args.pretrained)
            missing = [k for k in trainer.model.backbone.state_dict() if 'backbone.' + k not in state]
            if missing:
                raise SystemExit('%s lacks backbone tensors, e.g. %s' % (args.pretrained, missing[0]))
            trainer.model.set_state_dict(state)
            print('loaded %d pretrained backbone tensors from %s' % (len(state), args.pretrained))
        if args.objectness_prior is not None:
            set_objectness_prior(trainer.model, args.objectness_prior, cfg.num_classes)
        trainer.register_callbacks([TimeLimit(trainer.model, args.max_minutes * 60)])
        start = time.time()
        try:
            trainer.train()
            stopped = 'completed %d epochs' % args.epochs
        except StopTraining:
            stopped = 'stopped by the %.0f-minute limit' % args.max_minutes
        paddle.save(trainer.model.state_dict(), weights + '.pdparams')
        minutes = (time.time() - start) / 60
        print('training %s in %.1f min; saved %s.pdparams' % (stopped, minutes, weights))
        with open(os.path.join(args.out, 'train_info.json'), 'w') as f:
            json.dump({'stopped': stopped, 'minutes': round(minutes, 1), 'epochs_planned': args.epochs,
                       'pretrained_backbone': os.path.basename(args.pretrained) if args.pretrained else None}, f, indent=2)

    result = {'paddle_version': paddle.__version__, 'paddledet_version': ppdet.__version__,
              'config': os.path.relpath(CONFIG, os.path.join(HERE, '..', '..')),
              'split': 'test', 'input_size': [320, 320], 'overlap_thresh': 0.5, 'evaluate_difficult': False}
    for map_type in ('11point', 'integral'):
        m, per_class, n = evaluate(CONFIG, dataset, weights, map_type)
        result[map_type] = {'mAP': m, 'per_class_ap': per_class}
        result['images'] = n
        print('%s mAP %.4f %s' % (map_type, m, per_class))
    with open(os.path.join(args.out, 'paddle_eval.json'), 'w') as f:
        json.dump(result, f, indent=2, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
