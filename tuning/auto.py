"""``graft train --auto``: the method and its settings chosen by measuring them on the user's data.

A budgeted Optuna study: the TPE sampler proposes a method (``tuning.auto_methods``) and its
settings — rank and alpha, target layers, prefix length or Spectrum's share, learning rate
(around the method's default, mostly above it), epochs — and a successive-halving pruner, fed
by in-training evaluations at the same steps in every trial, stops trials that trail those that
reached the same step. Trials train on the train split less a validation split carved from it
and are scored there by ``graft eval``'s scorers; the held-out split that the published adapter
is scored on never takes part. The first trial is the default recipe, so the search is never
worse informed than a plain ``graft train``; the second is the same at five times its rate,
since the defaults suit long runs and a search's trials are short.

The study lives in ``<home>/studies/<name>.db`` (SQLite): an interrupted search resumes where it
stopped, and every trial's figures stay. Of the finished trials, the chosen one is the smallest
(trainable parameters) whose paired 95% interval against the best one's per-example scores
reaches zero — within the noise of the best — as measured advice decides between arms.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import time
import warnings
from collections.abc import Callable
from pathlib import Path

from graftlm.core.errors import InputError, TrainingError
from graftlm.core.lineage import file_sha256
from graftlm.core.loader import base_tokenizer
from graftlm.core.settings import Settings, TuningSettings
from graftlm.core.workspace import Workspace
from graftlm.tuning.auto_trials import Search, TrialFigures, choose, describe, pareto
from graftlm.tuning.batching import split
from graftlm.tuning.data import clean_examples
from graftlm.tuning.events import Evaluated, Ready, RunEvent, Step, TrialEvent, TrialsDone
from graftlm.tuning.methods import check_fits, get
from graftlm.tuning.methods.lora import RANKS
from graftlm.tuning.pipeline import base_config
from graftlm.tuning.run import Run

EPOCHS = (1.0, 2.0, 3.0)
# Learning rates from default / 4 to default * 16, log-uniform. Lopsided on purpose: the
# defaults suit long runs, and a search's trials are short — on SNIPS (280 examples, 35 steps)
# LoRA scored 79.0 at 1e-3 and 81.9 at 3e-3 against its 2e-4 default (benchmarks/peft_methods).
RATES_BELOW, RATES_ABOVE = 4.0, 16.0
# In-training evaluations per epoch: the pruner's checkpoints, at the same steps in every trial
# (trials train unpacked, so a step is batch_size examples), so that a three-epoch trial is
# compared with a one-epoch one at the steps both reach.
EVALS_PER_EPOCH = 2
# The second trial: the recipe at 5x its rate (for the LoRA family, 1e-3: the rate measured
# advice uses for short runs).
SHORT_RUN = 5.0
# Part of a study's fingerprint: a study searched under other rules is not resumed.
SEARCH_RULES = "2: rates /4..x16, successive halving at aligned steps, recipe x1 and x5"


def progress_words(event: TrialEvent | TrialsDone) -> str | None:
    """A search's progress event in words: the trials so far after a trial, the running trial's
    step during one (None for other events)."""
    if isinstance(event, TrialsDone):
        best = event.best
        return (f"{event.done} done, {event.pruned} pruned"
                + (f"; best {best.score:.3f} ({best.label})" if best else ""))
    if not isinstance(event.event, (Step, Evaluated)):
        return None
    return f"trial {event.trial} ({event.label}) step {event.event.step}/{event.event.total}"


def settings_for(params: dict, base: TuningSettings) -> TuningSettings:
    """``base`` with a trial's parameters applied."""
    method = get(params["method"])
    update: dict = {"method": method.name, "epochs": params["epochs"],
                    **method.search_settings(params)}
    rate = params[f"lr_{method.name}"]
    update["full_learning_rate" if method.trains_base else "learning_rate"] = rate
    if not method.packs:
        update["packing"] = False
    return TuningSettings.model_validate({**base.model_dump(), **update})  # validators run


def default_rate(method: str, base: TuningSettings) -> float:
    """The rate ``method`` trains at by default (TuningSettings.peak_learning_rate's rule)."""
    return base.model_copy(update={"method": method, "learning_rate": None}).peak_learning_rate


