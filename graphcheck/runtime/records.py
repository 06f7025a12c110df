"""What the observer records: one `CallRecord` per call, one `Observation` per run.

Keys are layer paths relative to the top model, nested model names joined with
"/" (``base/dropout_3``), *without* graphcheck's ``@k`` call suffixes: at run time
one cannot always tell which call of a shared layer is which, so every key holds
the list of its calls in execution order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphcheck.layers import BATCH_NORM_CLASSES

__all__ = ["CallRecord", "Observation", "Records", "strip_call_suffixes"]

_SUFFIX = re.compile(r"@\d+$")


def strip_call_suffixes(path: str) -> str:
    """Return `path` with graphcheck's ``@k`` call suffix removed from every component.

    Examples
    --------
    >>> strip_call_suffixes("tower@2/dropout@1")
    'tower/dropout'
    """
    return "/".join(_SUFFIX.sub("", part) for part in path.split("/"))


@dataclass(frozen=True)
class CallRecord:
    """One call of one instrumented layer.

    `active` is True when the call's output differed from what the same call
    returns with ``training=False``: its input, for the Dropout family, which is
    the identity then; a second call of the layer for RNNs, attention and
    augmentation; for BatchNormalization, whether its moving statistics changed.
    `fraction_zeroed`, `scaled_exactly` and `draws` (how many independent mask
    draws covered the non-zero inputs, for a binomial tolerance) are set for the
    Dropout family only; `batch_stats` and `moving_stats_changed`
    for BatchNormalization only.
    """

    class_name: str
    training: bool | None
    active: bool
    fraction_zeroed: float | None = None
    scaled_exactly: bool | None = None
    batch_stats: bool | None = None
    moving_stats_changed: bool | None = None
    draws: int | None = None


Records = Mapping[str, Mapping[str, Sequence[CallRecord]]]


@dataclass(frozen=True)
class Observation:
    """What one model did in each scenario, keyed by scenario then group path."""

    keras_version: str
    backend: str
    records: Records
    weights_changed: Mapping[str, bool]
    fit_error: str | None = None
    class_names: Mapping[str, str] = field(default_factory=dict)
    #: Per weight-bearing layer: does it declare a trainable weight (ignoring freezing)?
    declares_trainable: Mapping[str, bool] = field(default_factory=dict)
    #: The outputs of the ``predict`` scenario (numpy, flattened), for a repeat check.
    predict_outputs: tuple[Any, ...] = ()

    def _project(self, attr: str, only_bn: bool = False) -> dict[str, dict[str, list[Any]]]:
        return {
            scenario: {
                path: [getattr(r, attr) for r in calls]
                for path, calls in by_path.items()
                if not only_bn or self.class_names.get(path) in BATCH_NORM_CLASSES
            }
            for scenario, by_path in self.records.items()
        }

    @property
    def active(self) -> dict[str, dict[str, list[bool]]]:
        """``active[scenario][group_path]``: per call, did the layer act."""
        return self._project("active")

    @property
    def training(self) -> dict[str, dict[str, list[bool | None]]]:
        """``training[scenario][group_path]``: per call, the `training` value received."""
        return self._project("training")

    @property
    def bn_batch_stats(self) -> dict[str, dict[str, list[bool]]]:
        """``bn_batch_stats[scenario][group_path]``: per BN call, were batch statistics used."""
        return self._project("batch_stats", only_bn=True)
