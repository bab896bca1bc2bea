"""One training iteration over a model's players: the heart of the shared trainer.

Kept apart from the loop (``genzoo.trainer``) so the contract tests in :mod:`genzoo.testing` and
the benchmark step models exactly the way ``genzoo run`` does.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import Tensor, nn

from genzoo.errors import GenzooError, TrainingDiverged
from genzoo.model import GenerativeModel, Player


def player_parameters(model: GenerativeModel, player: Player) -> list[nn.Parameter]:
    """The trainable parameters of the sub-modules a player owns."""
    params: list[nn.Parameter] = []
    for module_name in player.modules:
        module = getattr(model, module_name, None)
        if not isinstance(module, nn.Module):
            raise GenzooError(
                f"player {player.name!r} names module {module_name!r}, which {type(model).__name__} does not have"
            )
        params.extend(p for p in module.parameters() if p.requires_grad)
    return params


def check_players(model: GenerativeModel) -> list[Player]:
    """Validate the players: unique names, at least one step, no parameter owned twice."""
    players = list(model.players())
    if not players:
        raise GenzooError(f"{type(model).__name__}.players() returned no players")
    names = [p.name for p in players]
    if len(set(names)) != len(names):
        raise GenzooError(f"{type(model).__name__} declares duplicate player names: {names}")
    owner: dict[int, str] = {}
    for player in players:
        if player.steps < 1:
            raise GenzooError(f"player {player.name!r} must take at least one step per iteration")
        for param in player_parameters(model, player):
            if id(param) in owner:
                raise GenzooError(
                    f"a parameter is owned by both players {owner[id(param)]!r} and {player.name!r}"
                )
            owner[id(param)] = player.name
    return players


def build_optimizers(model: GenerativeModel, lr: float | None = None) -> dict[str, torch.optim.Optimizer]:
    """One Adam(W) optimiser per player, with the player's own settings (``lr``, if given, for all)."""
    optimizers: dict[str, torch.optim.Optimizer] = {}
    for player in check_players(model):
        params = player_parameters(model, player)
        optimizer_class = torch.optim.AdamW if player.weight_decay else torch.optim.Adam
        optimizers[player.name] = optimizer_class(
            params, lr=lr or player.lr, betas=player.betas, weight_decay=player.weight_decay
        )
    return optimizers


@dataclass
class StepOptions:
    """How a player step runs.

    Attributes:
        device_type, autocast_dtype: the autocast context (``None``: full precision).
        scalers: the per-player fp16 grad scalers.
        reduce_gradients: called with a player's parameters after its backward pass and before
            its optimiser step (the trainer's cross-rank gradient mean); ``None`` on one process.
        watch: where non-finite losses are recorded on the device; ``None`` raises at once.
    """

    device_type: str = "cpu"
    autocast_dtype: torch.dtype | None = None
    scalers: dict[str, torch.amp.GradScaler] = field(default_factory=dict)
    reduce_gradients: Callable[[list[nn.Parameter]], None] | None = None
    watch: FiniteWatch | None = None

    def autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.autocast_dtype)


