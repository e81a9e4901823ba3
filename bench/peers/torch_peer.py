#!/usr/bin/env python3
"""PyTorch peer of tx2yolo: the same network from the same model file, timed beside tx2yolo.

    python bench/peers/torch_peer.py --model models/demo.safetensors --tx2yolo build/tx2yolo \
        [--device cuda] [--sizes 320,416,608] [--batches 1,8] [--iterations 200] [--json peers.json]
        [--compile-configs 608x1] [--tx2yolo-results DIR --results-prefix NAME]

No Paddle is involved. The script
1. reads the tx2yolo model file (safetensors; the graph is in __metadata__["graph"], BN is
   already folded) and builds the network in PyTorch: conv2d (groups, stride, padding, bias)
   with ReLU or LeakyReLU(alpha), nearest x2 upsample, concat;
2. checks correctness first: it runs its FP32 network on a seeded random input, writes every
   graph tensor as a tx2yolo reference file, and runs `tx2yolo compare` on it (every layer must
   pass, relative L2 <= 1e-5), on the same backend kind as the timing (--device). Nothing is
   timed if that fails. TF32 is switched off (PyTorch allows it in cuDNN convs by default on
   sm_80+), so "fp32" is IEEE FP32 on both sides;
3. times the network only (input already on the device, outputs left there) over --iterations
   after a warm-up, for each size and batch: PyTorch eager FP32; eager FP16 channels_last with
   cudnn.benchmark; torch.compile(mode="reduce-overhead") FP16. The FP16 modes and compile run
   on CUDA only, and torch.compile (minutes of compiling per shape) only at --compile-configs
   (SIZExBATCH, comma-separated; "all" for every one);
4. runs `tx2yolo bench --synthetic` at the same size and batch, FP32 and (on CUDA) FP16
   (--tx2yolo may also be tx2yolo-bench), or reads its JSON from --tx2yolo-results DIR
   (NAME-SIZE-bBATCH[-fp16].json, as tools/gpu-check.sh writes them), and prints one
   side-by-side table of medians with the ratios peer / tx2yolo (network only; FP16 peers
   against tx2yolo FP16 where it ran), plus tx2yolo's end-to-end times.
"""

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
import torch.nn.functional as F


