"""Third-party Keras 2 files, run by tf_keras, against graphcheck's static answers.

Only files without Lambda layers are loaded: loading a Lambda would run code from
a file nobody on this project wrote.
"""

from __future__ import annotations

from collections import Counter

import pytest
from builders import KERAS_VERSIONS
from paths import REAL_MODELS

from graphcheck.runtime import observe, strip_call_suffixes, synthesise_inputs

pytestmark = pytest.mark.truth

REAL = REAL_MODELS
FILES = ["k2_dl4j_alphadropout.h5", "k2_dl4j_wgan_discriminator.h5", "k2_dl4j_lstm_input_dropout.h5"]


@pytest.mark.skipif(not REAL.exists(), reason="shared/real-models is not beside this checkout")
@pytest.mark.parametrize("name", FILES)
def test_real_model_matches_tf_keras(name: str) -> None:
    """Per stochastic and BN call, static activity equals what tf_keras does."""
    import tf_keras

    from graphcheck import analyse

    entry = analyse(REAL / name, keras_version=KERAS_VERSIONS["tfkeras"])
    assert entry["code_layers"] == []
    tf_keras.backend.clear_session()
    model = tf_keras.models.load_model(REAL / name, compile=False)
    obs = observe(model, synthesise_inputs(model), scenarios=("fit", "predict", "call"))
    for scenario in ("fit", "predict", "call"):
        predicted: dict[str, Counter[bool]] = {}
        for item in entry["stochastic"]:
            predicted.setdefault(strip_call_suffixes(item["path"]), Counter())[item["active"][scenario]] += 1
        observed = {p: Counter(v) for p, v in obs.active[scenario].items() if obs.class_names.get(p) != "BatchNormalization"}
        assert predicted == observed, scenario
        modes = {m["path"]: m["mode"][scenario] == "batch" for m in entry["mode_dependent"]}
        assert modes == {p: v[0] for p, v in obs.bn_batch_stats[scenario].items()}, scenario
