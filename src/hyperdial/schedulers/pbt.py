"""Population-based training (Jaderberg et al. 2017, "Population Based Training of Neural Networks").

A population of trials trains at the same time (process workers, or one after another in
one process). Every ``interval`` steps a member compares its latest value with the other
members' values *at the same step*, read from the study's shared storage:

* **exploit** (the paper's "truncation selection", section 3.1): a member in the bottom
  ``quantile`` copies the state (a checkpoint saved at that step) and the hyperparameters
  of a member drawn uniformly from the top ``quantile``;
* **explore** ("perturb", section 3.1): the copied numeric hyperparameters are multiplied by
  a factor drawn from ``perturb`` (0.8 or 1.2), or, with probability
  ``resample_probability``, drawn afresh from their distribution; categorical ones are
  resampled with that probability.

The member therefore changes its hyperparameters during training. It is a
:class:`~hyperdial.control.Controller`: run it in a :class:`~hyperdial.control.ControlLoop`
bound to the trial and the schedule it produces is recorded on the trial (system attribute
``"schedule"``) and can be replayed with :class:`~hyperdial.control.ReplayController`. Each
exploit is also recorded (system attribute ``"pbt"``), so :func:`lineage_schedule` gives the
hyperparameters that actually trained the weights a member ends with (its donors'
schedules up to each copy, then its own).

Example:
    >>> import numpy as np, hyperdial
    >>> from hyperdial.control import ControlLoop
    >>> from hyperdial.schedulers import PBT
    >>> from sklearn.datasets import load_digits
    >>> from sklearn.linear_model import SGDClassifier
    >>> X, y = load_digits(return_X_y=True); X = X / 16.0
    >>> pbt = PBT(interval=2, quantile=0.25, population_size=4, seed=0)
    >>> def objective(trial):
    ...     member = pbt.member(trial)
    ...     loop = ControlLoop(member, {"eta0": trial.suggest_float("eta0", 1e-4, 1.0, log=True)}, trial=trial)
    ...     clf = SGDClassifier(learning_rate="constant", eta0=loop.params["eta0"], random_state=0)
    ...     for epoch in range(6):
    ...         clf.set_params(eta0=loop.params["eta0"])   # the member's current value
    ...         clf.partial_fit(X[:1000], y[:1000], classes=np.arange(10))
    ...         score = clf.score(X[1000:], y[1000:])
    ...         trial.report(score, epoch)
    ...         member.save(epoch, clf)           # a checkpoint at interval steps
    ...         loop.step(epoch, {"score": score})  # exploit / explore every 2 epochs
    ...         clf = member.restore(clf)         # a better member's model after an exploit
    ...     return score
    >>> study = hyperdial.create_study(direction="maximize", seed=0, sampler="random")
    >>> study.optimize(objective, n_trials=4, show_progress=False)
    >>> study.best_value > 0.8
    True
    >>> schedule = recorded_schedule(study.best_trial)   # replay with ReplayController(schedule)
    >>> schedule.at(0)["eta0"] > 0
    True
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from hyperdial.checkpoint import CHECKPOINT_ATTR, HOLD_ATTR, checkpoint_key
from hyperdial.control import Controller, Schedule, recorded_schedule
from hyperdial.space import Categorical, Distribution
from hyperdial.trial import Direction, Trial, TrialState

if TYPE_CHECKING:
    from hyperdial.study import Study

__all__ = ["PBT", "PBT_ATTR", "PBTMember", "lineage_schedule", "recorded_schedule"]

#: Trial system attribute of a PBT member: ``{"exploits": [{"step", "donor", "params"}, ...]}``.
PBT_ATTR = "pbt"


def _check_int(value: Any, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise ValueError(f"PBT({name}={value!r}): expected an integer >= {low}")
    return int(value)


class PBT:
    """Population-based training: settings shared by every member of a population.

    Args:
        interval: Steps between exploit/explore decisions ("ready" in the paper): after steps
            ``interval - 1``, ``2 * interval - 1``, ...
        quantile: Fraction of the population in the bottom group that copies from the top
            group of the same size (the paper uses 20 %; Ray Tune 25 %).
        perturb: Factors one of which multiplies each copied numeric hyperparameter.
        resample_probability: Probability that a hyperparameter is drawn afresh from its
            distribution instead (categoricals: resampled with it, else kept).
        population_size: The number of members; once that many have started, checkpoints
            no running member can still copy are deleted as training goes on.
        hyperparams: Names the scheduler may change (default: every value of the loop that
            has a distribution on the trial).
        metric: The value ranked: ``None`` ranks what the trial reported at the step
            (``trial.report``) in the study's direction; a name ranks that key of the
            observation given to ``ControlLoop.step`` (then ``mode`` says the direction).
        mode: ``"max"`` or ``"min"`` for ``metric`` (ignored when ``metric`` is ``None``).
        min_population: Members needed at a step before anyone is replaced.
        seed: Seeds the explore step (with the trial number and step), default the study's seed.
        keep: Keep policy of the interval checkpoints (see :mod:`hyperdial.checkpoint`).
    """

    def __init__(
        self,
        *,
        interval: int = 4,
        quantile: float = 0.25,
        perturb: Sequence[float] = (0.8, 1.2),
        resample_probability: float = 0.25,
        population_size: int | None = None,
        hyperparams: Sequence[str] | None = None,
        metric: str | None = None,
        mode: str = "max",
        min_population: int = 2,
        seed: int | None = None,
        keep: str = "running",
    ) -> None:
        self.interval = _check_int(interval, "interval", 1)
        if isinstance(quantile, bool) or not isinstance(quantile, numbers.Real) or not 0.0 < quantile <= 0.5:
            raise ValueError(f"PBT(quantile={quantile!r}): expected a fraction in (0, 0.5], e.g. 0.25")
        factors = tuple(float(f) for f in perturb)
        if not factors or any(not math.isfinite(f) or f <= 0 for f in factors):
            raise ValueError(f"PBT(perturb={perturb!r}): expected positive factors such as (0.8, 1.2)")
        if not 0.0 <= resample_probability <= 1.0:
            raise ValueError(f"PBT(resample_probability={resample_probability!r}): expected a probability in [0, 1]")
        if mode not in ("max", "min"):
            raise ValueError(f"PBT(mode={mode!r}): use 'max' or 'min'")
        if keep not in ("running", "complete", "all"):
            raise ValueError(f"PBT(keep={keep!r}): choose 'running', 'complete' or 'all'")
        self.quantile = float(quantile)
        self.perturb = factors
        self.resample_probability = float(resample_probability)
        self.population_size = None if population_size is None else _check_int(population_size, "population_size", 2)
        self.hyperparams = None if hyperparams is None else tuple(hyperparams)
        self.metric = metric
        self.mode = mode
        self.min_population = _check_int(min_population, "min_population", 2)
        self.seed = seed
        self.keep = keep
        self._released: set[tuple[int, int]] = set()

    def member(self, trial: Trial, *, distributions: Mapping[str, Distribution] | None = None) -> PBTMember:
        """The controller of ``trial``'s member; give it to a :class:`~hyperdial.control.ControlLoop`.

        Args:
            trial: The live trial.
            distributions: Where explore may move each hyperparameter (default: the trial's
                own distributions, i.e. its search space).
        """
        if not isinstance(trial, Trial):
            raise TypeError(f"PBT.member(trial={trial!r}): expected the live hyperdial Trial the objective received")
        return PBTMember(self, trial, distributions)

    # -- the population, read from the storage ------------------------------------------------------
    def _value(self, t: Any, step: int) -> float | None:
        if self.metric is None:
            v = (t._inter or {}).get(step)
        else:
            v = ((t._system or {}).get(PBT_ATTR) or {}).get("metric", {}).get(str(step))
        if v is None or isinstance(v, tuple) or not math.isfinite(v):
            return None
        return float(v)

    def _maximise(self, study: Study) -> bool:
        if self.metric is not None:
            return self.mode == "max"
        if len(study.directions) != 1:
            raise ValueError("PBT ranks one value; for a study with several objectives pass metric= and mode=")
        return study.directions[0] == Direction.MAXIMIZE

    def release(self, study: Study) -> int:
        """Delete the interval checkpoints of finished members (call when the population is done).

        Returns:
            How many checkpoint keys were cleared.
        """
        h = study.sync()
        n = 0
        for t in h.trials:
            if PBT_ATTR not in (t._system or {}) or not t.state.is_finished:
                continue
            for s in ((t._system or {}).get(CHECKPOINT_ATTR) or {}).get("steps", []):
                if isinstance(s, int) and (t.number, s) not in self._released:
                    study.storage.set_blob(study._info.id, checkpoint_key(t.number, s), None)
                    self._released.add((t.number, s))
                    n += 1
        return n

    def _collect(self, study: Study, h: Any) -> None:
        """Delete checkpoints at steps every live member has passed (only once the population is complete)."""
        members = [t for t in h.trials if PBT_ATTR in (t._system or {})]
        if self.population_size is None or len(members) < self.population_size:
            return  # members still to come (one process: they run one after another) may copy any step
        running = [t.last_step for t in members if t.state == TrialState.RUNNING]
        if any(s is None for s in running):
            return
        horizon = min(running) if running else math.inf
        for t in members:
            for s in ((t._system or {}).get(CHECKPOINT_ATTR) or {}).get("steps", []):
                if isinstance(s, int) and s < horizon and (t.number, s) not in self._released:
                    study.storage.set_blob(study._info.id, checkpoint_key(t.number, s), None)
                    self._released.add((t.number, s))

    def __repr__(self) -> str:
        return (
            f"PBT(interval={self.interval}, quantile={self.quantile}, perturb={self.perturb}, "
            f"resample_probability={self.resample_probability}, population_size={self.population_size})"
        )


class PBTMember(Controller):
    """One member of a PBT population: a :class:`~hyperdial.control.Controller` bound to a trial.

    Use :meth:`save` to store the model at interval steps (before ``loop.step``), and
    :meth:`restore` after ``loop.step`` to pick up a donor's model when the member exploited.
    """

    def __init__(self, pbt: PBT, trial: Trial, distributions: Mapping[str, Distribution] | None) -> None:
        self.pbt = pbt
        self.trial = trial
        self.distributions = dict(distributions) if distributions is not None else None
        #: ``(donor number, step)`` of the latest exploit not yet restored, else ``None``.
        self.exploited: tuple[int, int] | None = None
        self.exploits: list[dict[str, Any]] = []
        trial.set_system_attr(PBT_ATTR, {"exploits": []})
        trial.set_system_attr(HOLD_ATTR, True)  # later members may copy this member's states
        trial.flush()

    def is_ready(self, step: int) -> bool:
        """Whether ``step`` ends an interval (a checkpoint is saved and a decision made there)."""
        return (int(step) + 1) % self.pbt.interval == 0

    def save(self, step: int, obj: Any) -> bool:
        """Store ``obj`` (a model, its state) as this member's checkpoint at ``step`` if the step ends an interval.

        Returns:
            Whether a checkpoint was saved.
        """
        if not self.is_ready(step):
            return False
        self.trial.save_checkpoint(obj, step=int(step), keep=self.pbt.keep)
        return True

    def restore(self, obj: Any = None) -> Any:
        """After an exploit, the donor's checkpoint (a torch one loaded into ``obj``); else ``obj`` unchanged."""
        if self.exploited is None:
            return obj
        donor, step = self.exploited
        self.exploited = None
        torch_like = obj is not None and hasattr(obj, "load_state_dict")
        return self.trial.load_checkpoint(donor, step=step, into=obj if torch_like else None)

    def update(self, step: int, observation: Mapping[str, float], params: Mapping[str, Any]) -> dict[str, Any] | None:
        pbt = self.pbt
        trial = self.trial
        study = trial.study
        if pbt.metric is not None:
            if pbt.metric not in observation:
                raise ValueError(
                    f"PBT(metric={pbt.metric!r}): ControlLoop.step({step}, observation) has no {pbt.metric!r} "
                    f"(got {sorted(observation)}); pass it, or use metric=None to rank the reported values"
                )
            if self.is_ready(step):
                meta = {
                    "exploits": self.exploits,
                    "metric": {**self._metrics(), str(step): float(observation[pbt.metric])},
                }
                trial.set_system_attr(PBT_ATTR, meta)
                trial.flush()
        if not self.is_ready(step):
            return None
        h = study.sync()
        me = h.trials[trial.number]
        mine = pbt._value(me, step)
        if mine is None:
            raise ValueError(
                f"PBT: trial {trial.number} has no value at step {step}; call trial.report(value, {step}) "
                "before ControlLoop.step (or give PBT a metric= from the observation)"
            )
        maximise = pbt._maximise(study)
        peers = []
        for t in h.trials:
            if PBT_ATTR not in (t._system or {}) or t.state == TrialState.FAILED:
                continue
            v = pbt._value(t, step)
            if v is not None:
                peers.append((v if maximise else -v, t.number, step in self._steps(t)))
        pbt._collect(study, h)
        if len(peers) < pbt.min_population:
            return None
        peers.sort(key=lambda p: (-p[0], p[1]))  # best first; ties by number, for reproducibility
        k = max(1, int(math.floor(pbt.quantile * len(peers) + 1e-9)))
        order = [n for _, n, _ in peers]
        rank = order.index(trial.number)
        if rank < len(peers) - k:
            return None  # not in the bottom quantile
        donors = [n for _, n, has in peers[:k] if has and n != trial.number]
        if not donors:
            return None
        rng = np.random.default_rng([study.seed if pbt.seed is None else pbt.seed, trial.number, step])
        donor = int(donors[int(rng.integers(len(donors)))])
        donor_schedule = recorded_schedule(h.trials[donor])
        donor_params = donor_schedule.at(step) if donor_schedule is not None else dict(h.trials[donor]._params)
        new = self._explore({**params, **{k2: v for k2, v in donor_params.items() if k2 in params}}, rng)
        self.exploited = (donor, step)
        self.exploits.append({"step": step, "donor": donor, "params": new})
        meta: dict[str, Any] = {"exploits": self.exploits}
        if pbt.metric is not None:
            meta["metric"] = self._metrics()
        trial.set_system_attr(PBT_ATTR, meta)
        return new

    def _metrics(self) -> dict[str, float]:
        h = self.trial.study._history
        t = h.trials[self.trial.number] if self.trial.number < len(h.trials) else None
        return dict(((t._system or {}).get(PBT_ATTR) or {}).get("metric", {})) if t is not None else {}

    @staticmethod
    def _steps(t: Any) -> list[Any]:
        return list(((t._system or {}).get(CHECKPOINT_ATTR) or {}).get("steps", []))

    def _explore(self, params: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        """Perturb or resample the copied values (Jaderberg et al. 2017, section 4.1's "perturb")."""
        pbt = self.pbt
        dists = self.distributions if self.distributions is not None else dict(self.trial.distributions)
        names = pbt.hyperparams if pbt.hyperparams is not None else [n for n in params if n in dists]
        out = dict(params)
        for name in names:
            dist = dists.get(name)
            if dist is None or name not in params:
                raise ValueError(
                    f"PBT(hyperparams=...): {name!r} needs a value in the loop's params and a distribution "
                    "(suggest it on the trial, or pass distributions= to PBT.member)"
                )
            if rng.random() < pbt.resample_probability:
                out[name] = dist.from_unit(float(rng.random()))
            elif not isinstance(dist, Categorical):
                factor = pbt.perturb[int(rng.integers(len(pbt.perturb)))]
                v = float(params[name]) * factor
                out[name] = dist.from_unit(dist.to_unit(min(max(v, dist.low), dist.high)))
        return out


def lineage_schedule(study: Study, number: int) -> Schedule:
    """The hyperparameters that trained the weights member ``number`` ends with.

    Up to each exploit the member's weights come from its donor, so the donor's lineage
    is followed back to the start (the schedule the paper reports for its best member).
    A donor's own later exploits do not count: the weights copied at step ``s`` were
    trained by the donor's lineage as it stood at ``s``.
    """
    return _lineage(study.sync(), number, None)


def _lineage(h: Any, number: int, upto: int | None) -> Schedule:
    """The lineage schedule of the weights member ``number`` holds after step ``upto`` (``None``: at the end)."""
    t = h.trials[number]
    own = recorded_schedule(t)
    if own is None:
        raise ValueError(f"trial {number} has no recorded schedule (it did not run in a ControlLoop bound to it)")
    exploits = ((t._system or {}).get(PBT_ATTR) or {}).get("exploits", [])
    # A checkpoint at step s is saved before the member's own decision at s: exploits at s or later came after it.
    exploits = [e for e in exploits if upto is None or int(e["step"]) < upto]
    if not exploits:
        return own
    last = exploits[-1]
    step = int(last["step"])
    base = _lineage(h, int(last["donor"]), step)
    out = Schedule(base.at(0))
    for s in base.steps[1:]:
        if s <= step:
            out.record(s, base.at(s))
    for s in [step + 1, *(x for x in own.steps if x > step + 1)]:  # own values from the exploit on
        out.record(s, own.at(s))
    return out