def read_model(path):
    data = open(path, 'rb').read()
    n = struct.unpack('<Q', data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    meta = header.pop('__metadata__')
    tensors = {}
    for name, e in header.items():
        assert e['dtype'] == 'F32', (name, e['dtype'])
        s, t = e['data_offsets']
        tensors[name] = np.frombuffer(data, np.float32, (t - s) // 4, base + s).reshape(e['shape']).copy()
    return json.loads(meta['graph']), tensors


class Network(torch.nn.Module):
    def __init__(self, graph, tensors):
        super().__init__()
        self.graph = graph
        self.params = torch.nn.ParameterDict()
        for node in graph['nodes']:
            if node['op'] == 'conv2d':
                key = node['name'].replace('.', '_')
                self.params[key + '_w'] = torch.nn.Parameter(torch.from_numpy(tensors[node['weight']]), False)
                if node.get('bias'):
                    self.params[key + '_b'] = torch.nn.Parameter(torch.from_numpy(tensors[node['bias']]), False)

    def forward(self, x, keep_all=False):
        env = {self.graph['input']['name']: x}
        for node in self.graph['nodes']:
            op, a = node['op'], node.get('attrs', {})
            if op == 'conv2d':
                key = node['name'].replace('.', '_')
                y = F.conv2d(env[node['inputs'][0]], self.params[key + '_w'], self.params[key + '_b']
                             if key + '_b' in self.params else None, tuple(a['stride']), tuple(a['pad']), 1,
                             a['groups'])
                if a['activation'] == 'relu':
                    y = F.relu(y)
                elif a['activation'] == 'leaky_relu':
                    y = F.leaky_relu(y, a['alpha'])
            elif op == 'upsample_nearest':
                y = F.interpolate(env[node['inputs'][0]], scale_factor=a['scale'], mode='nearest')
            elif op == 'concat':
                y = torch.cat([env[i] for i in node['inputs']], 1)
            else:
                raise SystemExit('unknown op %s' % op)
            env[node['output']] = y
        return env if keep_all else [env[o] for o in self.graph['outputs']]


def write_reference(path, tensors, h, w):
    header, blobs, offset = {'__metadata__': {'variant': 'torch_peer', 'input_h': str(h), 'input_w': str(w)}}, [], 0
    for name, a in tensors.items():
        a = np.ascontiguousarray(a, np.float32)
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    text = json.dumps(header).encode()
    text += b' ' * ((8 - (8 + len(text)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + b''.join(blobs))


def check_against_tx2yolo(args, net, graph, device):
    h = w = min(args.sizes)
    torch.manual_seed(0)
    x = torch.randn(1, 3, h, w)
    with torch.no_grad():
        env = net.to(device)(x.to(device), keep_all=True)
    tensors = {'input': x.numpy(), 'im_shape': np.array([[h, w]], np.float32),
               'scale_factor': np.array([[1, 1]], np.float32)}
    for node in graph['nodes']:
        tensors[node['output']] = env[node['output']].float().cpu().numpy()
    with tempfile.TemporaryDirectory() as d:
        ref = os.path.join(d, 'peer_ref.safetensors')
        write_reference(ref, tensors, h, w)
        r = subprocess.run([args.tx2yolo, 'compare', '--model', args.model, '--reference', ref, '--backend',
                            'cuda' if device == 'cuda' else 'cpu'], capture_output=True, text=True)
    print(r.stdout.strip().split('\n')[-1], '(tx2yolo compare of the PyTorch peer, %dx%d, every layer)' % (h, w))
    if r.returncode != 0:
        print(r.stdout, r.stderr)
        raise SystemExit('the PyTorch peer does not match tx2yolo: no timing is reported')


def time_network(fn, x, iterations, warmup, device):
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        if device == 'cuda':
            torch.cuda.synchronize()
        times = []
        for _ in range(iterations):
            if device == 'cuda':
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                fn(x)
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end))
            else:
                t0 = time.perf_counter()
                fn(x)
                times.append(1e3 * (time.perf_counter() - t0))
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(0.9 * len(times)))]


