"""The public entry points: read a file, build its graph, analyse it, check it.

This is the one orchestrator above the rules and the reporters: :func:`load` and
:func:`analyse` for one model, :func:`check` for a gate run over many (in a process
pool with ``jobs > 1``), :func:`diff` for two. It writes nothing and prints
nothing; ``cli.py`` turns flags into these calls and their results into output.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import networkx as nx

from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph, register_html_display
from graphcheck.annotate import annotated_graph
from graphcheck.diff import ModelDiff, diff_analyses
from graphcheck.discovery import discover_models
from graphcheck.errors import GraphcheckError, NoModelsFoundError, UnsupportedModelError
from graphcheck.findings import FailOn, Finding, ModelResult, Report
from graphcheck.gate_config import GateConfig, select_rules
from graphcheck.graph import CallGraph, build_graph
from graphcheck.model import SavedModelDesc
from graphcheck.profile_choice import ProfileChoice, choose_profile
from graphcheck.readers import read_model, read_stored
from graphcheck.reporters.json_report import model_entry
from graphcheck.reporters.notebook import render_notebook_html
from graphcheck.reporters.registry import ModelPart
from graphcheck.rules.runner import run_rules
from graphcheck.semantics import profile_for_version

if TYPE_CHECKING:  # importing graphcheck.runtime costs numpy; only --rebuild needs it
    from graphcheck.runtime.rebuild import RebuildOptions

__all__ = [
    "CheckReport", "LoadedModel", "analyse", "check", "diff", "find_models", "findings",
    "html_page", "load",
]

register_html_display(render_notebook_html)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A saved model read statically: its description and its flattened call graph."""

    saved: SavedModelDesc
    graph: CallGraph

    def analyse(self, keras_version: str | None = None) -> ModelAnalysis:
        """Analyse under the profile of ``keras_version``.

        The default is the installed Keras for a file, and the Keras the object
        belongs to for a live model (it is that Keras which will run it).
        """
        if self.saved.format == "live" and not keras_version and self.saved.keras_version:
            version = self.saved.keras_version
            choice = ProfileChoice(profile_for_version(version), version, "the object's own Keras")
        else:
            choice = choose_profile(self.saved.keras_version, keras_version)
        return analyse_graph(self.graph, choice)

    def analyse_as(self, other: ModelAnalysis) -> ModelAnalysis:
        """Analyse under the profile ``other`` was analysed under (a like-for-like comparison)."""
        return analyse_graph(self.graph, other.choice)

    def _repr_html_(self) -> str:
        """Jupyter display: the analysis under the default profile, lines and drawing."""
        return self.analyse()._repr_html_() or ""

    def to_networkx(self, keras_version: str | None = None) -> nx.MultiDiGraph:
        """A copy of the call graph whose nodes also carry the analysis results.

        Node and edge attributes are plain strings, numbers and booleans, so the
        graph can be written as GraphML or node-link JSON as it is.
        """
        return annotated_graph(self.analyse(keras_version))


def load(
    path: str | os.PathLike[str] | Any, *, rebuild: RebuildOptions | bool | None = None
) -> LoadedModel:
    """Read a saved Keras model without importing TensorFlow or Keras.

    ``path`` may also be a ``keras.Model`` or ``tf_keras.Model`` object: it is then
    described from memory (its trainable flags as they are now, which a file may
    not reproduce after loading), by the Keras it belongs to.

    With ``rebuild`` (``--rebuild``; True, or a ``RebuildOptions`` from
    :mod:`graphcheck.runtime.rebuild` to trust the model), the file's config is
    built with the installed Keras 3, without weights, and the built object is
    described: the way to analyse KerasHub and subclassed models, whose configs
    store no layer graph. This imports Keras.

    Raises
    ------
    graphcheck.errors.GraphcheckError
        The file cannot be read or holds no analysable layer graph.

    Examples
    --------
    >>> import graphcheck
    >>> model = graphcheck.load("samples/inverted_dropout.keras")  # doctest: +SKIP
    >>> model.to_networkx().number_of_nodes()  # doctest: +SKIP
    5
    """
    if not isinstance(path, (str, os.PathLike)):
        # Only an object the caller already holds gets here, so its Keras is loaded.
        from graphcheck.runtime.live import describe_model_object

        saved = describe_model_object(path)
    elif rebuild:
        from graphcheck.runtime.rebuild import RebuildOptions, rebuild_model

        options = rebuild if isinstance(rebuild, RebuildOptions) else RebuildOptions()
        saved = rebuild_model(path, options)
    else:
        saved = read_model(path)
    return LoadedModel(saved, build_graph(saved))


