"""GC4xx: load safety: what a Keras loader would run, import, read, write or allocate.

These rules read the stored documents and the container notes of
:class:`~graphcheck.model.SavedModelDesc` (``stored``, ``container``), not the
layer graph: a loader acts on every object of the config, wherever it sits. Each
message names what would happen, the advisory that describes it, and whether the
Keras that will run the model is among the releases it affects; none of them is
ever below error, because an unaffected Keras still runs it when loaded with
``safe_mode=False``. GC302 (Lambda bytecode) belongs to the same group: select
them all with ``--select load-safety``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from graphcheck.findings import Finding, Severity
from graphcheck.layers import KERAS_FAMILY, layer_info
from graphcheck.model import ContainerNote
from graphcheck.readers.source import is_mapping
from graphcheck.rules import RuleContext, rule
from graphcheck.rules.stored import StoredObject, is_keras_module
from graphcheck.rules.threats import ADVISORIES, call_effect, tf_op_effect

__all__ = ["check_stored", "exposure"]

GROUP = ("load-safety",)

#: A single size no real layer reaches (the largest vocabularies are ~10**6, the
#: widest layers ~10**5): allocating it is the attack.
MAX_DIMENSION = 1 << 31
#: Elements of one weight (units x inputs x kernel): 2**36 float32 = 256 GiB.
MAX_WEIGHT_ELEMENTS = 1 << 36
_SIZE_KEYS = (
    "units",
    "filters",
    "output_dim",
    "input_dim",
    "num_heads",
    "key_dim",
    "value_dim",
    "max_tokens",
    "num_tokens",
    "num_bins",
    "depth_multiplier",
    "intermediate_dim",
    "hidden_dim",
    "vocabulary_size",
    "num_layers",
    "num_query_heads",
    "num_key_value_heads",
    "size",
    "n",
    "repeat_count",
    "output_sequence_length",
)
_SHAPE_KEYS = ("batch_shape", "batch_input_shape", "input_shape", "target_shape", "shape", "dims")
_OUTER = ("units", "filters", "output_dim")

# Rules about the container, not the config: safe_mode does not change what a loader does.
_CONTAINER_RULES = frozenset({"GC409", "GC410", "GC411"})

_LOOKUP_CLASSES = ("StringLookup", "IntegerLookup", "TextVectorization", "IndexLookup")
# Keras's own markers for serialised values, not classes to import.
_MARKERS = (
    "__lambda__",
    "__tuple__",
    "__tensor__",
    "__numpy__",
    "__bytes__",
    "__keras_tensor__",
    "__typespec__",
    "__ellipsis__",
    "__slice__",
    "__complex__",
    "function",
    "__dtype__",
)


# ---- shared helpers -------------------------------------------------------------------


def _version(text: str | None) -> tuple[int, ...] | None:
    parts = []
    for piece in (text or "").split("."):
        digits = "".join(c for c in piece if c.isdigit()) if piece[:1].isdigit() else ""
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts) or None


def exposure(ctx: RuleContext, rule_id: str) -> str:
    """Which advisories describe a technique, and whether the running Keras is affected.

    ``rule_id`` may name one topic of a rule (``GC409:zip-size``) whose advisories
    differ from the rule's others.
    """
    advisories = ADVISORIES.get(rule_id, ())
    running = ctx.analysis.choice.keras_version
    version = _version(running)
    family = "tf_keras" if version is not None and version[0] < 3 else "keras"
    named = "; ".join(f"{a.name}: {a.text}" for a in advisories)
    if version is None:
        verdict = "the running Keras is unknown"
    else:
        hit = [a for a in advisories if a.affects(family, version)]
        if hit:
            names = ", ".join(a.name for a in hit)
            verdict = f"Keras {running}, which will run it, is affected ({names})"
        elif advisories and rule_id.split(":", 1)[0] in _CONTAINER_RULES:
            verdict = f"Keras {running}, which will run it, is not among them"
        elif advisories:
            verdict = (
                f"Keras {running}, which will run it, is not among them but runs it with "
                "safe_mode=False"
            )
        else:
            verdict = f"every Keras acts on it, {running} included"
    return f" [{named}; {verdict}]" if named else f" [{verdict}]"


def _where(item: StoredObject) -> str:
    if item.document != "config":
        return f"{item.document}.{item.key}" if item.key else item.document
    return item.key or "config"


def _finding(ctx: RuleContext, item: StoredObject, **values: Any) -> Finding:
    return ctx.finding(item.layer, where=_where(item), advice=exposure(ctx, ctx.rule.id), **values)


def _function_reference(value: Mapping[str, Any]) -> tuple[str | None, str] | None:
    """``(module, name)`` of a stored reference to a named function, or None.

    Keras 3 stores ``{"class_name": "function", "module": M, "config": NAME}``;
    Keras 2 Lambda layers store ``function_type: "function"`` beside ``module``.
    """
    if value.get("class_name") == "function" and isinstance(value.get("config"), str):
        module = value.get("module")
        return (module if isinstance(module, str) else None, value["config"])
    return None


def _keras2_lambda_references(config: Mapping[str, Any]) -> Iterator[tuple[str | None, str]]:
    for kind, function, module in (
        ("function_type", "function", "module"),
        ("output_shape_type", "output_shape", "output_shape_module"),
    ):
        if config.get(kind) == "function" and isinstance(config.get(function), str):
            name = config.get(module)
            yield (name if isinstance(name, str) else None, config[function])


def check_stored(
    documents: Mapping[str, Any],
    *,
    container: Sequence[ContainerNote] = (),
    keras_version: str | None = None,
    subject: str = "",
    file_format: str = "json",
) -> tuple[Finding, ...]:
    """The load-safety findings (GC302, GC4xx) on stored documents alone, with no layer graph.

    For anything a loader reads outside a model file: one JSON config of a KerasHub
    preset (``{"config": json.load(f)}``), an HDF5 file's container notes
    (``graphcheck.readers.h5.read_h5_notes``), a zip listing's
    (``graphcheck.readers.containers.zip_notes``). ``keras_version`` is the Keras
    that will load them (None: unknown), as ``--keras-version`` is for ``check``.

    Examples
    --------
    >>> popen = {"module": "subprocess", "class_name": "Popen", "config": {}}
    >>> [f.rule for f in check_stored({"config": {"class_name": "Dense", "config":
    ...     {"name": "d", "kernel_initializer": popen}}})]
    ['GC402']
    """
    from graphcheck.analyses.model_analysis import analyse_graph
    from graphcheck.gate_config import GateConfig
    from graphcheck.graph import build_graph
    from graphcheck.model import ModelDesc, SavedModelDesc
    from graphcheck.profile_choice import choose_profile
    from graphcheck.rules.runner import run_rules

    empty = ModelDesc(name="", class_name="", layers=(), inputs=(), outputs=(), trainable=None)
    saved = SavedModelDesc(
        path=subject, format=file_format, keras_version=keras_version, backend=None,
        dialect="keras3", model=empty, stored=dict(documents), container=tuple(container),
        has_graph=False,
    )
    analysis = analyse_graph(build_graph(saved), choose_profile(None, override=keras_version))
    return run_rules(analysis, GateConfig(select=GROUP, keras_version=keras_version))


# ---- code -----------------------------------------------------------------------------


@rule(
    "GC401",
    "stored-function-outside-lambda",
    severity=Severity.ERROR,
    message="{path}: {where} stores Python bytecode (a serialised function); loading the "
    "model runs it{advice}",
    groups=GROUP,
    needs_graph=False,
)
def stored_function_outside_lambda(ctx: RuleContext) -> Iterator[Finding]:
    """Serialised Python functions (`__lambda__`) anywhere in the stored config.

    ## What it finds
    A `{"class_name": "__lambda__", "config": {"code": ...}}` object, or a Keras 2
    `function_type: "lambda"` value, in any place a loader deserialises: an
    activation, initializer, regularizer, constraint, a loss or metric in
    `compile_config` or `training_config`, a wrapped layer's argument. (The
    function of a Lambda layer itself is GC302, except in a file that stores no
    layer graph, where GC302 has no layer calls to look at and this rule reports it.)

    ## Why is this bad?
    Keras turns such an object back into a function by unmarshalling its bytecode,
    wherever it sits, and calls it when the model runs or compiles: arbitrary code
    from the file. Keras 3 refuses in safe mode; an unsafe load, Keras 2 before 2.13
    and hand-written loaders run it.

    ## Example
    ```python
    model.compile(loss=lambda y, p: ...)  # stored as __lambda__ in compile_config
    ```

    ## Use instead
    Register a named function (`@keras.saving.register_keras_serializable()`) and ship
    its code with the model's loader, not inside the file.
    """
    # A Lambda layer's own function is GC302's, which finds it through the layer
    # calls; a file without a layer graph has none, so it is reported here.
    lambdas = _lambda_functions(ctx) if ctx.analysis.saved.has_graph else set()
    for item in ctx.walk.objects:
        value = item.value
        if value.get("class_name") == "__lambda__":
            if item.key == "function" and id(value) in lambdas:
                continue
            yield _finding(ctx, item)
        elif (value.get("function_type") == "lambda" and not _is_lambda_config(value)) or (
            value.get("output_shape_type") == "lambda" and not _is_lambda_config(value)
        ):
            yield _finding(ctx, item)


def _is_lambda_config(config: Mapping[str, Any]) -> bool:
    # A Keras 2 Lambda layer's own config holds `function` and `function_type`.
    return ("function" in config and "arguments" in config) or (
        "output_shape_type" in config and "function" in config
    )


def _lambda_functions(ctx: RuleContext) -> set[int]:
    """The stored functions of Lambda layers' configs, by identity (found in one pass)."""
    return {
        id(config.get("function"))
        for other in ctx.walk.objects
        if other.value.get("class_name") == "Lambda"
        and is_mapping(config := other.value.get("config"))
    }


