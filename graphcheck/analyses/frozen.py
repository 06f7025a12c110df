"""Which layers are frozen: as the file declares, and as they will train once loaded.

Declared: a call is frozen if its layer's own flag, any enclosing submodel's flag or
the top model's flag is ``trainable=False`` (``frozen_by`` names the outermost of
them: the top model, a submodel call, or the layer call itself). Will train: a
layer's weights train after loading when its own flag is True and so is every
container flag that survives loading *and* gates its sublayers:

- Keras 3 keeps a Functional top model's flag (a Sequential's is reset to True);
  nested container flags do not gate (an inner True under an outer False trains).
- tf_keras rebuilding from a config (``.h5``, ``.keras``, JSON) resets every
  container to True, so only the layer's own flag counts.
- tf_keras reviving a SavedModel keeps every container's flag, and Keras 2 gates a
  container's sublayers by it (measured in tests/truth: an inner True under a frozen
  parent stays frozen after a SavedModel round trip, but trains after an .h5 one).
- A model object (live, or rebuilt by --rebuild exactly as loading would build
  it) has every flag as it is in memory. The top model's flag gates (a
  Sequential's too), and tf_keras also gates by every container, as for a revived
  SavedModel (tests/truth/test_live.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from graphcheck.graph import CallGraph, SubmodelCall
from graphcheck.layers import KERAS3_UNSAVED_SUBLAYER_WEIGHTS, keras_layer_info
from graphcheck.model import ModelDesc
from graphcheck.semantics import SemanticsProfile

__all__ = ["FrozenBy", "FrozenState", "FrozenStates", "analyse_frozen"]


class FrozenBy:
    """What declares a call frozen: the values of ``FrozenState.frozen_by_kind``."""

    LAYER = "layer"  # the layer's own trainable=False
    SUBMODEL = "submodel"  # an enclosing submodel call (or, for a submodel, itself)
    MODEL = "model"  # the top model; frozen_by is then the top model's name


@dataclass(frozen=True, slots=True)
class FrozenState:
    """Frozen facts for one layer call or submodel call.

    ``frozen`` is None when the file leaves it open (an enclosing submodel's flag is
    not recorded). ``frozen_by`` names the outermost thing declared
    ``trainable=False``: the top model (its name), an enclosing submodel call (its
    path), else the call itself (its path); ``frozen_by_kind`` says which
    (:class:`FrozenBy`). ``will_train`` is None for layers without weights.
    """

    trainable: bool | None
    frozen: bool | None
    frozen_by: str | None
    has_weights: bool | None
    will_train: bool | None
    frozen_by_kind: str | None = None

    @property
    def declared_differs_from_loaded(self) -> bool:
        """True when the file declares the weights frozen but they will train, or back."""
        if self.will_train is None or self.frozen is None:
            return False
        return self.frozen == self.will_train


@dataclass(frozen=True, slots=True)
class FrozenStates:
    calls: dict[str, FrozenState]
    submodels: dict[str, FrozenState]
    top_trains_after_load: bool


def analyse_frozen(graph: CallGraph, profile: SemanticsProfile) -> FrozenStates:
    """Work out declared and after-load frozen state for every call and submodel call."""
    saved = graph.source
    top: ModelDesc = saved.model
    submodel_calls: dict[str, SubmodelCall] = graph.submodels
    in_memory = saved.format == "savedmodel" or saved.from_object
    revives_containers = profile.revives_savedmodel_containers and in_memory
    top_flag = top.trainable is not False
    if saved.from_object:
        pass  # the flags are those of the built object: no loading step is left to reset them
    elif not revives_containers and (
        not profile.keeps_functional_flag_on_load or top.is_sequential
    ):
        top_flag = True
    # Only a recorded False freezes (a config may omit the top model's flag).
    top_frozen = top.name if top.trainable is False else None
    submodels = {
        path: _state(
            sub.layer.trainable,
            sub.parents,
            submodel_calls,
            None,
            top_flag,
            path,
            FrozenBy.SUBMODEL,
            top_frozen,
        )
        for path, sub in submodel_calls.items()
    }
    calls = {}
    for call in graph.calls():
        path = call.path
        counts = call.layer.weight_counts
        has_weights = keras_layer_info(
            call.layer.class_name, saved.dialect, call.layer.origin
        ).has_weights
        if counts is not None:  # read off the built object: exact
            has_weights = counts.trainable + counts.frozen > 0
        gate = top_flag
        if revives_containers:
            gate = gate and all(
                submodel_calls[s].layer.trainable is not False for s in call.submodels
            )
        own = call.layer.trainable
        state = _state(
            own,
            call.submodels,
            submodel_calls,
            has_weights,
            gate,
            path,
            FrozenBy.LAYER,
            top_frozen,
        )
        if (own is False and has_weights and counts is None and profile.variable_flags_decide
                and call.layer.class_name in KERAS3_UNSAVED_SUBLAYER_WEIGHTS):
            # Loaded from a file, the flag never reaches the sublayers build() makes.
            state = replace(state, will_train=gate)
        if counts is not None:
            # Read off a built object, its variables' own flags are known. A layer
            # whose variables are all frozen cannot train; in Keras 3 one with a
            # trainable variable does, whatever the layer's flag (enable_lora: the
            # LoRA matrices inside a frozen TransformerEncoder train).
            trains = gate and counts.trainable > 0
            if not profile.variable_flags_decide:
                trains = trains and own is not False
            state = replace(state, will_train=trains if has_weights else None)
        calls[path] = state
    return FrozenStates(calls, submodels, top_flag)


def _state(
    own: bool | None,
    enclosing: tuple[str, ...],
    submodel_calls: dict[str, SubmodelCall],
    has_weights: bool | None,
    top_flag: bool,
    self_path: str,
    self_kind: str,
    top_frozen: str | None,
) -> FrozenState:
    """The state of one call; a frozen top model, then enclosing submodels, then itself."""
    flags = [(site, submodel_calls[site].layer.trainable) for site in enclosing]
    site = next((site for site, flag in flags if flag is False), None)
    frozen_by: str | None
    if top_frozen is not None:
        frozen_by, kind = top_frozen, FrozenBy.MODEL
    elif site is not None:
        frozen_by, kind = site, FrozenBy.SUBMODEL
    elif own is False:
        frozen_by, kind = self_path, self_kind
    else:
        frozen_by, kind = None, None
    if frozen_by is not None:
        frozen: bool | None = True
    elif any(flag is None for _, flag in flags) or (self_kind == FrozenBy.SUBMODEL and own is None):
        frozen = None
    else:
        frozen = False
    will_train = None
    if has_weights is not False:
        will_train = own is not False and top_flag
    return FrozenState(own, frozen, frozen_by, has_weights, will_train, kind)
