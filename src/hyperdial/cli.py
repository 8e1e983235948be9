"""The ``hyperdial`` command: run tuning jobs from YAML and look at stored studies.

Exit codes: 0 success, 1 an objective raised, 2 bad input (config, flags, storage,
study name), 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import csv
import inspect
import io
import json
import logging
import sys
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["main"]

DEFAULT_STORAGE = "sqlite:///hyperdial.db"


class _BadInput(Exception):
    pass


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    cells = [[_fmt(c) for c in r] for r in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells]
    return "\n".join(out)


def _values(t: Any) -> str:
    if t.values is None:
        return ""
    return ", ".join(f"{v:.6g}" for v in t.values)


def _params(t: Any) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in t.params.items())


def _load(name: str, storage: str) -> Any:
    import hyperdial

    try:
        return hyperdial.load_study(name, storage)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None


def _ranked(study: Any) -> list[Any]:
    from hyperdial import TrialState

    done = study.get_trials([TrialState.COMPLETE])
    if len(study.directions) != 1:
        return study.best_trials
    sign = 1 if study.direction.value == "minimize" else -1
    return sorted(done, key=lambda t: sign * t.values[0])


# -- commands ------------------------------------------------------------------------------------
def cmd_tune(args: argparse.Namespace) -> int:
    import hyperdial
    from hyperdial.config import ConfigError, load_config

    overrides = {
        "n_trials": args.n_trials,
        "timeout": args.timeout,
        "seed": args.seed,
        "storage": args.storage,
        "study": args.study,
        "n_jobs": args.n_jobs,
    }
    try:
        cfg = load_config(args.config, overrides)
    except ConfigError as exc:
        raise _BadInput(f"config error: {exc}") from None
    try:
        study = hyperdial.create_study(
            cfg.study,
            cfg.storage,
            directions=cfg.directions,
            sampler=hyperdial.samplers.get_sampler(cfg.sampler[0], **cfg.sampler[1]),
            pruner=hyperdial.pruners.get_pruner(cfg.pruner[0], **cfg.pruner[1]),
            seed=cfg.seed,
            load_if_exists=True,
            space=cfg.space,
        )
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    before = len(study.trials)
    if before:
        _say(args, f"resuming study {study.name!r} ({before} trials stored in {cfg.storage})")
    stored = study.system_attrs.get("config")
    if stored != cfg.resolved:
        study._set_system_attrs({"config": cfg.resolved})
    b = cfg.budget
    t0 = time.monotonic()
    study.optimize(
        cfg.objective,
        n_trials=b.get("n_trials"),
        timeout=b.get("timeout"),
        target=b.get("target"),
        patience=b.get("patience"),
        max_trials=b.get("max_trials"),
        n_jobs=cfg.n_jobs,
        show_progress=not args.no_progress,
    )
    ran = len(study.trials) - before
    _say(args, f"\n{ran} trials in {time.monotonic() - t0:.1f} s; study {study.name!r} holds {len(study.trials)}")
    print(_best_table(study, 5))
    _say(args, f"\nstored in {cfg.storage}; look again with: hyperdial best {study.name} --storage {cfg.storage}")
    return 0


def _best_table(study: Any, k: int) -> str:
    ranked = _ranked(study)[:k]
    if not ranked:
        return "no COMPLETE trial yet"
    return _table(["trial", "value(s)", "params"], [(t.number, _values(t), _params(t)) for t in ranked])


def cmd_studies(args: argparse.Namespace) -> int:
    import hyperdial

    try:
        summaries = hyperdial.list_studies(args.storage)
    except ValueError as exc:
        raise _BadInput(str(exc)) from None
    rows = []
    for s in summaries:
        best = ""
        if len(s.directions) == 1 and s.n_trials:
            try:
                best = _fmt(hyperdial.load_study(s.name, args.storage).best_value)
            except ValueError:
                best = ""
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(s.created))
        rows.append((s.name, ",".join(s.directions), s.n_trials, best, created))
    print(_table(["study", "directions", "trials", "best", "created"], rows) if rows else "no studies")
    return 0


def cmd_trials(args: argparse.Namespace) -> int:
    from hyperdial import TrialState

    study = _load(args.study, args.storage)
    trials = study.trials
    if args.state:
        try:
            wanted = TrialState[args.state.upper()]
        except KeyError:
            raise _BadInput(
                f"--state: unknown state {args.state!r}; use one of {[s.name for s in TrialState]}"
            ) from None
        trials = [t for t in trials if t.state == wanted]
    records = [
        {
            "number": t.number,
            "state": t.state.name,
            "values": None if t.values is None else list(t.values),
            "params": dict(t.params),
            "duration": t.duration,
            "fail_reason": None if t.fail_reason is None else t.fail_reason.value,
        }
        for t in trials
    ]
    if args.format == "json":
        print(json.dumps(records, indent=1))
    elif args.format == "csv":
        names = sorted({k for r in records for k in r["params"]})
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(["number", "state", "value", *[f"params_{n}" for n in names], "duration"])
        for r in records:
            val = "" if r["values"] is None else ";".join(repr(v) for v in r["values"])
            w.writerow([r["number"], r["state"], val, *[r["params"].get(n, "") for n in names], r["duration"] or ""])
        print(buf.getvalue(), end="")
    else:
        rows = [
            (t.number, t.state.name, _values(t), _params(t), "" if t.duration is None else f"{t.duration:.2f}s")
            for t in trials
        ]
        print(_table(["trial", "state", "value(s)", "params", "duration"], rows) if rows else "no trials")
    return 0


def cmd_best(args: argparse.Namespace) -> int:
    study = _load(args.study, args.storage)
    best = _ranked(study)[: 1 if len(study.directions) == 1 else None]
    if not best:
        raise _BadInput(f"study {study.name!r} has no COMPLETE trial yet")
    if args.format == "json":
        out = [{"number": t.number, "values": list(t.values), "params": dict(t.params)} for t in best]
        print(json.dumps(out[0] if len(study.directions) == 1 else out, indent=1))
    else:
        print(_table(["trial", "value(s)", "params"], [(t.number, _values(t), _params(t)) for t in best]))
    return 0


def cmd_env(args: argparse.Namespace) -> int:
    from hyperdial.environment import capture_environment, environment_differences

    study = _load(args.study, args.storage)
    env = study.environment or {}
    print(f"study {study.name!r}: seed {study.seed}")
    git = env.get("git") or {}
    rows = [
        ("python", env.get("python")),
        ("platform", env.get("platform")),
        ("cpus", env.get("cpu_count")),
        ("git commit", (git.get("commit") or "none") + (" (uncommitted changes)" if git.get("dirty") else "")),
    ]
    rows += [(name, version) for name, version in sorted((env.get("packages") or {}).items())]
    print(_table(["recorded", "value"], rows))
    diff = environment_differences(env, capture_environment(study.seed))
    print("\nsame as this environment" if not diff else "\ndiffers from this environment:\n  " + "\n  ".join(diff))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    """Join a study started by ``hyperdial tune``: its stored config says what to run."""
    import hyperdial
    from hyperdial.config import ConfigError, load_config

    study = _load(args.study, args.storage)
    config_path = args.config
    if config_path is None:
        raise _BadInput("worker: give --config CONFIG.yaml (the file the study was tuned from)")
    try:
        cfg = load_config(config_path, {"storage": args.storage, "study": args.study})
    except ConfigError as exc:
        raise _BadInput(f"config error: {exc}") from None
    study = hyperdial.load_study(
        args.study,
        args.storage,
        sampler=hyperdial.samplers.get_sampler(cfg.sampler[0], **cfg.sampler[1]),
        pruner=hyperdial.pruners.get_pruner(cfg.pruner[0], **cfg.pruner[1]),
    )
    b = cfg.budget
    study.optimize(
        cfg.objective,
        n_trials=args.n_trials,
        timeout=args.timeout,
        max_trials=b.get("max_trials") or (None if args.n_trials else b.get("n_trials")),
        show_progress=not args.no_progress,
    )
    _say(args, f"worker done; study {study.name!r} holds {len(study.trials)} trials")
    return 0


def cmd_plot(args: argparse.Namespace) -> int:
    """Draw one plot of a stored study: PNG / SVG / PDF with matplotlib, HTML with plotly."""
    from hyperdial import visualization as vis

    study = _load(args.study, args.storage)
    options: dict[str, Any] = {}
    if args.target is not None:
        options["target"] = args.target
    if args.params:
        options["params"] = [p.strip() for p in args.params.split(",") if p.strip()]
    if args.kind == "importance" and args.method:
        options["method"] = args.method
    if args.kind == "validation_curve":
        if not args.params or len(options["params"]) != 1:
            raise _BadInput("plot validation_curve: name the parameter with --params NAME")
        options["param"] = options.pop("params")[0]
    accepted = inspect.signature(vis.KINDS[args.kind]).parameters
    for name in options:
        if name not in accepted:
            raise _BadInput(f"plot {args.kind}: --{name} does not apply to this plot")
    try:
        data = vis.KINDS[args.kind](study, **options)
        path = vis.save(data, args.output)
    except (ValueError, TypeError) as exc:
        raise _BadInput(f"plot {args.kind}: {exc}") from None
    except ImportError as exc:
        raise _BadInput(str(exc)) from None
    _say(args, f"wrote {path}")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write one self-contained HTML report of a stored study."""
    from hyperdial.visualization.report import write_report

    study = _load(args.study, args.storage)
    try:
        path = write_report(study, args.output)
    except ValueError as exc:
        raise _BadInput(f"report: {exc}") from None
    except ImportError as exc:
        raise _BadInput(str(exc)) from None
    _say(args, f"wrote {path}")
    return 0