# ---- references Keras imports and calls ----------------------------------------------


def _function_like(name: str) -> bool:
    return not name[:1].isupper()


@rule(
    "GC402",
    "foreign-module-object",
    severity=Severity.ERROR,
    message="{path}: {where} names {module}.{name}, outside Keras; the loader imports "
    "{module} and calls it{advice}",
    groups=GROUP,
    needs_graph=False,
)
def foreign_module_object(ctx: RuleContext) -> Iterator[Finding]:
    """A stored object whose `module` and `class_name` name a function outside Keras.

    ## What it finds
    A layer entry or any serialised object (`{"module": M, "class_name": C, ...}`)
    whose module is not Keras's (`keras`, `tf_keras`, `keras_hub`, ...) and whose
    class name is a function (lower case, `system`, `exec`) or whose module is one
    that reaches the host (`os`, `subprocess`, `builtins`, `socket`, ...): the shape
    of CVE-2025-1550.

    ## Why is this bad?
    Keras 3 before 3.9 imported the module and called the name with the stored
    config as arguments, even in safe mode: `os.system` with a command, in one
    `load_model`. Later releases refuse such modules, but a loader that trusts the
    file still imports them.

    ## Example
    ```json
    {"module": "os", "class_name": "system", "config": {"command": "..."}}
    ```

    ## Use instead
    Layers and functions from Keras, or custom classes registered with
    `@keras.saving.register_keras_serializable()` and reviewed (GC301).
    """
    for item in ctx.walk.objects:
        value = item.value
        module, name = value.get("module"), value.get("class_name")
        if not isinstance(name, str) or name in _MARKERS or "config" not in value:
            continue
        if is_keras_module(module):
            continue
        if not isinstance(module, str):
            module = repr(module)
        top = module.split(".", 1)[0]
        if _function_like(name) or call_effect(module, name) or top == "builtins":
            yield _finding(ctx, item, module=module, name=name)


