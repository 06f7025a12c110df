"""HDF5 files written by Keras 1, 2 and 3: the ``model_config`` root attribute.

Only root attributes and object metadata (links, dataset layouts) are read; no
weight array is read, so memory does not grow with the size of the weights.

libhdf5 is native code, and fuzzing found damaged files on which it never returns
from reading an attribute. Where the platform can fork, every read runs in a reader
child process with a deadline, so a hang or a crash in the library becomes one
ModelReadError instead of a stuck pipeline. The child serves one read after another
(a fork per file cost more than the read itself over a folder of models); after a
hang or a crash it is gone, and the next read starts a new one.
"""

from __future__ import annotations

import atexit
import contextlib
import faulthandler
import functools
import json
import os
import signal
import threading
import time
import warnings
from collections.abc import Callable, Hashable, Iterable
from typing import Any, NoReturn

from graphcheck.errors import MissingDependencyError, ModelReadError
from graphcheck.model import ContainerNote
from graphcheck.readers.containers import hdf5_notes
from graphcheck.readers.source import (
    MAX_CONFIG_BYTES,
    ConfigSource,
    decode_json,
    first_line,
    version_string,
)

__all__ = [
    "encode_notes", "read_h5_config", "read_h5_config_ahead", "read_h5_notes",
    "read_h5_notes_ahead", "read_notes", "read_notes_ahead", "stop_reader",
]


# Reading a real model's attributes takes milliseconds (a 64 MiB config well under a second).
READ_DEADLINE_S = 10.0
#: Requests sent ahead and not yet answered, at most. Unbounded, a child whose answers
#: fill the pipe stops reading requests, and a parent sending more waits for it for ever
#: (a preset of 256 weights files, two presets named, hung `check`).
MAX_UNANSWERED = 32

Fields = list[str | bytes | None]


def read_h5_config(subject: str) -> ConfigSource:
    """Read the model config and version attributes of a Keras HDF5 file, and the
    notes its object headers give (links, external storage; see readers/containers.py)."""
    _import_h5py(subject)
    raw, keras_version, backend, training, notes = _run(
        subject, functools.partial(_config_fields, subject)
    )
    config = decode_json(raw or b"", subject, "model_config")
    if not isinstance(config, dict):
        raise ModelReadError(subject, "model_config is not a JSON object")
    documents = {}
    if training:
        # Keras skips a training_config it cannot read; so does the report.
        with contextlib.suppress(ModelReadError):
            documents["training_config"] = decode_json(training, subject, "training_config")
    return ConfigSource(subject, "h5", config, version_string(keras_version),
                        version_string(backend), documents, _decode_notes(notes))


def read_h5_config_ahead(subject: str) -> None:
    """Start :func:`read_h5_config`'s work in the reader child now; the read takes its
    answer later (a folder's next file is read while this one is analysed)."""
    _import_h5py(subject)
    _ahead(functools.partial(_config_fields, subject))


def read_notes(subject: str, work: Callable[[], Fields]) -> tuple[ContainerNote, ...]:
    """The notes ``work()`` gives as ``[encode_notes(notes)]``, read in the reader child.

    ``work`` is a ``functools.partial`` of a module-level function (it must pickle);
    one started by :func:`read_notes_ahead` with the same function and arguments is
    not run again.
    """
    _import_h5py(subject)
    (notes,) = _run(subject, work)
    return _decode_notes(notes)


def read_notes_ahead(subject: str, work: Callable[[], Fields]) -> None:
    """Start :func:`read_notes`'s ``work`` in the reader child now."""
    _import_h5py(subject)
    _ahead(work)


def read_h5_notes(
    subject: str, source: str | Callable[[], Any], prefix: str
) -> tuple[ContainerNote, ...]:
    """The container notes of an HDF5 file: a path, or what ``source()`` opens (a zip member).

    Like every HDF5 read here, it runs in the reader child with a deadline, so a
    ``source`` callable must pickle: a module-level function, or a ``functools.partial``
    of one.
    """
    return read_notes(subject, functools.partial(_notes_fields, source, prefix))