def suggest(trial, base: TuningSettings, ranks: tuple[int, ...]) -> dict:
    """A trial's parameters, drawn by Optuna (define-by-run: each method its own branch, over
    the space the method declares; ranks only those the base model's layers fit)."""
    name = trial.suggest_categorical("method", list(base.auto_methods))
    for key, choices in get(name).search.items():
        trial.suggest_categorical(key, list(ranks) if key == "rank" else list(choices))
    rate = default_rate(name, base)
    trial.suggest_float(f"lr_{name}", rate / RATES_BELOW, rate * RATES_ABOVE, log=True)
    trial.suggest_categorical("epochs", list(EPOCHS))
    return dict(trial.params)


def recipe(base: TuningSettings, ranks: tuple[int, ...], rate_factor: float = 1.0) -> dict:
    """The default recipe as a trial's parameters (the search's first trial; with
    ``rate_factor``, the same at that multiple of its rate)."""
    name = base.auto_methods[0]
    values = dict(get(name).recipe)
    if "rank" in values:
        values["rank"] = min(values["rank"], max(ranks))
    return {"method": name, **values, f"lr_{name}": default_rate(name, base) * rate_factor,
            "epochs": 2.0}


def figures(study) -> list[TrialFigures]:
    """Every trial of ``study`` with its figures (running ones, from an interrupted run, are
    left out)."""
    import optuna

    states = {optuna.trial.TrialState.COMPLETE: "complete",
              optuna.trial.TrialState.PRUNED: "pruned", optuna.trial.TrialState.FAIL: "failed"}
    out = []
    for trial in study.get_trials(deepcopy=False):
        if trial.state not in states:
            continue
        attrs = trial.user_attrs
        state = states[trial.state]
        if state == "complete" and attrs.get("cut"):
            state = "cut"  # shortened by the budget's end: not comparable with the others
        out.append(TrialFigures(trial.number, state, dict(trial.params),
                                trial.value if trial.value is not None else attrs.get("score"),
                                attrs.get("trainable"), attrs.get("seconds"),
                                list(attrs.get("scores", []))))
    return out


