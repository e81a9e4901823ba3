#!/usr/bin/env python3
"""Regenerates tx2yolo's Paddle test fixtures under tests/data/paddle/.

Run from anywhere with the Paddle venv (see requirements.txt):

    /work/paddle-venv/bin/python scripts/paddle/make_fixtures.py
    /work/paddle-venv/bin/python scripts/paddle/make_fixtures.py --full-width /tmp/fullwidth

Everything is deterministic (fixed seeds; weights drawn with numpy RandomState
seeded per parameter name). Models are PaddleDetection's own modules: ppdet
MobileNet backbone, YoloDetBlock/ConvBNLayer neck layers (NarrowYOLOv3FPN /
SepYOLOv3FPN subclasses of YOLOv3FPN for the widths), YOLOv3Head, YOLOBox,
MultiClassNMS, BBoxPostProcess and the YOLOv3 architecture; preprocessing uses
ppdet's Decode/Resize/NormalizeImage/Permute operators.
"""

import os
import sys

# model.pdiparams.info (written by paddle.jit.save) pickles a dict built from
# a set, so its byte order follows str hashing: pin the hash seed.
if os.environ.get('PYTHONHASHSEED') != '0':
    os.environ['PYTHONHASHSEED'] = '0'
    os.execv(sys.executable, [sys.executable] + sys.argv)

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import reference_dump as rd  # noqa: E402  (imports cv2 before paddle)

import argparse  # noqa: E402
import json  # noqa: E402
import copy  # noqa: E402
import pickle  # noqa: E402
import shutil  # noqa: E402
import zlib  # noqa: E402
from collections import OrderedDict  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import paddle  # noqa: E402
import paddle.nn.functional as F  # noqa: E402

from ppdet.modeling.backbones.mobilenet_v1 import MobileNet  # noqa: E402
from ppdet.modeling.heads.yolo_head import YOLOv3Head  # noqa: E402
from ppdet.modeling.layers import YOLOBox, MultiClassNMS  # noqa: E402
from ppdet.modeling.post_process import BBoxPostProcess  # noqa: E402
from ppdet.modeling.architectures.yolo import YOLOv3  # noqa: E402

from narrow_fpn import NarrowYOLOv3FPN, uniform_widths, CONV_NAMES, STATIC_SUFFIX  # noqa: E402
from sep_head import SepYOLOv3FPN  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, '..', '..'))
OUT = os.path.join(REPO, 'tests', 'data', 'paddle')

SEED = 20240607
ANCHORS = [[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119],
           [116, 90], [156, 198], [373, 326]]