def read_h5_notes_ahead(subject: str, path: str, prefix: str) -> None:
    """Start :func:`read_h5_notes` of the HDF5 file at ``path`` in the reader child now."""
    read_notes_ahead(subject, functools.partial(_notes_fields, path, prefix))


def _config_fields(subject: str) -> Fields:
    import h5py

    return _read_attributes(h5py, subject)


def _notes_fields(source: str | Callable[[], Any], prefix: str) -> Fields:
    import h5py

    if isinstance(source, str):
        with h5py.File(source, "r") as handle:
            return [encode_notes(hdf5_notes(h5py, handle, prefix))]
    return [encode_notes(member_notes(source, prefix))]


def member_notes(source: Callable[[], Any], prefix: str) -> tuple[ContainerNote, ...]:
    """The HDF5 notes of the file object ``source()`` opens; in the reader child."""
    import h5py

    member = source()
    try:
        with h5py.File(member, "r") as handle:
            return hdf5_notes(h5py, handle, prefix)
    finally:
        member.close()


def _import_h5py(subject: str) -> Any:
    try:
        import h5py  # imported here, before any fork, so a child does not import it again
    except ImportError:  # pragma: no cover - h5py is a declared dependency
        raise MissingDependencyError(subject, "reading .h5 needs h5py (pip install h5py)") from None
    return h5py


def _run(subject: str, work: Callable[[], Fields]) -> list[bytes | None]:
    """``work()`` in the reader child where the platform can fork, else in process."""
    if hasattr(os, "fork"):
        return _READER.run(subject, work)
    return _as_bytes(work())  # pragma: no cover - no fork on this platform


def _ahead(work: Callable[[], Fields]) -> None:
    if hasattr(os, "fork"):
        _READER.ahead(work)


def stop_reader() -> None:
    """End the reader child, if any; the next read starts a new one."""
    _READER.stop()


def _as_bytes(fields: Fields) -> list[bytes | None]:
    # The config stays bytes: decode_json says so in one line if it is not UTF-8.
    return [f.encode("utf-8", "surrogatepass") if isinstance(f, str) else f for f in fields]


def encode_notes(notes: Iterable[ContainerNote]) -> str:
    """Notes as the reader child sends them back (text, which pickles cheaply)."""
    return json.dumps([[n.kind, n.where, n.detail] for n in notes])


def _decode_notes(data: bytes | None) -> tuple[ContainerNote, ...]:
    if not data:
        return ()
    return tuple(ContainerNote(*(str(v) for v in item)) for item in json.loads(data))


def _read_attributes(h5py: Any, subject: str) -> Fields:
    try:
        with h5py.File(subject, "r") as handle:
            attrs = handle.attrs
            if "model_config" not in attrs:
                if "layer_names" in attrs or "layers" in handle or "model_weights" in handle:
                    problem = 'no "model_config" attribute (weights-only file?)'
                else:
                    problem = 'no "model_config" attribute (not a Keras model file?)'
                raise ModelReadError(subject, problem)
            raw = _read_text_attribute(attrs, "model_config", subject)
            keras_version = version_string(_safe_attr(attrs, "keras_version"))
            backend = version_string(_safe_attr(attrs, "backend"))
            training = None
            if "training_config" in attrs:
                try:
                    training = _read_text_attribute(attrs, "training_config", subject)
                except ModelReadError:
                    training = None
            notes = encode_notes(hdf5_notes(h5py, handle))
    except ModelReadError:
        raise
    except (OSError, ValueError, KeyError, RuntimeError, TypeError) as exc:
        raise ModelReadError(subject, f"damaged HDF5 file ({first_line(exc)})") from None
    return [raw, keras_version, backend, training, notes]


