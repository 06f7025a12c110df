"""``--rebuild``: build a model from its stored config with the installed Keras, no weights.

For files whose config stores no layer graph (a KerasHub task, a ``keras.Model``
subclass), the graph exists only once the classes are constructed. This module:

1. reads the config with graphcheck's own readers (the weights member is never
   opened; ``keras.saving.load_model`` is never called);
2. refuses, before importing Keras, any config that names code or classes from
   outside ``keras``, ``keras_hub``, ``keras_nlp``, ``keras_cv`` and ``tf_keras``
   (:func:`rebuild_refusals`), unless the caller trusts the model;
3. deserializes the config with the Keras that wrote its dialect (``safe_mode``
   on unless trusted): Keras 3 for a Keras 3 config, tf_keras for a Keras 2 one
   (a tf_keras ``.keras`` file of a subclassed model, or a Keras 2 ``.h5``/JSON),
   which constructs the layers and builds them; Keras 3 with variables that have
   a shape but no value (:mod:`graphcheck.runtime.shape_only`), tf_keras with fresh
   ones: no weights read either way;
4. describes the built object as a live model (:mod:`graphcheck.runtime.live`),
   tracing a subclassed model's ``call`` where its class keeps no graph.

Nothing stored in the file is executed: Keras constructs classes it finds by name
in the allowed packages, and a ``--custom-objects`` file (the user's own code) is
run only with ``--trust-model``.
"""

from __future__ import annotations

import copy
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphcheck.errors import MissingDependencyError, RebuildError, UnsupportedModelError, option
from graphcheck.findings import Finding
from graphcheck.layers import KERAS_FAMILY
from graphcheck.model import SavedModelDesc
from graphcheck.readers.source import ConfigSource

__all__ = [
    "ALLOWED_PACKAGES", "RebuildOptions", "rebuild_model", "rebuild_package", "rebuild_refusals",
]

#: Packages whose classes --rebuild constructs without --trust-model.
ALLOWED_PACKAGES = KERAS_FAMILY
# How Keras 3 and tf_keras say that a class in the config is not defined anywhere.
_UNDEFINED_CLASS = re.compile(
    r"(?:Could not locate class|Unknown (?:layer|model|object)):? '?([\w.>]+)"
)
# Stored function references Keras resolves among its own built-ins only.
_BUILTIN_MODULES = frozenset({"builtins"})
_CODE_CLASSES = frozenset({"Lambda", "__lambda__", "TFOpLambda", "SlicingOpLambda"})


@dataclass(frozen=True, slots=True)
class RebuildOptions:
    """How far to trust the file: ``trust_model`` allows any class and lambdas;
    ``custom_objects`` names a Python file defining the model's own classes."""

    trust_model: bool = False
    custom_objects: str | None = None


def rebuild_refusals(config: Any) -> list[str]:
    """What in a stored config --rebuild will not construct without ``--trust-model``.

    The unsafe-content criteria of the static rules, applied to every object the
    config names (a config without a layer graph has no calls for the rules to
    visit): stored code (``Lambda``, serialized lambdas) and classes or functions
    from modules outside :data:`ALLOWED_PACKAGES`, or registered by another package.

    Examples
    --------
    >>> rebuild_refusals({"class_name": "Dense", "module": "keras.layers", "config": {}})
    []
    >>> rebuild_refusals({"class_name": "Evil", "module": "os", "config": {}})
    ["class Evil from module 'os'"]
    """
    found: list[str] = []
    for item in _objects(config):
        name = item.get("class_name")
        module = item.get("module")
        registered = item.get("registered_name")
        if name in _CODE_CLASSES or item.get("function_type") == "lambda":
            found.append(f"stored code ({name})")
        elif isinstance(module, str) and module:
            package = module.split(".", 1)[0]
            if package not in ALLOWED_PACKAGES and module not in _BUILTIN_MODULES:
                found.append(f"class {name} from module {module!r}")
        elif isinstance(registered, str) and ">" in registered:
            # A class registered with @register_keras_serializable(package=...).
            package = registered.split(">", 1)[0]
            if package not in ALLOWED_PACKAGES:
                found.append(f"custom class {registered}")
        elif module is None and "module" in item and isinstance(name, str) and name != "function":
            found.append(f"class {name} with no module")
    return sorted(set(found))


