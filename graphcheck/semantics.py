"""Semantics profiles: how a Keras version decides the ``training`` value a call gets.

Each Keras family is one named profile. Measured facts (``shared/KERAS_SEMANTICS.md``,
confirmed by ``tests/truth``):

- Every version: a stochastic layer is active exactly when the ``training`` it
  receives is True; ``trainable=False`` never switches dropout off. A
  BatchNormalization layer whose own flag is ``trainable=False`` always uses its
  moving statistics.
- ``keras3`` (3.0-3.15): a top-level value T (``fit()`` True, ``predict()`` False,
  ``model(x, training=t)``) is pushed into every call at every depth, overriding
  stored call-site flags. With T None (``model(x)``) the outermost stored flag on
  the call path wins, else the ``call`` signature default.
- ``keras2`` (tf.keras 2.x, tf_keras): the innermost stored flag on the call path
  wins, else T, else the signature default (Dropout: learning phase 0, inactive).
- ``keras3-callsite`` (after keras-team/keras#23364): call-site flags win again,
  innermost first, as in Keras 2.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from graphcheck.keras_versions import parse_version

__all__ = [
    "PROFILES",
    "RUN_SCENARIOS",
    "SCENARIO_LABELS",
    "Received",
    "Scenario",
    "SemanticsProfile",
    "TrainingSource",
    "profile_for_version",
]


class Scenario(Enum):
    """The ways a model is run, with the top-level ``training`` value each passes."""

    FIT = "fit"
    PREDICT = "predict"
    CALL = "call"

    @property
    def top_value(self) -> bool | None:
        """``fit()`` passes True, ``predict()``/``evaluate()`` False, ``model(x)`` nothing."""
        return _TOP_VALUES[self.value]

    @property
    def label(self) -> str:
        return SCENARIO_LABELS[self.value]


# Keyed by value: read on every call of every scenario, so built once, not per read.
_TOP_VALUES: dict[str, bool | None] = {"fit": True, "predict": False, "call": None}

#: The ways `graphcheck validate` runs a model: the three scenarios of the static
#: report, then a direct call with training=True and with training=False.
RUN_SCENARIOS: tuple[str, ...] = ("fit", "predict", "call", "call_true", "call_false")
#: How reports name each scenario (the one definition; :attr:`Scenario.label` reads it).
SCENARIO_LABELS: dict[str, str] = {
    "fit": "fit()",
    "predict": "predict()",
    "call": "model(x)",
    "call_true": "model(x, training=True)",
    "call_false": "model(x, training=False)",
}


class TrainingSource(Enum):
    """Where the ``training`` value a call receives comes from."""

    #: The scenario's own top-level value (fit() True, predict() False).
    TOP = "top"
    #: A ``training=`` flag stored at a call site (``Received.site``).
    STORED = "stored"
    #: Keras 3.0-3.15 under ``model(x)``: the value the call run before left in the
    #: shared call context (``Received.site`` names that call).
    INHERITED = "inherited"
    #: The ``call`` signature default; for Keras 2 Dropout that is learning phase 0.
    DEFAULT = "default"
    #: The call is not on a path to a model output, so it never runs (value False).
    NOT_RUN = "not-run"


@dataclass(frozen=True, slots=True)
class Received:
    """The ``training`` value one call receives in one scenario, and where it came from.

    ``site`` is the call path that decided it, for :attr:`TrainingSource.STORED`
    and :attr:`TrainingSource.INHERITED` (and a layer's own path for a signature
    :attr:`TrainingSource.DEFAULT` found by the Keras 3 analysis).
    """

    value: bool
    source: TrainingSource
    site: str | None = None


@dataclass(frozen=True, slots=True)
class SemanticsProfile:
    """One Keras family's rules for ``training`` and for flags that survive loading."""

    name: str
    title: str
    #: The Keras releases the profile stands for, as `graphcheck profiles` lists them
    #: (:func:`profile_for_version` decides the same split).
    keras_versions: str
    innermost_flag_wins: bool
    top_overrides_stored: bool
    # Keras 3 keeps a Functional container's own flag on load; tf_keras resets every
    # container (and Keras 3 every Sequential) to trainable=True.
    keeps_functional_flag_on_load: bool
    # tf_keras revives a SavedModel's containers with their flags, and Keras 2 gates
    # sublayers by them; Keras 3 cannot load a SavedModel at all.
    revives_savedmodel_containers: bool = False

    def received(
        self,
        stored: Sequence[tuple[str, bool | None]],
        scenario: Scenario,
        default: bool | None,
    ) -> Received:
        """Resolve the ``training`` value one call receives.

        Parameters
        ----------
        stored : sequence of (call site, stored flag)
            The call path from the outermost submodel call to the layer's own call,
            each with its stored ``training=`` value (None when none is stored).
        scenario : Scenario
            How the top model is run.
        default : bool or None
            The layer's ``call`` signature default (None: no non-None default).
        """
        return self.received_for_top(stored, scenario.top_value, default)

    def received_for_top(
        self,
        stored: Sequence[tuple[str, bool | None]],
        top: bool | None,
        default: bool | None,
    ) -> Received:
        """Resolve the ``training`` value one call receives when the top model gets ``top``.

        :meth:`received` for any top-level value, not only a :class:`Scenario`'s:
        ``model(x, training=True)`` and ``model(x, training=False)`` pass True and
        False, which the static report does not cover.

        Parameters
        ----------
        stored : sequence of (call site, stored flag)
            As for :meth:`received`.
        top : bool or None
            The ``training`` value the top model is called with (None: none given).
            With None, Keras 3.0-3.15 (``top_overrides_stored``) resolve the value
            through a shared call context instead, which this per-path rule does not
            model (:func:`graphcheck.analyses.training.resolve_training` does).
        default : bool or None
            As for :meth:`received`.
        """
        if top is not None and self.top_overrides_stored:
            return Received(top, TrainingSource.TOP)
        sites = [(site, flag) for site, flag in stored if flag is not None]
        if sites:
            site, flag = sites[-1] if self.innermost_flag_wins else sites[0]
            return Received(bool(flag), TrainingSource.STORED, site)
        if top is not None:
            return Received(top, TrainingSource.TOP)
        return Received(bool(default), TrainingSource.DEFAULT)

    def describe_rule(self) -> str:
        """One sentence on how this profile decides ``training``."""
        if self.top_overrides_stored:
            return (
                f"{self.title}: fit() and predict() push their training value into every "
                "call, ignoring stored call-site flags; under model(x) each call takes its "
                "stored flag, else the value the call run before it left in the shared "
                "call context, and a submodel call pushes its value into its layers"
            )
        return (
            f"{self.title}: the innermost stored call-site training= flag wins; "
            "otherwise the call gets the value fit()/predict() pass"
        )