@rule(
    "GC403",
    "dangerous-function-reference",
    severity=Severity.ERROR,
    message="{path}: {where} refers to {module}.{name}, which {effect}; the loader "
    "imports and calls it (a reference, no stored code){advice}",
    groups=GROUP,
    needs_graph=False,
)
def dangerous_function_reference(ctx: RuleContext) -> Iterator[Finding]:
    """A stored reference to a function that turns safe mode off, loads a model, or touches the host.

    ## What it finds
    Named-function references (`{"class_name": "function", "module": M, "config": F}`
    in Keras 3, `function_type: "function"` in a Keras 2 Lambda) anywhere in the
    config, when the function is one of Keras's non-modelling APIs
    (`keras.config.enable_unsafe_deserialization`, `keras.utils.get_file`,
    `keras.models.load_model`, ...), a Python built-in that runs code or opens
    files, or anything in a module that reaches the host (`os`, `subprocess`,
    `socket`, `io`, ...). CVE-2025-8747 (`get_file` in a Lambda) and CVE-2025-9906
    (`enable_unsafe_deserialization` in a Lambda) have this shape.

    ## Why is this bad?
    No bytecode is stored, so a check for Lambda code misses it, yet Keras imports
    the function and calls it when the layer runs: a Lambda calling
    `enable_unsafe_deserialization` turns the safe mode off for every later load in
    the process; `get_file` downloads and writes a file.

    ## Example
    ```python
    layers.Lambda(keras.utils.get_file)  # stored as module keras.utils, name get_file
    ```

    ## Use instead
    Keep I/O and configuration out of the model; use layers and registered
    modelling functions only.
    """
    for item in ctx.walk.objects:
        value = item.value
        references = []
        found = _function_reference(value)
        if found is not None:
            references.append(found)
        if value.get("function_type") == "function" or value.get("output_shape_type") == "function":
            references.extend(_keras2_lambda_references(value))
        for module, name in references:
            effect = call_effect(module, name)
            if effect:
                yield _finding(ctx, item, module=module or "builtins", name=name, effect=effect)