MASKS = [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
DECODE = dict(conf_thresh=0.005, downsample_ratio=32, clip_bbox=True, scale_x_y=1.0)
NMS = dict(score_threshold=0.01, nms_top_k=1000, keep_top_k=100,
           nms_threshold=0.45, normalized=True, nms_eta=1.0)
SCALE = 0.125
NECK_CH = [32, 16, 8]
# small sizes to keep tests/data/paddle small (see README, size budget)
SQUARE = (128, 128)
NONSQUARE = (96, 160)
PHOTO_A = 'fruits.jpg'      # opencv-doc samples/data/fruits.jpg, unchanged
PHOTO_B = 'building.jpg'    # opencv-doc samples/data/building.jpg, 640x442, q90
CLS3_LABELS = ['person', 'car', 'dog']
PRUNE_RATIOS = [0.5, 0.7, 0.8]   # r578: yolo_block.0 / 1 / 2, all six convs
# head biases (objectness logit, class logit), chosen so that tens of boxes
# survive conf 0.005 / score 0.01 and 10..100 rows come out of NMS.
# The pruned model keeps the std weights except that its head biases are
# re-drawn with its own base values after pruning (a stand-in for the
# fine-tuning that follows pruning; without it no box passes 0.01).
HEAD_BIAS = {'std': (-6.0, -2.5), 'sep': (-5.75, -2.0), 'pruned': (-4.5, -1.5),
             'cls3': (-5.0, -1.0)}
PRUNED_HEAD_W_SCALE = 2.0   # pruned head weights x2 (same fine-tuning stand-in)
HEAD_W_GAIN = 1.0


# --------------------------------------------------------------------------
# model construction (PaddleDetection modules)


def make_model(num_classes, neck='std', neck_widths=None, scale=SCALE,
               neck_ch=NECK_CH):
    backbone = MobileNet(norm_type='bn', scale=scale, feature_maps=[4, 6, 13],
                         with_extra_blocks=False)
    in_ch = [s.channels for s in backbone.out_shape]
    if neck == 'sep':
        fpn = SepYOLOv3FPN(in_channels=in_ch, channels=list(neck_ch))
    else:
        blocks, trans = neck_widths or uniform_widths(list(neck_ch))
        fpn = NarrowYOLOv3FPN(in_channels=in_ch, block_channels=blocks,
                              transition_channels=trans)
    head = YOLOv3Head(in_channels=[s.channels for s in fpn.out_shape],
                      anchors=ANCHORS, anchor_masks=MASKS,
                      num_classes=num_classes, loss=None)
    post = BBoxPostProcess(num_classes=num_classes,
                           decode=YOLOBox(num_classes=num_classes, **DECODE),
                           nms=MultiClassNMS(**NMS))
    model = YOLOv3(backbone=backbone, neck=fpn, yolo_head=head,
                   post_process=post)
    model.eval()
    return model


def _rng(name):
    return np.random.RandomState((SEED + zlib.crc32(name.encode())) % (2 ** 32))


def seeded_state(model, num_classes, head_bias):
    """Random but realistic weights; every array depends only on (seed, name,
    shape), so variants share the backbone (and equal-shaped neck) weights."""
    out = OrderedDict()
    for name, p in model.state_dict().items():
        shape = list(p.shape)
        r = _rng(name + str(shape))
        if name.endswith('._mean'):
            a = r.normal(0.0, 0.5, shape)
        elif name.endswith('._variance'):
            a = r.uniform(0.5, 2.0, shape)
        elif len(shape) == 1 and '.yolo_output.' in name:      # head bias
            na = len(MASKS[0])
            a = np.zeros(shape)
            for k in range(na):
                base = k * (5 + num_classes)
                a[base:base + 4] = r.normal(0.0, 0.2, 4)
                a[base + 4] = head_bias[0] + r.normal(0.0, 0.3)
                a[base + 5:base + 5 + num_classes] = head_bias[1] + r.normal(0.0, 0.5, num_classes)
        elif len(shape) == 1 and name.endswith('.weight'):       # BN gamma
            a = r.uniform(0.5, 1.5, shape)
        elif len(shape) == 1 and name.endswith('.bias'):         # BN beta
            a = r.normal(0.0, 0.1, shape)
        elif len(shape) == 4:
            fan_in = shape[1] * shape[2] * shape[3]
            std = np.sqrt(2.0 / fan_in)
            if '.yolo_output.' in name:
                std *= HEAD_W_GAIN
            a = r.normal(0.0, std, shape)
        else:
            raise RuntimeError('unexpected parameter %s %s' % (name, shape))
        out[name] = a.astype(np.float32)
    return out


def load(model, state):
    model.set_state_dict({k: paddle.to_tensor(v) for k, v in state.items()})
    got = model.state_dict()
    for k, v in state.items():
        assert np.array_equal(got[k].numpy(), v), k
    return model


# --------------------------------------------------------------------------
# L1-norm filter pruning (numpy, PaddleSlim L1NormFilterPruner semantics)


def prune_state(state, ratios=PRUNE_RATIOS):
    """Prunes output channels of the 18 det-block convs (conv0..route, tip).
    Removes int(round(C * ratio)) filters with the smallest L1 norm of the
    original conv weight (stable: ties keep the lower index), and propagates to
    the conv's BN and the consumers' input channels. Returns (state, widths)."""
    st = OrderedDict((k, v.copy()) for k, v in state.items())
    keep_of = {}
    for i, ratio in enumerate(ratios):
        for c in CONV_NAMES:
            mid = 'conv_module.' + c if c != 'tip' else 'tip'
            pre = 'neck.yolo_block.%d.%s' % (i, mid)
            w = st[pre + '.conv.weight']
            n = w.shape[0]
            n_prune = int(round(n * ratio))
            l1 = np.abs(w).reshape(n, -1).sum(axis=1)
            order = sorted(range(n), key=lambda j: (-l1[j], j))
            keep = sorted(order[:n - n_prune])
            keep_of[pre] = keep
    consumers = {}
    for i in range(len(ratios)):
        b = 'neck.yolo_block.%d.' % i
        seq = [b + 'conv_module.' + c for c in CONV_NAMES[:5]] + [b + 'tip']
        for a, c in zip(seq[:-1], seq[1:]):
            consumers.setdefault(a, []).append((c, 0))
        consumers[b + 'tip'] = [('yolo_head.yolo_output.%d' % i, 0)]
        if i < len(ratios) - 1:
            consumers[b + 'conv_module.route'].append(('neck.yolo_transition.%d' % i, 0))
    for pre, keep in keep_of.items():
        st[pre + '.conv.weight'] = st[pre + '.conv.weight'][keep]
        for s in ('weight', 'bias', '_mean', '_variance'):
            st[pre + '.batch_norm.' + s] = st[pre + '.batch_norm.' + s][keep]
        for cons, off in consumers[pre]:
            key = cons + ('.weight' if 'yolo_output' in cons else '.conv.weight')
            st[key] = st[key][:, keep]
    widths = rd.narrow_fpn.widths_from_state_dict(st)
    return st, widths


def prune_with_paddleslim(state, ratios=PRUNE_RATIOS, criterion='l1'):
    """The same r578 pruning by PaddleSlim 2.6.0's L1NormFilterPruner (or
    FPGMFilterPruner) on the dygraph std model (Paddle parameter names, axis
    0). Returns the pruned state dict as numpy arrays."""
    from paddleslim.dygraph import FPGMFilterPruner, L1NormFilterPruner
    pruner_class = {'l1': L1NormFilterPruner, 'fpgm': FPGMFilterPruner}[criterion]
    m = load(make_model(20, 'std'), state)

    class Heads(paddle.nn.Layer):  # what the pruner traces: image -> heads
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, x):
            return self.model.yolo_head(self.model.neck(self.model.backbone({'image': x})))

    traced = Heads(m)
    traced.eval()
    names = {k: p.name for k, p in m.state_dict().items()}
    plan = {}
    for i, ratio in enumerate(ratios):
        for c in CONV_NAMES:
            mid = 'conv_module.' + c if c != 'tip' else 'tip'
            plan[names['neck.yolo_block.%d.%s.conv.weight' % (i, mid)]] = ratio
    pruner_class(traced, [1, 3, SQUARE[0], SQUARE[1]]).prune_vars(plan, [0])
    return OrderedDict((k, v.numpy()) for k, v in m.state_dict().items())