def analyse(
    path: str | os.PathLike[str] | Any,
    keras_version: str | None = None,
    *,
    rebuild: RebuildOptions | bool | None = None,
) -> dict[str, Any]:
    """Analyse one file or live model; return its entry of the JSON report.

    See docs/report.schema.json; ``source`` says whether the graph was read from
    the file, rebuilt (``rebuild``, as for :func:`load`), or taken from a live
    object. The typed result is ``load(path, rebuild=rebuild).analyse(keras_version)``.
    """
    return model_entry(load(path, rebuild=rebuild).analyse(keras_version))


def diff(old: str, new: str, keras_version: str | None = None) -> ModelDiff:
    """What changed from ``old`` to ``new``, both analysed for the same Keras: the one
    ``keras_version`` names, else the one ``new`` would be analysed for.

    That Keras is ``keras_version``, else the Keras that would run ``new``.

    Raises
    ------
    graphcheck.errors.GraphcheckError
        Either file cannot be read or analysed.
    """
    # One profile for both files, or a .keras and a tf_keras .h5 would each get the
    # default of its own Keras and the diff would compare two different runtimes.
    after = load(new).analyse(keras_version)
    before = load(old).analyse_as(after)
    return diff_analyses(before, after)


def findings(analysis: ModelAnalysis, config: GateConfig | None = None) -> tuple[Finding, ...]:
    """The findings of the rules ``config`` enables on one analysed model, as :func:`check`
    reports them (suppressed ones included, marked ``suppressed``)."""
    return run_rules(analysis, config)


def html_page(
    analysis: ModelAnalysis, config: GateConfig | None = None, collapsed: Sequence[str] = ()
) -> bytes:
    """The interactive HTML page of one analysed model (docs/render.md).

    The page opens with ``analysis``'s profile and the submodel calls ``collapsed``
    drawn as one box each; its Keras switch holds the same graph analysed under
    every other profile. Each profile's findings are those of the rules ``config``
    enables, as :func:`check` would report them.

    Raises
    ------
    graphcheck.errors.MissingDependencyError
        Graphviz's ``dot``, which lays the page out, is not installed.
    graphcheck.errors.GraphcheckError
        ``dot`` failed or timed out.
    """
    # Imported here: only a run that writes a page needs its renderer and profiles.
    from graphcheck.render_html import ProfileView, render_html
    from graphcheck.semantics import PROFILES

    config = config or GateConfig()
    others = [
        analyse_graph(analysis.graph, ProfileChoice(p, None, "picked with the page's Keras switch"))
        for p in PROFILES.values()
        if p != analysis.profile
    ]
    views = [ProfileView(a, findings(a, config)) for a in (analysis, *others)]
    return render_html(views, collapsed)


def find_models(sources: Sequence[str]) -> list[str]:
    """The model files and SavedModel folders in ``sources`` (folders are searched).

    Raises
    ------
    graphcheck.errors.NoModelsFoundError
        No model was found (exit 2, like a bad argument).
    """
    paths = discover_models(sources)
    if not paths:
        raise NoModelsFoundError(
            ", ".join(map(str, sources)),
            "no model files found (.h5, .keras, .json, model.json or a SavedModel folder)",
        )
    return paths


@dataclass(frozen=True, slots=True)
class CheckReport(Report):
    """A gate run's report, plus what its caller asked to keep of each readable model.

    ``parts`` holds the reporter's part (:attr:`Reporter.model_part`) of each
    readable model, in order; ``analyses`` the analyses themselves, when kept.
    """

    parts: tuple[str, ...] = ()
    analyses: tuple[ModelAnalysis, ...] = ()


@dataclass(frozen=True, slots=True)
class _Checked:
    """One model's result and, when it could be read, its part and kept analysis."""

    result: ModelResult
    part: str | None = None
    analysis: ModelAnalysis | None = None


