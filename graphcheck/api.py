"""The public entry points: read a file, build its graph, analyse it, check it.

This is the one orchestrator above the rules and the reporters: :func:`load` and
:func:`analyse` for one model, :func:`check` for a gate run over many (in a process
pool with ``jobs > 1``), :func:`diff` for two. It writes nothing and prints
nothing; ``cli.py`` turns flags into these calls and their results into output.
docs/python.md describes the public part.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import networkx as nx

from graphcheck.analyses.model_analysis import ModelAnalysis, analyse_graph, register_html_display
from graphcheck.discovery import Found, discover
from graphcheck.errors import (
    GraphcheckError,
    NoModelsFoundError,
    UnsupportedModelError,
    Wording,
    cli_wording,
    current_wording,
    option,
    worded,
)
from graphcheck.findings import FailOn, Finding, ModelResult, NotAnalysed, Report
from graphcheck.gate_config import GateConfig, select_rules
from graphcheck.graph import CallGraph, build_graph
from graphcheck.model import SavedModelDesc
from graphcheck.profile_choice import ProfileChoice, choose_profile
from graphcheck.readers import READ_AHEAD, read_ahead, read_model, read_stored
from graphcheck.reporters.json_report import model_entry
from graphcheck.reporters.registry import ModelPart
from graphcheck.rules.runner import run_rules
from graphcheck.semantics import profile_for_version

if TYPE_CHECKING:  # importing graphcheck.runtime costs numpy; only --rebuild needs it
    from graphcheck.diff import ModelDiff
    from graphcheck.reporters.html_page import ProfileView
    from graphcheck.runtime.rebuild import RebuildOptions

__all__ = [
    "CheckReport", "LoadedModel", "NotAnalysed", "analyse", "check", "diff", "find_models",
    "findings", "html_page", "load", "profile_views",
]

_REPR_PATH = 120  # a path longer than this is shortened in a repr, keeping its end


def _short(path: str) -> str:
    return path if len(path) <= _REPR_PATH else "..." + path[-(_REPR_PATH - 3):]



def _notebook_html(analysis: ModelAnalysis) -> str:
    # Imported on display: a command-line run never shows an analysis in Jupyter.
    from graphcheck.reporters.notebook import render_notebook_html

    return render_notebook_html(analysis)


register_html_display(_notebook_html)


@dataclass(frozen=True, slots=True)
class LoadedModel:
    """A saved model read statically: its description and its flattened call graph."""

    saved: SavedModelDesc
    graph: CallGraph

    def __repr__(self) -> str:
        # One line: the dataclass repr would print the whole description (hundreds of KB).
        inputs = self.graph.inputs
        calls = sum(1 for call in self.graph.calls() if call.path not in inputs)
        if self.saved.format == "live":
            origin = f"live object, Keras {self.saved.keras_version or '?'}"
        elif self.saved.keras_version:
            origin = f"saved by Keras {self.saved.keras_version}"
        else:
            origin = "Keras version not recorded"
        if self.saved.source.startswith("rebuilt"):
            origin += f", {self.saved.source}"
        return f"<LoadedModel {_short(self.saved.path)!r}: {calls} calls, {origin}>"

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
        from graphcheck.reporters.annotate import annotated_graph

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


def diff(
    old: str,
    new: str,
    keras_version: str | None = None,
    *,
    rebuild: RebuildOptions | bool | None = None,
) -> ModelDiff:
    """What changed from ``old`` to ``new``, both analysed for the same Keras: the one
    ``keras_version`` names, else the one ``new`` would be analysed for.

    That Keras is ``keras_version``, else the Keras that would run ``new``. With
    ``rebuild`` both are built with the installed Keras first, as for :func:`load`.

    Raises
    ------
    graphcheck.errors.GraphcheckError
        Either file cannot be read or analysed.
    """
    # One profile for both files, or a .keras and a tf_keras .h5 would each get the
    # default of its own Keras and the diff would compare two different runtimes.
    after = load(new, rebuild=rebuild).analyse(keras_version)
    before = load(old, rebuild=rebuild).analyse_as(after)
    from graphcheck.diff import diff_analyses

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
    # Imported here: only a run that writes a page needs its renderer.
    from graphcheck.reporters.html_page import render_html

    return render_html(profile_views(analysis, config), collapsed)


def profile_views(
    analysis: ModelAnalysis,
    config: GateConfig | None = None,
    found: Sequence[Finding] | None = None,
) -> list[ProfileView]:
    """What the HTML page shows: ``analysis`` first, then the same graph analysed under
    every other profile (the page's Keras switch), each with the findings of the rules
    ``config`` enables, as :func:`check` reports them. ``found``: ``analysis``'s own
    findings, when the caller has them (`check --render`)."""
    from graphcheck.reporters.html_page import ProfileView
    from graphcheck.rules.stored import StoredWalk
    from graphcheck.semantics import PROFILES

    walk = StoredWalk(analysis.saved.stored)  # one file: one walk for every profile's rules
    others = [
        analyse_graph(
            analysis.graph, ProfileChoice(p, None, "picked with the page's Keras switch"),
            same_graph=analysis,
        )
        for p in PROFILES.values()
        if p != analysis.profile
    ]
    first = tuple(found) if found is not None else run_rules(analysis, config, walk)
    return [ProfileView(analysis, first),
            *(ProfileView(a, run_rules(a, config, walk)) for a in others)]


def find_models(sources: Iterable[str | os.PathLike[str]]) -> list[Found]:
    """The model files and SavedModel folders in ``sources`` (folders are searched).

    See :mod:`graphcheck.discovery` for what a folder search takes.

    Raises
    ------
    graphcheck.errors.NoModelsFoundError
        A folder given holds no model, or nothing was given (exit 2, like a bad argument).
    """
    sources = list(sources)
    found = discover(sources)
    if found.empty or not found.found:
        raise NoModelsFoundError(
            ", ".join(map(str, found.empty or sources)),
            "no model files found (.h5, .hdf5, .keras, architecture .json, model.json "
            "or a SavedModel folder)",
        )
    return list(found.found)


@dataclass(frozen=True, slots=True)
class CheckReport(Report):
    """A gate run's report, plus what its caller asked to keep of each readable model.

    ``parts`` holds the reporter's part (:attr:`Reporter.model_part`) of each
    readable model, in order; ``analyses`` the analyses themselves, when kept.
    """

    parts: tuple[str, ...] = ()
    analyses: tuple[ModelAnalysis, ...] = ()

    @property
    def passed(self) -> bool:
        """The gate's verdict: no failing finding and no unreadable model (exit 0)."""
        return not self.failed

    def __repr__(self) -> str:
        counts = self.counts()
        noun = "model" if len(self.results) == 1 else "models"
        text = (
            f"<CheckReport {len(self.results)} {noun}: {counts['error']} errors, "
            f"{counts['warning']} warnings, {counts['info']} info"
        )
        if counts["unreadable"]:
            text += f", {counts['unreadable']} unreadable"
        if self.not_analysed:
            text += f", {len(self.not_analysed)} not analysed"
        verdict = "passed" if self.passed else "failed"
        return f"{text}; {verdict} (fail on: {self.fail_on.value})>"


@dataclass(frozen=True, slots=True)
class _Checked:
    """One model's result and, when it could be read, its part and kept analysis."""

    result: ModelResult | None
    part: str | None = None
    analysis: ModelAnalysis | None = None
    not_analysed: NotAnalysed | None = None


def _check_one(
    item: Found | Any, config: GateConfig, part: ModelPart | None, keep: bool,
    rebuild: Any = None, wording: Wording = "python",
) -> _Checked:
    """Read, analyse and check one model; a read error becomes the result's ``error``.

    A file found in a folder whose config stores no layer graph is not analysed
    (without ``rebuild``), and not a failure, unless the load-safety rules find
    something in it; a file named is unreadable (exit 3).
    """
    with cli_wording(wording):
        return _check_worded(item, config, part, keep, rebuild)


def _check_worded(
    item: Found | Any, config: GateConfig, part: ModelPart | None, keep: bool, rebuild: Any
) -> _Checked:
    source = item.path if isinstance(item, Found) else item
    path = item.path if isinstance(item, Found) else _live_label(item)
    try:
        analysis = load(source, rebuild=rebuild).analyse(config.keras_version)
    except UnsupportedModelError as exc:
        graphless = _graphless_findings(path, config, exc) if isinstance(item, Found) else ()
        # One with load-safety findings stays an error carrying them: a loader acts on it.
        if isinstance(item, Found) and not item.named and not rebuild and not graphless:
            why = worded(f"needs {option('rebuild')} (its config stores no layer graph)")
            return _Checked(None, not_analysed=NotAnalysed(path, why))
        return _Checked(ModelResult(path, graphless, error=str(exc), error_exit_code=exc.exit_code))
    except GraphcheckError as exc:
        return _Checked(ModelResult(path, error=str(exc), error_exit_code=exc.exit_code))
    result = ModelResult(path, findings(analysis, config))
    rendered = part(analysis, result) if part is not None else None
    if keep:
        return _Checked(result, rendered, analysis)
    # networkx caches views that point back at their graph (``G.in_edges._graph is G``),
    # so a dropped graph, and the whole model description it holds, waits for the
    # cycle collector. Emptied, it is freed at once, and a many-model run does not
    # spend its time collecting dropped graphs.
    analysis.graph.clear()
    return _Checked(result, rendered)


def _graphless_findings(
    path: str, config: GateConfig, error: UnsupportedModelError
) -> tuple[Finding, ...]:
    """The findings of the rules that need no layer graph, on a file that stores none.

    Such a file (a KerasHub task, a subclassed model) cannot be analysed, and stays
    unreadable (exit 3); but a loader still acts on everything its config and
    container hold, so the load-safety rules read those and report what they find
    beside the error.
    """
    saved = error.stored
    if saved is None:  # raised past the reader (a built object that is no Model): read it
        try:
            saved = read_stored(path)
        except GraphcheckError:  # the first read got this far: only a file changed since
            return ()
    analysis = LoadedModel(saved, build_graph(saved)).analyse(config.keras_version)
    return findings(analysis, config)


def _live_label(obj: Any) -> str:
    return f"<live {type(obj).__name__} {getattr(obj, 'name', '?')!r}>"


def _models_to_check(models: Any) -> list[Found | Any]:
    """``check``'s ``models`` as a list: paths expanded (folders searched), objects kept."""
    if isinstance(models, (str, os.PathLike, Found)) or not isinstance(models, Iterable):
        models = [models]
    items: list[Found | Any] = []
    for model in models:
        if isinstance(model, (str, os.PathLike)):
            items.extend(find_models([model]))
        else:
            items.append(model)
    return items


def check(
    paths: Any,
    config: GateConfig | None = None,
    jobs: int = 1,
    *,
    fail_on: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    keras_version: str | None = None,
    rebuild: RebuildOptions | bool | None = None,
    part: ModelPart | None = None,
    keep_analyses: bool = False,
    progress: Callable[[str], None] | None = None,
) -> CheckReport:
    """Run the rules on models and give the gate's verdict, as ``graphcheck check`` does.

    Parameters
    ----------
    paths
        A model file, a folder (searched as ``graphcheck check`` searches it), a
        SavedModel folder, a ``keras.Model`` or ``tf_keras.Model`` object, or a list
        of these. The results follow this order.
    config
        The gate's settings (rules, severities, suppressions, Keras version), as
        :func:`graphcheck.gate_config.load_config` reads them from
        ``[tool.graphcheck]``; default: none.
    fail_on, select, ignore, keras_version
        As the flags of ``graphcheck check`` (``fail_on="warning"``,
        ``select=["GC1"]``, ``ignore=["GC302"]``), applied over ``config``.
    rebuild
        Build each file with the installed Keras first (see :func:`load`).
    jobs
        With ``jobs > 1``, models are analysed in a process pool.
    part
        Run on each readable model where it was analysed; the results are the
        report's ``parts``. Must be a module-level function when ``jobs > 1`` (the
        pool sends it to its workers by name). It runs there so that only its small
        result, not the whole analysis, is sent back to the parent process.
    keep_analyses
        Also keep each readable model's analysis (``--render``, ``--validate``).
    progress
        Called with each path once it is done, in the order of ``paths``.

    Returns
    -------
    CheckReport
        ``findings``, ``failing`` and ``passed`` (the verdict, False where the command
        exits 1 or 3), ``results`` per model. Unreadable models are results with an
        ``error``; nothing is raised for them. Files a folder search found that need
        ``rebuild`` are in ``not_analysed`` and do not fail the run.

    Raises
    ------
    graphcheck.errors.NoModelsFoundError
        A folder given holds no model.
    ValueError
        ``fail_on``, ``select`` or ``ignore`` names no severity or rule.

    Examples
    --------
    >>> report = graphcheck.check("samples/merged_frozen.keras")  # doctest: +SKIP
    >>> report.passed, [f.rule for f in report.findings]  # doctest: +SKIP
    (True, ['GC101', 'GC101'])
    """
    config = _configured(config, fail_on, select, ignore, keras_version)
    items = _models_to_check(paths)
    task = partial(_check_one, config=config, part=part, keep=keep_analyses,
                   rebuild=rebuild or None, wording=current_wording())
    checked: list[_Checked] = []
    live = any(not isinstance(item, Found) for item in items)
    if jobs <= 1 or len(items) <= 1 or live:  # a model object cannot go to another process
        for item, done in zip(items, _checked_in_order(items, task), strict=True):
            checked.append(done)
            if progress:
                progress(item.path if isinstance(item, Found) else _live_label(item))
    else:
        checked = _check_in_pool(items, task, jobs, progress)
    results = [c.result for c in checked if c.result is not None]
    return CheckReport(
        tuple(results),
        config.fail_on or FailOn.ERROR,
        tuple(select_rules(config)),
        parts=tuple(c.part for c in checked if c.part is not None),
        analyses=tuple(c.analysis for c in checked if c.analysis is not None),
        not_analysed=tuple(c.not_analysed for c in checked if c.not_analysed is not None),
    )


def _configured(
    config: GateConfig | None, fail_on: str | None, select: Sequence[str],
    ignore: Sequence[str], keras_version: str | None,
) -> GateConfig:
    """``config`` with check()'s keyword settings applied; bad names are a ValueError."""
    from graphcheck.gate_config import check_rule_names

    config = config or GateConfig()
    if isinstance(select, str) or isinstance(ignore, str):
        raise ValueError("select and ignore take a list of rule names, not one string")
    bad = check_rule_names([*select, *ignore])
    if bad:
        raise ValueError(f"unknown rule {bad[0]!r} (see graphcheck.rules.RULES)")
    if not (fail_on or select or ignore or keras_version):
        return config
    if keras_version:
        profile_for_version(keras_version)  # a ValueError naming the versions it knows
    threshold = FailOn(fail_on) if fail_on else None
    return config.override(select, ignore, threshold, keras_version)


def _check_in_pool(
    paths: Sequence[Found],
    task: partial[_Checked],
    jobs: int,
    progress: Callable[[str], None] | None,
) -> list[_Checked]:
    # Imported here: the process pool pulls in multiprocessing, socket and friends,
    # which a run of one model or --jobs 1 never uses.
    from concurrent.futures import ProcessPoolExecutor

    workers = min(jobs, len(paths))
    # A model is a few milliseconds of work, about what one task's round trip through
    # the pool costs: send a few per task, but keep the tasks small enough that every
    # worker stays busy to the end.
    chunk = max(1, min(8, len(paths) // (4 * workers)))
    results = []
    # Forked workers inherit cli.run()'s raised collector threshold; that is fine for
    # them too (each drops what it has sent back, and the collector still runs).
    chunks = [paths[i:i + chunk] for i in range(0, len(paths), chunk)]
    with ProcessPoolExecutor(max_workers=workers, initializer=_worker_started) as pool:
        done = pool.map(partial(_check_chunk, task=task), chunks)
        for items, checked in zip(chunks, done, strict=True):
            results.extend(checked)
            if progress:
                for item in items:
                    progress(item.path)
    return results


def _worker_started() -> None:
    """In a pool worker: end its HDF5 reader child when the worker ends.

    A worker leaves through ``os._exit``, which runs no atexit handler; its reader
    child would see the pipe close and end unwaited, and its time would be missing
    from the run's accounts. multiprocessing runs its own finalizers on the way out.
    """
    from multiprocessing.util import Finalize

    from graphcheck.readers.h5 import stop_reader

    Finalize(None, stop_reader, exitpriority=10)


def _check_chunk(items: Sequence[Found], task: partial[_Checked]) -> list[_Checked]:
    """A pool worker's share: its models checked in order, each file read ahead."""
    return list(_checked_in_order(items, task))


def _checked_in_order(items: Sequence[Found | Any], task: partial[_Checked]) -> Iterator[_Checked]:
    """``task`` on each item in order, the next file's HDF5 walk started before this
    one is analysed.

    The walk runs in the HDF5 reader child (readers/h5.py), which would otherwise
    sit idle while this process analyses; a live object, a rebuild and a lone file
    are not read ahead.
    """
    ahead = (
        len(items) > 1
        and task.keywords.get("rebuild") is None
        and all(isinstance(item, Found) for item in items)
    )
    depth = READ_AHEAD if ahead else 0
    for item in items[:depth]:
        read_ahead(item.path)
    for index, item in enumerate(items):
        if ahead and index + depth < len(items):
            read_ahead(items[index + depth].path)
        yield task(item)
