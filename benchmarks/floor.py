"""The floor: the least any static reader that checks a saved Keras model must do.

Open the file (h5py for .h5, zipfile for .keras, plain read for JSON), ``json.loads``
the model config, build a networkx DiGraph with one node per layer (nested models
included, named by path) and one edge per tensor a layer call reads, and visit every
HDF5 object of the weights (the link, the object, a dataset's creation properties and
stored size), as a load-safety check must to find external links and storage. No
analysis, no rules, no report. graphcheck does all of this and more, so its time over
this one is the price of its analysis, rules and report.

Usage::

    .venv/bin/python benchmarks/floor.py MODEL [MODEL...]   # all in one process
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from typing import Any

import networkx as nx


def read_config(path: str) -> dict[str, Any]:
    """The model config of a .h5, .keras or architecture .json file; the HDF5 weights'
    objects visited on the way."""
    if path.endswith(".h5"):
        import h5py  # imports numpy, as any .h5 reader must

        with h5py.File(path, "r") as handle:
            raw = handle.attrs["model_config"]
            visit_hdf5(handle)
        return json.loads(raw if isinstance(raw, str) else raw.decode("utf-8"))
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            for info in archive.infolist():
                if info.filename.endswith(".h5"):
                    import h5py

                    stored = info.compress_type == zipfile.ZIP_STORED
                    member = StoredMember(path, info) if stored else archive.open(info)
                    with member, h5py.File(member, "r") as handle:
                        visit_hdf5(handle)
        return config
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


class StoredMember(io.RawIOBase):
    """An uncompressed zip member as a seekable byte range of the archive: libhdf5
    seeks back and forth, which a zip member object emulates by reading again."""

    def __init__(self, path: str, info: Any) -> None:
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._file.seek(info.header_offset + 26)
        lengths = self._file.read(4)
        skip = int.from_bytes(lengths[:2], "little") + int.from_bytes(lengths[2:], "little")
        self._start, self._size, self._pos = info.header_offset + 30 + skip, info.file_size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self._pos = max(0, (0, self._pos, self._size)[whence] + offset)
        return self._pos

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        count = max(0, min(len(view), self._size - self._pos))
        self._file.seek(self._start + self._pos)
        done = self._file.readinto(view[:count]) if count else 0
        self._pos += done
        return done

    def close(self) -> None:
        self._file.close()
        super().close()


def visit_hdf5(handle: Any) -> None:
    """Visit every object: its link, the object, a dataset's layout and stored size.

    libhdf5's own walk (H5Lvisit) through h5py's low-level API, the cheapest way found:
    h5py's high-level Group and Dataset objects cost more than these reads.
    """
    from h5py import h5i, h5l, h5o

    file_id = handle.id
    seen: set[int] = set()

    def visit(name: bytes, info: Any) -> None:
        if info.type == h5l.TYPE_HARD and info.u not in seen:
            seen.add(info.u)
            item = h5o.open(file_id, name)
            if h5i.get_type(item) == h5i.DATASET:
                item.get_create_plist().get_layout()
                item.get_storage_size()

    file_id.links.visit(visit, info=True)


def _history(item: Any) -> list[Any]:
    """keras_history entries inside one Keras 3 call's args (any nesting)."""
    found = []
    stack = [item]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            if value.get("class_name") == "__keras_tensor__":
                found.append(value["config"]["keras_history"])
            else:
                stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return found


def add_layers(graph: nx.DiGraph, config: dict[str, Any], prefix: str = "") -> None:
    """Add every layer of one (possibly nested) model config, and its input edges."""
    for layer in config["config"].get("layers", ()):
        name = prefix + (layer.get("name") or layer["config"]["name"])
        graph.add_node(name, class_name=layer["class_name"])
        for call in layer.get("inbound_nodes", ()):
            # Keras 3: {"args": [...], "kwargs": {...}}; Keras 2: [[layer, node, tensor, kwargs]]
            refs = _history(call["args"]) if isinstance(call, dict) else call
            for ref in refs:
                graph.add_edge(prefix + ref[0], name)
        if "layers" in layer.get("config", {}):
            add_layers(graph, layer, name + "/")


def main(paths: list[str]) -> int:
    for path in paths:
        config = read_config(path)
        graph = nx.DiGraph()
        add_layers(graph, config)
        print(path, graph.number_of_nodes(), graph.number_of_edges())
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
