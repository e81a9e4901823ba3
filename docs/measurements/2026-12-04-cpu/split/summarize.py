#!/usr/bin/env python3
"""Tables for docs/performance.md from the files run.sh writes (stdlib only)."""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def kinds(path):
    """kind -> (GFLOP, reference ms, openblas ms, onednn ms) from a choice file's summary."""
    out = {}
    for line in open(path):
        m = re.match(r'^(3x3|all|depthwise|pointwise)\s+([\d.]+)\s+([\d.]+) ms\s+([\d.]+) ms\s+([\d.]+) ms', line)
        if m:
            out[m.group(1)] = tuple(float(x) for x in m.groups()[1:])
    return out


def layers(path):
    """(name, GFLOP, reference, openblas, onednn, note) per layer line."""
    rows = []
    for line in open(path):
        m = re.match(r'^(\S+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s+\S+, \S+\s*(.*)$', line)
        if m and '.' in m.group(1):
            rows.append((m.group(1), float(m.group(2)), float(m.group(3)), float(m.group(4)), float(m.group(5)),
                         m.group(6)))
    return rows


def main():
    print('| model | input | threads | conv GFLOP | rows ms | auto ms | rows / auto | layers split by channels |')
    print('|---|---|---|---|---|---|---|---|')
    for arch in ('standard', 'separable', 'separable-pruned'):
        for size in (320, 608):
            for t in (1, 2):
                f = lambda s: os.path.join(HERE, f'choice-{arch}-{size}-t{t}-{s}.txt')
                if not (os.path.exists(f('rows')) and os.path.exists(f('auto'))):
                    continue
                r, a = kinds(f('rows')), kinds(f('auto'))
                if 'all' not in r or 'all' not in a:
                    continue
                nch = sum(1 for l in layers(f('auto')) if l[5].strip() == 'channels')
                print(f"| {arch} | {size} | {t} | {r['all'][0]:.2f} | {r['all'][2]:.1f} | {a['all'][2]:.1f} | "
                      f"{r['all'][2] / a['all'][2]:.2f} | {nch} |")
    print()
    print('| input | threads | output width | layers | GFLOP | reference ms | rows ms | reference / rows |')
    print('|---|---|---|---|---|---|---|---|')
    for size in (320, 608):
        for t in (1, 2):
            p = os.path.join(HERE, f'depthwise-separable-{size}-t{t}.txt')
            if not os.path.exists(p):
                continue
            rows = [l for l in layers(p) if '_depthwise_conv' in l[0]]
            groups = {}
            for name, g, ref, blas, dnn, note in rows:
                w = width_of(name, size)
                e = groups.setdefault(w, [0, 0.0, 0.0, 0.0])
                e[0] += 1; e[1] += g; e[2] += ref; e[3] += blas
            for w in sorted(groups, reverse=True):
                n, g, ref, blas = groups[w]
                print(f'| {size} | {t} | {w} | {n} | {g:.3f} | {ref:.2f} | {blas:.2f} | {ref / blas:.2f} |')


# Output width of each depthwise layer of the separable architecture (MobileNetV1 strides, then the head).
STRIDES = {'conv2_1': 2, 'conv2_2': 4, 'conv3_1': 4, 'conv3_2': 8, 'conv4_1': 8, 'conv4_2': 16, 'conv5_1': 16,
           'conv5_2': 16, 'conv5_3': 16, 'conv5_4': 16, 'conv5_5': 16, 'conv5_6': 32, 'conv6': 32,
           'yolo_block.0': 32, 'yolo_block.1': 16, 'yolo_block.2': 8}


def width_of(name, size):
    for k, s in STRIDES.items():
        if k + '.' in name or name.endswith(k):
            return size // s
    raise SystemExit(f'unknown layer {name}')


if __name__ == '__main__':
    sys.exit(main())