@rule(
    "GC404",
    "builtin-class-spoofing",
    severity=Severity.ERROR,
    message="{path} claims to be a Keras {class_name} but names {origin}: the loader "
    "builds that class instead, and the analysis of this layer does not hold{advice}",
    groups=GROUP,
    needs_graph=False,
)
def builtin_class_spoofing(ctx: RuleContext) -> Iterator[Finding]:
    """A built-in layer class name (`Dense`, `Dropout`) registered or stored outside Keras.

    ## What it finds
    A layer entry (or a layer a wrapper or RNN builds: `TimeDistributed`'s `layer`,
    an RNN's `cell`) whose `class_name` is a Keras built-in, but whose `module` is not
    Keras's, or whose `registered_name` names another package (`evil>Dense`).

    ## Why is this bad?
    Keras looks a registered name up first: a custom class registered as
    `evil>Dense` is built instead of Keras's Dense, runs its own code, and behaves
    however it likes, while every reader of the config (graphcheck included) sees a
    Dense. The model will not behave as its file says.

    ## Example
    ```json
    {"class_name": "Dense", "module": "evil.layers", "registered_name": "evil>Dense"}
    ```

    ## Use instead
    Give custom classes their own names and review them (GC301).
    """
    for item in ctx.walk.builders:
        value = item.value
        name = value.get("class_name")
        if not isinstance(name, str) or not layer_info(name).known or name == "Lambda":
            continue
        module, registered = value.get("module"), value.get("registered_name")
        origin = None
        if not is_keras_module(module):
            origin = f"module {module!r}"
        elif registered not in (None, name, value.get("class_name")):
            package = str(registered).split(">", 1)[0] if ">" in str(registered) else None
            if package is None or package not in KERAS_FAMILY:
                origin = f"registered name {registered!r}"
        if origin:
            yield _finding(ctx, item, class_name=name, origin=origin)


# ---- TF ops ---------------------------------------------------------------------------


@rule(
    "GC405",
    "tf-op-with-side-effects",
    severity=Severity.ERROR,
    message="{path} stores the TensorFlow op tf.{function}, which {effect}; it runs "
    "whenever the model runs{advice}",
    groups=GROUP,
    needs_graph=False,
)
def tf_op_with_side_effects(ctx: RuleContext) -> Iterator[Finding]:
    """A stored TensorFlow op (`TFOpLambda`) that reads, writes, prints or calls Python.

    ## What it finds
    tf.keras stores every TensorFlow function applied to a symbolic tensor as a
    `TFOpLambda` layer naming the function (`math.add`, `nn.relu`). Ordinary math is
    normal and not reported. Reported are ops that read or write files
    (`io.read_file`, `io.write_file`, `io.gfile.*`), call Python
    (`py_function`, `numpy_function`), print or log, or load other graphs and
    libraries.

    ## Why is this bad?
    The op is looked up by name in TensorFlow and runs on every call of the model:
    a model that reads `/etc/passwd` into its output, or writes a file, with no
    Python code stored and in safe mode.

    ## Example
    ```python
    y = tf.io.write_file("/tmp/x", tf.strings.as_string(x))  # in a tf.keras model
    ```

    ## Use instead
    Keep I/O outside the model; use Keras layers for the computation.
    """
    for item in ctx.walk.builders:
        if item.value.get("class_name") not in (
            "TFOpLambda",
            "SlicingOpLambda",
        ):
            continue
        config = item.value.get("config")
        function = config.get("function") if is_mapping(config) else None
        if isinstance(function, str):
            effect = tf_op_effect(function)
            if effect:
                yield _finding(ctx, item, function=function, effect=effect)


