"""Load a KerasHub preset directory as ``from_preset`` does, for ``graphcheck validate``.

The task class named by ``task.json`` (the backbone's by ``config.json`` when there
is no task) loads the preset with its weights and assets, through KerasHub's own
``from_preset``, as a user loads it (safe mode off only for a trusted model); the
static side has already refused any config that the load-safety rules flag.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from graphcheck.errors import MissingDependencyError, ValidationError

__all__ = ["load_preset"]


def load_preset(path: Path, trust: bool) -> Any:
    """The model ``keras_hub.models.Task.from_preset(path)`` (or ``Backbone``) returns."""
    from graphcheck.preset_layout import TASK_FILE
    from graphcheck.readers.preset import preset_main_config
    from graphcheck.runtime.loading import import_quietly

    try:
        hub = import_quietly("keras_hub")
    except ImportError:
        raise MissingDependencyError(
            str(path), "a KerasHub preset needs keras_hub to run (pip install keras-hub)"
        ) from None
    import keras
    from keras.src.saving.serialization_lib import SafeModeScope

    main = preset_main_config(path)
    config = json.loads((path / main).read_text(encoding="utf-8"))
    # The class the config names, found among registered (KerasHub) classes only:
    # Task.from_preset itself refuses to pick a task for its backbone.
    named = config.get("registered_name") if isinstance(config, dict) else None
    cls: Any = keras.saving.get_registered_object(named) if isinstance(named, str) else None
    base = hub.models.Task if main == TASK_FILE else hub.models.Backbone
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise ValidationError(str(path), f"{main} names no KerasHub {base.__name__} class")
    from_preset: Any = getattr(cls, "from_preset")  # noqa: B009 - a KerasHub classmethod
    if trust:
        with SafeModeScope(False):
            model = from_preset(str(path))
    else:
        # As a user loads it: from_preset deserialises each config in Keras's safe
        # mode, then reads the preset's own assets outside it.
        model = from_preset(str(path))
    if getattr(model, "preprocessor", None) is not None:
        # The validator feeds the model's own input tensors (token ids, masks), which
        # the task would otherwise send through its tokenizer; the preprocessor is not
        # part of the layer graph the static side describes.
        model.preprocessor = None
    return model
