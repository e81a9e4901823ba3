#!/usr/bin/env python3
"""Dump a tx2yolo reference (safetensors) for your own PaddleDetection model.

    python scripts/paddle/dump_reference.py --config configs/yolov3/yolov3_mobilenet_v1_270e_voc.yml \
        --weights model_final.pdparams --image photo.jpg --size 608x608 -o ref.safetensors

The model is created with ppdet's create() from the config (scripts/paddle/sep_head.py
is imported, so `neck: SepYOLOv3FPN` works; --sep-head forces that neck). A plain
YOLOv3FPN whose checkpoint widths differ from 512>>i (narrow or pruned) is rebuilt
with the checkpoint's widths. Tensor names and metadata: tests/data/paddle/README.md.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference_dump as rd  # noqa: E402  (imports cv2 before paddle)

import argparse  # noqa: E402
import paddle  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--config', required=True)
    ap.add_argument('--weights', required=True)
    ap.add_argument('--image', required=True)
    ap.add_argument('--size', required=True, help='HxW, e.g. 608x608')
    ap.add_argument('-o', '--output', required=True)
    ap.add_argument('--sep-head', action='store_true',
                    help='use the separable-head neck (SepYOLOv3FPN) whatever the config says')
    ap.add_argument('--variant', default=None, help='metadata "variant" (default: config file name)')
    args = ap.parse_args()
    h, w = (int(x) for x in args.size.lower().split('x'))
    paddle.set_device('cpu')
    overrides = {'YOLOv3': {'neck': 'SepYOLOv3FPN'}} if args.sep_head else None
    _, model = rd.build_model_from_config(args.config, args.weights, overrides)
    variant = args.variant or os.path.splitext(os.path.basename(args.config))[0]
    t = rd.dump(model, variant, args.image, (h, w), args.output, None,
                {'config': os.path.basename(args.config),
                 'weights': os.path.basename(args.weights)})
    print('%s: %d tensors, %d NMS rows' % (args.output, len(t), int(t['nms.num'][0])))


if __name__ == '__main__':
    main()