def paddleslim_pruning_fixtures(state, refs_dir, img_dir, out_json):
    """PaddleSlim's own r578 pruning of the std model with L1 and FPGM, kept
    as the filters it kept per conv (engine node names) and as references of
    the pruned models (no fine-tuning: the exact pruned weights), with the
    neck, heads, decode and NMS tensors only (the backbone is not pruned and
    equals the std references)."""
    kept = OrderedDict([('ratios', 'r578'), ('paddleslim', '2.6.0')])
    for criterion in ('l1', 'fpgm'):
        pst = prune_with_paddleslim(state, criterion=criterion)
        per_layer = OrderedDict()
        for i in range(len(PRUNE_RATIOS)):
            for c in CONV_NAMES:
                node = 'neck.yolo_block.%d.%s' % (i, 'conv_module.' + c if c != 'tip' else 'tip')
                # BN vectors lose only output channels: match them to find the kept filters.
                m0, m1 = state[node + '.batch_norm._mean'], pst[node + '.batch_norm._mean']
                rows = [int(np.nonzero(m0 == v)[0][0]) for v in m1]
                assert rows == sorted(rows) and len(set(m0.tolist())) == len(m0), node
                per_layer[node] = rows
        kept[criterion] = per_layer
        _, widths = prune_state(state)
        m = load(make_model(20, 'std', neck_widths=widths), OrderedDict((k, pst[k]) for k in state if k in pst))
        photo = os.path.join(img_dir, PHOTO_A)
        t = rd.reference_tensors(m, photo, SQUARE)
        t = OrderedDict((k, v) for k, v in t.items() if not k.startswith('backbone.'))
        name = ref_name('std_slim_' + criterion, PHOTO_A, SQUARE)
        rd.write_safetensors(os.path.join(refs_dir, name), t,
                             rd.metadata(m, 'std_slim_' + criterion, photo, SQUARE, SEED))
        print('%-45s nms rows %3d' % (name, int(t['nms.num'][0])))
    with open(out_json, 'w') as f:
        json.dump(kept, f, indent=1)
        f.write('\n')


# --------------------------------------------------------------------------
# static 0.x naming and program


def static_name(key):
    """dygraph key -> PaddleDetection release/0.x static variable name."""
    p = key.split('.')
    bn_mb = {'weight': 'scale', 'bias': 'offset', '_mean': 'mean', '_variance': 'variance'}
    bn_nk = {'weight': 'scale', 'bias': 'offset', '_mean': 'mean', '_variance': 'var'}
    if p[0] == 'backbone':
        blk = p[1]
        if p[2] in ('_depthwise_conv', '_pointwise_conv'):
            blk += '_dw' if p[2] == '_depthwise_conv' else '_sep'
            p = p[:2] + p[3:]
        if p[2] == '_conv':
            return blk + '_weights'
        return blk + '_bn_' + bn_mb[p[3]]
    if p[0] == 'yolo_head':
        return 'yolo_output.%s.conv.%s' % (p[2], 'weights' if p[3] == 'weight' else 'bias')
    assert p[0] == 'neck'
    if p[1] == 'yolo_transition':
        prefix, rest = 'yolo_transition.' + p[2], p[3:]
    else:
        i = p[2]
        if p[3] == 'conv_module':
            prefix, rest = 'yolo_block.%s.%s' % (i, STATIC_SUFFIX[p[4]]), p[5:]
        else:
            prefix, rest = 'yolo_block.%s.tip' % i, p[4:]
    if rest[0] in ('_depthwise_conv', '_pointwise_conv'):
        prefix += '_dw' if rest[0] == '_depthwise_conv' else '_sep'
        rest = rest[1:]
        if rest[0] == 'conv':
            return prefix + '_weights'
        return prefix + '_bn_' + bn_mb[rest[1]]
    if rest[0] == 'conv':
        return prefix + '.conv.weights'
    return prefix + '.bn.' + bn_nk[rest[1]]