class _Reader:
    """The reader child of this process: forked at the first read, fed over a pipe.

    Each request is a pickled callable; the answer is ``(True, fields)`` or
    ``(False, problem)``. The child is forked by hand, not started as a
    multiprocessing.Process, which cannot be started from a daemonic process (a
    ``multiprocessing.Pool`` worker calling ``graphcheck.load``). A process forked
    from this one (a pool worker) starts its own child.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = 0
        self._pid = 0
        self._conn: Any = None
        self._asked = 0
        self._received = 0  # the number of the last answer read
        # Requests sent before they were needed, by what they ask: their numbers.
        self._ahead: dict[Hashable, int] = {}

    def ahead(self, work: Callable[[], Fields]) -> None:
        """Send ``work`` now; :meth:`run` of the same work takes its answer later.

        The child answers in the order it was asked, so a read asked ahead overlaps
        the parent's work on the file before it. A request nobody runs is dropped
        with the answers before the next one waited for. At most :data:`MAX_UNANSWERED`
        requests wait for their answer; past that, ``work`` is not sent now, and its
        read asks it then.
        """
        key = _request_key(work)
        if key is None:
            return
        with self._lock:
            if key in self._ahead or self._asked - self._received >= MAX_UNANSWERED:
                return
            number = self._send(work)
            if number:
                self._ahead[key] = number

    def run(self, subject: str, work: Callable[[], Fields]) -> list[bytes | None]:
        with self._lock:
            answer = self._ask(work)
            if answer is None:
                self._end(kill=True)
                raise ModelReadError(
                    subject,
                    f"the HDF5 library did not finish reading the file in {READ_DEADLINE_S:g} s "
                    "(damaged file?)",
                )
            if not answer:
                self._end(kill=True)
                raise ModelReadError(
                    subject, "the HDF5 library crashed reading the file (damaged file?)"
                )
        ok, value = answer
        if not ok:
            # As before the pipe carried objects: a lone surrogate prints as U+FFFD.
            problem = value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
            raise ModelReadError(subject, problem or "damaged HDF5 file")
        return _as_bytes(value)

    def _ask(self, work: Callable[[], Fields]) -> Any:
        """The child's answer to ``work``: None at the deadline, () when it died reading.

        Each request carries a number the answer repeats, so an answer left in the pipe
        by an earlier, interrupted request (or one asked ahead and never run) is never
        taken for this one. If the child hangs or dies while such an earlier request is
        still unanswered, that request may be the cause: ``work`` is asked once more of
        a new child, so the file is not blamed for another file's hang or crash.
        """
        for attempt in range(2):
            number = self._ahead.pop(_request_key(work), 0)
            if not number or self._owner != os.getpid():
                number = self._send(work)
            if not number:
                return ()
            answer = self._wait(number)
            if answer or attempt or self._received >= number - 1:
                return answer
            self._end(kill=True)
        return ()

    def _wait(self, number: int) -> Any:
        try:
            deadline = time.monotonic() + READ_DEADLINE_S
            while self._conn.poll(max(0.0, deadline - time.monotonic())):
                answered, answer = self._conn.recv()
                self._received = answered
                if answered == number:
                    # Answers come in order: one asked ahead of this one is gone.
                    self._ahead = {k: n for k, n in self._ahead.items() if n > number}
                    return answer
            return None
        except (EOFError, OSError):  # the child died reading
            return ()
        except BaseException:
            # Ctrl-C or a watchdog while waiting: end the child, whose answer is late.
            self._end(kill=True)
            raise

    def _send(self, work: Callable[[], Fields]) -> int:
        """Send one request (starting a child if this process has none): its number,
        0 when the child could not take it."""
        for attempt in range(2):
            if self._owner != os.getpid():
                self._start()
            self._asked += 1
            try:
                self._conn.send((self._asked, _working_directory(), work))
            except OSError:  # the child died while idle (killed): not this file's fault
                self._end(kill=True)
                if attempt:
                    return 0
                continue
            except BaseException:
                self._end(kill=True)
                raise
            return self._asked
        return 0

    def after_fork(self) -> None:
        """In a forked process: forget the parent's child and lock (held or not); the
        parent's pipe is closed here so that its child still sees EOF when it stops."""
        self._lock = threading.Lock()
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.close()
        self._owner = self._pid = 0
        self._conn = None
        self._ahead = {}

    def stop(self) -> None:
        with self._lock:
            if self._owner == os.getpid():
                self._end(kill=False)

    def _start(self) -> None:
        # Imported here: multiprocessing pulls in socket and friends, which a run that
        # reads no HDF5 file never needs.
        from multiprocessing import Pipe

        ours, theirs = Pipe(duplex=True)
        with warnings.catch_warnings():
            # JAX (imported by `validate --backend jax`) warns at every fork that its
            # threads could deadlock the child. This child runs only h5py on files and
            # leaves through os._exit, never touching JAX; the warning would be a second
            # stderr line for a one-line error.
            warnings.filterwarnings("ignore", r"os\.fork\(\) was called", RuntimeWarning)
            pid = os.fork()
        if pid == 0:
            ours.close()
            _serve(theirs)
        theirs.close()
        self._owner, self._pid, self._conn = os.getpid(), pid, ours
        self._received = self._asked  # nothing asked of this child yet

    def _end(self, kill: bool) -> None:
        if not self._pid:
            return
        if kill:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._pid, signal.SIGKILL)
        self._conn.close()  # a waiting child reads EOF and leaves
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self._pid, 0)
        self._owner = self._pid = 0
        self._conn = None
        self._ahead = {}


