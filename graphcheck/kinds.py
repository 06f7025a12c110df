"""What each kind of stochastic layer is and does: one record per kind.

A *kind* is how a layer injects randomness when it is active (:class:`Stochastic`).
Everything graphcheck says about a kind comes from its :class:`KindFacts` record in
:data:`KINDS`, so that the rules, the text and JSON reports, the drawing, the HTML page
(which receives the records as data), the training transform and the runtime observer
cannot tell a kind two ways:

- ``classes``: the Keras layer classes of this kind, by the name Keras (1-3 and
  tf_keras) gives them; empty for kinds known otherwise (a module, a config, a draw);
- ``parameter``: the config key that names its strength (``rate``, ``stddev``,
  ``drop_path_rate``, RNN and attention ``dropout``, augmentation's ``factor``), ""
  when none does; ``has_rate``: the layer config holds that strength as a number
  (tf.nn.dropout keeps its rate on the call; an augmentation's factor is no rate);
- ``rate_is_probability``: that strength is a drop probability (GaussianNoise's is a
  standard deviation; augmentation and random ops have none);
- ``acts_on_input``: it changes the tensor it receives (not values inside a layer);
- ``ignores_training``: a TensorFlow op, active in every mode whatever ``training`` is;
- ``what_it_does`` (a sentence's verb phrase: "drops units"), ``verb`` (what it does
  *to* a tensor: "masks", "adds noise to") and ``target`` (the words before the
  tensor it acts through: attention dropout masks "the attention weights computed
  from" its query and key);
- ``granularity``: what one random draw covers, before a config refines it
  (``noise_shape``);
- ``unit`` and ``transform``: what it drops or scales and its training transform's
  family, the JSON enum (:mod:`graphcheck.analyses.training_transform` works out the
  numbers); None where no formula is known;
- ``edge_label``: the drawing's words for the tensor it acts on, with ``{percent}``
  (the rate as a percentage) and ``{number}`` (the rate as a number) filled in.

A new kind is one :class:`Stochastic` member, one record here and its truth test. This
module imports nothing from graphcheck: every reader sits above it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

__all__ = [
    "INVERTED_CLASSES",
    "INVERTED_KINDS",
    "KINDS",
    "NOISE_CLASSES",
    "KindFacts",
    "Stochastic",
    "facts_of",
    "kinds_as_data",
]


class Stochastic(Enum):
    """How a layer injects randomness when it is active."""

    DROPOUT = "dropout"
    SPATIAL_DROPOUT = "spatial_dropout"
    ALPHA_DROPOUT = "alpha_dropout"
    GAUSSIAN_DROPOUT = "gaussian_dropout"
    GAUSSIAN_NOISE = "gaussian_noise"
    RNN_DROPOUT = "rnn_dropout"
    ATTENTION_DROPOUT = "attention_dropout"
    AUGMENTATION = "augmentation"
    DROP_PATH = "drop_path"
    OP_DROPOUT = "op_dropout"
    OP_RANDOM = "op_random"
    OWN_RANDOM = "own_random"


@dataclass(frozen=True, slots=True)
class KindFacts:
    """The facts of one stochastic kind (see the module docstring for each field)."""

    kind: Stochastic
    description: str
    classes: tuple[str, ...]
    parameter: str
    has_rate: bool
    rate_is_probability: bool
    acts_on_input: bool
    what_it_does: str
    verb: str
    granularity: str
    edge_label: str
    unit: str | None = None
    transform: str | None = None
    target: str = ""
    ignores_training: bool = False


_S = Stochastic
_FACTS = (
    KindFacts(
        _S.DROPOUT, "zeroes elements, scales the kept ones by 1/(1-rate)",
        classes=("Dropout",), parameter="rate", has_rate=True, rate_is_probability=True,
        acts_on_input=True, what_it_does="drops units", verb="masks", granularity="element",
        edge_label="masked {percent}", unit="units", transform="inverted_dropout",
    ),
    KindFacts(
        _S.SPATIAL_DROPOUT, "zeroes whole channels, scales the kept ones by 1/(1-rate)",
        classes=("SpatialDropout1D", "SpatialDropout2D", "SpatialDropout3D"), parameter="rate",
        has_rate=True, rate_is_probability=True, acts_on_input=True,
        what_it_does="drops units", verb="masks", granularity="channel",
        edge_label="channels masked {percent}", unit="channels", transform="inverted_dropout",
    ),
    KindFacts(
        _S.ALPHA_DROPOUT, "SELU-preserving dropout: dropped units set to SELU's saturation "
        "value, then every unit scaled and shifted",
        classes=("AlphaDropout",), parameter="rate", has_rate=True, rate_is_probability=True,
        acts_on_input=True, what_it_does="drops units", verb="masks", granularity="element",
        edge_label="alpha-dropout {percent}", transform="alpha_dropout",
    ),
    KindFacts(
        _S.GAUSSIAN_DROPOUT, "multiplies every element by N(1, rate/(1-rate)) noise",
        classes=("GaussianDropout",), parameter="rate", has_rate=True,
        rate_is_probability=True, acts_on_input=True,
        what_it_does="multiplies by Gaussian noise", verb="multiplies noise into",
        granularity="element", edge_label="x Gaussian noise (rate {number})",
        transform="gaussian_multiplicative",
    ),
    KindFacts(
        _S.GAUSSIAN_NOISE, "adds N(0, stddev^2) noise to every element",
        classes=("GaussianNoise",), parameter="stddev", has_rate=True,
        rate_is_probability=False, acts_on_input=True, what_it_does="adds Gaussian noise",
        verb="adds noise to", granularity="element",
        edge_label="+ Gaussian noise (stddev {number})", transform="gaussian_additive",
    ),
    KindFacts(
        _S.RNN_DROPOUT, "input and recurrent dropout inside a recurrent layer",
        classes=(), parameter="dropout", has_rate=True, rate_is_probability=True,
        acts_on_input=False, what_it_does="drops units", verb="masks",
        granularity="element, fixed over time", edge_label="input dropout {percent}",
        unit="input units", transform="inverted_dropout",
    ),
    KindFacts(
        _S.ATTENTION_DROPOUT, "dropout on the attention weights (softmaxed scores)",
        classes=(), parameter="dropout", has_rate=True, rate_is_probability=True,
        acts_on_input=False, what_it_does="drops units", verb="masks",
        granularity="attention weight", edge_label="attention weights masked {percent}",
        unit="attention weights", transform="inverted_dropout",
        target="the attention weights computed from ",
    ),
    KindFacts(
        _S.AUGMENTATION, "a random image or data transformation",
        classes=(), parameter="factor", has_rate=False, rate_is_probability=False,
        acts_on_input=False, what_it_does="randomly transforms its input",
        verb="randomly transforms", granularity="sample", edge_label="randomly augmented",
    ),
    KindFacts(
        _S.DROP_PATH, "drops whole samples (stochastic depth): each kept with probability "
        "1-rate and scaled by 1/(1-rate), else zeroed",
        classes=(), parameter="drop_path_rate", has_rate=True, rate_is_probability=True,
        acts_on_input=True, what_it_does="drops whole samples", verb="drops whole samples of",
        granularity="sample", edge_label="samples dropped {percent}", unit="samples",
        transform="inverted_dropout",
    ),
    KindFacts(
        _S.OP_DROPOUT, "tf.nn.dropout recorded as an op: ignores training",
        classes=(), parameter="rate", has_rate=False, rate_is_probability=False,
        acts_on_input=True, what_it_does="drops units", verb="masks", granularity="element",
        edge_label="masked by tf.nn.dropout", unit="units", transform="inverted_dropout",
        ignores_training=True,
    ),
    KindFacts(
        _S.OP_RANDOM, "another TensorFlow random op recorded in the graph (tf.random.normal, "
        "tf.image.random_flip_left_right): draws in every mode",
        classes=(), parameter="", has_rate=False, rate_is_probability=False,
        acts_on_input=False, what_it_does="draws random numbers", verb="randomly transforms",
        granularity="as the op draws", edge_label="randomly transformed",
        ignores_training=True,
    ),
    KindFacts(
        _S.OWN_RANDOM, "draws random numbers in its own code (keras.random: a DropPath, a "
        "user's noise); what it does with them is not known",
        classes=(), parameter="", has_rate=False, rate_is_probability=False,
        acts_on_input=False, what_it_does="draws random numbers",
        verb="draws random numbers from", granularity="not known", edge_label="",
    ),
)

#: Every kind's record.
KINDS: Mapping[Stochastic, KindFacts] = {facts.kind: facts for facts in _FACTS}

#: The Keras layer classes whose only job is to drop or perturb units.
NOISE_CLASSES = frozenset(c for facts in _FACTS for c in facts.classes)
#: The kinds of those classes whose kept units are exactly input / (1 - rate).
INVERTED_KINDS = frozenset(
    facts.kind for facts in _FACTS if facts.classes and facts.transform == "inverted_dropout"
)
#: Their classes.
INVERTED_CLASSES = frozenset(c for kind in INVERTED_KINDS for c in KINDS[kind].classes)


def facts_of(kind: Stochastic) -> KindFacts:
    """The record of ``kind``."""
    return KINDS[kind]


def kinds_as_data() -> dict[str, dict[str, Any]]:
    """Every record as JSON-ready data, by the kind's value (what the HTML page embeds)."""
    return {
        facts.kind.value: {k: v for k, v in asdict(facts).items() if k != "kind"}
        | {"classes": list(facts.classes)}
        for facts in _FACTS
    }
