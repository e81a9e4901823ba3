"""YOLOv3FPN with configurable (per-conv) widths, for narrow and pruned models.

PaddleDetection's YOLOv3FPN hard-codes the block widths 512 >> i. This subclass
builds the very same sublayers (yolo_block.i = YoloDetBlock-shaped, with
conv_module.{conv0,conv1,conv2,conv3,route} and tip; yolo_transition.i), all
PaddleDetection darknet ConvBNLayers with PaddleDetection's names, but takes the
output width of every conv, and reuses YOLOv3FPN.forward / YoloDetBlock.forward.

block_channels[i] = [conv0, conv1, conv2, conv3, route, tip] output widths of
yolo_block.i; transition_channels[i] = output width of yolo_transition.i.
Unpruned width c: [c, 2c, c, 2c, c, 2c] and transition c // 2.
"""

import paddle.nn as nn

from ppdet.core.workspace import register, serializable
from ppdet.modeling.backbones.darknet import ConvBNLayer
from ppdet.modeling.necks.yolo_fpn import YOLOv3FPN, YoloDetBlock
from ppdet.modeling.shape_spec import ShapeSpec

__all__ = ['FlexYoloDetBlock', 'NarrowYOLOv3FPN', 'uniform_widths',
           'widths_from_state_dict']

CONV_NAMES = ['conv0', 'conv1', 'conv2', 'conv3', 'route', 'tip']
STATIC_SUFFIX = {'conv0': '0.0', 'conv1': '0.1', 'conv2': '1.0',
                 'conv3': '1.1', 'route': '2', 'tip': 'tip'}


class FlexYoloDetBlock(YoloDetBlock):
    def __init__(self, ch_in, widths, norm_type='bn', freeze_norm=False,
                 name='', data_format='NCHW'):
        nn.Layer.__init__(self)
        assert len(widths) == 6
        self.ch_in = ch_in
        self.channel = widths[4]
        ksize = [1, 3, 1, 3, 1, 3]
        post = ['.0.0', '.0.1', '.1.0', '.1.1', '.2', '.tip']
        self.conv_module = nn.Sequential()
        cin = ch_in
        for idx in range(5):
            self.conv_module.add_sublayer(
                CONV_NAMES[idx],
                ConvBNLayer(ch_in=cin, ch_out=widths[idx],
                            filter_size=ksize[idx],
                            padding=(ksize[idx] - 1) // 2,
                            norm_type=norm_type, freeze_norm=freeze_norm,
                            data_format=data_format, name=name + post[idx]))
            cin = widths[idx]
        self.tip = ConvBNLayer(ch_in=widths[4], ch_out=widths[5],
                               filter_size=3, padding=1, norm_type=norm_type,
                               freeze_norm=freeze_norm,
                               data_format=data_format, name=name + '.tip')


@register
@serializable
class NarrowYOLOv3FPN(YOLOv3FPN):
    __shared__ = ['norm_type', 'data_format']

    def __init__(self, in_channels=[256, 512, 1024], block_channels=None,
                 transition_channels=None, norm_type='bn', freeze_norm=False,
                 data_format='NCHW'):
        nn.Layer.__init__(self)
        n = len(in_channels)
        if block_channels is None:
            block_channels, transition_channels = uniform_widths(
                [512 >> i for i in range(n)])
        self.in_channels = in_channels
        self.num_blocks = n
        self._out_channels = []
        self.yolo_blocks = []
        self.routes = []
        self.data_format = data_format
        for i in range(n):
            name = 'yolo_block.{}'.format(i)
            cin = in_channels[-i - 1]
            if i > 0:
                cin += transition_channels[i - 1]
            blk = self.add_sublayer(
                name, FlexYoloDetBlock(cin, block_channels[i], norm_type,
                                       freeze_norm, name, data_format))
            self.yolo_blocks.append(blk)
            self._out_channels.append(block_channels[i][5])
            if i < n - 1:
                name = 'yolo_transition.{}'.format(i)
                r = self.add_sublayer(
                    name,
                    ConvBNLayer(ch_in=block_channels[i][4],
                                ch_out=transition_channels[i], filter_size=1,
                                stride=1, padding=0, norm_type=norm_type,
                                freeze_norm=freeze_norm,
                                data_format=data_format, name=name))
                self.routes.append(r)

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {'in_channels': [i.channels for i in input_shape], }

    @property
    def out_shape(self):
        return [ShapeSpec(channels=c) for c in self._out_channels]


def uniform_widths(channels):
    blocks = [[c, 2 * c, c, 2 * c, c, 2 * c] for c in channels]
    trans = [c // 2 for c in channels[:-1]]
    return blocks, trans


def widths_from_state_dict(state, num_blocks=3, prefix='neck.'):
    """(block_channels, transition_channels) read from a dygraph state dict,
    or None if the neck is not a plain (non-separable) YOLOv3FPN."""
    blocks = []
    for i in range(num_blocks):
        w = []
        for c in CONV_NAMES:
            mid = 'conv_module.' + c if c != 'tip' else 'tip'
            key = '{}yolo_block.{}.{}.conv.weight'.format(prefix, i, mid)
            if key not in state:
                return None
            w.append(int(state[key].shape[0]))
        blocks.append(w)
    trans = []
    for i in range(num_blocks - 1):
        key = '{}yolo_transition.{}.conv.weight'.format(prefix, i)
        if key not in state:
            return None
        trans.append(int(state[key].shape[0]))
    return blocks, trans
