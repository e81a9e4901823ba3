#!/usr/bin/env python3
"""Paddle Inference on the CPU (MKLDNN on), timed beside `tx2yolo bench --backend cpu`.

    python bench/peers/paddle_cpu_peer.py --config CFG --weights model_final.pdparams \
        --tx2yolo build/tx2yolo --model converted.safetensors [--sizes 320] [--threads 1,2] \
        [--cpu-convs reference,gemm] [--iterations 30] [--warmup 5] [--json out.json]
    python bench/peers/paddle_cpu_peer.py --config CFG --random-init --tx2yolo build/tx2yolo ...
    python bench/peers/paddle_cpu_peer.py --config CFG --random-init --prune r578 --tx2yolo build/tx2yolo ...

With --random-init (no checkpoint, e.g. a full-width config), the model's seeded random
initialisation is saved as a checkpoint and converted with `tx2yolo convert --defaults voc`, so
both sides run the same weights. With --prune (random init only), tx2yolo prunes that checkpoint
(`tx2yolo convert --prune P --paddleslim-ratios`), and the Paddle side prunes its model with PaddleSlim
from the same ratios (scripts/paddle/finetune_pruned.py's prune, which checks that PaddleSlim kept the
filters tx2yolo kept) before it is saved: the separable-pruned row.

Needs the venv of scripts/paddle/requirements.txt (Paddle 2.6.2, PaddleDetection 2.6.0); the engine
never does. The script
1. builds the model from the PaddleDetection config with the checkpoint's weights and saves the
   network alone (image -> the three head outputs, no decode or NMS: what `tx2yolo bench` times as
   "network") with paddle.jit.save, as PaddleDetection's exporter does;
2. for each size and thread count, runs it with Paddle Inference: CPU, MKLDNN on, IR optimisation
   on, `set_cpu_math_library_num_threads(threads)`, a fixed seeded input of [1, 3, size, size],
   `--warmup` runs and then `--iterations` timed runs of the predictor, median in ms;
3. runs `tx2yolo bench --backend cpu --synthetic --threads T --input-size S` on the converted
   model and takes its network median;
4. prints one table with the ratio Paddle / tx2yolo (above 1: tx2yolo is faster).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, '..', '..', 'scripts', 'paddle'))
import reference_dump  # noqa: E402,F401  (imports cv2 before paddle)
import sep_head  # noqa: E402,F401  (registers SepYOLOv3FPN)
import finetune_pruned  # noqa: E402  (PaddleSlim's pruning from tx2yolo's ratios)

import numpy as np  # noqa: E402
import paddle  # noqa: E402
from paddle import inference  # noqa: E402
from ppdet.core.workspace import load_config, merge_config  # noqa: E402
from ppdet.engine import Trainer  # noqa: E402


class Network(paddle.nn.Layer):
    """image -> the three head outputs: the network, without decode or NMS."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, image):
        return self.model.yolo_head(self.model.neck(self.model.backbone({'image': image})))


def export(config, weights, size, out_dir, prune_spec=None):
    load_config(config)
    cfg = merge_config({'weights': weights})
    trainer = Trainer(cfg, mode='test')
    trainer.load_weights(weights)
    if prune_spec is not None:
        finetune_pruned.prune(trainer.model, prune_spec)
    net = Network(trainer.model)
    net.eval()
    spec = [paddle.static.InputSpec(shape=[1, 3, size, size], dtype='float32', name='image')]
    static = paddle.jit.to_static(net, input_spec=spec, full_graph=True)
    paddle.jit.save(static, os.path.join(out_dir, 'model'), input_spec=spec)
    return os.path.join(out_dir, 'model.pdmodel'), os.path.join(out_dir, 'model.pdiparams')


def time_paddle(model, params, size, threads, iterations, warmup):
    c = inference.Config(model, params)
    c.disable_gpu()
    c.enable_mkldnn()
    c.set_cpu_math_library_num_threads(threads)
    c.switch_ir_optim(True)
    c.disable_glog_info()
    predictor = inference.create_predictor(c)
    rng = np.random.default_rng(1)
    feeds = {'image': rng.standard_normal((1, 3, size, size)).astype('float32'),
             'im_shape': np.array([[size, size]], dtype='float32'),
             'scale_factor': np.array([[1.0, 1.0]], dtype='float32')}
    for name in predictor.get_input_names():
        predictor.get_input_handle(name).copy_from_cpu(feeds[name])
    for _ in range(warmup):
        predictor.run()
    times = []
    for _ in range(iterations):
        t = time.perf_counter()
        predictor.run()
        times.append((time.perf_counter() - t) * 1e3)
    outputs = [predictor.get_output_handle(n).copy_to_cpu() for n in predictor.get_output_names()]
    return float(np.median(times)), [list(o.shape) for o in outputs]


