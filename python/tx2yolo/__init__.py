"""tx2yolo: PaddleDetection's YOLOv3-MobileNetV1 on the CPU and CUDA, without Paddle.

    import cv2, tx2yolo
    det = tx2yolo.Detector("model.safetensors")           # backend="auto": CUDA when present
    for d in det.detect(cv2.imread("photo.jpg")):         # HxWx3 uint8 BGR, read in place
        print(det.class_names[d["class_id"]], d["score"], d["x1"], d["y1"], d["x2"], d["y2"])

Detections are a numpy structured array (class_id, score, x1, y1, x2, y2).
Engine errors raise tx2yolo.Error (a RuntimeError); bad arguments ValueError.
"""
from ._tx2yolo import Detector, Error, convert, inspect

__all__ = ["Detector", "Error", "convert", "inspect"]
__version__ = "0.1.0"