def _say(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False):
        print(text, file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    from hyperdial import __version__

    p = argparse.ArgumentParser(prog="hyperdial", description="Hyperparameter tuning from the command line.")
    p.add_argument("--version", action="version", version=f"hyperdial {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("tune", help="run (or resume) a tuning job from a YAML config")
    t.add_argument("config")
    t.add_argument("--storage", help=f"storage URL (default: the config's, else {DEFAULT_STORAGE})")
    t.add_argument("--study", help="study name (default: the config's, else the file name)")
    t.add_argument("--n-trials", type=int, help="trials to run now (on top of those stored)")
    t.add_argument("--timeout", type=float, help="seconds after which no trial starts")
    t.add_argument("--seed", type=int)
    t.add_argument("--n-jobs", type=int, help="trials at once, in worker processes")
    t.add_argument("--no-progress", action="store_true")
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_tune)

    s = sub.add_parser("studies", help="list the studies in a storage")
    s.add_argument("--storage", default=DEFAULT_STORAGE)
    s.set_defaults(func=cmd_studies)

    tr = sub.add_parser("trials", help="every trial of a study")
    tr.add_argument("study")
    tr.add_argument("--storage", default=DEFAULT_STORAGE)
    tr.add_argument("--format", choices=["table", "csv", "json"], default="table")
    tr.add_argument("--state", help="only trials in this state (COMPLETE, PRUNED, FAILED, RUNNING...)")
    tr.set_defaults(func=cmd_trials)

    b = sub.add_parser("best", help="the best trial (the Pareto front for several objectives)")
    b.add_argument("study")
    b.add_argument("--storage", default=DEFAULT_STORAGE)
    b.add_argument("--format", choices=["table", "json"], default="table")
    b.set_defaults(func=cmd_best)

    e = sub.add_parser("env", help="the environment a study recorded, and how this one differs")
    e.add_argument("study")
    e.add_argument("--storage", default=DEFAULT_STORAGE)
    e.set_defaults(func=cmd_env)

    w = sub.add_parser("worker", help="join a running study from any machine that reaches its storage")
    w.add_argument("--storage", required=True)
    w.add_argument("--study", required=True)
    w.add_argument("--config", help="the YAML config the study was started from")
    w.add_argument("--n-trials", type=int)
    w.add_argument("--timeout", type=float)
    w.add_argument("--no-progress", action="store_true")
    w.add_argument("--quiet", action="store_true")
    w.set_defaults(func=cmd_worker)

    from hyperdial.visualization import KINDS

    pl = sub.add_parser("plot", help="draw one plot of a study (PNG, SVG or PDF; HTML is interactive)")
    pl.add_argument("study")
    pl.add_argument("kind", choices=sorted(KINDS))
    pl.add_argument("-o", "--output", required=True, help="file.png, file.svg, file.pdf or file.html")
    pl.add_argument("--storage", default=DEFAULT_STORAGE)
    pl.add_argument("--target", type=int, help="objective index, for a study with several objectives")
    pl.add_argument("--params", help="comma-separated parameters to show (validation_curve: the one parameter)")
    pl.add_argument("--method", choices=["fanova", "ped-anova"], help="importance method (default fanova)")
    pl.add_argument("--quiet", action="store_true")
    pl.set_defaults(func=cmd_plot)

    r = sub.add_parser("report", help="one self-contained HTML report: best trials, plots, importance, environment")
    r.add_argument("study")
    r.add_argument("-o", "--output", default="report.html", help="the HTML file to write (default report.html)")
    r.add_argument("--storage", default=DEFAULT_STORAGE)
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_report)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: 0 for --help/--version, 2 for bad flags
        return int(exc.code or 0)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("hyperdial: %(message)s"))
    log = logging.getLogger("hyperdial")
    log.addHandler(handler)  # the command's own handler; the library never configures logging
    log.setLevel(logging.WARNING if getattr(args, "quiet", False) else logging.INFO)
    try:
        return args.func(args)
    except _BadInput as exc:
        print(f"hyperdial: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nhyperdial: interrupted; the running trial is stored as FAILED (interrupted)", file=sys.stderr)
        return 130
    except Exception as exc:
        if args.debug:
            raise
        print(f"hyperdial: error: {type(exc).__name__}: {exc} (run with --debug for the traceback)", file=sys.stderr)
        return 1
    finally:
        log.removeHandler(handler)


if __name__ == "__main__":
    sys.exit(main())
