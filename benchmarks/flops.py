"""FLOPs of whatever runs inside a ``with FlopCount() as count:`` block (forward, backward, double backward).

Uses the per-operator formulas of ``torch.utils.flop_counter`` (matmuls and convolutions, the
usual basis of MFU), applied by a plain dispatch mode: ``FlopCounterMode`` itself also tracks
modules with backward hooks, which fails inside ``torch.autograd.grad`` as gradient penalties call
it ("A leaf node was passed to _will_engine_execute_node ...", torch 2.14).
"""

from __future__ import annotations

from typing import Any

from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class FlopCount(TorchDispatchMode):
    """Adds up ``torch.utils.flop_counter``'s FLOP formulas over every operator dispatched."""

    def __init__(self) -> None:
        super().__init__()
        self.total = 0

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.total += formula(*args, **kwargs, out_val=out)
        return out
