#!/usr/bin/env python3
"""Prunes a PaddleDetection YOLOv3-MobileNetV1 with tx2yolo's ratios in PaddleSlim, fine-tunes it in
PaddleDetection, and saves a checkpoint that `tx2yolo convert` takes.

    tx2yolo convert model_final.pdparams -o pruned.safetensors --config CFG --prune r578 \
        --paddleslim-ratios r578.paddleslim.json          # or: tx2yolo sensitivity ... --max-loss X
    python scripts/paddle/finetune_pruned.py --config CFG --weights model_final.pdparams \
        --ratios r578.paddleslim.json --dataset DATASET_DIR --out OUT --epochs 4
    tx2yolo convert OUT/model_final.pdparams -o finetuned.safetensors --config CFG   # widths from the shapes

1. Builds the model from the config with PaddleDetection, loads --weights.
2. Prunes it with PaddleSlim's dygraph pruner for the criterion (l1: L1NormFilterPruner, fpgm:
   FPGMFilterPruner; tx2yolo's l0 has no PaddleSlim pruner and is refused), prune_vars with the ratios
   keyed by the checkpoint's parameter names (mapped here onto the live parameters), axis 0, and checks
   that PaddleSlim kept exactly the filters tx2yolo kept (the file lists them).
3. Evaluates the pruned model (PaddleDetection's VOC metric), fine-tunes it for --epochs on the train
   split (cosine schedule from --lr, short warm-up) or until --max-minutes, saves OUT/model_final.pdparams,
   and evaluates again. OUT/finetune_info.json records both mAPs, the time and the versions.

The dataset is a VOC folder as make_voc_dataset.py writes it (train.txt, test.txt, label_list.txt).
Needs the venv of scripts/paddle/requirements.txt. The engine never needs Paddle.
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_dump  # noqa: E402,F401  (imports cv2 before paddle)
import sep_head  # noqa: E402,F401  (registers SepYOLOv3FPN)
import train_demo  # noqa: E402  (TimeLimit, StopTraining, evaluate, set_dataset_dir)

import numpy as np  # noqa: E402
import paddle  # noqa: E402
from ppdet.core.workspace import create, load_config, merge_config  # noqa: E402
from ppdet.engine import Trainer  # noqa: E402
import ppdet  # noqa: E402
from importlib.metadata import version as _version  # noqa: E402
SLIM_VERSION = _version("paddleslim")
from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner  # noqa: E402

SEED = 20261204


class Heads(paddle.nn.Layer):
    """What the pruner traces: image -> the three head outputs."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model.yolo_head(self.model.neck(self.model.backbone({'image': x})))


def saved_state(model):
    """The model's state without PaddleSlim's *_backup copies of the unpruned tensors."""
    return {k: v for k, v in model.state_dict().items() if not k.endswith('_backup')}


def bn_key(weight_key):
    # <prefix>.conv.weight -> <prefix>.batch_norm._mean (the BN after that conv)
    assert weight_key.endswith('.conv.weight'), weight_key
    return weight_key[:-len('.conv.weight')] + '.batch_norm._mean'


def prune(model, spec):
    """PaddleSlim's pruning of `model` in place; returns the checkpoint names it pruned."""
    criterion = spec['criterion']
    if criterion not in ('l1', 'fpgm'):
        raise SystemExit('criterion %r: PaddleSlim has no pruner for it (use l1 or fpgm)' % criterion)
    if spec.get('axis', 0) != 0:
        raise SystemExit('only axis 0 (output filters) is supported')
    before = {k: v.numpy().copy() for k, v in model.state_dict().items()}
    live = {k: p.name for k, p in model.state_dict().items()}
    plan = {}
    for name, ratio in spec['ratios'].items():
        if name not in live:
            raise SystemExit('%s: the model built from the config has no parameter %s' % (args.ratios, name))
        plan[live[name]] = float(ratio)
    traced = Heads(model)
    traced.eval()
    pruner = {'l1': L1NormFilterPruner, 'fpgm': FPGMFilterPruner}[criterion]
    pruner(traced, list(spec['input_shape'])).prune_vars(plan, [0])
    # PaddleSlim's kept filters against tx2yolo's, from the BN means (output channels only).
    after = model.state_dict()
    for name, layer in spec['layers'].items():
        m0, m1 = before[bn_key(name)], after[bn_key(name)].numpy()
        if len(set(m0.tolist())) != len(m0):
            print('note: %s has equal BN means; its kept filters are not compared' % name)
            continue
        rows = [int(np.nonzero(m0 == v)[0][0]) for v in m1]
        if rows != layer['kept']:
            raise SystemExit('%s: PaddleSlim kept %s, tx2yolo kept %s' % (name, rows, layer['kept']))
    return sorted(spec['ratios'])


