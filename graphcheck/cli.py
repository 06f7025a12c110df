"""The command line: the only module that parses flags, prints, writes files or exits."""

from __future__ import annotations

import gc
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from graphcheck import __version__
from graphcheck.errors import (
    EXIT_FINDINGS,
    EXIT_INTERNAL,
    EXIT_MISSING_DEPENDENCY,
    EXIT_OUTPUT,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    GraphcheckError,
    OutputError,
    cli_wording,
)
from graphcheck.keras_versions import BACKENDS
from graphcheck.reporters.registry import (
    FILE_FORMATS,
    FileOptions,
    drawing_suffixes,
    find_file_format,
    graph_suffixes,
    report_formats,
    validation_formats,
)

if TYPE_CHECKING:  # the commands import these when they run: --help stays light
    from graphcheck.analyses.model_analysis import ModelAnalysis
    from graphcheck.api import CheckReport
    from graphcheck.findings import Finding
    from graphcheck.gate_config import GateConfig
    from graphcheck.reporters.html_page import ProfileView
    from graphcheck.reporters.registry import ModelPart, Validated

def _exit_codes(*codes: tuple[int, str]) -> str:
    """A command's --help epilog: the exit codes it can return, with what each means."""
    lines = ["\b", "Exit codes:"]
    for code, meaning in (*codes, (EXIT_INTERNAL, "internal error in graphcheck (a bug: please "
                                   "report it)")):
        first, *rest = meaning.split("\n")
        lines.append(f"  {code:<4} {first}")
        lines.extend(f"       {line}" for line in rest)
    return "\n".join(lines) + "\n"


_USAGE = (EXIT_USAGE, "usage error (bad flag or argument)")
_UNREADABLE = (EXIT_UNREADABLE, "the model could not be read or analysed")
_OUTPUT = (EXIT_OUTPUT, "the output file cannot be written (missing folder, no permission,\n"
           "a folder, disk full); nothing is left behind")

EXIT_CODES_HELP = _exit_codes(
    (0, "every model was analysed, no finding at or above --fail-on (default: error)"),
    (EXIT_FINDINGS, "findings at or above --fail-on (check), models differ (diff --exit-code),\n"
     "or validate found a disagreement"),
    _USAGE,
    (EXIT_UNREADABLE, "a model could not be read or analysed (the others are still reported)"),
    (EXIT_MISSING_DEPENDENCY, "a required tool is missing (Graphviz dot; TensorFlow/Keras for\n"
     "validate and --rebuild; huggingface_hub/kagglehub for hf:// and kaggle:// models)"),
    _OUTPUT,
)
CHECK_EXIT_CODES = _exit_codes(
    (0, "every model was analysed (files in folders that need --rebuild are\n"
     "listed as not analysed), no finding at or above --fail-on"),
    (EXIT_FINDINGS, "an unsuppressed finding at or above --fail-on (default: error), or\n"
     "--validate found a disagreement"),
    (EXIT_USAGE, "usage error: bad flag or argument, a folder holding no model,\n"
     "bad [tool.graphcheck]"),
    (EXIT_UNREADABLE, "a model could not be read or analysed (the others are still reported)"),
    (EXIT_MISSING_DEPENDENCY, "a required tool is missing (Keras or KerasHub for --rebuild,\n"
     "Graphviz dot for --render, TensorFlow/Keras for --validate,\n"
     "huggingface_hub/kagglehub for hf:// and kaggle:// models)"),
    (EXIT_OUTPUT, "-o or --render FILE cannot be written"),
)
EXPORT_EXIT_CODES = _exit_codes(
    (0, "the graph was written"), _USAGE, _UNREADABLE,
    (EXIT_MISSING_DEPENDENCY, "Keras is missing (--rebuild), or huggingface_hub/kagglehub\n"
     "(hf:// and kaggle:// models)"), _OUTPUT,
)
RENDER_EXIT_CODES = _exit_codes(
    (0, "the drawing was written"), _USAGE, _UNREADABLE,
    (EXIT_MISSING_DEPENDENCY, "Graphviz dot is missing (all but .dot), Keras (--rebuild), or\n"
     "huggingface_hub/kagglehub (hf:// and kaggle:// models)"),
    _OUTPUT,
)
VALIDATE_EXIT_CODES = _exit_codes(
    (0, "every observation agrees with the static report"),
    (EXIT_FINDINGS, "at least one disagreement"),
    _USAGE,
    (EXIT_UNREADABLE, "a model could not be read, was refused, or Keras could not load or\n"
     "run it (--timeout included)"),
    (EXIT_MISSING_DEPENDENCY, "TensorFlow/Keras, the backend or the requested GPU is missing"),
    _OUTPUT,
)
DIFF_EXIT_CODES = _exit_codes(
    (0, "compared (with --exit-code: no difference)"),
    (EXIT_FINDINGS, "with --exit-code: the models differ"),
    _USAGE, (EXIT_UNREADABLE, "either model could not be read or analysed"),
    (EXIT_MISSING_DEPENDENCY, "Keras is missing (--rebuild), or huggingface_hub/kagglehub\n"
     "(hf:// and kaggle:// models)"),
    _OUTPUT,
)
LIST_EXIT_CODES = _exit_codes((0, "listed"), _USAGE)
EXPLAIN_EXIT_CODES = _exit_codes((0, "printed"), (EXIT_USAGE, "no such rule, or usage error"))
HELP_EXIT_CODES = _exit_codes((0, "printed"), (EXIT_USAGE, "no such command"))