PROFILES: dict[str, SemanticsProfile] = {
    profile.name: profile
    for profile in (
        SemanticsProfile(
            name="keras2",
            title="Keras 2 (tf.keras 2.x, tf_keras)",
            keras_versions="1.x, 2.x",
            innermost_flag_wins=True,
            top_overrides_stored=False,
            keeps_functional_flag_on_load=False,
            revives_savedmodel_containers=True,
        ),
        SemanticsProfile(
            name="keras3",
            title="Keras 3.0-3.15",
            keras_versions="3.0 - 3.15",
            innermost_flag_wins=False,
            top_overrides_stored=True,
            keeps_functional_flag_on_load=True,
        ),
        SemanticsProfile(
            name="keras3-callsite",
            title="Keras 3.16+ (call-site flags honoured)",
            keras_versions="3.16 and later",
            innermost_flag_wins=True,
            top_overrides_stored=False,
            keeps_functional_flag_on_load=True,
        ),
    )
}


def profile_for_version(version: str) -> SemanticsProfile:
    """Pick the profile of a Keras version string such as ``"3.15.1"`` or ``"2.2.4-tf"``.

    Raises
    ------
    ValueError
        The string does not start with a major version number.
    """
    parsed = parse_version(version)
    if parsed is None:
        raise ValueError(f"not a Keras version: {version!r}")
    major, minor = parsed
    if major <= 2:
        return PROFILES["keras2"]
    if major == 3 and minor <= 15:
        return PROFILES["keras3"]
    return PROFILES["keras3-callsite"]
