"""What declares a stochastic call frozen, in words that are right for each kind.

``frozen_by_kind`` (``analyses.frozen.FrozenBy``) says whether the call's own
``trainable=False``, an enclosing submodel, the top model, or (for a sublayer) the
layer that holds it declares it frozen. "Inside frozen X" is true only of the
last three: a Dropout frozen by its own flag is inside nothing frozen. The text
report and the ``fit()`` callback both say it through :func:`frozen_clause`, so
they cannot drift apart.
"""

from __future__ import annotations

from graphcheck.analyses.frozen import FrozenBy

__all__ = ["frozen_clause"]


def frozen_clause(
    path: str,
    frozen_by: str | None,
    kind: str | None,
    fires_in_fit: bool,
    *,
    sublayer: bool = False,
) -> str | None:
    """The clause for the stochastic call at ``path``; None when nothing declares it frozen.

    ``fires_in_fit`` adds that ``trainable=False`` does not stop it, where the words
    would otherwise leave room to think it does. ``sublayer`` names the call a
    sublayer (held inside another layer's ``call``), not a layer.
    """
    if frozen_by is None:
        return None
    does_not_stop = " does not stop it" if fires_in_fit else ""
    if kind == FrozenBy.LAYER and frozen_by == path:
        return f"trainable=False on this {'sublayer' if sublayer else 'layer'}{does_not_stop}"
    if kind == FrozenBy.LAYER:
        # A sublayer whose holding layer is trainable=False by its own flag.
        effect = does_not_stop or " freezes weights only"
        return f"inside {frozen_by}, whose own trainable=False{effect}"
    if kind == FrozenBy.MODEL:
        return f"inside the frozen top model {frozen_by}" + (
            " (trainable=False does not stop it)" if fires_in_fit else ""
        )
    return f"inside frozen submodel {frozen_by}"
