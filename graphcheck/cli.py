"""The command line: the only module that parses flags, prints, writes files or exits."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click

from graphcheck.errors import (
    EXIT_INTERNAL,
    EXIT_MISSING_DEPENDENCY,
    EXIT_UNREADABLE,
    EXIT_USAGE,
    GraphcheckError,
)

EXIT_CODES_HELP = f"""\b
Exit codes:
  0    every model was analysed
  1    findings at or above --fail-on (gate commands)
  {EXIT_USAGE}    usage error (bad flag or argument)
  {EXIT_UNREADABLE}    a model could not be read or analysed (the others are still reported)
  {EXIT_MISSING_DEPENDENCY}    a required tool is missing (Graphviz dot, TensorFlow/Keras for validate)
  {EXIT_INTERNAL}  internal error in graphcheck (a bug: please report it)
"""


class DefaultCommandGroup(click.Group):
    """A group whose first argument may be a model path: ``graphcheck model.h5``."""

    default_command = "check"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] in ("--help", "-h", "--version"):
            return super().parse_args(ctx, args)
        first = next((a for a in args if not a.startswith("-")), None)
        if args and (first is None or first not in self.commands):
            args = [self.default_command, *args]
        return super().parse_args(ctx, args)


def _version_option(func: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--keras-version",
        metavar="VERSION",
        help="Keras version that will run the model (default: the installed Keras, "
        "else the version that saved the file). Chooses the semantics profile.",
    )(func)


# The same values as graphcheck.render.COLLAPSE_MODES and RANKDIRS (tests/test_render.py
# checks), written out so that --help imports neither networkx nor graphviz.
RENDER_COLLAPSE = ("none", "frozen", "all")
RENDER_RANKDIRS = ("TB", "LR")
RENDER_SUFFIXES = (".pdf", ".svg", ".png", ".dot")


def _render_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--rankdir", type=click.Choice(RENDER_RANKDIRS), default="TB", show_default=True,
        help="Drawing direction: top to bottom or left to right.",
    )(func)
    return click.option(
        "--collapse", type=click.Choice(RENDER_COLLAPSE), default="none", show_default=True,
        help="Draw no submodel, the frozen ones, or all of them as single boxes.",
    )(func)


@click.group(cls=DefaultCommandGroup, epilog=EXIT_CODES_HELP,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="graphcheck")
def main() -> None:
    """Static analysis of saved Keras models: which layers are frozen, what each
    Dropout masks, and when it is active, without importing TensorFlow or Keras.

    \b
    graphcheck MODEL...                 report (same as: graphcheck check MODEL...)
    graphcheck check MODEL --format json
    graphcheck export MODEL -o graph.graphml|graph.json
    """


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("models", nargs=-1, required=True, type=click.Path())
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="Report format.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the report to FILE (atomically).")
@click.option("--render", "render_to", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also draw the graph of the (single) MODEL to FILE: .pdf, .svg, .png or .dot.")
@_render_options
@_version_option
def check(
    models: Sequence[str],
    output_format: str,
    output: str | None,
    render_to: str | None,
    collapse: str,
    rankdir: str,
    keras_version: str | None,
) -> None:
    """Report every stochastic and BatchNormalization call of each MODEL.

    MODEL is a .h5 file (Keras 1-3), a .keras archive, an architecture JSON
    (model.to_json()), a TF.js model.json, or a SavedModel directory.
    """
    from graphcheck.api import load

    _check_version(keras_version)
    if render_to is not None:
        _check_render_suffix(render_to, "--render")
        if len(models) != 1:
            raise click.BadParameter("--render draws one MODEL; give exactly one", param_hint="--render")
    analyses, errors = [], []
    for model in models:
        try:
            analyses.append(load(model).analyse(keras_version))
        except GraphcheckError as exc:
            errors.append((model, str(exc)))
            _error(str(exc))
    if output_format == "json":
        from graphcheck.reporters.json_report import render_json

        text = render_json(analyses, errors)
    else:
        from graphcheck.reporters.text import render_text

        text = render_text(analyses)
    _emit(text, output)
    if render_to is not None and analyses:
        _write_render(analyses[0], render_to, collapse, rankdir)
    sys.exit(EXIT_UNREADABLE if errors else 0)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("model", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="graph.graphml (GraphML) or graph.json (node-link JSON).")
@_version_option
def export(model: str, output: str, keras_version: str | None) -> None:
    """Write the call graph of MODEL, with analysis results on its nodes."""
    from graphcheck.api import load
    from graphcheck.reporters.graph_export import annotated_graph, render_graphml, render_node_link

    suffix = Path(output).suffix.lower()
    if suffix not in (".graphml", ".json"):
        raise click.BadParameter("the output must end in .graphml or .json", param_hint="-o")
    _check_version(keras_version)
    graph = annotated_graph(_run(lambda: load(model).analyse(keras_version)))
    _emit(render_graphml(graph) if suffix == ".graphml" else render_node_link(graph), output)


@main.command(epilog=EXIT_CODES_HELP)
@click.argument("model", type=click.Path())
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="FILE.pdf, .svg, .png, or .dot (Graphviz source); the suffix picks the format.")
@_render_options
@_version_option
def render(model: str, output: str, collapse: str, rankdir: str, keras_version: str | None) -> None:
    """Draw the call graph of MODEL: frozen layers, what each dropout masks and when.

    Needs Graphviz's dot (except for .dot output). See docs/render.md for the legend.
    """
    from graphcheck.api import load

    _check_render_suffix(output, "-o")
    _check_version(keras_version)
    _write_render(_run(lambda: load(model).analyse(keras_version)), output, collapse, rankdir)


@main.command()
def profiles() -> None:
    """List the semantics profiles and the Keras versions each stands for."""
    from graphcheck.semantics import PROFILES

    ranges = {"keras2": "1.x, 2.x", "keras3": "3.0 - 3.15", "keras3-callsite": "3.16 and later"}
    for profile in PROFILES.values():
        click.echo(f"{profile.name:16} {ranges[profile.name]:15} {profile.describe_rule()}")


def _check_version(keras_version: str | None) -> None:
    if keras_version is None:
        return
    from graphcheck.semantics import profile_for_version

    try:
        profile_for_version(keras_version)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--keras-version") from None


def _check_render_suffix(path: str, hint: str) -> None:
    if Path(path).suffix.lower() not in RENDER_SUFFIXES:
        raise click.BadParameter(
            f"the drawing must end in {', '.join(RENDER_SUFFIXES)}", param_hint=hint
        )


def _write_render(analysis: Any, path: str, collapse: str, rankdir: str) -> None:
    """Render one analysis to ``path`` (format from the suffix); exit 4 if Graphviz is missing."""
    from graphcheck.render import render_graph

    output_format = Path(path).suffix.lower().lstrip(".")
    data = _run(lambda: render_graph(analysis, output_format, collapse, rankdir))
    write_atomic(path, data)


def _run(step: Callable[[], Any]) -> Any:
    try:
        return step()
    except GraphcheckError as exc:
        _error(str(exc))
        sys.exit(exc.exit_code)


def _error(message: str) -> None:
    click.echo(f"graphcheck: error: {message}", err=True)


def _emit(text: str, output: str | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        write_atomic(output, text.encode("utf-8"))


def write_atomic(path: str, data: bytes) -> None:
    """Write a file so that readers see the old file or the whole new one, never a part."""
    target = Path(path)
    handle, temporary = tempfile.mkstemp(dir=target.parent or ".", prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        # mkstemp creates 0600; give the file the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(temporary, 0o666 & ~umask)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def run() -> None:
    """Console entry point: any exception that is not a GraphcheckError is a bug."""
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