# ---- paths and URLs -----------------------------------------------------------------


@rule(
    "GC406",
    "external-vocabulary",
    severity=Severity.ERROR,
    message="{path} ({class_name}) takes its vocabulary from {target!r}: the loader reads "
    "that host file or URL{advice}",
    groups=GROUP,
    needs_graph=False,
)
def external_vocabulary(ctx: RuleContext) -> Iterator[Finding]:
    """A lookup layer whose vocabulary is a file path or URL.

    ## What it finds
    `StringLookup`, `IntegerLookup` and `TextVectorization` layers (also inside a
    wrapper) whose stored `vocabulary` is a string instead of a list. Keras saves a vocabulary as a list
    or as an asset in the archive, never as a path.

    ## Why is this bad?
    Keras opens the path when it builds the layer on load (keras-team/keras#21751):
    any host file readable by the process, or a URL (`gs://`, `http://` through
    `tf.io.gfile`), becomes the model's vocabulary, and its lines leak through the
    model's outputs.

    ## Example
    ```json
    {"class_name": "StringLookup", "config": {"vocabulary": "/etc/passwd"}}
    ```

    ## Use instead
    Save the vocabulary in the model (`vocabulary=[...]` or `adapt()`).
    """
    for item in ctx.walk.builders:
        name = item.value.get("class_name")
        if name not in _LOOKUP_CLASSES:
            continue
        config = item.value.get("config")
        target = config.get("vocabulary") if is_mapping(config) else None
        if isinstance(target, str):
            yield _finding(ctx, item, class_name=name, target=target)


@rule(
    "GC407",
    "external-savedmodel-layer",
    severity=Severity.ERROR,
    message="{path} is a TFSMLayer loading the SavedModel at {target!r}: its graph, "
    "outside this file, runs with the model{advice}",
    groups=GROUP,
    needs_graph=False,
)
def external_savedmodel_layer(ctx: RuleContext) -> Iterator[Finding]:
    """A `TFSMLayer` pointing at a SavedModel outside the file.

    ## What it finds
    `TFSMLayer` entries, also inside a wrapper: they store a `filepath` and load that
    SavedModel, and the TensorFlow graph in it, when the model is loaded.

    ## Why is this bad?
    The model's behaviour lives in another directory, which this check (and any
    check of this file) never saw: its graph can read and write files through
    TensorFlow ops. The file also loads differently on every host.

    ## Example
    ```python
    keras.layers.TFSMLayer("/shared/models/encoder", call_endpoint="serve")
    ```

    ## Use instead
    Rebuild the part as Keras layers, or ship and review the SavedModel with the model.
    """
    for item in ctx.walk.builders:
        if item.value.get("class_name") == "TFSMLayer":
            config = item.value.get("config")
            target = config.get("filepath") if is_mapping(config) else None
            yield _finding(ctx, item, target=target)


@rule(
    "GC408",
    "layer-name-path",
    severity=Severity.ERROR,
    message="{path}: layer name {name!r} holds a path separator or '..': Keras builds "
    "asset paths from layer names{advice}",
    groups=GROUP,
    needs_graph=False,
)
def layer_name_path(ctx: RuleContext) -> Iterator[Finding]:
    """A layer name that is a path (`/`, `\\`, `..`).

    ## What it finds
    Layer entries whose name contains `/` or `\\`, or is or contains a `..` path
    component. Keras itself refuses `/` in names when a layer is built.

    ## Why is this bad?
    Keras stores a layer's assets (vocabularies, for example) under a folder named
    after the layer's path, and reads and writes them there on load and save: a
    name like `../../home/user/.bashrc` points that folder outside the loader's
    temporary directory.

    ## Example
    ```json
    {"class_name": "StringLookup", "name": "../../../tmp/x", "config": {"name": "../../../tmp/x"}}
    ```

    ## Use instead
    Plain layer names (letters, digits, `_`, `-`, `.`).
    """
    for item in ctx.walk.layer_entries():
        names = {item.value.get("name")}
        config = item.value.get("config")
        if is_mapping(config):
            names.add(config.get("name"))
        for name in sorted(n for n in names if isinstance(n, str)):
            parts = name.replace("\\", "/").split("/")
            if "/" in name or "\\" in name or ".." in parts:
                yield _finding(ctx, item, name=name)
                break


