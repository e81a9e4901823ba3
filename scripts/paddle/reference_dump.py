"""Shared code for tx2yolo's Paddle reference dumps (make_fixtures.py, dump_reference.py).

* preprocess(): PaddleDetection's TestReader chain (ppdet Decode, Resize,
  NormalizeImage, Permute operators) -> image / im_shape / scale_factor.
* run_reference(): runs a ppdet YOLOv3 model in eval mode, capturing with
  forward hooks every conv node's output (after BN + activation) under the
  engine node name (= dygraph module prefix), the upsample/concat tensors, the
  yolo_box outputs and the final multiclass_nms3 output.
* write_safetensors(): a small safetensors writer (no dependency).
* build_model_from_config(): ppdet create() from a PaddleDetection yml, with the
  neck widths adapted to the checkpoint (narrow or pruned plain YOLOv3FPN).

Import this module before anything else imports paddle: with these wheels,
importing paddle before cv2/ppdet crashes in zlib (inflateReset2), so cv2 is
imported first here.
"""

import cv2  # noqa: F401  (must precede paddle, see above)
import json
import os
import struct
import sys
from collections import OrderedDict

import numpy as np

import ppdet  # noqa: F401
import paddle
import paddle.nn as nn
import paddle.nn.functional as F

from ppdet.data.transform.operators import Decode, Resize, NormalizeImage, Permute
from ppdet.modeling.backbones.mobilenet_v1 import ConvBNLayer as MbConvBN
from ppdet.modeling.backbones.darknet import ConvBNLayer as DkConvBN

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sep_head  # noqa: E402,F401  (registers SepYOLOv3FPN)
import narrow_fpn  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]

# --------------------------------------------------------------------------
# safetensors


_ST_DTYPES = {np.dtype('float32'): 'F32', np.dtype('float64'): 'F64',
              np.dtype('float16'): 'F16', np.dtype('int32'): 'I32',
              np.dtype('int64'): 'I64', np.dtype('uint8'): 'U8'}


def write_safetensors(path, tensors, metadata=None):
    """tensors: ordered mapping name -> np.ndarray; data laid out in that order.
    The JSON header lists keys sorted; it is padded with spaces to 8 bytes."""
    header = OrderedDict()
    if metadata:
        header['__metadata__'] = OrderedDict(
            (str(k), str(v)) for k, v in sorted(metadata.items()))
    offset = 0
    blobs = []
    entries = {}
    for name, arr in tensors.items():
        arr = np.ascontiguousarray(arr)
        dt = _ST_DTYPES[arr.dtype]
        raw = arr.astype(arr.dtype.newbyteorder('<'), copy=False).tobytes()
        entries[name] = OrderedDict([('dtype', dt), ('shape', list(arr.shape)),
                                     ('data_offsets', [offset, offset + len(raw)])])
        blobs.append(raw)
        offset += len(raw)
    for name in sorted(entries):
        header[name] = entries[name]
    hj = json.dumps(header, separators=(',', ':')).encode('utf-8')
    hj += b' ' * ((8 - len(hj) % 8) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(hj)))
        f.write(hj)
        for b in blobs:
            f.write(b)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    inv = {v: k for k, v in _ST_DTYPES.items()}
    meta = header.pop('__metadata__', {})
    out = {}
    for k, e in header.items():
        a, b = e['data_offsets']
        out[k] = np.frombuffer(data[a:b], dtype=inv[e['dtype']]).reshape(e['shape'])
    return out, meta


# --------------------------------------------------------------------------
# preprocessing (PaddleDetection TestReader)


def preprocess(image_path, size_hw, mean=MEAN, std=STD, interp=2):
    sample = {'im_file': image_path}
    for op in (Decode(), Resize(target_size=list(size_hw), keep_ratio=False,
                                interp=interp),
               NormalizeImage(mean=mean, std=std, is_scale=True), Permute()):
        sample = op(sample)
    image = sample['image'][None].astype(np.float32)
    im_shape = np.asarray(sample['im_shape'], np.float32)[None]
    scale_factor = np.asarray(sample['scale_factor'], np.float32)[None]
    return image, im_shape, scale_factor


