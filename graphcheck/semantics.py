"""Semantics profiles: how a Keras version decides the ``training`` value a call gets.

Each Keras family is one named profile. Measured facts (``shared/KERAS_SEMANTICS.md``,
confirmed by ``tests/truth``):

- Every version: a stochastic layer is active exactly when the ``training`` it
  receives is True; ``trainable=False`` never switches dropout off. A
  BatchNormalization layer whose own flag is ``trainable=False`` always uses its
  moving statistics.
- ``keras3`` (3.0-3.9): a top-level value T (``fit()`` True, ``predict()`` False,
  ``model(x, training=t)``) is pushed into every call that takes ``training`` at
  every depth, overriding stored call-site flags. With T None (``model(x)``) the
  outermost stored flag on the call path wins, else the ``call`` signature default.
  A stored ``training=None`` takes the context's value, else None (not the default).
- ``keras3.10`` (3.10-3.15, keras-team/keras#21204): as ``keras3``, but T is pushed
  into every layer call, and an explicit ``training=None`` at a call site counts as
  passed: under ``model(x)`` that call gets None and leaves None in the context.
- ``keras2`` (tf.keras 2.x, tf_keras): the innermost stored flag on the call path
  wins, else T, else the signature default (Dropout: learning phase 0, inactive).
- ``keras3-callsite`` (3.16 pre-releases, keras-team/keras#23364): no value is
  pushed; a stored or passed flag is written into the call context shared by the
  whole top-level call and stays there, so it reaches every later call without a
  flag of its own, inside or outside the submodel that set it. ``call`` signature
  defaults stay local to their layer.

:data:`PROVEN_BUILDS` lists the Keras builds each profile was compared with by
running real models (``tests/truth``); the tests assert against this table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from graphcheck.keras_versions import parse_version, version_key

__all__ = [
    "ANY_MINOR",
    "PROFILES",
    "PROVEN_BUILDS",
    "RUN_SCENARIOS",
    "SCENARIO_LABELS",
    "ContextRule",
    "ProvenBuild",
    "Received",
    "Scenario",
    "SemanticsProfile",
    "TrainingSource",
    "is_newer_than_measured",
    "measured_key",
    "newest_measured",
    "profile_for_version",
]

#: The minor number that stands for every minor of a major in a profile's range.
ANY_MINOR = 99


class Scenario(Enum):
    """The ways a model is run, with the top-level ``training`` value each passes."""

    FIT = "fit"
    PREDICT = "predict"
    CALL = "call"

    # Members are singletons compared by identity; Enum's own hash runs Python code
    # on every lookup of the per-scenario dicts the analyses fill for every call.
    __hash__ = object.__hash__

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
    #: The call site stores ``training=None`` (``Received.site``) and the call gets
    #: None (value False), not its ``call`` default: from Keras 3.10 always (it counts
    #: as passed), in 3.0-3.9 when the shared call context holds no value either.
    STORED_NONE = "stored-none"
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
    #: For :attr:`TrainingSource.INHERITED` only: what inside ``site``'s call wrote
    #: the value into the context, when that was not ``site``'s own call (measured on
    #: a built object: "a Resizing layer created inside SpatialPyramidPooling's call").
    set_by: str | None = None


def measured_key(received: Received | None) -> str:
    """The key (``"true"``, ``"false"``, ``"none"``) under which the symbolic calls of a
    built layer stored what they measured for a call receiving ``received``: ``"none"``
    when nothing gives it a value (None, or no stored flag, no context value and no
    known default), so that its own ``call`` default decides."""
    if received is None or (received.source is TrainingSource.DEFAULT and received.site is None):
        return "none"
    return "true" if received.value else "false"


class ContextRule(Enum):
    """How the ``training`` value travels from the top-level call to each layer."""

    #: Keras 2: each call resolves from the stored flags on its own call path.
    PATH = "path"
    #: Keras 3.0-3.15: a submodel call pushes its value into the calls inside it;
    #: with no top-level value, each layer leaves what it resolved (its stored
    #: flag, the context's value or its ``call`` default) in the shared context.
    PUSHED = "pushed"
    #: Keras 3.16 pre-releases: stored flags are written into the shared context
    #: and never restored; ``call`` defaults stay local.
    STICKY = "sticky"


@dataclass(frozen=True, slots=True)
class SemanticsProfile:
    """One Keras family's rules for ``training`` and for flags that survive loading."""

    name: str
    title: str
    innermost_flag_wins: bool
    top_overrides_stored: bool
    context_rule: ContextRule
    #: Versions this profile stands for: ``(lowest, highest)`` as (major, minor)
    #: pairs, both included; None: no upper bound. A minor of ``ANY_MINOR`` stands
    #: for every minor of that major (``(2, ANY_MINOR)``: any 2.x).
    versions: tuple[tuple[int, int], tuple[int, int] | None]
    # Keras 3 keeps a Functional container's own flag on load; tf_keras resets every
    # container (and Keras 3 every Sequential) to trainable=True.
    keeps_functional_flag_on_load: bool
    # tf_keras revives a SavedModel's containers with their flags, and Keras 2 gates
    # sublayers by them; Keras 3 cannot load a SavedModel at all.
    revives_savedmodel_containers: bool = False
    # Keras 3 trains every variable whose own flag is set, under a trainable top
    # model (``Layer.trainable_weights``); a layer's flag only sets its variables'
    # flags when assigned. tf_keras gates by every layer flag instead.
    variable_flags_decide: bool = False
    #: Keras 3.10 and later (``Layer._resolve_and_populate_arg``): ``training=None``
    #: passed at a call site counts as passed, so the call gets None, not the
    #: context's value or its ``call`` default, and leaves None in the context.
    explicit_none_passed: bool = False
    #: Keras 3.10-3.15: ``Functional.call`` pushes its value into every layer call
    #: (``_call_context_args``); 3.0-3.9 only into calls whose ``call`` takes
    #: ``training`` (``_call_has_training_arg``): the others resolve from the context.
    pushes_into_every_call: bool = False

    def received(
        self,
        stored: Sequence[tuple[str, bool | None]],
        scenario: Scenario,
        default: bool | None,
    ) -> Received:
        """Resolve the ``training`` value one call receives.

        Only the per-path rule (:attr:`ContextRule.PATH`, and Keras 3.0-3.15 when
        the scenario passes a value); the shared call context is resolved by
        :func:`graphcheck.analyses.training.resolve_training`.

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
        top = scenario.top_value
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
        if self.context_rule is ContextRule.PUSHED:
            into = "every call" if self.pushes_into_every_call else "every call that takes it"
            rule = (
                f"{self.title}: fit() and predict() push their training value into {into}, "
                "ignoring stored call-site flags; under model(x) each call takes its "
                "stored flag (Keras writes the call() default into every node it builds), "
                "else the value the call run before it left in the shared call context, "
                "and a submodel call pushes its value into its layers"
            )
            if self.explicit_none_passed:
                rule += "; a stored training=None counts as passed: None, left in the context"
            return rule
        if self.context_rule is ContextRule.STICKY:
            return (
                f"{self.title}: a stored call-site training= flag wins and stays in the "
                "call context shared by the whole top-level call, so every later call "
                "without a flag of its own inherits it (even outside its submodel); "
                "otherwise the call gets fit()/predict()'s value, else its call() default"
            )
        return (
            f"{self.title}: the innermost stored call-site training= flag wins; "
            "otherwise the call gets the value fit()/predict() pass"
        )

    def version_range(self) -> str:
        """The Keras versions this profile stands for, in words (``"3.0 - 3.15"``)."""
        low, high = self.versions
        low_text = f"{low[0]}.{low[1]}" if low != (0, 0) else "1.0"
        if high is None:
            return f"{low_text} and later"
        return f"{low_text} - {high[0]}.{high[1] if high[1] < ANY_MINOR else 'x'}"

    def covers(self, version: tuple[int, int]) -> bool:
        """Whether a (major, minor) pair from :func:`parse_version` falls in ``versions``."""
        low, high = self.versions
        # parse_version gives pre-releases minors past ANY_MINOR ("2.21rc0" -> 210);
        # they still belong to their major.
        clamped = (version[0], min(version[1], ANY_MINOR))
        return low <= clamped and (high is None or clamped <= high)


PROFILES: dict[str, SemanticsProfile] = {
    profile.name: profile
    for profile in (
        SemanticsProfile(
            name="keras2",
            title="Keras 2 (tf.keras 2.x, tf_keras)",
            innermost_flag_wins=True,
            top_overrides_stored=False,
            context_rule=ContextRule.PATH,
            versions=((0, 0), (2, ANY_MINOR)),
            keeps_functional_flag_on_load=False,
            revives_savedmodel_containers=True,
        ),
        SemanticsProfile(
            name="keras3",
            title="Keras 3.0-3.9",
            innermost_flag_wins=False,
            top_overrides_stored=True,
            context_rule=ContextRule.PUSHED,
            versions=((3, 0), (3, 9)),
            keeps_functional_flag_on_load=True,
            variable_flags_decide=True,
        ),
        SemanticsProfile(
            name="keras3.10",
            title="Keras 3.10-3.15",
            innermost_flag_wins=False,
            top_overrides_stored=True,
            context_rule=ContextRule.PUSHED,
            versions=((3, 10), (3, 15)),
            keeps_functional_flag_on_load=True,
            variable_flags_decide=True,
            explicit_none_passed=True,
            pushes_into_every_call=True,
        ),
        SemanticsProfile(
            name="keras3-callsite",
            title="Keras 3.16+ (call-site flags honoured, shared call context)",
            innermost_flag_wins=True,
            top_overrides_stored=False,
            context_rule=ContextRule.STICKY,
            versions=((3, 16), None),
            keeps_functional_flag_on_load=True,
            variable_flags_decide=True,
            explicit_none_passed=True,
        ),
    )
}


@dataclass(frozen=True, slots=True)
class ProvenBuild:
    """One Keras build a profile was compared with by building, saving and running models."""

    package: str
    version: str
    #: The backend it ran on, with its version.
    backend: str
    #: The test module that runs it (in its own environment where not installed here).
    test: str

    def __str__(self) -> str:
        return f"{self.package} {self.version} ({self.backend})"


#: Per profile, the builds whose runs agreed with graphcheck's answers on every call
#: of the truth cases. ``tests/truth/test_matrix.py`` runs each build and asserts the
#: version it ran is listed here under the profile graphcheck picks for it.
PROVEN_BUILDS: dict[str, tuple[ProvenBuild, ...]] = {
    "keras2": (
        ProvenBuild("tf_keras", "2.21.0", "tensorflow 2.21.0", "tests/truth/test_truth.py"),
        ProvenBuild("tf.keras", "2.15.0", "tensorflow 2.15.1", "tests/truth/test_matrix.py"),
    ),
    "keras3": (
        ProvenBuild("keras", "3.9.2", "tensorflow 2.21.0", "tests/truth/test_matrix.py"),
        ProvenBuild("keras", "3.3.3", "tensorflow 2.16.2", "tests/truth/test_matrix.py"),
    ),
    "keras3.10": (
        ProvenBuild("keras", "3.15.1", "tensorflow 2.21.0", "tests/truth/test_truth.py"),
        ProvenBuild("keras", "3.10.0", "tensorflow 2.21.0", "tests/truth/test_matrix.py"),
    ),
    "keras3-callsite": (
        ProvenBuild(
            "keras-nightly",
            "3.16.0.dev2026102704",
            "tensorflow 2.21.0",
            "tests/truth/test_matrix.py",
        ),
    ),
}


def newest_measured() -> ProvenBuild:
    """The newest Keras build any profile was proven on."""
    builds = [build for group in PROVEN_BUILDS.values() for build in group]
    return max(builds, key=lambda build: version_key(build.version))


def is_newer_than_measured(version: str) -> bool:
    """Whether ``version`` is newer than every build in :data:`PROVEN_BUILDS`.

    Such a version gets the profile of the newest family, unproven: the caller says so.
    """
    return version_key(version) > version_key(newest_measured().version)


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
    # The profiles' ranges cover every version from 0.0 up without overlap
    # (tests/analyses/test_training.py checks), so exactly one matches.
    return next(profile for profile in PROFILES.values() if profile.covers(parsed))