# ---- containers -----------------------------------------------------------------------


def container_findings(
    ctx: RuleContext, *kinds: str, own_advice: tuple[str, ...] = ()
) -> Iterator[Finding]:
    """A finding for each of the analysed file's container notes of these kinds
    (readers/containers.py), advised as the rule is, or as ``RULE:kind`` for a kind in
    ``own_advice``."""
    for note in ctx.analysis.saved.container:
        if note.kind in kinds:
            topic = f"{ctx.rule.id}:{note.kind}" if note.kind in own_advice else ctx.rule.id
            yield ctx.finding(None, where=note.where, detail=note.detail,
                              advice=exposure(ctx, topic))


@rule(
    "GC409",
    "unsafe-zip-member",
    severity=Severity.ERROR,
    message="archive member {where!r}: {detail}{advice}",
    groups=GROUP,
    needs_graph=False,
)
def unsafe_zip_member(ctx: RuleContext) -> Iterator[Finding]:
    """A `.keras` archive member that escapes the archive, is a link, or has an absurd size.

    ## What it finds
    Members named with `..` components or absolute paths (`/etc/x`, `C:\\x`),
    symbolic-link members, and zip bombs: members that declare more than 100 times
    the bytes they store, once such members declare more than 64 MiB (one member, or
    several together), and compressed members declaring more than 64 GiB. The message
    gives the declared and stored sizes and the ratio. Keras writes three members
    (`config.json`, `metadata.json`, `model.weights.h5`) and assets (vocabularies),
    all stored uncompressed (ratio 1:1); re-zipped with DEFLATE, the real members
    measured stay under 20:1 (tokenizer vocabularies 2-3:1), while zeros reach
    DEFLATE's limit, about 1,029:1.

    Sizes are read from the zip's central directory, never by inflating a member.
    Python's `zipfile`, which Keras and graphcheck read archives with, trusts the same
    sizes and never inflates a member beyond what it declares (a member that holds
    more fails its CRC check), so a bomb cannot hide behind a small declared size there.

    ## Why is this bad?
    A loader that extracts the archive writes outside its folder, or through a link
    to any host file. Keras 3 extracts every member of an archive that holds more
    than its three own members (any asset) into a temporary folder when it loads the
    model, in safe mode too: before 3.15.1 with no size check, so a 2 MiB file
    fills 2 GiB of disk; tf_keras does the same. A member read into memory instead
    allocates what it declares.

    ## Example
    ```python
    zipfile.ZipFile("m.keras", "a").writestr("../../.bashrc", "...")
    # or: an assets/ member of 2 GiB of zeros, 2 MiB deflated (1,029:1)
    ```

    ## Use instead
    Save with `model.save("m.keras")` and do not edit the archive.

    ## Known problems
    An archive re-zipped by hand around more than 64 MiB of zeros (untrained
    zero-initialised weights, say) is reported too; Keras 3.16 refuses to load it.
    """
    yield from container_findings(
        ctx, "zip-path", "zip-link", "zip-size", "zip-inflation",
        own_advice=("zip-size", "zip-inflation"),
    )


@rule(
    "GC410",
    "hdf5-external-data",
    severity=Severity.ERROR,
    message="HDF5 object {where!r}: {detail}; loading the weights reads it{advice}",
    groups=GROUP,
    needs_graph=False,
)
def hdf5_external_data(ctx: RuleContext) -> Iterator[Finding]:
    """HDF5 weights that live elsewhere: external or soft links, external storage, virtual datasets.

    ## What it finds
    In a `.h5` file or the `model.weights.h5` member of a `.keras` archive: links to
    another file (`ExternalLink`), soft links, datasets whose bytes are stored in
    external files, and virtual datasets mapped from other files (the shape of
    CVE-2026-1669). Only the file's metadata is read; no link is followed.

    ## Why is this bad?
    When the weights load, libhdf5 follows the link or reads the external file:
    any file readable by the process (`/etc/passwd`, a key) becomes a weight, and
    can leak through the model's outputs. Keras never writes any of these.

    ## Example
    ```python
    f.create_dataset("vars/0", shape=(64,), dtype="u1", external=[("/etc/passwd", 0, 64)])
    ```

    ## Use instead
    Save the weights with Keras (`model.save`), which stores every array in the file.
    """
    kinds = ("hdf5-external-link", "hdf5-soft-link", "hdf5-external-storage", "hdf5-virtual")
    yield from container_findings(ctx, *kinds)