class FiniteWatch:
    """Remembers, on the loss's device, the first (step, player) whose loss was not finite.

    ``observe`` queues two tiny device ops and never waits for the device; :meth:`check` reads
    the flag back (one host synchronisation) and raises :class:`TrainingDiverged`. The trainer
    checks before every log line, sample grid and checkpoint, so a diverged model is never saved.
    The code stored is ``step * players + player_index`` (min over steps = the first failure).
    """

    NONE = 2**62

    def __init__(self, players: list[Player], fp16: bool = False) -> None:
        self.names = [p.name for p in players]
        self.fp16 = fp16
        self.first: Tensor | None = None

    def observe(self, loss: Tensor, step: int, player_index: int) -> None:
        code = step * len(self.names) + player_index
        flagged = torch.where(torch.isfinite(loss.detach()), self.NONE, code)
        self.first = flagged if self.first is None else torch.minimum(self.first, flagged)

    def first_failure(self, reduce: Callable[[Tensor], Tensor] | None = None) -> tuple[int, str] | None:
        """``(step, player)`` of the first non-finite loss seen, or ``None`` (syncs once)."""
        if self.first is None:
            return None
        first = reduce(self.first) if reduce is not None else self.first
        code = int(first)
        if code >= self.NONE:
            return None
        step, index = divmod(code, len(self.names))
        return step, self.names[index]

    def check(self, reduce: Callable[[Tensor], Tensor] | None = None) -> None:
        failure = self.first_failure(reduce)
        if failure is not None:
            step, name = failure
            hint = " (fp16 autocast is known to overflow here; try --precision bf16)" if self.fp16 else ""
            raise TrainingDiverged(f"player {name!r} produced a non-finite loss at step {step}{hint}")


@contextlib.contextmanager
def only_trainable(owned: dict[str, list[nn.Parameter]], player: str) -> Iterator[None]:
    """Freeze the other players' parameters while ``player`` steps.

    Their gradients would be cleared unused before their own step, so backward skips computing
    them (a generator step back-propagates through the critic to its input only).
    """
    others = [p for name, params in owned.items() if name != player for p in params]
    for param in others:
        param.requires_grad_(False)
    try:
        yield
    finally:
        for param in others:
            param.requires_grad_(True)


def run_iteration(
    model: nn.Module,
    players: list[Player],
    optimizers: dict[str, torch.optim.Optimizer],
    next_batch: Callable[[], Tensor] | Iterator[Tensor],
    *,
    step: int = 0,
    options: StepOptions | None = None,
) -> dict[str, Tensor]:
    """Step every player ``player.steps`` times; return the last detached loss terms of each.

    ``model`` is the :class:`GenerativeModel` (or a wrapper whose call runs
    ``GenerativeModel.loss``). Every player step draws a fresh batch and does a fresh forward
    pass. Grads of *all* parameters are cleared first, and the other players' parameters are
    frozen during the step, so a generator step that back-propagates through the critic leaves
    nothing behind for the critic's next step. ``step`` is the step number the iteration is
    logged and checkpointed under (1 for the first). Nothing here waits for the device: with
    ``options.watch`` set a non-finite loss is only recorded; without it the loss is checked at
    once (one host synchronisation per player step) and :class:`TrainingDiverged` raised.
    """
    options = options or StepOptions()
    fetch = next_batch if callable(next_batch) else (lambda: next(next_batch))  # type: ignore[arg-type]
    base = getattr(model, "module", model)
    owned = {p.name: [q for g in optimizers[p.name].param_groups for q in g["params"]] for p in players}
    frozen = {} if isinstance(model, nn.parallel.DistributedDataParallel) else owned
    watch = options.watch or FiniteWatch(players, fp16=bool(options.scalers))
    logged: dict[str, Tensor] = {}
    for index, player in enumerate(players):
        optimizer = optimizers[player.name]
        scaler = options.scalers.get(player.name)
        with only_trainable(frozen, player.name):
            for _ in range(player.steps):
                batch = fetch()
                base.zero_grad(set_to_none=True)
                with options.autocast():
                    terms = model(player.name, batch)
                loss = terms["loss"]
                watch.observe(loss, step, index)
                if options.watch is None:
                    watch.check()
                if scaler is not None:
                    scaler.scale(loss).backward()
                    if options.reduce_gradients is not None:
                        options.reduce_gradients(owned[player.name])
                    scaler.step(optimizer)
                    scaler.update()
                else:
                    loss.backward()
                    if options.reduce_gradients is not None:
                        options.reduce_gradients(owned[player.name])
                    optimizer.step()
        for key, value in terms.items():
            logged[f"{player.name}/{key}"] = value.detach().float()
    return logged