def open_study(path: Path, name: str, fingerprint: str, seed: int, first_check: int):
    """The study in ``path``: resumed when it searched the same way (``fingerprint``: the data,
    the split, the search space, the base model), refused otherwise. Its pruner is successive
    halving from step ``first_check`` (the first in-training evaluation) in steps of three: one
    bracket, so that with the handful of trials a small budget holds, every trial is compared
    with all the others at the same step (Hyperband's brackets split them, and compared few)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
    path.parent.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        storage=f"sqlite:///{path}", study_name=name, direction="maximize", load_if_exists=True,
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=4, multivariate=True,
                                           group=True),
        pruner=optuna.pruners.SuccessiveHalvingPruner(min_resource=first_check,
                                                      reduction_factor=3))
    recorded = study.user_attrs.get("fingerprint")
    if recorded is None:
        study.set_user_attr("fingerprint", fingerprint)
    elif recorded != fingerprint:
        raise InputError(f"the search in {path} was over other data or other settings (data, "
                         "split, methods, base model); remove that file to start a new search, "
                         "or search under another --name.")
    # A resumed study draws new random start-up trials, not the first session's again.
    study.sampler = optuna.samplers.TPESampler(seed=seed + len(study.trials), n_startup_trials=4,
                                               multivariate=True, group=True)
    return study


def search(data: Path, name: str, settings: Settings, workspace: Workspace, *,
           budget_s: float, fmt=None, fields=None, held_out_elsewhere: bool = False,
           progress: Callable[[TrialEvent | TrialsDone], None] | None = None
           ) -> tuple[Search, TuningSettings]:
    """Run (or resume) the search for adapter ``name`` on the train split of ``data`` (all of
    it when the held-out examples are ``elsewhere``: an --eval-file) for ``budget_s`` seconds;
    returns what it found and the chosen trial's tuning settings. The study is
    ``<home>/studies/<name>.db``."""
    t = settings.tuning
    tokenizer, _ = base_tokenizer(settings.models, workspace)
    report = clean_examples(data, tokenizer, settings, fmt=fmt, fields=fields)
    train_set = report.examples if held_out_elsewhere else split(
        report.examples, t.eval_fraction, t.eval_max, t.seed)[0]
    return search_examples(train_set, workspace.home / "studies" / f"{name}.db", name,
                           settings, workspace, tokenizer, budget_s=budget_s,
                           data_key=file_sha256(Path(data)), progress=progress)


def search_examples(train_set: list, path: Path, name: str, settings: Settings,
                    workspace: Workspace, tokenizer, *, budget_s: float, data_key: str,
                    progress: Callable[[TrialEvent | TrialsDone], None] | None = None,
                    ) -> tuple[Search, TuningSettings]:
    """The search over ``train_set`` (a validation split carved from it), its study kept in
    ``path`` under ``name``; ``data_key`` names the data in the study's fingerprint."""
    import optuna

    report_progress = progress or (lambda _event: None)
    t = settings.tuning
    config = base_config(settings, workspace)
    ranks = tuple(r for r in RANKS if _fits(t.model_copy(update={
        "rank": r, "method": "lora", "targets": "all-linear"}), config))
    if not ranks:
        raise InputError("the base model's layers are narrower than the smallest rank searched "
                         f"({RANKS[0]}); train without --auto.")
    fit, val = split(train_set, t.auto_validation, t.eval_max, t.seed + 1)
    if len(fit) < 2 or len(val) < 2:
        raise InputError(f"{len(train_set)} train examples are too few to search on; train "
                         "without --auto.")
    fingerprint = hashlib.sha256(json.dumps([
        SEARCH_RULES, data_key, [ex.line for ex in val], list(t.auto_methods), list(ranks),
        t.model_dump(mode="json", exclude={"auto_methods"}), str(config.to_dict())],
        sort_keys=True, default=str).encode()).hexdigest()
    per_epoch = math.ceil(len(fit) / t.batch_size)
    every = max(1, math.ceil(per_epoch / EVALS_PER_EPOCH))
    study = open_study(path, name, fingerprint, t.seed, first_check=every)
    if not study.trials:
        study.enqueue_trial(recipe(t, ranks))
        study.enqueue_trial(recipe(t, ranks, rate_factor=SHORT_RUN))
    started = time.monotonic()
    end = started + budget_s

    def objective(trial) -> float:
        params = suggest(trial, t, ranks)
        tuned = settings_for(params, t)
        steps = max(1, math.ceil(per_epoch * tuned.epochs))
        tuned = TuningSettings.model_validate({  # the pruner stops trials, not patience
            **tuned.model_dump(), "eval_every": every, "patience": steps // every + 1,
            "max_steps": None, "packing": False})  # unpacked, a step is batch_size examples
        check_fits(tuned, config)
        init = workspace.home / "runs" / f"{name}-auto" / f"trial-{trial.number}"
        run = Run(settings, workspace, tuned, tokenizer, fit, val, scratch=init)

        def step(event: RunEvent) -> None:
            report_progress(TrialEvent(trial.number, describe(params), event,
                                       time.monotonic() - started, budget_s))
            if isinstance(event, Ready):
                trial.set_user_attr("trainable", event.record["trainable_parameters"])
            if isinstance(event, Evaluated):
                if "metric" not in study.user_attrs:
                    study.set_user_attr("metric", event.metric)
                trial.report(event.point.metric, event.step)
                if trial.should_prune():
                    raise optuna.TrialPruned()

        try:
            result = run.execute(progress=step, deadline=end).result
        finally:
            shutil.rmtree(init, ignore_errors=True)
        trial.set_user_attr("seconds", result.seconds)
        trial.set_user_attr("cut", result.steps < steps and not result.stopped_early)
        trial.set_user_attr("scores", result.best_scores)
        return result.best.metric

    def after(study, frozen) -> None:
        found = figures(study)
        best, _ = choose(found)
        report_progress(TrialsDone(sum(f.state == "complete" for f in found),
                                   sum(f.state == "pruned" for f in found),
                                   next((f for f in found if f.number == best), None),
                                   time.monotonic() - started, budget_s))

    # A trial that diverges, or a method this model cannot take, fails alone.
    study.optimize(objective, timeout=budget_s, callbacks=[after], gc_after_trial=True,
                   catch=(TrainingError, InputError))
    found = figures(study)
    best, chosen = choose(found, t.seed)
    if chosen is None:
        raise InputError(f"no trial finished within the budget ({budget_s:.0f} s) — failed "
                         "ones are in the study — give the search more time with --budget "
                         "(the study resumes).")
    result = Search(str(path), study.user_attrs.get("metric", "score"), len(val), found, best,
                    chosen, pareto(found), budget_s, round(time.monotonic() - started, 1))
    chosen_params = next(f.params for f in found if f.number == chosen)
    return result, settings_for(chosen_params, t)


def _fits(settings: TuningSettings, config) -> bool:
    try:
        check_fits(settings, config)
    except InputError:
        return False
    return True