@rule(
    "GC411",
    "hdf5-declared-size",
    severity=Severity.ERROR,
    message="HDF5 object {where!r}: {detail}; loading it allocates the declared size{advice}",
    groups=GROUP,
    needs_graph=False,
)
def hdf5_declared_size(ctx: RuleContext) -> Iterator[Finding]:
    """An HDF5 dataset that declares far more data than it stores.

    ## What it finds
    Datasets whose declared shape times element size is at least 1 GiB and more
    than 64 times the bytes stored in the file (the shape of CVE-2026-0897), and
    files with more HDF5 objects than graphcheck checks (200,000).

    ## Why is this bad?
    The loader allocates an array of the declared shape before filling it: a file
    of a few kilobytes makes it ask for terabytes, and the process dies or the
    host swaps.

    ## Example
    ```python
    f.create_dataset("vars/0", shape=(2**20, 2**20), dtype="f4", chunks=(1, 1024))
    ```

    ## Use instead
    Save the weights with Keras, which stores every element it declares.
    """
    yield from container_findings(ctx, "hdf5-declared-size", "hdf5-objects")


@rule(
    "GC412",
    "absurd-allocation",
    severity=Severity.ERROR,
    message="{path}: {what} would make the loader allocate about {size} elements{advice}",
    groups=GROUP,
    needs_graph=False,
)
def absurd_allocation(ctx: RuleContext) -> Iterator[Finding]:
    """A layer config whose sizes would allocate absurd memory (`units: 2**40`).

    ## What it finds
    Layer configs (also of wrapped layers and RNN cells) with a size (`units`,
    `filters`, `input_dim`, `output_dim`,
    `num_heads`, `max_tokens`, ...) or a shape dimension of 2**31 or more, or
    whose main weight (units or filters times the input width and the kernel size)
    would hold 2**36 elements (256 GiB of float32) or more.

    ## Why is this bad?
    Keras builds the layer, and allocates its weights, on load, before any weight
    is read from the file: a config of a few bytes exhausts the host's memory.

    ## Example
    ```json
    {"class_name": "Dense", "config": {"units": 1099511627776}}
    ```

    ## Use instead
    Sizes that fit the model; nothing real comes near these limits.
    """
    for item in ctx.walk.builders:
        config = item.value.get("config")
        if not is_mapping(config):
            continue
        reason = _oversized(config, item.value.get("build_config"))
        if reason:
            what, size = reason
            yield _finding(ctx, item, what=what, size=size)


def _oversized(config: Mapping[str, Any], build: Any) -> tuple[str, int] | None:
    for key in _SIZE_KEYS:
        value: Any = config.get(key)
        if _is_int(value) and abs(value) >= MAX_DIMENSION:
            return f"{key}={value}", abs(value)
    for key in _SHAPE_KEYS:
        dims = config.get(key)
        if isinstance(dims, list):
            for dim in dims:
                if _is_int(dim) and abs(dim) >= MAX_DIMENSION:
                    return f"{key} dimension {dim}", abs(dim)
    outer = next((config[k] for k in _OUTER if _is_int(config.get(k))), None)
    if outer is None:
        return None
    inner = config.get("input_dim") if _is_int(config.get("input_dim")) else _last_input_dim(build)
    kernel = config.get("kernel_size")
    kernel_elements = math.prod(k for k in kernel if _is_int(k)) if isinstance(kernel, list) else 1
    total = abs(outer) * abs(inner or 1) * abs(kernel_elements or 1)
    if total >= MAX_WEIGHT_ELEMENTS:
        return "its weight shape", total
    return None


def _last_input_dim(build: Any) -> int | None:
    shape = build.get("input_shape") if is_mapping(build) else None
    if isinstance(shape, list) and shape and _is_int(shape[-1]):
        return shape[-1]
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