def build_static(model, state, size_hw, num_classes):
    """A paddle.static program with the 0.x names, same topology and numbers.
    Inputs: image [-1,3,H,W] f32 and im_size [-1,2] i32 (0.x style); outputs:
    the three head tensors and the multiclass_nms output."""
    from paddle import static
    from paddle.base.layer_helper import LayerHelper
    name_of = {k: static_name(k) for k in state}
    main, startup = static.Program(), static.Program()
    main.random_seed = startup.random_seed = SEED

    def conv_bn(x, dy_prefix, bn_style, act, stride=1, groups=1, padding=None):
        wkey = dy_prefix + ('._conv.weight' if bn_style == 'mb' else '.conv.weight')
        w = state[wkey]
        k = w.shape[2]
        y = static.nn.conv2d(x, num_filters=w.shape[0], filter_size=k, stride=stride,
                             padding=(k - 1) // 2 if padding is None else padding,
                             groups=groups,
                             param_attr=paddle.ParamAttr(name=name_of[wkey]),
                             bias_attr=False)
        bnp = dy_prefix + ('._batch_norm.' if bn_style == 'mb' else '.batch_norm.')
        y = static.nn.batch_norm(
            y, is_test=True, epsilon=1e-5,
            param_attr=paddle.ParamAttr(name=name_of[bnp + 'weight']),
            bias_attr=paddle.ParamAttr(name=name_of[bnp + 'bias']),
            moving_mean_name=name_of[bnp + '_mean'],
            moving_variance_name=name_of[bnp + '_variance'])
        return F.relu(y) if act == 'relu' else F.leaky_relu(y, 0.1)

    def neck_conv(x, pre):
        if pre + '.conv.weight' in state:
            return conv_bn(x, pre, 'dk', 'leaky')
        c = state[pre + '._depthwise_conv.conv.weight'].shape[0]
        x = conv_bn(x, pre + '._depthwise_conv', 'dk', 'leaky', groups=c)
        return conv_bn(x, pre + '._pointwise_conv', 'dk', 'leaky')

    H, W = size_hw
    with paddle.utils.unique_name.guard(), static.program_guard(main, startup):
        image = static.data('image', [-1, 3, H, W], 'float32')
        im_size = static.data('im_size', [-1, 2], 'int32')
        x = conv_bn(image, 'backbone.conv1', 'mb', 'relu', stride=2)
        feats = []
        for bi, blk in enumerate(model.backbone.dwsl):
            bname = [n for n, l in model.backbone.named_children() if l is blk][0]
            dw = model.backbone._sub_layers[bname]._depthwise_conv._conv
            x = conv_bn(x, 'backbone.%s._depthwise_conv' % bname, 'mb', 'relu',
                        stride=dw._stride[0], groups=dw._groups)
            x = conv_bn(x, 'backbone.%s._pointwise_conv' % bname, 'mb', 'relu')
            if bi + 1 in model.backbone.feature_maps:
                feats.append(x)
        feats = feats[::-1]
        heads = []
        route = None
        for i, f in enumerate(feats):
            if i > 0:
                f = paddle.concat([route, f], axis=1)
            b = 'neck.yolo_block.%d.' % i
            for c in CONV_NAMES[:5]:
                f = neck_conv(f, b + 'conv_module.' + c)
            route = f
            tip = neck_conv(route, b + 'tip')
            wk = 'yolo_head.yolo_output.%d.weight' % i
            h = static.nn.conv2d(tip, num_filters=state[wk].shape[0], filter_size=1,
                                 param_attr=paddle.ParamAttr(name=name_of[wk]),
                                 bias_attr=paddle.ParamAttr(name=name_of[wk[:-6] + 'bias']))
            heads.append(h)
            if i < len(feats) - 1:
                route = conv_bn(route, 'neck.yolo_transition.%d' % i, 'dk', 'leaky')
                route = F.interpolate(route, scale_factor=2.)
        boxes, scores = [], []
        for i, h in enumerate(heads):
            bx, sc = paddle.vision.ops.yolo_box(
                h, im_size, model.yolo_head.mask_anchors[i], num_classes,
                conf_thresh=NMS['score_threshold'], downsample_ratio=32 // 2 ** i,
                clip_bbox=True)
            boxes.append(bx)
            scores.append(paddle.transpose(sc, [0, 2, 1]))
        yb = paddle.concat(boxes, axis=1)
        ys = paddle.concat(scores, axis=2)
        helper = LayerHelper('multiclass_nms')
        out = helper.create_variable_for_type_inference(dtype='float32')
        helper.append_op(type='multiclass_nms', inputs={'BBoxes': yb, 'Scores': ys},
                         outputs={'Out': out},
                         attrs={'background_label': -1, 'nms_threshold': 0.45,
                                'nms_top_k': 1000, 'keep_top_k': 100,
                                'score_threshold': 0.01, 'nms_eta': 1.0,
                                'normalized': False})
        out.stop_gradient = True
    return main, startup, image, im_size, heads, out, name_of