class DefaultCommandGroup(click.Group):
    """A group whose first argument may be a model path: ``graphcheck model.h5``."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in ("--help", "-h", "--version"):
            return super().parse_args(ctx, args)
        first = next((a for a in args if not a.startswith("-")), None)
        if args and (first is None or first not in self.commands):
            if first is not None and args[0] == first:
                self._reject_misspelt_command(ctx, first)
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)

    def _reject_misspelt_command(self, ctx: click.Context, word: str) -> None:
        """``graphcheck valdiate m.h5``: a first word that is no file but nearly a command."""
        import difflib

        from graphcheck.hub_handles import is_handle

        if os.path.exists(word) or is_handle(word):
            return
        close = difflib.get_close_matches(word, list(self.commands), n=1, cutoff=0.75)
        if close:
            ctx.fail(f"no such command or file {word!r}; did you mean {close[0]}?")


def _validate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """The flags of `validate` and `check --validate`; they reach the command as **kwargs."""
    for option in reversed((
        click.option("--trust-model", is_flag=True,
                     help="Load models with Lambda layers or custom classes (runs their code)."),
        click.option("--custom-objects", metavar="FILE.py", type=click.Path(dir_okay=False),
                     help="Python file defining the model's custom classes; executed, so it "
                     "needs --trust-model."),
        click.option("--seed", type=int, default=0, show_default=True,
                     help="Seed of the synthetic inputs and of Keras's random layers."),
        click.option("--batch-size", type=click.IntRange(1, 1024), default=8, show_default=True,
                     help="Batch size of the synthetic inputs."),
        click.option("--device", type=click.Choice(["auto", "gpu", "cpu"]), default="auto",
                     show_default=True, help="auto: a GPU when the backend sees one."),
        click.option("--backend", type=click.Choice(BACKENDS), default=None,
                     help="Keras 3 backend (set before Keras is imported). Default: "
                     "$KERAS_BACKEND when it names one of these, else tensorflow; "
                     "tf_keras runs on TensorFlow either way."),
        click.option("--timeout", type=click.FloatRange(min=0), default=300.0, show_default=True,
                     help="Give up on a model after this many seconds (0: no limit)."),
    )):
        func = option(func)
    return func


def _rebuild_options(func: Callable[..., Any], *, with_trust: bool = False) -> Callable[..., Any]:
    """--rebuild (and, where the command lacks them, --trust-model/--custom-objects)."""
    options = [
        click.option("--rebuild", is_flag=True,
                     help="Build MODEL from its stored config with the installed Keras of "
                     "its dialect (Keras 3, or tf_keras for a Keras 2 file), reading no "
                     "weights, and analyse the built layer graph (KerasHub and subclassed "
                     "models store none). Imports Keras; constructs only classes from keras, "
                     "keras_hub, keras_nlp, keras_cv, tf_keras unless --trust-model."),
    ]
    if with_trust:
        options += [
            click.option("--trust-model", is_flag=True,
                         help="With --rebuild: construct any class the config names, and lambdas."),
            click.option("--custom-objects", metavar="FILE.py", type=click.Path(dir_okay=False),
                         help="With --rebuild: Python file defining the model's custom classes; "
                         "executed, so it needs --trust-model."),
        ]
    for option in reversed(options):
        func = option(func)
    return func


def _rebuild_choice(rebuild: bool, trust_model: bool, custom_objects: str | None) -> Any:
    """The ``rebuild=`` argument of graphcheck.api.load for these flags (None: static)."""
    if not rebuild:
        if custom_objects and not trust_model:
            raise click.BadParameter("executes Python code: pass --trust-model as well",
                                     param_hint="--custom-objects")
        return None
    if custom_objects and not trust_model:
        raise click.BadParameter("executes Python code: pass --trust-model as well",
                                 param_hint="--custom-objects")
    from graphcheck.runtime.rebuild import RebuildOptions

    return RebuildOptions(trust_model=trust_model, custom_objects=custom_objects)


def _version_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--keras-version",
        metavar="VERSION",
        help="Keras version that will run the model (default: the installed Keras, "
        "else the version that saved the file). Chooses the semantics profile.",
    )(func)


def _hub_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--download-weights", is_flag=True,
        help="For hub handles (hf://, kaggle://): also download the preset's weights files, "
        "for their HDF5 safety checks. Without it only the JSON configs, metadata.json and "
        "assets/ are fetched (docs/hub.md).",
    )(func)


def _read_ahead(models: Sequence[str], jobs: int, rebuild: bool) -> None:
    """Start the first named model files' HDF5 walks in the reader child now, while
    this process imports the rules, analyses and reporters (a folder's files are read
    ahead as they are found, by api.check). Not for a pool's files, which its workers
    read in their own children, nor for --rebuild, which reads no weights."""
    if rebuild or (jobs > 1 and len(models) > 1):
        return
    from graphcheck.readers import READ_AHEAD, read_ahead

    for model in models[:READ_AHEAD]:
        read_ahead(model)


def _fetch_weights(models: Sequence[str], download_weights: bool) -> None:
    """--download-weights: bring each handle's weights into its hub cache, where the
    reader then finds them beside the configs."""
    if not download_weights:
        return
    from graphcheck.hub_handles import fetch_preset, is_handle

    for model in models:
        if is_handle(model):
            _run(partial(fetch_preset, model, weights=True))


# A MODEL argument: the readers say what is wrong with a missing or unreadable file
# (one line naming it, exit 3), not click (a usage block, exit 2).
MODEL_PATH = click.Path(readable=False)
# An output file: one that cannot be written (a folder among them) is exit 5, said
# when writing, not a usage error from click.
OUTPUT_PATH = click.Path()

# The same values as graphcheck.reporters.drawing.COLLAPSE_MODES and RANKDIRS (tests/test_render.py
# checks), written out so that --help imports neither networkx nor graphviz.
RENDER_COLLAPSE = ("auto", "none", "frozen", "all")
RENDER_RANKDIRS = ("TB", "LR")
# The formats and suffixes come from the output registry, which imports no reporter.
RENDER_SUFFIXES = drawing_suffixes()
EXPORT_SUFFIXES = graph_suffixes()
_SUFFIX_HELP = ", ".join(f"{s} ({FILE_FORMATS[s].description})" for s in RENDER_SUFFIXES)


def _render_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--rankdir", type=click.Choice(RENDER_RANKDIRS), default="TB", show_default=True,
        help="Drawing direction: top to bottom or left to right.",
    )(func)
    func = click.option(
        "--fit/--no-fit", default=True, show_default=True,
        help="Keep a PDF within 200 in (the largest page viewers open): columns, else scaled down.",
    )(func)
    return click.option(
        "--collapse", type=click.Choice(RENDER_COLLAPSE), default="auto", show_default=True,
        help="Draw as single boxes: frozen submodels of over 50 calls (auto; an .html "
        "page opens whole), no submodel, the frozen ones, or all of them.",
    )(func)


# Gate flags of `check`; the commands and helpers are further down.
GATE_FORMATS = report_formats()
VALIDATE_FORMATS = validation_formats()
FAIL_ON_CHOICES = ["error", "warning", "info", "never"]


COLOR_CHOICES = ("auto", "always", "never")


def _text_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """--color, -q and -v: how the text report is printed (docs/report.md)."""
    options = [
        click.option("--color", "color", type=click.Choice(COLOR_CHOICES), default="auto",
                     show_default=True,
                     help="Colour the text report: auto colours a terminal unless NO_COLOR is "
                     "set (FORCE_COLOR colours a pipe too)."),
        click.option("-q", "--quiet", is_flag=True,
                     help="Text report: print the findings and the summary line only."),
        click.option("-v", "--verbose", is_flag=True,
                     help="Text report: unfold folded rows and give each call's reasons."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _text_style(color: str, quiet: bool, verbose: bool, output: str | None) -> Any:
    """The text report's width, colour and verbosity, from the flags and the terminal."""
    from graphcheck.reporters.terminal import TextStyle, choose_colour, choose_width

    if quiet and verbose:
        raise click.BadParameter("-q and -v exclude each other", param_hint="-q/-v")
    is_terminal = output is None and sys.stdout.isatty()
    columns = None
    if is_terminal:
        try:
            columns = os.get_terminal_size(sys.stdout.fileno()).columns
        except (OSError, ValueError):
            columns = None
    # A report file is coloured only on request (--color always), whatever FORCE_COLOR says.
    environ = os.environ if output is None else {}
    return TextStyle(
        width=choose_width(columns, os.environ),
        colour=choose_colour(color, is_terminal, environ),
        verbosity=-1 if quiet else (1 if verbose else 0),
    )


