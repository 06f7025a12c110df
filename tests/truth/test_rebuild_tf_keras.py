"""--rebuild of a tf_keras file: a subclassed model saved as .keras by tf_keras.

tf_keras (2.13+) writes ``.keras`` archives too; for a ``tf_keras.Model`` subclass
the config holds its constructor arguments, no layer graph. ``--rebuild`` builds
it with tf_keras (the Keras of its dialect), no weights read, traces its ``call``,
and the answers are compared with the file loaded by ``tf_keras.models.load_model``
and run for real in fit(), predict() and model(x).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from test_live import assert_matches_runtime

from graphcheck import analyse
from graphcheck.errors import RebuildError
from graphcheck.runtime.rebuild import RebuildOptions

pytestmark = pytest.mark.truth

tf_keras = pytest.importorskip("tf_keras")

#: The user's own file, given to --custom-objects (it is run only with --trust-model).
CUSTOM_OBJECTS = '''
import tf_keras


class FrozenBaseNet(tf_keras.Model):
    """A frozen Dense base (frozen in __init__, so a reload keeps it), a Dropout, a head."""

    def __init__(self, units=8, rate=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.rate = units, rate
        self.base = tf_keras.layers.Dense(units, name="base")
        self.base.trainable = False
        self.drop = tf_keras.layers.Dropout(rate, name="drop")
        self.head = tf_keras.layers.Dense(1, name="head")

    def call(self, inputs):
        return self.head(self.drop(self.base(inputs)))

    def get_config(self):
        return {**super().get_config(), "units": self.units, "rate": self.rate}
'''


def saved_subclassed_model(tmp_path: Path) -> tuple[Path, Path, type]:
    """Write the custom-objects file, build the model from it with tf_keras, save it."""
    source = tmp_path / "frozen_base_net.py"
    source.write_text(CUSTOM_OBJECTS)
    spec = importlib.util.spec_from_file_location("frozen_base_net", source)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["frozen_base_net"] = module  # as a user's own module would be
    spec.loader.exec_module(module)
    tf_keras.backend.clear_session()
    model = module.FrozenBaseNet(name="net")
    model(np.ones((2, 8), "float32"))
    path = tmp_path / "net.keras"
    model.save(path)
    return path, source, module.FrozenBaseNet


def test_rebuilt_tf_keras_subclassed_model_matches_runtime(tmp_path: Path) -> None:
    """Refused untrusted; trusted, built with tf_keras, and every answer agrees with the
    loaded file's real fit()/predict()/model(x): the Dropout fires in fit() only, the
    frozen base stays frozen and the head trains."""
    path, source, cls = saved_subclassed_model(tmp_path)
    with pytest.raises(RebuildError, match=r"RebuildOptions\(trust_model=True\)"):
        analyse(str(path), rebuild=True)
    entry = analyse(
        str(path), rebuild=RebuildOptions(trust_model=True, custom_objects=str(source))
    )
    assert entry["source"] == f"rebuilt with tf_keras {tf_keras.__version__}"
    assert entry["dialect"] == "keras2"
    (drop,) = entry["stochastic"]
    assert drop["path"] == "drop" and drop["rate"] == 0.5
    assert [m["producer"] for m in drop["masks"]] == ["base"]
    assert drop["active"] == {"fit": True, "predict": False, "call": False}
    base = next(layer for layer in entry["layers"] if layer["path"] == "base")
    assert base["frozen_by_kind"] == "layer" and base["will_train"] is False
    loaded = tf_keras.models.load_model(path, custom_objects={"FrozenBaseNet": cls}, compile=False)
    assert_matches_runtime(entry, loaded)


def test_check_rebuild_cli_on_a_tf_keras_file(tmp_path: Path) -> None:
    """`graphcheck check --rebuild --trust-model --custom-objects FILE.py`: the same entry
    as the API's; --custom-objects alone is refused (it runs the file)."""
    import json

    from click.testing import CliRunner

    from graphcheck.cli import main

    path, source, _ = saved_subclassed_model(tmp_path)
    refused = CliRunner().invoke(main, ["check", "--rebuild", "--custom-objects", str(source),
                                        str(path)])
    assert refused.exit_code == 2 and "--trust-model" in refused.output
    result = CliRunner().invoke(main, ["check", "--rebuild", "--trust-model", "--custom-objects",
                                       str(source), "--format", "json", str(path)])
    assert result.exit_code == 0, result.output
    (entry,) = json.loads(result.stdout)["models"]
    assert entry["source"] == f"rebuilt with tf_keras {tf_keras.__version__}"
    assert [(s["path"], s["active"]["fit"]) for s in entry["stochastic"]] == [("drop", True)]


def test_live_tf_keras_subclassed_model_is_traced(tmp_path: Path) -> None:
    """The same class in memory (graphcheck.analyse(model)): traced, and agreeing with its
    own real runs; before a call builds it, a clear error says to build it."""
    from graphcheck.errors import UnsupportedModelError

    _, _, cls = saved_subclassed_model(tmp_path)
    unbuilt = cls(name="unbuilt")
    with pytest.raises(UnsupportedModelError, match="has not been built"):
        analyse(unbuilt)
    model = cls(units=4, rate=0.25, name="live_net")
    model(np.ones((2, 8), "float32"))
    entry = analyse(model)
    assert entry["source"] == f"live object (tf_keras {tf_keras.__version__})"
    assert [s["path"] for s in entry["stochastic"]] == ["drop"]
    assert entry["model"]["name"] == "live_net"
    assert_matches_runtime(entry, model)


ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "path", ["samples/merged_frozen_tfkeras.h5", "samples/inverted_dropout_tfkeras.h5",
             "tests/fixtures/tf_frozen_transfer.h5", "tests/fixtures/tf_nested_sequential.h5"],
)
def test_rebuilt_keras2_h5_equals_the_stored_graph(path: str) -> None:
    """A Keras 2 .h5 stores its graph; rebuilt with tf_keras it gives the static reader's
    answers (activity per scenario, will train, frozen) call for call. Where the file
    leaves a frozen state open (a nested Keras 2 Sequential omits its own flag), the
    built object knows it, so only the known ones are compared."""
    static = analyse(str(ROOT / path))
    rebuilt = analyse(str(ROOT / path), rebuild=True)

    def answers(entry: dict[str, Any], known: set[str]) -> tuple[dict[str, Any], ...]:
        layers = entry["layers"]
        return (
            {s["path"]: s["active"] for s in entry["stochastic"]},
            {layer["path"]: layer["will_train"] for layer in layers},
            {layer["path"]: layer["frozen"] for layer in layers if layer["path"] in known},
        )

    known = {layer["path"] for layer in static["layers"] if layer["frozen"] is not None}
    assert answers(rebuilt, known) == answers(static, known)
    assert all(layer["frozen"] is not None for layer in rebuilt["layers"])
    assert rebuilt["source"] == f"rebuilt with tf_keras {tf_keras.__version__}"