def write_static(model, state, size_hw, num_classes, ref, vars_dir, export_dir, static_ref=None):
    """static_ref: (photo path, output path) to also write a reference of the
    0.x semantics: the program run with the photo's exact size as im_size
    (0.x feeds it), giving the heads and multiclass_nms (v1, normalized=false)
    output."""
    from paddle import static
    paddle.enable_static()
    try:
        main, startup, image, im_size, heads, nms_out, name_of = build_static(
            model, state, size_hw, num_classes)
        exe = static.Executor(paddle.CPUPlace())
        scope = static.Scope()
        with static.scope_guard(scope):
            exe.run(startup)
            for k, v in state.items():
                scope.find_var(name_of[k]).get_tensor().set(v, paddle.CPUPlace())
            params = [v for v in main.list_vars() if v.persistable and v.name in set(name_of.values())]
            assert len(params) == len(state), (len(params), len(state))
            if os.path.isdir(vars_dir):
                shutil.rmtree(vars_dir)
            static.save_vars(exe, vars_dir, main, vars=params)
            # check: the static program reproduces the dygraph head tensors
            origin = np.trunc(ref['im_shape'] / ref['scale_factor']).astype(np.int32)
            res = exe.run(main, feed={'image': ref['input'], 'im_size': origin},
                          fetch_list=heads + [nms_out], return_numpy=False)
            for i in range(3):
                a = np.array(res[i])
                b = ref['yolo_head.yolo_output.%d' % i]
                err = np.abs(a - b).max() / (np.abs(b).max() + 1e-12)
                assert err < 1e-4, ('static head mismatch', i, err)
            if static_ref:
                photo, out_path = static_ref
                h0, w0 = cv2.imread(photo, cv2.IMREAD_COLOR).shape[:2]
                exact = np.array([[h0, w0]], np.int32)
                res = exe.run(main, feed={'image': ref['input'], 'im_size': exact},
                              fetch_list=heads + [nms_out], return_numpy=False)
                t = OrderedDict()
                for k in ('input', 'im_shape', 'scale_factor'):
                    t[k] = ref[k]
                for i in range(3):
                    t['yolo_head.yolo_output.%d' % i] = np.array(res[i]).astype(np.float32)
                nms = np.array(res[3]).astype(np.float32).reshape(-1, 6) if np.array(res[3]).size >= 6 \
                    else np.zeros((0, 6), np.float32)
                t['nms.out'] = nms
                t['nms.num'] = np.array([nms.shape[0]], np.int32)
                rd.write_safetensors(out_path, t, OrderedDict([
                    ('variant', 'std_static'), ('image', os.path.basename(photo)),
                    ('input_h', str(size_hw[0])), ('input_w', str(size_hw[1])),
                    ('paddle_version', paddle.__version__),
                    ('semantics', 'PaddleDetection 0.x: yolo_box img_size = exact original size, '
                                  'conf 0.01; multiclass_nms (v1) normalized=false, background -1'),
                    ('seed', str(SEED))]))
                print('%-45s nms rows %3d' % (os.path.basename(out_path), nms.shape[0]))
            if export_dir:
                if os.path.isdir(export_dir):
                    shutil.rmtree(export_dir)
                os.makedirs(export_dir)
                prefix = os.path.join(export_dir, 'model')
                static.save_inference_model(prefix, [image, im_size], [nms_out], exe,
                                            program=main)
                os.replace(prefix + '.pdmodel', os.path.join(export_dir, '__model__'))
                os.replace(prefix + '.pdiparams', os.path.join(export_dir, '__params__'))
    finally:
        paddle.disable_static()


# --------------------------------------------------------------------------
# checkpoint formats