def _objects(config: Any) -> Iterator[Mapping[str, Any]]:
    """Every mapping with a ``class_name`` in a config, at any depth (iterative)."""
    stack = [config]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if isinstance(item.get("class_name"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def rebuild_package(dialect: str) -> str | None:
    """The package that builds a config of ``dialect``: ``keras`` for Keras 3,
    ``tf_keras`` for Keras 2; None for Keras 1, which no installable Keras reads."""
    return {"keras3": "keras", "keras2": "tf_keras"}.get(dialect)


def rebuild_model(path: str | os.PathLike[str], options: RebuildOptions) -> SavedModelDesc:
    """Build the model stored at ``path`` with the Keras of its dialect and describe it.

    A Keras 3 config is built with Keras 3, a Keras 2 one (tf_keras ``.keras``,
    Keras 2 ``.h5`` or JSON) with tf_keras.

    Raises
    ------
    ModelReadError
        The file cannot be read (as for the static path).
    RebuildError
        The config names code or non-Keras classes and the model is not trusted,
        or Keras cannot build it.
    MissingDependencyError
        The Keras that builds the file's dialect is not installed.
    """
    from graphcheck.readers import read_config_source
    from graphcheck.readers.keras_config import detect_dialect

    source = read_config_source(path)
    subject = source.subject
    dialect = detect_dialect(source.config, source.keras_version)
    package = rebuild_package(dialect)
    if source.format == "savedmodel" or package is None:
        what = "a SavedModel" if source.format == "savedmodel" else "a Keras 1 config"
        raise RebuildError(
            subject,
            f"{option('rebuild')} builds .keras, .h5 and JSON configs of Keras 2 and 3, not "
            f"{what}, whose stored layer graph graphcheck reads as it is: analyse it without "
            f"{option('rebuild')}",
        )
    refusals = rebuild_refusals(source.config)
    if not options.trust_model:
        unsafe = load_safety_findings(source, package)
        if unsafe:
            raise RebuildError(
                subject,
                f"{option('rebuild')} refused by graphcheck's load-safety rules: "
                + "; ".join(f"{f.rule} {f.message}" for f in unsafe[:3])
                + (" ..." if len(unsafe) > 3 else "")
                + f" ({option('trust_model')} to build it anyway)",
            )
    if refusals and not options.trust_model:
        raise RebuildError(
            subject,
            f"{option('rebuild')} refused: the config names {', '.join(refusals[:3])}"
            + (" ..." if len(refusals) > 3 else "")
            + "; constructing it would run code that is not Keras's "
            f"({option('trust_model')} and {option('custom_objects')} to allow it)",
        )
    keras = _import_keras(subject, package)
    custom: dict[str, Any] = {}
    if options.custom_objects:
        if not options.trust_model:
            raise RebuildError(
                options.custom_objects,
                f"{option('custom_objects')} runs the file: it needs {option('trust_model')}",
            )
        from graphcheck.runtime.loading import load_custom_objects

        custom = load_custom_objects(options.custom_objects)
    if _names_package(source.config, ("keras_hub", "keras_nlp")):
        _import_optional(subject, "keras_hub", "keras-hub")
    if _names_package(source.config, ("keras_cv",)):
        _import_optional(subject, "keras_cv", "keras-cv")
    from graphcheck.runtime.loading import quiet_keras

    # Not compiled: the optimizer and loss say nothing about the graph.
    stored = {k: v for k, v in source.config.items() if k != "compile_config"}

    def build() -> Any:
        # Keras's deserializers empty the nested config dicts they read (a Functional's
        # "config" is {} after a failed attempt), so every attempt gets its own copy.
        config = copy.deepcopy(stored)
        with quiet_keras(), keras.saving.custom_object_scope(custom):
            if "module" in config or source.format == "keras":
                return keras.saving.deserialize_keras_object(
                    config, custom_objects=custom, safe_mode=not options.trust_model
                )
            # A legacy .h5 or architecture JSON: module-less entries, which Keras
            # reads with its legacy deserializer (what load_model uses there).
            # Code in them (Lambda) was refused above unless the model is trusted.
            return _legacy_model_from_config(keras, package, config, custom)

    from graphcheck.runtime.live import describe_model_object
    from graphcheck.runtime.shape_only import build_shape_only

    def build_and_describe() -> Any:
        try:
            model = build()
        except Exception as exc:
            text = " ".join(str(exc).split())
            missing = _UNDEFINED_CLASS.search(text)
            if missing:  # Keras's own advice is about decorators; ours is the flag
                raise RebuildError(
                    subject,
                    f"{option('rebuild')} cannot find class {missing.group(1)}: pass "
                    f"{option('custom_objects')}, a Python file that defines it (with "
                    f"{option('trust_model')})",
                ) from None
            text = text[:200]
            raise RebuildError(
                subject,
                f"{package} {keras.__version__} cannot build the model "
                f"({type(exc).__name__}: {text})",
            ) from None
        if not isinstance(model, keras.Model):
            raise UnsupportedModelError(
                subject, f"the config builds a {type(model).__name__}, not a model"
            )
        return describe_model_object(
            model, subject=subject, source=f"rebuilt with {package} {keras.__version__}"
        )

    # Only shapes and flags are read off the built model, so its initializers need
    # not run; describing it (tracing a subclassed call) happens in the same attempt,
    # so a model that cannot do without values is built again the ordinary way.
    # tf_keras has no value-less variables: it builds the ordinary way. A layer's
    # symbolic call for its random draws (runtime.random_draws) may read a variable's
    # value; where it failed on a value-less build, build the ordinary way.
    if package == "keras":
        described, _ = build_shape_only(keras, build_and_describe, _no_probe_failed)
    else:
        described = build_and_describe()
    return SavedModelDesc(
        path=subject,
        format=source.format,
        keras_version=source.keras_version,
        backend=source.backend,
        dialect=described.dialect,
        model=described.model,
        # The file's own documents: the load-safety rules read these, not the graph.
        stored={"config": source.config, **source.documents},
        container=source.container,
        extra=source.extra,
        source=described.source + _preset_origin(source),
        from_object=True,
    )


def _preset_origin(source: ConfigSource) -> str:
    """`` from the preset's task.json`` for a KerasHub preset; else nothing."""
    main = source.extra.get("preset_config") if source.format == "preset" else None
    return f" from the preset's {main}" if main else ""


def _no_probe_failed(described: SavedModelDesc) -> bool:
    """True when every symbolic call for random draws succeeded (see ``own_random``)."""
    stack = [described.model]
    while stack:
        model = stack.pop()
        for layer in model.layers:
            if layer.submodel is not None:
                stack.append(layer.submodel)
            if any(inner.probe_error for inner in layer.inner_stochastic):
                return False
    return True


def _legacy_model_from_config(
    keras: Any, package: str, config: Mapping[str, Any], custom: Mapping[str, Any]
) -> Any:
    """A legacy (module-less) config built as ``load_model`` builds it from an .h5 file."""
    if package == "tf_keras":
        return keras.models.model_from_config(dict(config), custom_objects=dict(custom))
    from keras.src.legacy.saving import saving_utils

    return saving_utils.model_from_config(config, custom_objects=custom)


def load_safety_findings(source: ConfigSource, package: str) -> tuple[Finding, ...]:
    """The findings of the load-safety rules (GC302, GC4xx) on a file's stored documents,
    for the Keras that will build it (``package``: ``keras`` or ``tf_keras``, as
    installed). Those rules read every object a loader would act on, not a layer
    graph, so they run on a config that stores none."""
    from graphcheck.profile_choice import installed_kerases
    from graphcheck.rules.load_safety import check_stored

    return check_stored(
        {"config": source.config, **source.documents}, container=source.container,
        keras_version=installed_kerases().get(package), subject=source.subject,
        file_format=source.format,
    )


def _names_package(config: Any, packages: tuple[str, ...]) -> bool:
    for item in _objects(config):
        for key in ("module", "registered_name"):
            value = item.get(key)
            if isinstance(value, str) and value.replace(">", ".").split(".", 1)[0] in packages:
                return True
    return False


def _import_keras(subject: str, package: str) -> Any:
    """Keras 3 (``keras``) or tf_keras, for the dialect the file was written in."""
    from graphcheck.runtime.loading import import_quietly

    # TensorFlow's C++ log (no-GPU notices) would interleave with the report.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    needs = (
        "Keras 3 (pip install keras)" if package == "keras"
        else "tf_keras for a Keras 2 config (pip install tf_keras)"
    )
    try:
        keras = import_quietly(package)
    except ImportError:
        raise MissingDependencyError(subject, f"{option('rebuild')} needs {needs}") from None
    major = str(keras.__version__).split(".", 1)[0]
    if major != ("3" if package == "keras" else "2"):
        raise MissingDependencyError(
            subject, f"{option('rebuild')} needs {needs}, found {package} {keras.__version__}"
        )
    return keras


def _import_optional(subject: str, package: str, pip_name: str) -> None:
    """The KerasHub/KerasCV package whose classes the config names, or exit 4 naming it."""
    from graphcheck.runtime.loading import import_quietly

    try:
        import_quietly(package)
    except ImportError:
        raise MissingDependencyError(
            subject, f"{option('rebuild')} needs {package} for the classes this file names "
            f"(pip install {pip_name})"
        ) from None
