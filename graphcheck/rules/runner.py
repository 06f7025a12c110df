"""Run the enabled rules on analyses, and analyse many model files at once.

:func:`run_rules` applies the rules to one :class:`ModelAnalysis`; :func:`check_models`
reads, analyses and checks many files, optionally in a process pool, and returns the
results in the order the paths were given. Nothing here prints.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from graphcheck.analysis import ModelAnalysis
from graphcheck.config import GateConfig, select_rules
from graphcheck.errors import GraphcheckError
from graphcheck.findings import Finding, ModelResult, sort_findings
from graphcheck.rules import RULES, RuleContext

__all__ = ["Checked", "check_models", "check_one", "run_rules"]


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
    """One model's result, with its analysis when it could be read."""

    result: ModelResult
    analysis: ModelAnalysis | None


def check_one(path: str, config: GateConfig) -> Checked:
    """Read, analyse and check one model; a read error becomes the result's ``error``."""
    from graphcheck.api import load

    try:
        analysis = load(path).analyse(config.keras_version)
    except GraphcheckError as exc:
        return Checked(ModelResult(path, error=str(exc)), None)
    return Checked(ModelResult(path, run_rules(analysis, config)), analysis)


def check_models(
    paths: Sequence[str],
    config: GateConfig,
    jobs: int = 1,
    progress: Callable[[str], None] | None = None,
) -> list[Checked]:
    """Check every path; with ``jobs > 1`` in a process pool. Order follows ``paths``.

    ``progress`` is called with each path as it finishes (in completion order).
    """
    if jobs <= 1 or len(paths) <= 1:
        results = []
        for path in paths:
            results.append(check_one(path, config))
            if progress:
                progress(path)
        return results
    # Imported here: the process pool pulls in multiprocessing, socket and friends
    # (about 10 ms), which a run of one model or --jobs 1 never uses.
    from concurrent.futures import ProcessPoolExecutor, as_completed

    done: dict[int, Checked] = {}
    # Forked workers inherit cli.run()'s raised collector threshold; that is fine for
    # them too (each drops the analyses it has sent back, and the collector still runs).
    with ProcessPoolExecutor(max_workers=min(jobs, len(paths))) as pool:
        futures = {pool.submit(check_one, path, config): index for index, path in enumerate(paths)}
        for future in as_completed(futures):
            index = futures[future]
            done[index] = future.result()
            if progress:
                progress(paths[index])
    return [done[index] for index in range(len(paths))]