def _check_one(
    path: str, config: GateConfig, part: ModelPart | None, keep: bool, rebuild: Any = None
) -> _Checked:
    """Read, analyse and check one model; a read error becomes the result's ``error``."""
    try:
        analysis = load(path, rebuild=rebuild).analyse(config.keras_version)
    except UnsupportedModelError as exc:
        return _Checked(ModelResult(
            path, _graphless_findings(path, config), error=str(exc), error_exit_code=exc.exit_code
        ))
    except GraphcheckError as exc:
        return _Checked(ModelResult(path, error=str(exc), error_exit_code=exc.exit_code))
    result = ModelResult(path, findings(analysis, config))
    rendered = part(analysis, result) if part is not None else None
    if keep:
        return _Checked(result, rendered, analysis)
    # networkx caches views that point back at their graph (``G.in_edges._graph is G``),
    # so a dropped graph, and the whole model description it holds, waits for the
    # cycle collector. Emptied, it is freed at once: the collector had spent 0.7 s of
    # a 1,000-model run on such graphs.
    analysis.graph.clear()
    return _Checked(result, rendered)


def _graphless_findings(path: str, config: GateConfig) -> tuple[Finding, ...]:
    """The findings of the rules that need no layer graph, on a file that stores none.

    Such a file (a KerasHub task, a subclassed model) cannot be analysed, and stays
    unreadable (exit 3); but a loader still acts on everything its config and
    container hold, so the load-safety rules read those and report what they find
    beside the error.
    """
    try:
        saved = read_stored(path)
    except GraphcheckError:  # the first read got this far: only a file changed since
        return ()
    analysis = LoadedModel(saved, build_graph(saved)).analyse(config.keras_version)
    return findings(analysis, config)


def check(
    paths: Sequence[str],
    config: GateConfig | None = None,
    jobs: int = 1,
    *,
    part: ModelPart | None = None,
    keep_analyses: bool = False,
    progress: Callable[[str], None] | None = None,
    rebuild: RebuildOptions | None = None,
) -> CheckReport:
    """Read, analyse and run the enabled rules on every model; a report in ``paths`` order.

    Parameters
    ----------
    paths
        Model files or SavedModel folders (see :func:`find_models`).
    config
        The gate's settings (rules, severities, suppressions, Keras version).
    jobs
        With ``jobs > 1``, models are analysed in a process pool.
    part
        Run on each readable model where it was analysed; the results are the
        report's ``parts``. Must be a module-level function when ``jobs > 1`` (the
        pool sends it to its workers by name). Rendering where the model is analysed
        is what makes ``--jobs 2`` pay: pickling each analysis back to the parent
        cost more than the second worker saved, and it keeps the parent small, which
        matters to every fork it makes.
    keep_analyses
        Also keep each readable model's analysis (``--render``, ``--validate``).
    progress
        Called with each path once it is done, in the order of ``paths``.
    rebuild
        ``--rebuild``: build each model with the installed Keras (see :func:`load`).

    Returns
    -------
    CheckReport
        Unreadable models are results with an ``error``; nothing is raised for them.
    """
    config = config or GateConfig()
    task = partial(_check_one, config=config, part=part, keep=keep_analyses, rebuild=rebuild)
    checked: list[_Checked] = []
    if jobs <= 1 or len(paths) <= 1:
        for path in paths:
            checked.append(task(path))
            if progress:
                progress(path)
    else:
        checked = _check_in_pool(paths, task, jobs, progress)
    readable = [c for c in checked if c.result.error is None]
    return CheckReport(
        tuple(c.result for c in checked),
        config.fail_on or FailOn.ERROR,
        tuple(select_rules(config)),
        parts=tuple(c.part for c in readable if c.part is not None),
        analyses=tuple(c.analysis for c in readable if c.analysis is not None),
    )


def _check_in_pool(
    paths: Sequence[str],
    task: Callable[[str], _Checked],
    jobs: int,
    progress: Callable[[str], None] | None,
) -> list[_Checked]:
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
        for path, checked in zip(paths, pool.map(task, paths, chunksize=chunk), strict=True):
            results.append(checked)
            if progress:
                progress(path)
    return results
