"""Online learning-rate adaptation by hypergradient descent (PyTorch optimizers).

Baydin, Cornish, Martínez Rubio, Schmidt, Wood, "Online Learning Rate Adaptation with
Hypergradient Descent", ICLR 2018. Every optimizer here updates ``θ_t = θ_{t-1} - a_t d_t``
with a direction ``d_t`` (the plain gradient for SGD, the momentum buffer, Adam's
``m̂_t / (√v̂_t + ε)``). Since ``∂θ_{t-1}/∂a_{t-1} = -d_{t-1}``, the derivative of the loss at
step ``t`` with respect to the previous learning rate is (Baydin et al., Eq. 5)

    h_t = ∇f(θ_{t-1}) · ∂u(θ_{t-2}, a_{t-1})/∂a_{t-1} = -g_t · d_{t-1},

and the learning rate follows it before the parameters move:

* additive rule (Eq. 6 / Algorithms 1-3): ``a_t = a_{t-1} - β h_t``;
* multiplicative rule (Section 3.1): ``a_t = a_{t-1} (1 - β h_t / (‖g_t‖ ‖d_{t-1}‖))``,
  i.e. the learning rate grows by ``β`` times the cosine of successive gradients / updates.

``a_t`` is then clamped to ``[lr_min, lr_max]``. Each parameter group adapts its own
learning rate (its own ``h_t`` is summed over the group's tensors), and
``hypergrad_lr`` / ``hypergrad_mode`` / ``lr_min`` / ``lr_max`` may be set per group like any
other torch optimizer option. The parameter update itself is torch's own
(``torch.optim.SGD.step`` / ``Adam.step``), so with ``hypergrad_lr=0`` the optimizers are
bit-for-bit the plain ones.

Every learning rate used is recorded (:attr:`lr_history`) and available as a
:class:`~hyperdial.control.Schedule` (:attr:`schedule`, entry ``t`` = the rate used by the
``t``-th call of :meth:`step`), which :meth:`record_schedule` stores on a trial and
:class:`~hyperdial.control.ReplayController` replays with a plain optimizer.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import torch

from hyperdial.control import SCHEDULE_ATTR, Controller, Schedule

if TYPE_CHECKING:
    from hyperdial.trial import Trial

__all__ = ["AdamHD", "AdamWHD", "HypergradientController", "SGDHD", "apply_lr"]

_MODES = ("additive", "multiplicative")
_HYPER_KEYS = ("hypergrad_lr", "hypergrad_mode", "lr_min", "lr_max")


def _check_hyper(
    where: str, lr: Any, hypergrad_lr: Any, hypergrad_mode: Any, lr_min: Any, lr_max: Any, differentiable: bool = False
) -> None:
    for name, value in (("lr", lr), ("hypergrad_lr", hypergrad_lr), ("lr_min", lr_min), ("lr_max", lr_max)):
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise TypeError(f"{where}: {name} must be a real number (a Python float, not a tensor), got {value!r}")
        if math.isnan(value) or value < 0:
            raise ValueError(f"{where}: {name} must be >= 0, got {value!r}")
    if math.isinf(hypergrad_lr):
        raise ValueError(f"{where}: hypergrad_lr must be finite, got {hypergrad_lr!r}")
    if hypergrad_mode not in _MODES:
        raise ValueError(f"{where}: hypergrad_mode must be one of {_MODES}, got {hypergrad_mode!r}")
    if not lr_min <= lr <= lr_max:
        raise ValueError(
            f"{where}: need lr_min <= lr <= lr_max, got lr_min={lr_min!r}, lr={lr!r}, lr_max={lr_max!r}; "
            "widen the range or change lr"
        )
    if differentiable:
        raise ValueError(f"{where}: differentiable=True is not supported (the learning rate is a Python float)")
    if hypergrad_mode == "multiplicative" and lr == 0:
        raise ValueError(f"{where}: the multiplicative rule cannot move lr away from 0; start from lr > 0")


class _Hypergradient:
    """The bookkeeping shared by the hypergradient optimizers (a mixin over a torch optimizer).

    Subclasses implement ``_before`` (what must be saved from before torch's step) and
    ``_direction`` (the update direction ``d_t`` once torch's step has run).
    """

    param_groups: list[dict[str, Any]]
    state: Any
    defaults: dict[str, Any]

    def _init_hyper(self, hypergrad_lr: float, hypergrad_mode: str, lr_min: float, lr_max: float) -> None:
        hyper = {"hypergrad_lr": hypergrad_lr, "hypergrad_mode": hypergrad_mode, "lr_min": lr_min, "lr_max": lr_max}
        self.defaults.update(hyper)
        for i, group in enumerate(self.param_groups):
            for key, value in hyper.items():
                group.setdefault(key, value)
            self._check_group(group, i)
        #: ``lr_history[t][g]``: the learning rate group ``g`` used at the ``t``-th step.
        self.lr_history: list[list[float]] = []
        #: ``hypergradients[t][g]``: ``-h_t`` = ``g_t · d_{t-1}`` for group ``g`` (nan before the 2nd step).
        self.hypergradients: list[list[float]] = []
        self._initial_lrs = [float(g["lr"]) for g in self.param_groups]

    def _check_group(self, group: Mapping[str, Any], index: int) -> None:
        _check_hyper(
            f"{type(self).__name__} param group {index}",
            group["lr"],
            group["hypergrad_lr"],
            group["hypergrad_mode"],
            group["lr_min"],
            group["lr_max"],
        )

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        super().add_param_group(param_group)  # type: ignore[misc]
        if hasattr(self, "lr_history"):  # after construction: validate and track the new group
            self._check_group(self.param_groups[-1], len(self.param_groups) - 1)
            self._initial_lrs.append(float(self.param_groups[-1]["lr"]))

    def _hyper_step(self, group: dict[str, Any]) -> float:
        """Update ``group['lr']`` from ``g_t · d_{t-1}`` (Baydin et al., Eq. 6 / Sec. 3.1)."""
        beta = group["hypergrad_lr"]
        if beta == 0:
            return math.nan
        dot = 0.0
        g_sq = 0.0
        d_sq = 0.0
        seen = False
        for p in group["params"]:
            if p.grad is None:
                continue
            prev = self.state[p].get("hd_direction")
            if prev is None:
                continue
            g = self._objective_grad(p, group)
            dot += float(torch.sum(g * prev, dtype=torch.float64))
            if group["hypergrad_mode"] == "multiplicative":
                g_sq += float(torch.sum(g * g, dtype=torch.float64))
                d_sq += float(torch.sum(prev * prev, dtype=torch.float64))
            seen = True
        if not seen or not math.isfinite(dot):
            return math.nan
        lr = float(group["lr"])
        if group["hypergrad_mode"] == "additive":
            new = lr + beta * dot  # a_t = a_{t-1} - β h_t with h_t = -g_t·d_{t-1}
        else:
            norm = math.sqrt(g_sq * d_sq)
            new = lr * (1.0 + beta * dot / norm) if norm > 0 else lr
        if math.isfinite(new):
            group["lr"] = min(max(new, group["lr_min"]), group["lr_max"])
        return dot

    def _objective_grad(self, p: torch.Tensor, group: Mapping[str, Any]) -> torch.Tensor:
        """``∇f`` at the current point, with coupled L2 weight decay (part of the objective)."""
        g = -p.grad if group.get("maximize", False) else p.grad
        wd = group.get("weight_decay", 0)
        if wd != 0 and not group.get("decoupled_weight_decay", False):
            g = g.add(p, alpha=wd)
        return g

    @torch.no_grad()
    def step(self, closure: Any = None) -> Any:
        """One optimisation step: adapt each group's learning rate, then torch's own update."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        dots = [self._hyper_step(group) for group in self.param_groups]
        saved = [self._before(group) if group["hypergrad_lr"] != 0 else None for group in self.param_groups]
        lrs = [float(group["lr"]) for group in self.param_groups]
        super().step()  # type: ignore[misc]
        for group, before in zip(self.param_groups, saved):
            if before is None:
                continue
            for p, extra in before.items():
                self.state[p]["hd_direction"] = self._direction(p, group, extra)
        self.lr_history.append(lrs)
        self.hypergradients.append(dots)
        return loss

    # -- hooks --------------------------------------------------------------------------------
    def _before(self, group: dict[str, Any]) -> dict[torch.Tensor, Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement _before")

    def _direction(self, p: torch.Tensor, group: dict[str, Any], extra: Any) -> torch.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement _direction")

    # -- the recorded trajectory ----------------------------------------------------------------
    def _names(self) -> list[str]:
        n = len(self._initial_lrs)
        return ["lr"] if n == 1 else [f"lr/{i}" for i in range(n)]

    @property
    def schedule(self) -> Schedule:
        """The learning rates used so far, as a :class:`~hyperdial.control.Schedule`.

        One parameter group is named ``"lr"``, several ``"lr/0"``, ``"lr/1"``, ...; the entry in
        force at step ``t`` is the rate the ``t``-th :meth:`step` call used.
        """
        names = self._names()
        entries: list[list[Any]] = [[0, dict(zip(names, self._initial_lrs))]]
        last = dict(entries[0][1])
        for t, lrs in enumerate(self.lr_history):
            change = {n: v for n, v in zip(names, lrs) if last.get(n) != v}
            if not change:
                continue
            if t == 0:
                entries[0][1].update(change)
            else:
                entries.append([t, change])
            last.update(change)
        return Schedule.from_json(entries)

    def record_schedule(self, trial: Trial) -> Schedule:
        """Store :attr:`schedule` on ``trial`` (system attribute ``"schedule"``) and return it."""
        schedule = self.schedule
        trial.set_system_attr(SCHEDULE_ATTR, schedule.to_json())
        return schedule


def apply_lr(optimizer: torch.optim.Optimizer, values: Mapping[str, Any]) -> None:
    """Set learning rates from a schedule entry (``{"lr": ...}`` or ``{"lr/0": ..., "lr/1": ...}``).

    This is how a recorded run is replayed: with a :class:`~hyperdial.control.ControlLoop`
    over a :class:`~hyperdial.control.ReplayController`, call
    ``apply_lr(optimizer, loop.params)`` before every ``optimizer.step()``.

    Example:
        >>> import torch
        >>> opt = torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)
        >>> apply_lr(opt, {"lr": 0.05}); opt.param_groups[0]["lr"]
        0.05
    """
    groups = optimizer.param_groups
    for key, value in values.items():
        if key == "lr":
            targets = groups
        elif key.startswith("lr/") and key[3:].isdigit() and int(key[3:]) < len(groups):
            targets = [groups[int(key[3:])]]
        else:
            continue
        for group in targets:
            group["lr"] = float(value)


class SGDHD(_Hypergradient, torch.optim.SGD):
    """SGD whose learning rate adapts online by hypergradient descent (SGD-HD, SGDN-HD).

    Takes every argument of :class:`torch.optim.SGD` (momentum, dampening, nesterov, weight
    decay, maximize) plus the hypergradient options. With ``hypergrad_lr=0`` it is exactly
    ``torch.optim.SGD``.

    Args:
        params: Parameters or parameter groups, as for any torch optimizer.
        lr: Initial learning rate ``a_0``.
        hypergrad_lr: The hyper-learning-rate ``β``. For the additive rule it multiplies a
            gradient dot product, so a good value depends on the loss scale (Baydin et al.
            use 1e-3 to 1e-4 for SGD); for the multiplicative rule it is the largest relative
            change per step (e.g. 0.02).
        hypergrad_mode: ``"additive"`` or ``"multiplicative"``.
        lr_min, lr_max: The range the learning rate is clamped to after each update.

    Example:
        >>> import torch
        >>> w = torch.zeros(3, requires_grad=True)
        >>> opt = SGDHD([w], lr=0.01, hypergrad_lr=0.01)
        >>> for _ in range(20):
        ...     opt.zero_grad(); ((w - 1) ** 2).sum().backward(); opt.step()
        >>> opt.param_groups[0]["lr"] > 0.01      # the rate grew: successive gradients agreed
        True
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        momentum: float = 0,
        dampening: float = 0,
        weight_decay: float = 0,
        nesterov: bool = False,
        *,
        hypergrad_lr: float = 1e-3,
        hypergrad_mode: str = "additive",
        lr_min: float = 0.0,
        lr_max: float = math.inf,
        maximize: bool = False,
        foreach: bool | None = None,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        _check_hyper("SGDHD", lr, hypergrad_lr, hypergrad_mode, lr_min, lr_max, differentiable)
        super().__init__(
            params,
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            weight_decay=weight_decay,
            nesterov=nesterov,
            maximize=maximize,
            foreach=foreach,
            differentiable=differentiable,
            fused=fused,
        )
        self._init_hyper(hypergrad_lr, hypergrad_mode, lr_min, lr_max)

    def _before(self, group: dict[str, Any]) -> dict[torch.Tensor, Any]:
        # torch's SGD moves along g' = g + wd θ (plain), the new momentum buffer, or g' + μ buf (Nesterov).
        out: dict[torch.Tensor, Any] = {}
        for p in group["params"]:
            if p.grad is None:
                continue
            need = group["momentum"] == 0 or group["nesterov"]
            out[p] = self._objective_grad(p, group).clone() if need else None
        return out

    def _direction(self, p: torch.Tensor, group: dict[str, Any], extra: Any) -> torch.Tensor:
        if group["momentum"] == 0:
            return extra
        buf = self.state[p]["momentum_buffer"]
        if group["nesterov"]:
            return extra.add(buf, alpha=group["momentum"])
        return buf.clone()


class _AdamDirection(_Hypergradient):
    def _before(self, group: dict[str, Any]) -> dict[torch.Tensor, Any]:
        decoupled = group.get("decoupled_weight_decay", False) and group["weight_decay"] != 0
        return {p: (p.detach().clone() if decoupled else None) for p in group["params"] if p.grad is not None}

    def _direction(self, p: torch.Tensor, group: dict[str, Any], extra: Any) -> torch.Tensor:
        # θ_t = θ_{t-1} - a_t (m̂_t / (√v̂_t + ε) [+ wd θ_{t-1} when decoupled]), as torch computes it.
        state = self.state[p]
        step = float(state["step"])
        beta1, beta2 = (float(b) for b in group["betas"])
        v = state["max_exp_avg_sq"] if group["amsgrad"] else state["exp_avg_sq"]
        denom = (v.sqrt() / math.sqrt(1 - beta2**step)).add_(group["eps"])
        d = state["exp_avg"] / (1 - beta1**step) / denom
        if extra is not None:
            d.add_(extra, alpha=group["weight_decay"])
        return d


class AdamHD(_AdamDirection, torch.optim.Adam):
    """Adam whose learning rate adapts online by hypergradient descent (Adam-HD, Algorithm 3).

    Takes every argument of :class:`torch.optim.Adam` plus the hypergradient options of
    :class:`SGDHD`; with ``hypergrad_lr=0`` it is exactly ``torch.optim.Adam``. Baydin et
    al. use ``hypergrad_lr=1e-7`` (additive) for Adam: the dot product of a gradient with
    Adam's normalised direction is large.

    Example:
        >>> import torch
        >>> w = torch.zeros(3, requires_grad=True)
        >>> opt = AdamHD([w], lr=0.01, hypergrad_lr=1e-4, lr_max=0.1)
        >>> for _ in range(20):
        ...     opt.zero_grad(); ((w - 1) ** 2).sum().backward(); opt.step()
        >>> len(opt.lr_history), opt.param_groups[0]["lr"] > 0.01
        (20, True)
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0,
        amsgrad: bool = False,
        *,
        hypergrad_lr: float = 1e-7,
        hypergrad_mode: str = "additive",
        lr_min: float = 0.0,
        lr_max: float = math.inf,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
        decoupled_weight_decay: bool = False,
    ) -> None:
        _check_hyper(type(self).__name__, lr, hypergrad_lr, hypergrad_mode, lr_min, lr_max, differentiable)
        super().__init__(
            params,
            lr=lr,
            betas=betas,
            eps=eps,
            weight_decay=weight_decay,
            amsgrad=amsgrad,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=decoupled_weight_decay,
        )
        self._init_hyper(hypergrad_lr, hypergrad_mode, lr_min, lr_max)


class AdamWHD(AdamHD):
    """AdamW (decoupled weight decay) with a hypergradient learning rate; ``hypergrad_lr=0`` is ``torch.optim.AdamW``.

    Example:
        >>> import torch
        >>> w = torch.ones(2, requires_grad=True)
        >>> opt = AdamWHD([w], lr=0.01, weight_decay=0.01)
        >>> opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    """

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 1e-2,
        amsgrad: bool = False,
        *,
        hypergrad_lr: float = 1e-7,
        hypergrad_mode: str = "additive",
        lr_min: float = 0.0,
        lr_max: float = math.inf,
        maximize: bool = False,
        foreach: bool | None = None,
        capturable: bool = False,
        differentiable: bool = False,
        fused: bool | None = None,
    ) -> None:
        super().__init__(
            params,
            lr,
            betas,
            eps,
            weight_decay,
            amsgrad,
            hypergrad_lr=hypergrad_lr,
            hypergrad_mode=hypergrad_mode,
            lr_min=lr_min,
            lr_max=lr_max,
            maximize=maximize,
            foreach=foreach,
            capturable=capturable,
            differentiable=differentiable,
            fused=fused,
            decoupled_weight_decay=True,
        )


class HypergradientController(Controller):
    """Hypergradient descent on the learning rate of any torch optimizer, as a :class:`~hyperdial.control.Controller`.

    Run it in a :class:`~hyperdial.control.ControlLoop` (which records the rates on the trial)
    and set the optimizer's rate from ``loop.params`` before each step (:func:`apply_lr`).
    After step ``t`` it knows the gradient ``g_t`` (still in ``.grad``) and the previous
    update direction ``d_{t-1}``, measured as ``(θ_{t-2} - θ_{t-1}) / a_{t-1}`` from the
    parameters (so it works for SGD, Adam or any other optimizer), and sets

        a_{t+1} = a_t + β g_t · d_{t-1}           (additive)
        a_{t+1} = a_t (1 + β cos(g_t, d_{t-1}))    (multiplicative)

    clamped to ``[lr_min, lr_max]``: Baydin et al.'s rule (ICLR 2018, Eq. 6 / Sec. 3.1)
    applied one step later than in :class:`SGDHD` / :class:`AdamHD`, which use ``g_t`` before
    step ``t`` itself; the controller cannot, since it only speaks between steps. Use the
    optimizers when you want the exact algorithm, the controller when the schedule should
    go through the same recording and replay path as every other controller.

    Args:
        params: The parameters (or the optimizer, whose parameters are used) whose gradients
            and steps drive the rate.
        hypergrad_lr, hypergrad_mode, lr_min, lr_max: As for :class:`SGDHD`.
        name: The hyperparameter it controls (``"lr"``).

    Example:
        >>> import torch
        >>> from hyperdial.control import ControlLoop
        >>> w = torch.zeros(3, requires_grad=True)
        >>> opt = torch.optim.SGD([w], lr=0.01)
        >>> loop = ControlLoop(HypergradientController(opt, hypergrad_lr=0.05, hypergrad_mode="multiplicative"),
        ...                    {"lr": 0.01})
        >>> for step in range(20):
        ...     apply_lr(opt, loop.params)
        ...     opt.zero_grad(); ((w - 1) ** 2).sum().backward(); opt.step()
        ...     _ = loop.step(step)
        >>> loop.params["lr"] > 0.01
        True
    """

    def __init__(
        self,
        params: Any,
        *,
        hypergrad_lr: float = 1e-3,
        hypergrad_mode: str = "additive",
        lr_min: float = 0.0,
        lr_max: float = math.inf,
        name: str = "lr",
    ) -> None:
        if isinstance(params, torch.optim.Optimizer):
            params = [p for g in params.param_groups for p in g["params"]]
        self.params = [p for p in params]
        if not self.params or not all(isinstance(p, torch.Tensor) for p in self.params):
            raise TypeError("HypergradientController: params must be a torch optimizer or a non-empty list of tensors")
        # lr itself is only known at start(); check the rest with a stand-in inside the range
        _check_hyper("HypergradientController", max(lr_min, 1e-300), hypergrad_lr, hypergrad_mode, lr_min, lr_max)
        if not isinstance(name, str) or not name:
            raise TypeError(f"HypergradientController(name={name!r}): name must be a non-empty string")
        self.hypergrad_lr = float(hypergrad_lr)
        self.hypergrad_mode = hypergrad_mode
        self.lr_min = float(lr_min)
        self.lr_max = float(lr_max)
        self.name = name
        self._snapshot: list[torch.Tensor] | None = None
        self._direction: list[torch.Tensor] | None = None
        #: ``g_t · d_{t-1}`` after each step (nan when not yet defined).
        self.hypergradients: list[float] = []

    def start(self, params: Mapping[str, Any]) -> dict[str, Any]:
        if self.name not in params:
            raise ValueError(f"HypergradientController: the initial values must include {self.name!r}")
        lr = params[self.name]
        _check_hyper("HypergradientController", lr, self.hypergrad_lr, self.hypergrad_mode, self.lr_min, self.lr_max)
        self._snapshot = [p.detach().clone() for p in self.params]
        self._direction = None
        return dict(params)

    @torch.no_grad()
    def update(self, step: int, observation: Mapping[str, float], params: Mapping[str, Any]) -> dict[str, Any] | None:
        if self._snapshot is None:
            raise RuntimeError("HypergradientController.update before start(): run it in a ControlLoop")
        lr = float(params[self.name])
        dot = g_sq = d_sq = 0.0
        seen = False
        if self._direction is not None:
            for p, d in zip(self.params, self._direction):
                if p.grad is None:
                    continue
                g = p.grad
                dot += float(torch.sum(g * d, dtype=torch.float64))
                g_sq += float(torch.sum(g * g, dtype=torch.float64))
                d_sq += float(torch.sum(d * d, dtype=torch.float64))
                seen = True
        # d_t from the step just taken, for the next update
        if lr > 0:
            self._direction = [(s - p.detach()) / lr for s, p in zip(self._snapshot, self.params)]
        self._snapshot = [p.detach().clone() for p in self.params]
        if not seen or not math.isfinite(dot):
            self.hypergradients.append(math.nan)
            return None
        self.hypergradients.append(dot)
        if self.hypergrad_mode == "additive":
            new = lr + self.hypergrad_lr * dot
        else:
            norm = math.sqrt(g_sq * d_sq)
            new = lr * (1.0 + self.hypergrad_lr * dot / norm) if norm > 0 else lr
        if not math.isfinite(new):
            return None
        return {self.name: min(max(new, self.lr_min), self.lr_max)}