# --------------------------------------------------------------------------
# node enumeration and capture


def conv_nodes(model):
    """[(engine node name, layer)] for every conv node, in forward order."""
    nodes = []
    for name, layer in model.named_sublayers():
        if isinstance(layer, (MbConvBN, DkConvBN)):
            nodes.append((name, layer))
        elif name.startswith('yolo_head.yolo_output.') and isinstance(layer, nn.Conv2D):
            nodes.append((name, layer))
    return nodes


def run_reference(model, image, im_shape, scale_factor):
    """Runs the ppdet YOLOv3 model once; returns OrderedDict name -> np.ndarray
    (without image/input tensors) and the model output."""
    model.eval()
    caps = OrderedDict()
    handles = []

    def post_hook(name):
        def fn(layer, inputs, output):
            caps[name] = output.numpy().copy()
        return fn

    for name, layer in conv_nodes(model):
        handles.append(layer.register_forward_post_hook(post_hook(name)))

    concat_in = {}

    def pre_hook(i):
        def fn(layer, inputs):
            concat_in[i] = inputs[0].numpy().copy()
        return fn

    neck = model.neck
    for i in range(1, neck.num_blocks):
        handles.append(neck.yolo_blocks[i].register_forward_pre_hook(pre_hook(i)))

    yb = []
    real_yolo_box = paddle.vision.ops.yolo_box

    def yolo_box_spy(*args, **kwargs):
        boxes, scores = real_yolo_box(*args, **kwargs)
        yb.append((boxes.numpy().copy(), scores.numpy().copy()))
        return boxes, scores

    paddle.vision.ops.yolo_box = yolo_box_spy
    try:
        with paddle.no_grad():
            out = model({'image': paddle.to_tensor(image),
                         'im_shape': paddle.to_tensor(im_shape),
                         'scale_factor': paddle.to_tensor(scale_factor)})
    finally:
        paddle.vision.ops.yolo_box = real_yolo_box
        for h in handles:
            h.remove()

    refs = OrderedDict(caps)
    # upsample.i / concat.(i+1): the concat is the (hooked) input of
    # yolo_block.(i+1); its first channels are the upsampled transition output.
    for i in range(neck.num_blocks - 1):
        trans = caps['neck.yolo_transition.{}'.format(i)]
        up = F.interpolate(paddle.to_tensor(trans), scale_factor=2.,
                           data_format=neck.data_format).numpy()
        cat = concat_in[i + 1]
        if not np.array_equal(cat[:, :up.shape[1]], up):
            raise RuntimeError('upsample.{} does not match the concat input'.format(i))
        refs['neck.upsample.{}'.format(i)] = up
        refs['neck.concat.{}'.format(i + 1)] = cat
    if len(yb) != len(model.yolo_head.yolo_outputs):
        raise RuntimeError('expected one yolo_box call per level, got %d' % len(yb))
    refs['yolo_box.boxes'] = np.concatenate([b for b, _ in yb], axis=1)
    refs['yolo_box.scores'] = np.concatenate([s for _, s in yb], axis=1)
    refs['nms.out'] = out['bbox'].numpy().astype(np.float32).reshape(-1, 6)
    refs['nms.num'] = out['bbox_num'].numpy().astype(np.int32).reshape(-1)
    return refs


def reference_tensors(model, image_path, size_hw, mean=MEAN, std=STD):
    """Full reference: input, im_shape, scale_factor, then every captured
    tensor. The photograph itself is not stored (the metadata names it; the
    committed JPEG is what `tx2yolo compare --image` reads), to keep the
    fixtures small."""
    image, im_shape, scale_factor = preprocess(image_path, size_hw, mean, std)
    refs = run_reference(model, image, im_shape, scale_factor)
    out = OrderedDict()
    out['input'] = image
    out['im_shape'] = im_shape
    out['scale_factor'] = scale_factor
    out.update(refs)
    return out


