#!/usr/bin/env python3
"""Generates tx2yolo's demo detection dataset, in VOC layout, deterministically.

    python scripts/paddle/make_voc_dataset.py --out /tmp/shapes_voc [--photos /usr/share/doc/opencv-doc/examples/data]

Three classes of coloured shapes (red circles, green squares, blue triangles:
each class has its own hue band, with random saturation and brightness) are
composited onto crops of real photographs (OpenCV's sample images from Debian's opencv-doc
package; licence in tests/data/shapes_voc/NOTICE). Every shape gets a random colour,
scale, aspect ratio and rotation, and a darker outline; shapes may overlap
each other and the image border. An object is annotated with the box of its
visible pixels. It is marked difficult when less than half of it is visible
or its box is under 14 pixels on a side, and it is left out when less than 15%
is visible.

Layout (both the VOC one and PaddleDetection's two-column lists):
    JPEGImages/<id>.jpg  Annotations/<id>.xml
    ImageSets/Main/{train,test}.txt   (ids)
    train.txt, test.txt               ("JPEGImages/<id>.jpg Annotations/<id>.xml")
    label_list.txt                    (circle, square, triangle)
Train and test use different photographs, so the test split measures
generalisation to unseen backgrounds.
"""

import argparse
import os
import shutil

import cv2
import numpy as np

CLASSES = ['circle', 'square', 'triangle']
SIZE = 320
SEED = 20261127
TRAIN_PHOTOS = ['aero1.jpg', 'aero3.jpg', 'apple.jpg', 'baboon.jpg', 'board.jpg', 'butterfly.jpg',
                'fruits.jpg', 'home.jpg', 'leuvenA.jpg', 'HappyFish.jpg', 'Blender_Suzanne1.jpg', 'graf1.png']
TEST_PHOTOS = ['building.jpg', 'orange.jpg', 'leuvenB.jpg']
MIN_VISIBLE = 0.15
DIFFICULT_VISIBLE = 0.5
DIFFICULT_SIDE = 14
MIN_SIZE, MAX_SIZE = 18, 140          # shape size before aspect, pixels (log-uniform)
HUES = {'circle': 0, 'square': 120, 'triangle': 240}   # degrees; red, green, blue
HUE_SPREAD = 25


