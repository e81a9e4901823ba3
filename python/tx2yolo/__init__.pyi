from ._tx2yolo import Detector as Detector, Error as Error, convert as convert, inspect as inspect

__version__: str
