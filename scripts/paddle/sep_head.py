"""Separable-head YOLOv3 neck for PaddleDetection 2.x (``SepYOLOv3FPN``).

Every 3x3 ConvBN-Leaky of the YoloDetBlocks (``conv_module.conv1``,
``conv_module.conv3`` and ``tip``) is replaced by

    depthwise 3x3 conv (groups = C_in) + BN + leaky(0.1)
    pointwise 1x1 conv (C_in -> C_out) + BN + leaky(0.1)

The 1x1 convs (conv0, conv2, route) and the transitions are unchanged.

Dygraph parameter names (the tx2yolo converter relies on them): the replaced
ConvBNLayer ``X`` becomes a sublayer ``X`` that holds two neck-style
ConvBNLayers ``_depthwise_conv`` and ``_pointwise_conv``, e.g.

    neck.yolo_block.0.conv_module.conv1._depthwise_conv.conv.weight
    neck.yolo_block.0.conv_module.conv1._depthwise_conv.batch_norm.{weight,bias,_mean,_variance}
    neck.yolo_block.0.tip._pointwise_conv.conv.weight

Using it in PaddleDetection: either copy this file into ``ppdet/modeling/necks/``
and add ``from .sep_head import *`` to ``ppdet/modeling/necks/__init__.py``, or
``import sep_head`` (with this directory on ``sys.path``) before the config is
loaded (``tools/train.py`` etc. create modules by registered name, so the
import only has to happen before ``create``). Then set ``neck: SepYOLOv3FPN``.

``channels`` (default [512, 256, 128], PaddleDetection's widths) gives the base
width of each YoloDetBlock; the transition after block i has channels[i] // 2
outputs. Written from scratch for tx2yolo; only PaddleDetection's own layers
(darknet ConvBNLayer, YoloDetBlock, YOLOv3FPN) are reused.
"""

import paddle.nn as nn

from ppdet.core.workspace import register, serializable
from ppdet.modeling.backbones.darknet import ConvBNLayer
from ppdet.modeling.necks.yolo_fpn import YOLOv3FPN, YoloDetBlock
from ppdet.modeling.shape_spec import ShapeSpec

__all__ = ['SepConvBNLayer', 'SepYoloDetBlock', 'SepYOLOv3FPN']


class SepConvBNLayer(nn.Layer):
    """Depthwise 3x3 ConvBN-Leaky followed by pointwise 1x1 ConvBN-Leaky."""

    def __init__(self, ch_in, ch_out, filter_size=3, norm_type='bn',
                 freeze_norm=False, data_format='NCHW', name=''):
        super(SepConvBNLayer, self).__init__()
        self._depthwise_conv = ConvBNLayer(
            ch_in=ch_in, ch_out=ch_in, filter_size=filter_size, stride=1,
            groups=ch_in, padding=(filter_size - 1) // 2, norm_type=norm_type,
            freeze_norm=freeze_norm, data_format=data_format,
            name=name + '_dw')
        self._pointwise_conv = ConvBNLayer(
            ch_in=ch_in, ch_out=ch_out, filter_size=1, stride=1, padding=0,
            norm_type=norm_type, freeze_norm=freeze_norm,
            data_format=data_format, name=name + '_sep')

    def forward(self, x):
        return self._pointwise_conv(self._depthwise_conv(x))


class SepYoloDetBlock(YoloDetBlock):
    """YoloDetBlock with separable 3x3 convs; reuses YoloDetBlock.forward."""

    def __init__(self, ch_in, channel, norm_type, freeze_norm=False, name='',
                 data_format='NCHW'):
        nn.Layer.__init__(self)
        self.ch_in = ch_in
        self.channel = channel
        assert channel % 2 == 0, "channel {} must be even".format(channel)
        conv_def = [
            ['conv0', ch_in, channel, 1, '.0.0'],
            ['conv1', channel, channel * 2, 3, '.0.1'],
            ['conv2', channel * 2, channel, 1, '.1.0'],
            ['conv3', channel, channel * 2, 3, '.1.1'],
            ['route', channel * 2, channel, 1, '.2'],
        ]
        self.conv_module = nn.Sequential()
        for conv_name, cin, cout, k, post in conv_def:
            if k == 3:
                layer = SepConvBNLayer(cin, cout, k, norm_type=norm_type,
                                       freeze_norm=freeze_norm,
                                       data_format=data_format,
                                       name=name + post)
            else:
                layer = ConvBNLayer(ch_in=cin, ch_out=cout, filter_size=k,
                                    padding=(k - 1) // 2, norm_type=norm_type,
                                    freeze_norm=freeze_norm,
                                    data_format=data_format, name=name + post)
            self.conv_module.add_sublayer(conv_name, layer)
        self.tip = SepConvBNLayer(channel, channel * 2, 3, norm_type=norm_type,
                                  freeze_norm=freeze_norm,
                                  data_format=data_format, name=name + '.tip')


@register
@serializable
class SepYOLOv3FPN(YOLOv3FPN):
    """YOLOv3FPN whose det blocks use separable 3x3 convs.

    Same sublayer names as YOLOv3FPN (yolo_block.i, yolo_transition.i) and the
    same forward (inherited).
    """
    __shared__ = ['norm_type', 'data_format']

    def __init__(self, in_channels=[256, 512, 1024], channels=[512, 256, 128],
                 norm_type='bn', freeze_norm=False, data_format='NCHW'):
        nn.Layer.__init__(self)
        assert len(in_channels) > 0, "in_channels length should > 0"
        assert len(channels) == len(in_channels)
        self.in_channels = in_channels
        self.channels = channels
        self.num_blocks = len(in_channels)
        self._out_channels = []
        self.yolo_blocks = []
        self.routes = []
        self.data_format = data_format
        for i in range(self.num_blocks):
            name = 'yolo_block.{}'.format(i)
            in_channel = in_channels[-i - 1]
            if i > 0:
                in_channel += channels[i - 1] // 2
            block = self.add_sublayer(
                name,
                SepYoloDetBlock(in_channel, channel=channels[i],
                                norm_type=norm_type, freeze_norm=freeze_norm,
                                data_format=data_format, name=name))
            self.yolo_blocks.append(block)
            self._out_channels.append(channels[i] * 2)
            if i < self.num_blocks - 1:
                name = 'yolo_transition.{}'.format(i)
                route = self.add_sublayer(
                    name,
                    ConvBNLayer(ch_in=channels[i], ch_out=channels[i] // 2,
                                filter_size=1, stride=1, padding=0,
                                norm_type=norm_type, freeze_norm=freeze_norm,
                                data_format=data_format, name=name))
                self.routes.append(route)

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {'in_channels': [i.channels for i in input_shape], }

    @property
    def out_shape(self):
        return [ShapeSpec(channels=c) for c in self._out_channels]