def pruned_checkpoint(config, weights, out_dir, cli, prune):
    """tx2yolo's pruning of the checkpoint, and the same pruning as PaddleSlim's ratios."""
    model = os.path.join(out_dir, 'pruned.safetensors')
    ratios = os.path.join(out_dir, 'pruned.paddleslim.json')
    subprocess.run([cli, 'convert', weights, '--config', config, '--defaults', 'voc', '--prune', prune,
                    '--paddleslim-ratios', ratios, '-o', model, '--quiet'], check=True)
    with open(ratios) as f:
        spec = json.load(f)
    # PaddleSlim traces the model on a constant input of this shape, which its static-graph assign
    # refuses above about a million elements (608x608 is 1.1 million); the spatial size does not
    # change which filters are pruned.
    spec['input_shape'] = [1, 3, 320, 320]
    return model, spec


def random_checkpoint(config, out_dir, cli):
    """The config's model with its seeded random initialisation, saved and converted by tx2yolo."""
    paddle.seed(1)
    load_config(config)
    cfg = merge_config({})
    trainer = Trainer(cfg, mode='test')
    weights = os.path.join(out_dir, 'random.pdparams')
    paddle.save(trainer.model.state_dict(), weights)
    model = os.path.join(out_dir, 'random.safetensors')
    subprocess.run([cli, 'convert', weights, '--config', config, '--defaults', 'voc', '-o', model, '--quiet'],
                   check=True)
    return weights, model


def time_tx2yolo(cli, model, size, threads, iterations, warmup, cpu_convs):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'bench.json')
        subprocess.run([cli, 'bench', '--backend', 'cpu', '--synthetic', '--model', model, '--threads', str(threads),
                        '--input-size', str(size), '--iterations', str(iterations), '--warmup', str(warmup),
                        '--cpu-convs', cpu_convs, '--json', out], check=True, stdout=subprocess.DEVNULL)
        with open(out) as f:
            return json.load(f)['ms']['network']['median']


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True)
    ap.add_argument('--weights')
    ap.add_argument('--random-init', action='store_true', help='no checkpoint: seeded random weights, converted')
    ap.add_argument('--prune', help='with --random-init: tx2yolo convert --prune value (e.g. r578), both sides')
    ap.add_argument('--tx2yolo', required=True)
    ap.add_argument('--model', help='the same checkpoint converted by tx2yolo convert')
    ap.add_argument('--cpu-convs', default='reference', help='tx2yolo --cpu-convs values, one column each')
    ap.add_argument('--sizes', default='320')
    ap.add_argument('--threads', default='1,2')
    ap.add_argument('--iterations', type=int, default=30)
    ap.add_argument('--warmup', type=int, default=5)
    ap.add_argument('--json')
    args = ap.parse_args()
    if args.random_init == bool(args.weights or args.model):
        ap.error('give --weights and --model, or --random-init')
    if args.prune and not args.random_init:
        ap.error('--prune needs --random-init')
    convs = args.cpu_convs.split(',')
    paddle.set_device('cpu')
    rows = []
    with tempfile.TemporaryDirectory() as d:
        weights, tx_model = args.weights, args.model
        spec = None
        if args.random_init:
            weights, tx_model = random_checkpoint(args.config, d, args.tx2yolo)
        if args.prune:
            tx_model, spec = pruned_checkpoint(args.config, weights, d, args.tx2yolo, args.prune)
        for size in [int(s) for s in args.sizes.split(',')]:
            model, params = export(args.config, weights, size, os.path.join(d, str(size)), spec)
            for threads in [int(t) for t in args.threads.split(',')]:
                p_ms, shapes = time_paddle(model, params, size, threads, args.iterations, args.warmup)
                row = {'size': size, 'threads': threads, 'paddle_ms': p_ms, 'paddle_outputs': shapes}
                for c in convs:
                    t_ms = time_tx2yolo(args.tx2yolo, tx_model, size, threads, args.iterations, args.warmup, c)
                    row['tx2yolo_%s_ms' % c] = t_ms
                    row['paddle_over_tx2yolo_%s' % c] = p_ms / t_ms
                rows.append(row)
    print('| input | threads | Paddle Inference (MKLDNN) ms | %s |' % ' | '.join(
        'tx2yolo %s ms | Paddle / tx2yolo %s' % (c, c) for c in convs))
    print('|---|---|---|%s' % ('---|---|' * len(convs)))
    for r in rows:
        print('| %dx%d | %d | %.2f | %s |' % (r['size'], r['size'], r['threads'], r['paddle_ms'], ' | '.join(
            '%.2f | %.2f' % (r['tx2yolo_%s_ms' % c], r['paddle_over_tx2yolo_%s' % c]) for c in convs)))
    if args.json:
        with open(args.json, 'w') as f:
            json.dump({'paddle': paddle.__version__, 'rows': rows}, f, indent=1)


if __name__ == '__main__':
    main()