def _request_key(work: Callable[[], Fields]) -> Hashable | None:
    """What a request asks, comparable between two ``functools.partial`` objects (a
    relative path means another file in another directory); None for one whose
    arguments are not plain values (never asked ahead)."""
    if not isinstance(work, functools.partial) or work.keywords:
        return None
    if not all(isinstance(arg, (str, int, bytes)) for arg in work.args):
        return None
    return (_working_directory(), work.func, work.args)


def _working_directory() -> str | None:
    """This process's directory, which each request carries: the child, forked once,
    must resolve a relative path where its parent is now, not where it was at the fork."""
    try:
        return os.getcwd()
    except OSError:  # removed since: relative paths resolve nowhere, as in the parent
        return None


def _serve(conn: Any) -> NoReturn:
    """The child: answer requests until the parent closes the pipe, then leave through
    os._exit, so no atexit handler runs and nothing the parent had buffered is flushed
    twice."""
    try:
        # A crash in the library is the parent's one-line error; with Python's fault
        # handler on (-X faulthandler, PYTHONFAULTHANDLER, pytest) the child would
        # also dump its stack onto the stderr it shares with the parent.
        faulthandler.disable()
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
        # If the parent dies during a read, nobody stops a hung one: the kernel's
        # default SIGALRM action ends the child even inside libhdf5.
        signal.signal(signal.SIGALRM, signal.SIG_DFL)
        while True:
            try:
                number, directory, work = conn.recv()
            except (EOFError, OSError):
                break
            signal.alarm(int(READ_DEADLINE_S) + 5)
            try:
                if directory is not None and directory != _working_directory():
                    os.chdir(directory)
                answer: tuple[bool, Any] = (True, work())
            except ModelReadError as exc:
                answer = (False, exc.problem)
            except BaseException as exc:
                answer = (False, f"damaged HDF5 file ({first_line(exc)})")
            signal.alarm(0)
            conn.send((number, answer))
    finally:
        os._exit(0)


_READER = _Reader()
atexit.register(stop_reader)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_READER.after_fork)


def _read_text_attribute(attrs: Any, name: str, subject: str) -> str | bytes:
    attr_id = attrs.get_id(name)
    if attr_id.get_storage_size() > MAX_CONFIG_BYTES:
        raise ModelReadError(subject, f"{name} attribute is larger than {MAX_CONFIG_BYTES} bytes")
    value = attrs[name]
    if hasattr(value, "tobytes") and not isinstance(value, (bytes, str)):
        value = value.tobytes() if value.dtype.kind == "S" else str(value)
    if not isinstance(value, (str, bytes)):
        raise ModelReadError(subject, f"{name} attribute is not text")
    if len(value) > MAX_CONFIG_BYTES:
        raise ModelReadError(subject, f"{name} attribute is larger than {MAX_CONFIG_BYTES} bytes")
    return value


def _safe_attr(attrs: Any, name: str) -> Any:
    try:
        return attrs.get(name)
    except (OSError, UnicodeDecodeError, ValueError):
        return None