def evaluate_pruned(config, dataset, spec, unpruned, state, map_type):
    """PaddleDetection's own evaluation of a pruned state: the config's model,
    pruned again the same way so that the shapes fit, then given `state`."""
    load_config(config)
    cfg = merge_config({'map_type': map_type})
    train_demo.set_dataset_dir(cfg, dataset)
    trainer = Trainer(cfg, mode='eval')
    trainer.model.set_state_dict(unpruned)
    prune(trainer.model, spec)
    trainer.model.set_state_dict(state)
    captured = train_demo.capture_map_results()
    trainer.evaluate()
    return captured['mAP'], len(trainer.dataset.roidbs)


def main():
    global args
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', default=train_demo.CONFIG)
    ap.add_argument('--weights', required=True, help='the unpruned checkpoint (.pdparams)')
    ap.add_argument('--ratios', required=True, help='tx2yolo convert --paddleslim-ratios output')
    ap.add_argument('--dataset', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--epochs', type=int, default=4)
    ap.add_argument('--lr', type=float, default=0.002)
    ap.add_argument('--max-minutes', type=float, default=60)
    args = ap.parse_args()
    with open(args.ratios) as f:
        spec = json.load(f)
    if not spec.get('format', '').startswith('tx2yolo pruning for PaddleSlim'):
        raise SystemExit('%s: not written by tx2yolo convert --paddleslim-ratios' % args.ratios)
    paddle.set_device('cpu')
    paddle.seed(SEED)
    np.random.seed(SEED)
    os.makedirs(args.out, exist_ok=True)
    dataset = os.path.abspath(args.dataset)

    load_config(args.config)
    merge_config({'epoch': args.epochs, 'save_dir': args.out,
                  'LearningRate': {'base_lr': args.lr,
                                   'schedulers': [{'name': 'CosineDecay', 'max_epochs': args.epochs},
                                                  {'name': 'LinearWarmup', 'start_factor': 0.1, 'steps': 50}]}})
    cfg = merge_config({})
    train_demo.set_dataset_dir(cfg, dataset)
    trainer = Trainer(cfg, mode='train')
    state = paddle.load(args.weights)
    missing = [k for k in trainer.model.state_dict() if k not in state]
    if missing:
        raise SystemExit('%s lacks %d tensors of the model, e.g. %s' % (args.weights, len(missing), missing[0]))
    trainer.model.set_state_dict(state)
    pruned = prune(trainer.model, spec)
    print('pruned %d layers with PaddleSlim %s (%s); the kept filters equal tx2yolo\'s' %
          (len(pruned), SLIM_VERSION, spec['criterion']))
    # The optimizer was built on the unpruned parameters: build it again.
    trainer.optimizer = create('OptimizerBuilder')(trainer.lr, trainer.model)
    pruned_path = os.path.join(args.out, 'pruned_not_finetuned')
    paddle.save(saved_state(trainer.model), pruned_path + '.pdparams')

    trainer.register_callbacks([train_demo.TimeLimit(trainer.model, args.max_minutes * 60)])
    start = time.time()
    try:
        trainer.train()
        stopped = 'completed %d epochs' % args.epochs
    except train_demo.StopTraining:
        stopped = 'stopped by the %.0f-minute limit' % args.max_minutes
    minutes = (time.time() - start) / 60
    weights = os.path.join(args.out, 'model_final')
    paddle.save(saved_state(trainer.model), weights + '.pdparams')
    print('fine-tuning %s in %.1f min; saved %s.pdparams' % (stopped, minutes, weights))

    info = {'paddle_version': paddle.__version__, 'paddledet_version': ppdet.__version__,
            'paddleslim_version': SLIM_VERSION, 'criterion': spec['criterion'],
            'pruned_layers': len(pruned), 'ratios': spec['ratios'], 'epochs_planned': args.epochs,
            'lr': args.lr, 'stopped': stopped, 'minutes': round(minutes, 1)}
    for label, path in (('pruned, not fine-tuned', pruned_path), ('pruned, fine-tuned', weights)):
        for map_type in ('11point', 'integral'):
            m, n = evaluate_pruned(args.config, dataset, spec, state, paddle.load(path + '.pdparams'), map_type)
            info.setdefault(label, {})[map_type] = m
            info['test_images'] = n
        print('%s: 11-point mAP %.4f, area mAP %.4f' % (label, info[label]['11point'], info[label]['integral']))
    with open(os.path.join(args.out, 'finetune_info.json'), 'w') as f:
        json.dump(info, f, indent=2, sort_keys=True)
        f.write('\n')


if __name__ == '__main__':
    main()