def random_crop(rng, photo):
    h, w = photo.shape[:2]
    side = int(rng.uniform(0.45, 1.0) * min(h, w))
    y = int(rng.integers(0, h - side + 1))
    x = int(rng.integers(0, w - side + 1))
    crop = photo[y:y + side, x:x + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    return cv2.resize(np.ascontiguousarray(crop), (SIZE, SIZE), interpolation=cv2.INTER_AREA)


def class_colour(rng, cls):
    """A BGR colour from the class's hue band (HUES, +-HUE_SPREAD degrees), with
    random saturation and brightness. Shape and colour both tell the class apart,
    which keeps the task learnable by a tiny model in a 90-minute CPU training."""
    hue = (HUES[cls] + rng.uniform(-HUE_SPREAD, HUE_SPREAD)) % 360
    hsv = np.array([[[hue / 2, rng.uniform(150, 255), rng.uniform(140, 255)]]], np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0].astype(np.float32)


def shape_mask(rng, cls):
    """A filled mask of one shape on the canvas, or None if it misses the canvas."""
    mask = np.zeros((SIZE, SIZE), np.uint8)
    size = float(np.exp(rng.uniform(np.log(MIN_SIZE), np.log(MAX_SIZE))))
    aspect = float(np.exp(rng.uniform(np.log(0.7), np.log(1.4))))
    w, h = size * np.sqrt(aspect), size / np.sqrt(aspect)
    cx, cy = rng.uniform(0.0, 1.0) * SIZE, rng.uniform(0.0, 1.0) * SIZE
    angle = float(rng.uniform(0, 360))
    if cls == 'circle':
        cv2.ellipse(mask, (int(cx), int(cy)), (max(1, int(w / 2)), max(1, int(h / 2))), angle, 0, 360, 255, -1,
                    cv2.LINE_AA)
    else:
        if cls == 'square':
            pts = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        else:
            pts = np.array([[0, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
        t = np.deg2rad(angle)
        rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
        pts = pts @ rot.T + [cx, cy]
        cv2.fillPoly(mask, [np.round(pts).astype(np.int32)], 255, cv2.LINE_AA)
    return mask if (mask > 127).any() else None


def make_image(rng, photo):
    img = random_crop(rng, photo).astype(np.float32)
    owner = np.full((SIZE, SIZE), -1, np.int32)   # which object each pixel shows
    objects = []
    for _ in range(int(rng.integers(1, 6))):
        cls = CLASSES[int(rng.integers(0, len(CLASSES)))]
        mask = shape_mask(rng, cls)
        if mask is None:
            continue
        color = class_colour(rng, cls)
        alpha = (mask.astype(np.float32) / 255.0)[..., None]
        edge = cv2.morphologyEx(mask, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)).astype(np.float32)[..., None] / 255
        shade = np.clip(color * 0.45, 0, 255)
        img = img * (1 - alpha) + (color * (1 - edge) + shade * edge) * alpha
        owner[mask > 127] = len(objects)
        objects.append({'cls': cls, 'area': int((mask > 127).sum())})
    noise = rng.normal(0, 3.0, img.shape)
    img = np.clip(img + noise, 0, 255).astype(np.uint8)
    annotated = []
    for k, o in enumerate(objects):
        ys, xs = np.nonzero(owner == k)
        if len(xs) == 0 or len(xs) < MIN_VISIBLE * o['area']:
            continue
        x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())
        if x2 <= x1 or y2 <= y1:
            continue
        difficult = len(xs) < DIFFICULT_VISIBLE * o['area'] or min(x2 - x1, y2 - y1) < DIFFICULT_SIDE
        annotated.append((o['cls'], x1, y1, x2, y2, int(difficult)))
    return img, annotated


def write_xml(path, image_id, objects):
    lines = ['<annotation>', '  <folder>JPEGImages</folder>', '  <filename>%s.jpg</filename>' % image_id,
             '  <size><width>%d</width><height>%d</height><depth>3</depth></size>' % (SIZE, SIZE)]
    for cls, x1, y1, x2, y2, difficult in objects:
        lines += ['  <object>', '    <name>%s</name>' % cls, '    <difficult>%d</difficult>' % difficult,
                  '    <bndbox><xmin>%d</xmin><ymin>%d</ymin><xmax>%d</xmax><ymax>%d</ymax></bndbox>'
                  % (x1, y1, x2, y2), '  </object>']
    lines.append('</annotation>')
    with open(path, 'w') as f:
        f.write('\n'.join(lines) + '\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', required=True)
    ap.add_argument('--photos', default='/usr/share/doc/opencv-doc/examples/data')
    ap.add_argument('--train', type=int, default=1600)
    ap.add_argument('--test', type=int, default=100)
    ap.add_argument('--splits', default='train,test', help='which splits to write')
    args = ap.parse_args()
    splits = args.splits.split(',')
    if os.path.isdir(args.out):
        shutil.rmtree(args.out)
    for d in ('JPEGImages', 'Annotations', 'ImageSets/Main'):
        os.makedirs(os.path.join(args.out, d))
    with open(os.path.join(args.out, 'label_list.txt'), 'w') as f:
        f.write('\n'.join(CLASSES) + '\n')
    for split, photos, count, seed in (('train', TRAIN_PHOTOS, args.train, SEED),
                                       ('test', TEST_PHOTOS, args.test, SEED + 1)):
        rng = np.random.default_rng(seed)   # one stream per split: the test split does not depend on --train
        loaded = [cv2.imread(os.path.join(args.photos, p), cv2.IMREAD_COLOR) for p in photos]
        for p, im in zip(photos, loaded):
            if im is None:
                raise SystemExit('cannot read photograph %s (install opencv-doc or pass --photos)' % p)
        ids = []
        for i in range(count):
            img, objects = make_image(rng, loaded[i % len(loaded)])
            if split not in splits:
                continue
            image_id = '%s_%05d' % (split, i)
            cv2.imwrite(os.path.join(args.out, 'JPEGImages', image_id + '.jpg'), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
            write_xml(os.path.join(args.out, 'Annotations', image_id + '.xml'), image_id, objects)
            ids.append(image_id)
        if split not in splits:
            continue
        with open(os.path.join(args.out, 'ImageSets', 'Main', split + '.txt'), 'w') as f:
            f.write(''.join(i + '\n' for i in ids))
        with open(os.path.join(args.out, split + '.txt'), 'w') as f:
            f.write(''.join('JPEGImages/%s.jpg Annotations/%s.xml\n' % (i, i) for i in ids))
    print('wrote', args.out)


if __name__ == '__main__':
    main()
