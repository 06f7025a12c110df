"""Run the enabled rules on analyses, and analyse many model files at once.

:func:`run_rules` applies the rules to one :class:`ModelAnalysis`; :func:`check_models`
reads, analyses and checks many files, optionally in a process pool, and returns the
results in the order the paths were given. Nothing here prints.

A caller that only needs part of each analysis (its entry in a report) passes
``render``: it runs where the model was analysed, and the analysis itself, graph and
all, is dropped there. In a pool that is what makes ``--jobs 2`` pay: pickling each
analysis back to the parent cost more than the second worker saved. It also keeps
the parent small, which matters to every fork it makes (the HDF5 reader forks once
per file, and a fork's cost grows with the memory of the process that forks).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

from graphcheck.analyses.model_analysis import ModelAnalysis
from graphcheck.gate_config import GateConfig, select_rules
from graphcheck.errors import GraphcheckError
from graphcheck.findings import Finding, ModelResult, sort_findings
from graphcheck.rules import RULES, RuleContext

__all__ = ["Checked", "Render", "check_models", "check_one", "discard", "run_rules"]

# What a caller keeps of each analysis (see check_one).
Render = Callable[[ModelAnalysis, ModelResult], Any]


def run_rules(analysis: ModelAnalysis, config: GateConfig | None = None) -> tuple[Finding, ...]:
    """Every finding of the enabled rules on one analysis, configured and sorted."""
    config = config or GateConfig()
    found: list[Finding] = []
    for rule_id in select_rules(config):
        item = RULES[rule_id]
        ctx = RuleContext(analysis, item, config.options)
        found.extend(config.apply(f) for f in item.check(ctx))
    return sort_findings(dict.fromkeys(found))


@dataclass(frozen=True, slots=True)
class Checked:
    """One model's result and, when it could be read, its analysis or its rendering.

    ``analysis`` is kept when :func:`check_models` was given no ``render``;
    otherwise ``rendered`` holds what ``render(analysis, result)`` returned.
    """

    result: ModelResult
    analysis: ModelAnalysis | None = None
    rendered: Any = None


def discard(analysis: ModelAnalysis, result: ModelResult) -> None:
    """A ``render`` that keeps nothing: for reports made from the findings alone."""
    return None


def check_one(
    path: str, config: GateConfig, render: Render | None = None, rebuild: Any = None
) -> Checked:
    """Read, analyse and check one model; a read error becomes the result's ``error``.

    With ``render``, the result holds ``render(analysis, result)`` instead of the analysis.
    ``rebuild`` is passed to :func:`graphcheck.api.load` (``--rebuild``).
    """
    from graphcheck.api import load

    try:
        analysis = load(path, rebuild=rebuild).analyse(config.keras_version)
    except GraphcheckError as exc:
        return Checked(ModelResult(path, error=str(exc)))
    result = ModelResult(path, run_rules(analysis, config))
    if render is None:
        return Checked(result, analysis)
    rendered = render(analysis, result)
    # networkx caches views that point back at their graph (``G.in_edges._graph is G``),
    # so a dropped graph, and the whole model description it holds, waits for the
    # cycle collector. Emptied, it is freed at once: the collector had spent 0.7 s of
    # a 1,000-model run on such graphs.
    analysis.graph.clear()
    return Checked(result, rendered=rendered)


def check_models(
    paths: Sequence[str],
    config: GateConfig,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
    render: Render | None = None,
    rebuild: Any = None,
) -> list[Checked]:
    """Check every path; with ``jobs > 1`` in a process pool. Order follows ``paths``.

    ``progress`` is called with each path once it is done, in the order of ``paths``.
    ``render`` (see :func:`check_one`) must be a module-level function when
    ``jobs > 1``: the pool sends it to its workers by name.
    """
    if jobs <= 1 or len(paths) <= 1:
        results = []
        for path in paths:
            results.append(check_one(path, config, render, rebuild))
            if progress:
                progress(path)
        return results
    # Imported here: the process pool pulls in multiprocessing, socket and friends
    # (about 10 ms), which a run of one model or --jobs 1 never uses.
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(paths))
    # A model is a few milliseconds of work, about what one task's round trip through
    # the pool costs: send a few per task, but keep the tasks small enough that every
    # worker stays busy to the end.
    chunk = max(1, min(8, len(paths) // (4 * workers)))
    results = []
    # Forked workers inherit cli.run()'s raised collector threshold; that is fine for
    # them too (each drops what it has sent back, and the collector still runs).
    with ProcessPoolExecutor(max_workers=workers) as pool:
        task = partial(check_one, config=config, render=render, rebuild=rebuild)
        for path, checked in zip(paths, pool.map(task, paths, chunksize=chunk), strict=True):
            results.append(checked)
            if progress:
                progress(path)
    return results