def save_split(model, path, key, parts=3):
    """Protocol-2 pickle laid out as Paddle's io_utils._unpack_saved_dict does
    for tensors over 2**30 bytes, but with a small part size so that `key` is
    cut into `parts` 1-D pieces (Paddle's threshold is hard-coded)."""
    from paddle.framework.io import _build_saved_state_dict
    saved = _build_saved_state_dict(model.state_dict())
    value = saved[key]
    n = int(np.prod(value.shape))
    per = -(-n // parts)
    info = {key: {'OriginShape': value.shape, 'slices': []}}
    flat = value.flatten()
    pieces = {}
    for i in range(parts):
        part = key + '@@.' + str(i)
        info[key]['slices'].append(part)
        pieces[part] = flat[i * per:(i + 1) * per]
    saved.pop(key)
    for part in info[key]['slices']:
        saved[part] = pieces[part]
    saved['UnpackBigParamInfor@@'] = info
    with open(path, 'wb') as f:
        f.write(pickle.dumps(saved, protocol=2))
    back = paddle.load(path)
    assert np.array_equal(np.asarray(back[key]), value)


def jit_export(model, cfg_path, export_dir, size_hw):
    """paddle.jit.save like PaddleDetection's Trainer.export (with infer_cfg.yml)."""
    from paddle.static import InputSpec
    from ppdet.core.workspace import load_config
    from ppdet.engine.export_utils import _dump_infer_config, _prune_input_spec
    if os.path.isdir(export_dir):
        shutil.rmtree(export_dir)
    os.makedirs(export_dir)
    cwd = os.getcwd()
    os.chdir(REPO)   # dataset_dir in the fixture configs is relative to the repo root
    try:
        cfg = load_config(cfg_path)
        image_shape = [None] + list(cfg['TestReader']['inputs_def']['image_shape'])
        _dump_infer_config(cfg, os.path.join(export_dir, 'infer_cfg.yml'),
                           image_shape, model)
    finally:
        os.chdir(cwd)
    input_spec = [{'image': InputSpec(shape=image_shape, name='image'),
                   'im_shape': InputSpec(shape=[None, 2], name='im_shape'),
                   'scale_factor': InputSpec(shape=[None, 2], name='scale_factor')}]
    static_model = paddle.jit.to_static(model, input_spec=input_spec, full_graph=True)
    pruned = _prune_input_spec(input_spec, static_model.forward.main_program,
                               static_model.forward.outputs)
    paddle.jit.save(static_model, os.path.join(export_dir, 'model'), input_spec=pruned)
    # model.pdiparams.info's dict order follows a set of Parameters (not
    # reproducible run to run): re-pickle it as Paddle does (protocol 2) with
    # the keys sorted; the content is unchanged.
    info = os.path.join(export_dir, 'model.pdiparams.info')
    if os.path.exists(info):
        with open(info, 'rb') as f:
            d = pickle.load(f)
        with open(info, 'wb') as f:
            pickle.dump(dict(sorted(d.items())), f, protocol=2)


# --------------------------------------------------------------------------
# configs


def write_configs(cfg_dir, size_hw=SQUARE):
    os.makedirs(os.path.join(cfg_dir, '_base_'), exist_ok=True)
    os.makedirs(os.path.join(cfg_dir, 'static_0x'), exist_ok=True)
    H, W = size_hw
    anchors = '[[10, 13], [16, 30], [33, 23],\n            [30, 61], [62, 45], [59, 119],\n            [116, 90], [156, 198], [373, 326]]'
    files = OrderedDict()
    files['_base_/yolov3_mobilenet_v1.yml'] = f"""\
# tx2yolo fixture: PaddleDetection 2.x layout of configs/yolov3/_base_/yolov3_mobilenet_v1.yml
# (backbone at 1/8 width; the neck widths follow the checkpoint, see README).
architecture: YOLOv3
norm_type: bn

YOLOv3:
  backbone: MobileNet
  neck: YOLOv3FPN
  yolo_head: YOLOv3Head
  post_process: BBoxPostProcess

MobileNet:
  scale: {SCALE}
  feature_maps: [4, 6, 13]
  with_extra_blocks: false
  extra_block_filters: []

# use default config
# YOLOv3FPN:

YOLOv3Head:
  anchors: {anchors}
  anchor_masks: [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
  loss: YOLOv3Loss

YOLOv3Loss:
  ignore_thresh: 0.7
  downsample: [32, 16, 8]
  label_smooth: false

BBoxPostProcess:
  decode:
    name: YOLOBox
    conf_thresh: {DECODE['conf_thresh']}
    downsample_ratio: {DECODE['downsample_ratio']}
    clip_bbox: true
  nms:
    name: MultiClassNMS
    keep_top_k: {NMS['keep_top_k']}
    score_threshold: {NMS['score_threshold']}
    nms_threshold: {NMS['nms_threshold']}
    nms_top_k: {NMS['nms_top_k']}
    # normalized: not set, MultiClassNMS's default (true) applies, as upstream.
    # (upstream develop also has `cpu: True`, which paddledet 2.6 rejects)
"""
    files['_base_/yolov3_reader.yml'] = f"""\
worker_num: 2
EvalReader:
  sample_transforms:
    - Decode: {{}}
    - Resize: {{target_size: [{H}, {W}], keep_ratio: False, interp: 2}}
    - NormalizeImage: {{mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], is_scale: True}}
    - Permute: {{}}
  batch_size: 1

TestReader:
  inputs_def:
    image_shape: [3, {H}, {W}]
  sample_transforms:
    - Decode: {{}}
    - Resize: {{target_size: [{H}, {W}], keep_ratio: False, interp: 2}}
    - NormalizeImage: {{mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], is_scale: True}}
    - Permute: {{}}
  batch_size: 1
"""
    files['_base_/voc.yml'] = """\
metric: VOC
map_type: 11point
num_classes: 20

TestDataset:
  !ImageFolder
    anno_path: label_list.txt   # absent: the 20 default VOC names are used
"""
    files['_base_/runtime.yml'] = """\
use_gpu: false
log_iter: 20
save_dir: output
snapshot_epoch: 1
print_flops: false
export:
  post_process: True
  nms: True
  benchmark: False
  fuse_conv_bn: False
"""
    files['_base_/yolov3_mobilenet_v1_voc_base.yml'] = """\
# second level of the _BASE_ chain
_BASE_: [
  'voc.yml',
  'runtime.yml',
  'yolov3_mobilenet_v1.yml',
  'yolov3_reader.yml',
]
"""
    files['yolov3_mbv1_std_voc.yml'] = """\
# tx2yolo fixture 'std': 1/8-width YOLOv3-MobileNetV1, standard head, 20 classes.
# weights: tests/data/paddle/std/model.pdparams
_BASE_: [
  '_base_/yolov3_mobilenet_v1_voc_base.yml',
]
weights: tests/data/paddle/std/model
"""
    files['yolov3_mbv1_pruned_voc.yml'] = """\
# tx2yolo fixture 'pruned': the std model L1-pruned (r578: 0.5/0.7/0.8 of the
# yolo_block.0/1/2 convs). Widths come from the checkpoint shapes.
_BASE_: [
  '_base_/yolov3_mobilenet_v1_voc_base.yml',
]
weights: tests/data/paddle/pruned/model
"""
    files['yolov3_mbv1_sep_voc.yml'] = f"""\
# tx2yolo fixture 'sep': separable-head neck (scripts/paddle/sep_head.py must be
# imported/registered before PaddleDetection creates the model).
_BASE_: [
  '_base_/yolov3_mobilenet_v1_voc_base.yml',
]
weights: tests/data/paddle/sep/model

YOLOv3:
  neck: SepYOLOv3FPN

SepYOLOv3FPN:
  channels: {NECK_CH}
"""
    files['yolov3_mbv1_cls3.yml'] = f"""\
# tx2yolo fixture 'cls3': standard head, 3 classes, labels from cls3/labels.txt.
_BASE_: [
  '_base_/yolov3_mobilenet_v1_voc_base.yml',
]
weights: tests/data/paddle/cls3/model
num_classes: {len(CLS3_LABELS)}

TestDataset:
  !ImageFolder
    dataset_dir: tests/data/paddle/cls3
    anno_path: labels.txt
"""
    files['static_0x/yolov3_mobilenet_v1_voc.yml'] = f"""\
# tx2yolo fixture: PaddleDetection release/0.x static-graph config layout for
# the std model (weights: std/static_vars/ or std/static_export/).
architecture: YOLOv3
use_gpu: false
max_iters: 70000
log_smooth_window: 20
save_dir: output
snapshot_iter: 2000
metric: VOC
map_type: 11point
weights: tests/data/paddle/std/static_vars
num_classes: 20
use_fine_grained_loss: false

YOLOv3:
  backbone: MobileNet
  yolo_head: YOLOv3Head

MobileNet:
  norm_type: bn
  norm_decay: 0.
  conv_group_scale: 1
  with_extra_blocks: false

YOLOv3Head:
  anchor_masks: [[6, 7, 8], [3, 4, 5], [0, 1, 2]]
  anchors: {anchors}
  norm_decay: 0.
  yolo_loss: YOLOv3Loss
  nms:
    background_label: -1
    keep_top_k: {NMS['keep_top_k']}
    nms_threshold: {NMS['nms_threshold']}
    nms_top_k: {NMS['nms_top_k']}
    normalized: false
    score_threshold: {NMS['score_threshold']}

YOLOv3Loss:
  batch_size: 8
  ignore_thresh: 0.7
  label_smooth: false

_READER_: 'yolov3_reader.yml'
"""
    files['static_0x/yolov3_reader.yml'] = f"""\
TestReader:
  inputs_def:
    image_shape: [3, {H}, {W}]
    fields: ['image', 'im_size', 'im_id']
  dataset:
    !ImageFolder
      anno_path: annotations/instances_val2017.json
      use_default_label: true
      with_background: false
  sample_transforms:
    - !DecodeImage
      to_rgb: True
    - !ResizeImage
      target_size: {H}
      interp: 2
    - !NormalizeImage
      mean: [0.485, 0.456, 0.406]
      std: [0.229, 0.224, 0.225]
      is_scale: True
      is_channel_first: false
    - !Permute
      to_bgr: false
      channel_first: True
  batch_size: 1
"""
    for rel, text in files.items():
        with open(os.path.join(cfg_dir, rel), 'w') as f:
            f.write(text)


# --------------------------------------------------------------------------


def ref_jobs(full=True):
    jobs = []
    for v in ('std', 'sep', 'pruned', 'cls3'):
        jobs.append((v, PHOTO_A, SQUARE))
        jobs.append((v, PHOTO_B, NONSQUARE))
    if full:
        jobs.append(('std', PHOTO_B, SQUARE))
        jobs.append(('std', PHOTO_A, NONSQUARE))
    return jobs


def ref_name(variant, photo, size):
    return '%s_%s_%dx%d.safetensors' % (variant, os.path.splitext(photo)[0], size[0], size[1])


def import_photos(src_dir, img_dir):
    os.makedirs(img_dir, exist_ok=True)
    shutil.copyfile(os.path.join(src_dir, 'fruits.jpg'), os.path.join(img_dir, PHOTO_A))
    im = cv2.imread(os.path.join(src_dir, 'building.jpg'))
    im = cv2.resize(im, (640, 442), interpolation=cv2.INTER_AREA)
    cv2.imwrite(os.path.join(img_dir, PHOTO_B), im, [cv2.IMWRITE_JPEG_QUALITY, 90])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default=OUT)
    ap.add_argument('--photos-from', default=None,
                    help='re-create images/ from opencv-doc samples/data (else the committed photos are used)')
    ap.add_argument('--full-width', default=None, metavar='DIR',
                    help='write a full-width (scale 1.0) std model + references into DIR and exit')
    ap.add_argument('--extra-refs', action='store_true',
                    help='also std with photo B square and photo A non-square (not committed: size budget)')
    args = ap.parse_args()
    paddle.set_device('cpu')
    paddle.seed(SEED)
    out = os.path.abspath(args.out)
    img_dir = os.path.join(OUT, 'images')
    if args.photos_from:
        import_photos(args.photos_from, os.path.join(out, 'images'))
        img_dir = os.path.join(out, 'images')

    if args.full_width:
        d = os.path.abspath(args.full_width)
        os.makedirs(d, exist_ok=True)
        m = make_model(20, 'std', scale=1.0, neck_ch=[512, 256, 128])
        load(m, seeded_state(m, 20, HEAD_BIAS['std']))
        paddle.save(m.state_dict(), os.path.join(d, 'model.pdparams'))
        for photo, size in ((PHOTO_A, (608, 608)), (PHOTO_B, (416, 608))):
            name = ref_name('fullwidth', photo, size)
            t = rd.dump(m, 'fullwidth', os.path.join(img_dir, photo), size,
                        os.path.join(d, name), SEED)
            print(name, 'nms rows', int(t['nms.num'][0]))
        return

    cfg_dir = os.path.join(out, 'configs')
    write_configs(cfg_dir)
    refs_dir = os.path.join(out, 'refs')
    os.makedirs(refs_dir, exist_ok=True)

    models, states = {}, {}
    for v, nc in (('std', 20), ('sep', 20), ('cls3', len(CLS3_LABELS))):
        m = make_model(nc, 'sep' if v == 'sep' else 'std')
        states[v] = seeded_state(m, nc, HEAD_BIAS[v])
        models[v] = load(m, states[v])
    pst, widths = prune_state(states['std'])
    # The fixture is PaddleSlim's pruning; the numpy version above must agree
    # with it exactly (same kept filters in every layer, same tensors).
    slim = prune_with_paddleslim(states['std'])
    for k in pst:
        assert slim[k].shape == pst[k].shape and np.array_equal(slim[k], pst[k]), 'PaddleSlim differs at ' + k
    pst = OrderedDict((k, slim[k]) for k in pst)  # (PaddleSlim also keeps *_backup copies)
    paddleslim_pruning_fixtures(states['std'], refs_dir, img_dir, os.path.join(out, 'pruned', 'paddleslim_kept.json'))
    print('pruned by PaddleSlim L1NormFilterPruner (numpy pruning agrees exactly)')
    pm = make_model(20, 'std', neck_widths=widths)
    rebias = seeded_state(pm, 20, HEAD_BIAS['pruned'])
    for i in range(3):
        k = 'yolo_head.yolo_output.%d.bias' % i
        pst[k] = rebias[k]
        k = 'yolo_head.yolo_output.%d.weight' % i
        pst[k] = pst[k] * np.float32(PRUNED_HEAD_W_SCALE)
    states['pruned'] = pst
    models['pruned'] = load(pm, pst)
    print('pruned widths', widths)

    # ---- references
    first_ref = {}
    for v, photo, size in ref_jobs(args.extra_refs):
        name = ref_name(v, photo, size)
        t = rd.dump(models[v], v, os.path.join(img_dir, photo), size,
                    os.path.join(refs_dir, name), SEED)
        first_ref.setdefault((v, size), t)
        print('%-45s nms rows %3d  yolo_box kept %d' % (
            name, int(t['nms.num'][0]), int((t['yolo_box.scores'].max(-1) > 0).sum())))

    # ---- checkpoints
    for v in ('std', 'sep', 'pruned', 'cls3'):
        os.makedirs(os.path.join(out, v), exist_ok=True)
        paddle.save(models[v].state_dict(), os.path.join(out, v, 'model.pdparams'))
    with open(os.path.join(out, 'cls3', 'labels.txt'), 'w') as f:
        f.write('\n'.join(CLS3_LABELS) + '\n')
    std = models['std']
    d = os.path.join(out, 'std')
    paddle.save(std.state_dict(), os.path.join(d, 'model_p2.pdparams'), protocol=2)
    paddle.save({'model': std.state_dict(), 'epoch': 3},
                os.path.join(d, 'model_nested.pdparams'))
    save_split(std, os.path.join(d, 'model_split.pdparams'),
               'neck.yolo_block.0.conv_module.conv1.conv.weight', parts=3)

    # ---- static 0.x program, per-variable directory and __model__/__params__
    write_static(std, states['std'], SQUARE, 20, first_ref[('std', SQUARE)],
                 os.path.join(d, 'static_vars'), os.path.join(d, 'static_export'),
                 static_ref=(os.path.join(img_dir, PHOTO_A),
                             os.path.join(refs_dir, ref_name('std_static', PHOTO_A, SQUARE))))
    write_static(models['sep'], states['sep'], SQUARE, 20, first_ref[('sep', SQUARE)],
                 os.path.join(out, 'sep', 'static_vars'), None)

    # ---- jit.save exports
    for v, cfg in (('std', 'yolov3_mbv1_std_voc.yml'), ('sep', 'yolov3_mbv1_sep_voc.yml'),
                   ('pruned', 'yolov3_mbv1_pruned_voc.yml')):
        jit_export(models[v], os.path.join(cfg_dir, cfg), os.path.join(out, v, 'export'), SQUARE)

    # ---- bad inputs (made from the pruned model, the smallest, to save space)
    bad = os.path.join(out, 'bad')
    os.makedirs(bad, exist_ok=True)
    sd = {k: v for k, v in models['pruned'].state_dict().items()}
    paddle.save({k: v.astype('float64') for k, v in sd.items()}, os.path.join(bad, 'fp64.pdparams'))
    paddle.save({k: v.astype('float16') for k, v in sd.items()}, os.path.join(bad, 'fp16.pdparams'))
    miss = dict(sd)
    miss.pop('neck.yolo_block.1.conv_module.conv2.batch_norm._variance')
    paddle.save(miss, os.path.join(bad, 'missing_param.pdparams'))
    wrong = dict(sd)
    k = 'yolo_head.yolo_output.1.weight'
    w = states['pruned'][k]
    wrong[k] = paddle.to_tensor(np.concatenate([w, w[:, :5]], axis=1))
    paddle.save(wrong, os.path.join(bad, 'wrong_shape.pdparams'))
    print('done')


if __name__ == '__main__':
    main()