def _gate_options(func: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--fail-on", type=click.Choice(FAIL_ON_CHOICES), default=None,
                     help="Exit 1 when an unsuppressed finding is at or above this severity "
                     "(default: fail-on in [tool.graphcheck], else error)."),
        click.option("--select", "select", multiple=True, metavar="RULE",
                     help="Run only these rules: IDs, ID prefixes (GC1), slugs, groups "
                     "(load-safety), or ALL. Repeatable."),
        click.option("--ignore", "ignore", multiple=True, metavar="RULE",
                     help="Do not run these rules (added to ignore in [tool.graphcheck]). "
                     "Repeatable."),
        click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
                     help="Analyse this many models in parallel (processes)."),
        click.option("--config", "config_file", type=click.Path(dir_okay=False, exists=True),
                     help="Read [tool.graphcheck] from this pyproject.toml instead of searching "
                     "upwards from the current directory and the first MODEL."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@click.group(cls=DefaultCommandGroup, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(version=__version__, prog_name="graphcheck")
def main() -> None:
    """Static analysis of saved Keras models: which layers are frozen, what each
    Dropout masks, and when it is active, without importing TensorFlow or Keras.

    \b
    graphcheck MODEL...                 report (same as: graphcheck check MODEL...)
    graphcheck check MODEL --format json
    graphcheck export MODEL -o graph.graphml|graph.json
    graphcheck check models/ --fail-on warning --format sarif -o graphcheck.sarif
    graphcheck diff OLD NEW             what changed: dropout, rates, frozen, activity
    graphcheck rules | graphcheck explain GC101
    graphcheck help [COMMAND]           this help, or a command's
    """
    from graphcheck.hub_handles import fetches_kept

    context = click.get_current_context()
    # Messages name options as this command line spells them (--rebuild, not rebuild=True).
    context.with_resource(cli_wording())
    # One command fetches a hub handle once, however many of its parts read it.
    context.with_resource(fetches_kept())


@main.command(epilog=CHECK_EXIT_CODES)
@click.argument("models", nargs=-1, required=True, type=MODEL_PATH)
@click.option("--format", "output_format", type=click.Choice(GATE_FORMATS), default="text",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=OUTPUT_PATH,
              help="Write the report to FILE (atomically).")
@click.option("--render", "render_to", metavar="FILE", type=OUTPUT_PATH,
              help=f"Also draw the graph of the (single) MODEL to FILE: {_SUFFIX_HELP}.")
@_render_options
@_version_option
@click.option("--validate", "run_validation", is_flag=True,
              help="Also run each model with real Keras and check the report against it "
              "(exit 1 on a disagreement; see `graphcheck validate --help`).")
@_validate_options
@_rebuild_options
@_gate_options
@_text_options
@_hub_option
def check(
    models: Sequence[str],
    output_format: str,
    output: str | None,
    render_to: str | None,
    collapse: str,
    rankdir: str,
    keras_version: str | None,
    fit: bool = True,
    run_validation: bool = False,
    fail_on: str | None = None,
    select: Sequence[str] = (),
    ignore: Sequence[str] = (),
    jobs: int = 1,
    config_file: str | None = None,
    rebuild: bool = False,
    color: str = "auto",
    quiet: bool = False,
    verbose: bool = False,
    download_weights: bool = False,
    **validation: Any,
) -> None:
    """Report every stochastic and BatchNormalization call of each MODEL.

    MODEL is a .h5 file (Keras 1-3), a .keras archive, an architecture JSON
    (model.to_json()), a TF.js model.json, a SavedModel directory, or a KerasHub
    hub handle: hf://OWNER/NAME or kaggle://OWNER/MODEL/keras/VARIATION[/VERSION]
    (docs/hub.md).
    """
    _check_version(keras_version)
    if render_to is not None:
        _check_render_suffix(render_to, "--render", rankdir)
        if len(models) != 1:
            raise click.BadParameter(
                "--render draws one MODEL; give exactly one", param_hint="--render"
            )
    _read_ahead(models, jobs, rebuild)
    from graphcheck.reporters.registry import find_reporter

    style = _text_style(color, quiet, verbose, output)
    reporter = find_reporter(output_format, style)
    # --render and --validate need the analyses themselves; the report needs only
    # each model's part, made where the model is analysed.
    keep_analyses = render_to is not None or run_validation
    # --validate runs with the weights: fetched with the configs, from one revision.
    _fetch_weights(models, download_weights or run_validation)
    config = _run(lambda: _gate_config(models, fail_on, select, ignore, config_file, keras_version))
    rebuilt = _rebuild_choice(rebuild, validation["trust_model"], validation["custom_objects"])
    report = _check_models(models, config, jobs, reporter.model_part, keep_analyses, rebuilt,
                           show_bar=_bar_allowed(color, quiet))
    validated = None
    if run_validation:
        readable = [a.saved.path for a in report.analyses]
        validated = _validate_models(readable, keras_version, validation | {"rebuild": rebuild})
    text = reporter.render_check(report, report.parts, style.colour, report.analyses, validated)
    _emit(text, output, style.colour)
    if render_to is not None and report.analyses:
        drawn = report.analyses[0]
        found = next(r.findings for r in report.results if r.path == drawn.saved.path)
        _write_render(drawn, render_to, collapse, rankdir, fit, config, found)
    if report.errors:
        sys.exit(_gate_exit(report))
    sys.exit((_validation_exit(validated) if validated else 0) or _gate_exit(report))


@main.command(epilog=EXPORT_EXIT_CODES)
@click.argument("model", type=MODEL_PATH)
@click.option("-o", "--output", required=True, type=OUTPUT_PATH,
              help="FILE ending in " + ", ".join(
                  f"{s} ({FILE_FORMATS[s].description})" for s in EXPORT_SUFFIXES
              ) + "; the suffix picks the format.")
@_version_option
@partial(_rebuild_options, with_trust=True)
@_hub_option
def export(model: str, output: str, keras_version: str | None, rebuild: bool = False,
           trust_model: bool = False, custom_objects: str | None = None,
           download_weights: bool = False) -> None:
    """Write the call graph of MODEL, with analysis results on its nodes."""
    from graphcheck.api import load

    suffix = Path(output).suffix.lower()
    if suffix not in EXPORT_SUFFIXES:
        raise click.BadParameter(
            f"the output must end in {' or '.join(EXPORT_SUFFIXES)}", param_hint="-o"
        )
    _check_version(keras_version)
    how = _rebuild_choice(rebuild, trust_model, custom_objects)
    _fetch_weights([model], download_weights)
    analysis = _run(lambda: load(model, rebuild=how).analyse(keras_version))
    written = find_file_format(suffix, "export").write(analysis, FileOptions())
    _emit(written.data.decode("utf-8"), output)


@main.command(epilog=RENDER_EXIT_CODES)
@click.argument("model", type=MODEL_PATH)
@click.option("-o", "--output", required=True, type=OUTPUT_PATH,
              help=f"FILE ending in {_SUFFIX_HELP}; the suffix picks the format.")
@_render_options
@_version_option
@partial(_rebuild_options, with_trust=True)
@_hub_option
def render(
    model: str, output: str, collapse: str, rankdir: str, keras_version: str | None,
    fit: bool = True,
    rebuild: bool = False, trust_model: bool = False, custom_objects: str | None = None,
    download_weights: bool = False,
) -> None:
    """Draw the call graph of MODEL: frozen layers, what each dropout masks and when.

    -o FILE.html writes one self-contained interactive page (search, collapse, facts
    on click, scenario and Keras switches). Needs Graphviz's dot (except for .dot
    output). See docs/render.md for the legend.
    """
    from graphcheck.api import load

    _check_render_suffix(output, "-o", rankdir)
    _check_version(keras_version)
    how = _rebuild_choice(rebuild, trust_model, custom_objects)
    _fetch_weights([model], download_weights)
    _write_render(_run(lambda: load(model, rebuild=how).analyse(keras_version)), output, collapse,
                  rankdir, fit)


@main.command(epilog=VALIDATE_EXIT_CODES)
@click.argument("models", nargs=-1, required=True, type=MODEL_PATH)
@click.option("--format", "output_format", type=click.Choice(VALIDATE_FORMATS), default="text",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=OUTPUT_PATH,
              help="Write the report to FILE (atomically).")
@click.option("--keras-version", metavar="VERSION",
              help="Predict statically for this Keras version instead of the one that runs "
              "the model (to test the checker; expect disagreements).")
@_validate_options
@_rebuild_options
def validate(
    models: Sequence[str], output_format: str, output: str | None, keras_version: str | None,
    **options: Any,
) -> None:
    """Run each MODEL with real Keras and check every static claim against what it does.

    Loads MODEL with the installed Keras that will run it (safe_mode; tf_keras for
    Keras 2 files), feeds seeded synthetic inputs, runs predict(), model(x),
    model(x, training=True/False) and one fit() step, and compares every stochastic
    and BatchNormalization call, and which weights change, with the static report.
    Exit 1 when any observation disagrees. See docs/validate.md.
    """
    from graphcheck.reporters.registry import find_reporter

    _check_version(keras_version)
    validated = _validate_models(models, keras_version, options)
    render = find_reporter(output_format).render_validation
    assert render is not None  # the --format choices are the formats that have one
    _emit(render(validated), output)
    sys.exit(_validation_exit(validated))


def _validate_models(
    models: Sequence[str], keras_version: str | None, options: dict[str, Any]
) -> Validated:
    """Validate each model: its JSON section by path, its text block, or its error."""
    from graphcheck.reporters.registry import Validated
    from graphcheck.reporters.validation import (
        error_section,
        render_validation_text,
        validation_section,
    )
    from graphcheck.runtime.validate import ValidationOptions, validate_model

    gc.set_threshold(700, 10, 10)  # run() raised it for the static path; Keras is not that
    settings = ValidationOptions(
        seed=options["seed"], batch_size=options["batch_size"], device=options["device"],
        backend=options["backend"], timeout=options["timeout"] or None,
        trust_model=options["trust_model"], custom_objects=options["custom_objects"],
        keras_version=keras_version, rebuild=bool(options.get("rebuild")),
    )
    sections: dict[str, dict[str, Any]] = {}
    texts: list[str] = []
    errors: list[tuple[str, str]] = []
    for model in models:
        progress = _Progress(model)
        try:
            result = validate_model(model, settings, progress)
        except GraphcheckError as exc:
            progress.done()
            _error(str(exc))
            errors.append((model, str(exc)))
            sections[model] = error_section(str(exc)) | {"exit_code": exc.exit_code}
            continue
        progress.done()
        sections[result.path] = validation_section(result)
        texts.append(render_validation_text(result))
    return Validated(sections, texts, errors)


def _validation_exit(validated: Validated) -> int:
    sections = validated.sections
    codes = [s["exit_code"] for s in sections.values() if s.get("status") == "error"]
    if codes:
        return max(codes)
    return 1 if any(s.get("status") == "disagree" for s in sections.values()) else 0


class _Progress:
    """One self-overwriting line on stderr while a model is validated (terminals that
    take escape codes only)."""

    def __init__(self, model: str) -> None:
        from graphcheck.reporters.terminal import visible

        self.model = visible(model)
        self.live = _bar_allowed()

    def __call__(self, phase: str) -> None:
        if self.live:
            line = f"\r\033[Kgraphcheck: validating {self.model}: {phase}..."
            click.echo(line, err=True, nl=False)

    def done(self) -> None:
        if self.live:
            click.echo("\r\033[K", err=True, nl=False)


@main.command(epilog=LIST_EXIT_CODES)
def profiles() -> None:
    """List the semantics profiles, the Keras versions each stands for, and the builds
    each was proven on (built, saved and run by the truth tests)."""
    from graphcheck.semantics import PROFILES, PROVEN_BUILDS

    for profile in PROFILES.values():
        click.echo(f"{profile.name:16} {profile.version_range():15} {profile.describe_rule()}")
        proven = ", ".join(str(build) for build in PROVEN_BUILDS[profile.name])
        click.echo(f"{'':16} proven on: {proven}")


# ---- Gate: rules, configuration, many models, diff ----

def _split_names(values: Sequence[str]) -> list[str]:
    names = [n.strip() for value in values for n in value.split(",") if n.strip()]
    from graphcheck.gate_config import check_rule_names

    bad = check_rule_names(names)
    if bad:
        raise click.BadParameter(f"unknown rule {bad[0]!r} (see: graphcheck rules)")
    return names


def _gate_config(
    models: Sequence[str],
    fail_on: str | None,
    select: Sequence[str],
    ignore: Sequence[str],
    config_file: str | None,
    keras_version: str | None,
) -> GateConfig:
    """The gate's settings: [tool.graphcheck] (from --config, else found), then the flags."""
    from graphcheck.findings import FailOn
    from graphcheck.gate_config import load_config

    selected = _split_names(select)
    ignored = _split_names(ignore)
    config = load_config(path=config_file) if config_file else load_config(Path.cwd())
    from graphcheck.hub_handles import is_handle

    local = [m for m in models if not is_handle(m)]  # hub handles are no place to search from
    if config.source is None and local and not config_file:
        config = load_config(Path(local[0]))
    config = config.override(selected, ignored, FailOn(fail_on) if fail_on else None, keras_version)
    if config.keras_version and not keras_version:
        _check_version(config.keras_version)
    return config


def _check_models(
    models: Sequence[str], config: GateConfig, jobs: int, part: ModelPart | None,
    keep_analyses: bool, rebuild: Any = None, show_bar: bool = False,
) -> CheckReport:
    """api.check on every model found; unreadable ones reported on stderr; with
    ``show_bar`` (:func:`_bar_allowed`) a progress bar over several models."""
    from graphcheck import api

    # A folder with no model is one line naming it, exit 2 (a bad argument); a hub
    # handle is found as itself.
    paths = _run(lambda: api.find_models(models))
    if show_bar and len(paths) > 1:
        with click.progressbar(length=len(paths), label="graphcheck", file=sys.stderr) as bar:
            report = api.check(paths, config, jobs, part=part, keep_analyses=keep_analyses,
                               progress=lambda _p: bar.update(1), rebuild=rebuild)
    else:
        report = api.check(paths, config, jobs, part=part, keep_analyses=keep_analyses,
                           rebuild=rebuild)
    for result in report.errors:
        _error(str(result.error))
    for left in report.not_analysed:  # found in a folder, and not a failure: said, not hidden
        _say(f"{left.path}: not analysed: {left.reason}")
    return report


def _gate_exit(report: CheckReport) -> int:
    if report.errors:
        # A missing dependency (--rebuild without Keras) says so, as in every command.
        return max(r.error_exit_code or EXIT_UNREADABLE for r in report.errors)
    return EXIT_FINDINGS if report.failing else 0


@main.command(epilog=LIST_EXIT_CODES)
@click.option("--format", "output_format", type=click.Choice(["text", "json", "markdown"]),
              default="text",
              show_default=True)
def rules(output_format: str) -> None:
    """List every rule: ID, slug, default severity and title."""
    from graphcheck.rules import RULES

    if output_format == "json":
        from graphcheck.reporters.json_text import dumps_document

        items = [
            {"id": r.id, "slug": r.slug, "severity": r.severity.value, "title": r.title,
             "help_uri": r.help_uri, "aliases": list(r.aliases), "options": dict(r.options)}
            for r in RULES.values()
        ]
        click.echo(dumps_document(items), nl=False)
    elif output_format == "markdown":
        from graphcheck.rules.docs import render_pages

        click.echo(render_pages()["README.md"], nl=False)
    else:
        for item in RULES.values():
            click.echo(f"{item.id}  {item.slug:40} {item.severity.value:8} {item.title}")


@main.command(epilog=EXPLAIN_EXIT_CODES)
@click.argument("rule_name", metavar="RULE")
def explain(rule_name: str) -> None:
    """Print the documentation of RULE (an ID such as GC101, or a slug)."""
    from graphcheck.rules import find_rule

    item = find_rule(rule_name)
    if item is None:
        raise click.BadParameter(
            f"no rule {rule_name!r} (see: graphcheck rules)", param_hint="RULE"
        )
    click.echo(item.markdown(), nl=False)


@main.command("help", epilog=HELP_EXIT_CODES)
@click.argument("command", required=False)
@click.pass_context
def help_command(ctx: click.Context, command: str | None) -> None:
    """Show the help of graphcheck, or of COMMAND (as COMMAND --help does)."""
    group = ctx.parent
    assert group is not None and isinstance(group.command, click.Group)
    if command is None:
        click.echo(group.get_help())
        return
    found = group.command.get_command(group, command)
    if found is None:
        import difflib

        close = difflib.get_close_matches(command, group.command.list_commands(group), n=1)
        hint = f"; did you mean {close[0]}?" if close else " (see: graphcheck help)"
        raise click.BadParameter(f"no command {command!r}{hint}", param_hint="COMMAND")
    with click.Context(found, info_name=command, parent=group) as sub:
        click.echo(found.get_help(sub))


@main.command(epilog=DIFF_EXIT_CODES)
@click.argument("old", type=MODEL_PATH)
@click.argument("new", type=MODEL_PATH)
@click.option("--format", "output_format", type=click.Choice(GATE_FORMATS), default="text",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=OUTPUT_PATH,
              help="Write the report to FILE (atomically).")
@click.option("--exit-code", is_flag=True,
              help="Exit 1 when the models differ (like git diff --exit-code).")
@partial(_rebuild_options, with_trust=True)
@_version_option
@click.option("--color", "color", type=click.Choice(COLOR_CHOICES), default="auto",
              show_default=True, help="Colour the text output (as for check).")
@_hub_option
def diff(old: str, new: str, output_format: str, output: str | None, exit_code: bool,
         keras_version: str | None, color: str = "auto", rebuild: bool = False,
         trust_model: bool = False, custom_objects: str | None = None,
         download_weights: bool = False) -> None:
    """Show what changed from OLD to NEW: stochastic layers added or removed, rates,
    frozen state, and calls whose activity in fit()/predict()/model(x) changed.

    Both files are analysed as the same Keras would run them: --keras-version, else
    the Keras that would run NEW.
    """
    from graphcheck import api
    from graphcheck.reporters.registry import find_reporter

    _check_version(keras_version)
    _fetch_weights([old, new], download_weights)
    how = _rebuild_choice(rebuild, trust_model, custom_objects)
    result = _run(lambda: api.diff(old, new, keras_version, rebuild=how))
    colour = _text_style(color, False, False, output).colour
    text = find_reporter(output_format).render_diff([result], colour)
    _emit(text, output, colour)
    sys.exit(EXIT_FINDINGS if exit_code and not result.is_empty else 0)


def _check_version(keras_version: str | None) -> None:
    """Reject a bad --keras-version; warn when the Keras used is newer than any proven."""
    from graphcheck.profile_choice import installed_kerases
    from graphcheck.semantics import is_newer_than_measured, newest_measured, profile_for_version

    if keras_version is not None:
        try:
            profile_for_version(keras_version)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--keras-version") from None
    versions = [keras_version] if keras_version is not None else installed_kerases().values()
    for version in versions:
        try:
            newer = is_newer_than_measured(version)
        except ValueError:
            continue
        if newer:
            _say(
                f"warning: Keras {version} is newer than every build the profiles "
                f"were proven on (newest: {newest_measured()}); the "
                f"{profile_for_version(version).name} profile is applied unproven"
            )


def _check_render_suffix(path: str, hint: str, rankdir: str = "TB") -> None:
    suffix = Path(path).suffix.lower()
    if suffix not in RENDER_SUFFIXES:
        raise click.BadParameter(
            f"the drawing must end in {', '.join(RENDER_SUFFIXES)}", param_hint=hint
        )
    drawing = FILE_FORMATS[suffix]
    if rankdir not in drawing.rankdirs:  # said, not silently ignored
        others = [s for s in RENDER_SUFFIXES if rankdir in FILE_FORMATS[s].rankdirs]
        layout = {"TB": "top to bottom", "LR": "left to right"}[drawing.rankdirs[0]]
        raise click.BadParameter(
            f"the {drawing.description} is laid out {layout}; --rankdir {rankdir} is for "
            f"{', '.join(others[:-1])} and {others[-1]}",
            param_hint="--rankdir",
        )


def _write_render(
    analysis: ModelAnalysis, path: str, collapse: str, rankdir: str, fit: bool = True,
    config: GateConfig | None = None, found: Sequence[Finding] | None = None,
) -> None:
    """Render one analysis to ``path`` (format from the suffix); exit 4 if Graphviz is missing.

    What was done to make a big drawing open in a viewer is said on stderr. The HTML
    page also shows the rules' findings, configured as `check` would (``config``;
    ``found``: the findings `check` already has for this analysis).
    """
    drawing = find_file_format(Path(path).suffix.lower(), "render")
    views: list[ProfileView] = []
    if drawing.shows_findings:
        settings = config
        if settings is None:  # configured as `check` would be
            settings = _run(lambda: _gate_config([analysis.saved.path], None, (), (), None, None))
        from graphcheck import api

        views = _run(lambda: api.profile_views(analysis, settings, found))
    options = FileOptions(collapse, rankdir, fit, views)
    written = _run(lambda: drawing.write(analysis, options))
    write_atomic(path, written.data)
    for note in written.notes:
        _say(f"{path}: {note}")


_T = TypeVar("_T")


def _run(step: Callable[[], _T]) -> _T:
    try:
        return step()
    except GraphcheckError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)


def _error(message: str) -> None:
    _say(f"error: {message}")


def _say(message: str) -> None:
    """One ``graphcheck: ...`` line on stderr; names from a model file show their
    control characters as escapes."""
    from graphcheck.reporters.terminal import visible

    click.echo(f"graphcheck: {visible(message)}", err=True)


def _bar_allowed(color: str = "auto", quiet: bool = False) -> bool:
    """A live line on stderr (progress) only on a terminal that takes escape codes,
    and not with -q: NO_COLOR, TERM=dumb and --color never get none."""
    from graphcheck.reporters.terminal import choose_colour

    return sys.stderr.isatty() and not quiet and choose_colour(color, True, os.environ)


def _emit(text: str, output: str | None, colour: bool = False) -> None:
    """Print or write a report; an empty one (every model failed, each said on stderr)
    is neither: no blank output, and no output file holding nothing. ``colour``: the
    text was coloured on purpose (--color, FORCE_COLOR), so click must not strip it."""
    if not text:
        return
    if output is None:
        click.echo(text, nl=False, color=colour or None)
    else:
        write_atomic(output, text.encode("utf-8"))


def write_atomic(path: str, data: bytes) -> None:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    _run(lambda: _write_atomic(path, data))


def _write_atomic(path: str, data: bytes) -> None:
    """write_atomic's work; OutputError (exit 5) when the file cannot be written."""
    target = Path(path)
    if target.is_dir():
        raise OutputError(path, "cannot write the output: it is a folder")
    try:
        handle, temporary = tempfile.mkstemp(
            dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp"
        )
    except OSError as exc:  # a missing or read-only folder
        raise OutputError(path, f"cannot write the output: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except OSError as exc:  # disk full, or the target became a folder meanwhile
        Path(temporary).unlink(missing_ok=True)
        raise OutputError(path, f"cannot write the output: {exc.strerror or exc}") from None
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run() -> None:
    """Console entry point: any exception that is not a GraphcheckError is a bug."""
    # A run keeps every analysis until its report is written, so frequent young-
    # generation collections only re-walk live objects; a high threshold skips them
    # but, unlike gc.disable(), still frees cycles in a long many-model run
    # (docs/development.md, Measurements). Validation restores the defaults before
    # Keras runs (_validate_models).
    gc.freeze()
    gc.set_threshold(200_000, 50, 50)
    try:
        main(standalone_mode=True)
    except SystemExit:
        raise
    except GraphcheckError as exc:  # pragma: no cover - commands handle their own
        _error(str(exc))
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)
    except Exception:
        import traceback

        traceback.print_exc()
        _error("internal error (a bug in graphcheck: please report it with the traceback above)")
        sys.exit(EXIT_INTERNAL)
