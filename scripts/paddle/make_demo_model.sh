#!/usr/bin/env bash
# Rebuilds tx2yolo's bundled demo model from scratch, with PaddleDetection:
#   1. the dataset (scripts/paddle/make_voc_dataset.py, seeded) into $WORK/shapes_voc;
#   2. the backbone pretrained as a shape classifier on crops of the train
#      split (scripts/paddle/pretrain_backbone.py, 400 steps, about 5 minutes);
#   3. the detector trained by PaddleDetection's Trainer from that backbone
#      (scripts/paddle/train_demo.py, 24 epochs, at most 68 minutes on 2 CPU
#      cores), and PaddleDetection's own VOC eval of the checkpoint on the test
#      split (paddle_eval.json);
#   4. the checkpoint and its records copied into tests/data/shapes_voc/paddle_demo/
#      (the eval parity fixture), the test split into tests/data/shapes_voc/,
#      and the conversion by tx2yolo into models/demo.safetensors;
#   5. the demo photograph: test image $DEMO_IMAGE (chosen by hand, see
#      models/README.md) copied to assets/demo.jpg (the demo test finds its
#      annotation in the test split by content).
# Needs the venv of scripts/paddle/requirements.txt, opencv-doc (the photographs)
# and a built tx2yolo (build/).
#   PYTHON=/work/paddle-venv/bin/python WORK=/tmp/demo DEMO_IMAGE=test_00012 scripts/paddle/make_demo_model.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3}"
work="${WORK:-/tmp/tx2yolo-demo}"
demo_image="${DEMO_IMAGE:?set DEMO_IMAGE to the test image id for assets/demo.jpg}"
mkdir -p "$work/train"
"$python" scripts/paddle/make_voc_dataset.py --out "$work/shapes_voc"
"$python" -u scripts/paddle/pretrain_backbone.py --dataset "$work/shapes_voc" --out "$work/train/backbone.pdparams" \
  --steps 400 --max-minutes 6
"$python" -u scripts/paddle/train_demo.py --dataset "$work/shapes_voc" --out "$work/train" --epochs 24 --max-minutes 68 \
  --pretrained "$work/train/backbone.pdparams"
publish_demo() {  # the copies and the conversion (steps 4 and 5)
  local dst=tests/data/shapes_voc
  rm -rf "$dst/JPEGImages" "$dst/Annotations" "$dst/ImageSets" "$dst/paddle_demo"
  mkdir -p "$dst/JPEGImages" "$dst/Annotations" "$dst/ImageSets/Main" "$dst/paddle_demo"
  for id in $(cat "$work/shapes_voc/ImageSets/Main/test.txt"); do
    cp "$work/shapes_voc/JPEGImages/$id.jpg" "$dst/JPEGImages/"
    cp "$work/shapes_voc/Annotations/$id.xml" "$dst/Annotations/"
  done
  cp "$work/shapes_voc/ImageSets/Main/test.txt" "$dst/ImageSets/Main/"
  cp "$work/shapes_voc/test.txt" "$work/shapes_voc/label_list.txt" "$dst/"
  cp "$work/train/model_final.pdparams" "$work/train/paddle_eval.json" "$work/train/train_info.json" "$dst/paddle_demo/"
  build/tx2yolo convert "$dst/paddle_demo/model_final.pdparams" -o models/demo.safetensors \
    --config scripts/paddle/configs/shapes_demo/yolov3_mbv1_sep_shapes.yml --labels "$dst/label_list.txt"
  cp "$dst/JPEGImages/$demo_image.jpg" assets/demo.jpg
}
publish_demo