def post_settings(model):
    pp = model.post_process
    d, n = pp.decode, pp.nms
    return OrderedDict([
        ('num_classes', pp.num_classes),
        ('conf_thresh', d.conf_thresh), ('downsample_ratio', d.downsample_ratio),
        ('clip_bbox', d.clip_bbox), ('scale_x_y', d.scale_x_y),
        ('score_threshold', n.score_threshold), ('nms_threshold', n.nms_threshold),
        ('nms_top_k', n.nms_top_k), ('keep_top_k', n.keep_top_k),
        ('normalized', n.normalized), ('nms_eta', n.nms_eta),
        ('background_label', pp.num_classes),
        ('anchors', json.dumps(model.yolo_head.mask_anchors)),
    ])


def metadata(model, variant, image_path, size_hw, seed=None, extra=None):
    md = OrderedDict()
    md['variant'] = variant
    md['image'] = os.path.basename(image_path)
    md['input_h'] = str(size_hw[0])
    md['input_w'] = str(size_hw[1])
    md['paddle_version'] = paddle.__version__
    md['paddledet_version'] = ppdet.__version__ if hasattr(ppdet, '__version__') else 'unknown'
    md['seed'] = 'none' if seed is None else str(seed)
    for k, v in post_settings(model).items():
        md[k] = str(v).lower() if isinstance(v, bool) else str(v)
    md['nms_out_coords'] = 'original-image pixels (yolo_box scales by origin_shape; YOLOv3 does no get_pred rescale)'
    md['preprocess'] = 'Decode(BGR->RGB); Resize(target_size=[%d,%d], keep_ratio=False, interp=2); NormalizeImage(is_scale=True, mean=%s, std=%s); Permute' % (size_hw[0], size_hw[1], MEAN, STD)
    md['bn_epsilon'] = '1e-05'
    if extra:
        md.update(extra)
    return md


def dump(model, variant, image_path, size_hw, out_path, seed=None, extra=None):
    t = reference_tensors(model, image_path, size_hw)
    write_safetensors(out_path, t, metadata(model, variant, image_path, size_hw,
                                            seed, extra))
    return t


# --------------------------------------------------------------------------
# building a model from a PaddleDetection config


def build_model_from_config(config_path, weights_path, overrides=None):
    from ppdet.core.workspace import load_config, merge_config, create
    from ppdet.modeling.heads.yolo_head import YOLOv3Head
    cfg = load_config(config_path)
    if overrides:
        merge_config(overrides)
    state = paddle.load(weights_path)
    model = create(cfg.architecture)
    widths = narrow_fpn.widths_from_state_dict(state)
    if widths is not None and type(model.neck).__name__ == 'YOLOv3FPN':
        cur = narrow_fpn.widths_from_state_dict(
            {k: v for k, v in model.state_dict().items()})
        if cur != widths:
            print('note: checkpoint neck widths %s differ from the config\'s '
                  'YOLOv3FPN; using NarrowYOLOv3FPN (same parameter names)'
                  % (widths,), file=sys.stderr)
            model.neck = narrow_fpn.NarrowYOLOv3FPN(
                in_channels=model.neck.in_channels, block_channels=widths[0],
                transition_channels=widths[1],
                data_format=model.neck.data_format)
            old = model.yolo_head
            anchors = [a for lvl in old.anchors for a in lvl]
            flat = cfg['YOLOv3Head']['anchors'] if 'anchors' in cfg['YOLOv3Head'] else None
            masks = cfg['YOLOv3Head']['anchor_masks'] if 'anchor_masks' in cfg['YOLOv3Head'] else None
            model.yolo_head = YOLOv3Head(
                in_channels=[s.channels for s in model.neck.out_shape],
                anchors=flat or anchors, anchor_masks=masks or [[6, 7, 8], [3, 4, 5], [0, 1, 2]],
                num_classes=old.num_classes, loss=None,
                iou_aware=old.iou_aware, data_format=old.data_format)
    missing = [k for k in model.state_dict() if k not in state]
    if missing:
        raise RuntimeError('checkpoint lacks %d parameters, e.g. %s' % (len(missing), missing[:3]))
    model.set_state_dict(state)
    model.eval()
    return cfg, model
