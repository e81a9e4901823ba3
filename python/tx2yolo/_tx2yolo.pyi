from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

class Error(RuntimeError): ...

class Detector:
    def __init__(
        self,
        model: str,
        *,
        backend: str = "auto",
        device: int = 0,
        precision: str = "fp32",
        input_size: Union[None, int, Tuple[int, int]] = None,
        conf_threshold: Optional[float] = None,
        score_threshold: Optional[float] = None,
        nms_threshold: Optional[float] = None,
        keep_top_k: Optional[int] = None,
        batch: int = 1,
        threads: int = 0,
        unverified: bool = False,
        cpu_convs: str = "auto",
    ) -> None: ...
    def detect(self, image: npt.NDArray[np.uint8]) -> np.ndarray: ...
    def detect_batch(self, images: Sequence[npt.NDArray[np.uint8]]) -> List[np.ndarray]: ...
    @property
    def class_names(self) -> List[str]: ...
    @property
    def backend(self) -> str: ...
    @property
    def input_size(self) -> Tuple[int, int]: ...
    @property
    def batch(self) -> int: ...

def inspect(model: str) -> Dict[str, Any]: ...
def convert(
    src: str,
    dst: str,
    *,
    config: str = "",
    labels: str = "",
    defaults: str = "",
    prune: str = "",
    criterion: str = "l1",
    input_size: Union[None, int, Tuple[int, int]] = None,
    format: str = "",
) -> Dict[str, Any]: ...