def tx2yolo_bench(args, size, batch, device, precision='fp32'):
    """tx2yolo's bench JSON for this size, batch and precision: read from --tx2yolo-results, or measured."""
    suffix = '' if precision == 'fp32' else '-' + precision
    if args.tx2yolo_results:
        f = os.path.join(args.tx2yolo_results, '%s-%d-b%d%s.json' % (args.results_prefix, size, batch, suffix))
        if os.path.exists(f):
            return json.load(open(f))
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, 'b.json')
        r = subprocess.run([args.tx2yolo, 'bench', '--synthetic', '--model', args.model, '--input-size', str(size),
                            '--batch', str(batch), '--backend', 'cuda' if device == 'cuda' else 'cpu',
                            '--precision', precision,
                            '--iterations', str(args.iterations), '--warmup', str(args.warmup), '--json', out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print('tx2yolo bench %s failed at %d, batch %d: %s' % (precision, size, batch, r.stderr.strip()))
            return None
        return json.load(open(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--model', required=True)
    ap.add_argument('--tx2yolo', default='build/tx2yolo')
    ap.add_argument('--device', default='cuda' if torch.cuda.is_available() else 'cpu')
    ap.add_argument('--sizes', default='320,416,608')
    ap.add_argument('--batches', default='1,8')
    ap.add_argument('--iterations', type=int, default=200)
    ap.add_argument('--warmup', type=int, default=20)
    ap.add_argument('--json', default=None)
    ap.add_argument('--compile-configs', default='608x1',
                    help='SIZExBATCH list where torch.compile is timed, or "all"')
    ap.add_argument('--tx2yolo-results', default=None, help='folder of tx2yolo bench JSON files to reuse')
    ap.add_argument('--results-prefix', default='', help='their name prefix (NAME-SIZE-bBATCH.json)')
    args = ap.parse_args()
    args.sizes = [int(s) for s in args.sizes.split(',')]
    batches = [int(b) for b in args.batches.split(',')]
    device = args.device
    # FP32 means FP32: PyTorch lets cuDNN convs use TF32 tensor cores by default
    # on sm_80 and later (10 mantissa bits, relative errors near 1e-3), which
    # would fail the layer check and time a lower precision than tx2yolo's.
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    graph, tensors = read_model(args.model)
    net = Network(graph, tensors).eval()
    check_against_tx2yolo(args, net, graph, device)

    card = torch.cuda.get_device_name() if device == 'cuda' else 'CPU (%d threads)' % torch.get_num_threads()
    print('card: %s; torch %s; network only (input on the device); median of %d after %d warm-up; ms'
          % (card, torch.__version__, args.iterations, args.warmup))
    modes = [('eager fp32', torch.float32, False, False)]
    if device == 'cuda':
        torch.backends.cudnn.benchmark = True
        modes += [('eager fp16 channels_last', torch.float16, True, False),
                  ('compile reduce-overhead fp16', torch.float16, True, True)]
    rows = []
    for size in args.sizes:
        for batch in batches:
            tx = tx2yolo_bench(args, size, batch, device)
            # FP16 (tensor-core convs) needs sm_70+; elsewhere bench refuses it and the cell stays n/a.
            tx16 = tx2yolo_bench(args, size, batch, device, 'fp16') if device == 'cuda' else None
            row = {'size': size, 'batch': batch,
                   'tx2yolo_fp32': tx['ms']['network']['median'] if tx else None,
                   'tx2yolo_fp16': tx16['ms']['network']['median'] if tx16 else None,
                   'tx2yolo_e2e_fp32': tx['ms']['end to end']['median'] if tx else None,
                   'tx2yolo_e2e_fp16': tx16['ms']['end to end']['median'] if tx16 else None}
            for name, dtype, channels_last, compiled in modes:
                if compiled and args.compile_configs != 'all' and \
                        '%dx%d' % (size, batch) not in args.compile_configs.split(','):
                    row[name] = None
                    continue
                m = Network(graph, tensors).eval().to(device, dtype)
                x = torch.randn(batch, 3, size, size, device=device, dtype=dtype)
                if channels_last:
                    m = m.to(memory_format=torch.channels_last)
                    x = x.contiguous(memory_format=torch.channels_last)
                fn = torch.compile(m, mode='reduce-overhead') if compiled else m
                row[name] = time_network(fn, x, args.iterations, args.warmup, device)[0]
            rows.append(row)
    names = ['tx2yolo_fp32', 'tx2yolo_fp16'] + [m[0] for m in modes] + ['tx2yolo_e2e_fp32', 'tx2yolo_e2e_fp16']
    print('%-6s %-5s ' % ('size', 'batch') + ' '.join('%28s' % n for n in names) +
          '   ratios (peer / tx2yolo, network; fp16 peers against tx2yolo fp16 where it ran)')
    for r in rows:
        cells = ' '.join('%28s' % ('n/a' if r[n] is None else '%.3f' % r[n]) for n in names)
        ratio_parts = []
        for name, dtype, _, _ in modes:
            ours = r['tx2yolo_fp16'] if dtype == torch.float16 and r['tx2yolo_fp16'] else r['tx2yolo_fp32']
            if ours and r[name]:
                ratio_parts.append('%s %.2fx' % (name, r[name] / ours))
        print('%-6d %-5d %s   %s' % (r['size'], r['batch'], cells, ', '.join(ratio_parts) or '-'))
    if args.json:
        json.dump({'card': card, 'torch': torch.__version__, 'rows': rows}, open(args.json, 'w'), indent=2)


if __name__ == '__main__':
    sys.exit(main())
