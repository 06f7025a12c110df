"""The HDF5 reader's child process: a hang or a crash in libhdf5 becomes one ModelReadError."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from graphcheck.errors import ModelReadError
from graphcheck.readers import h5
from helpers import SAMPLES

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the child is forked")


@pytest.fixture(autouse=True)
def fresh_reader() -> Iterator[None]:
    """A reader child forked after the test's patches, and none left behind."""
    h5.stop_reader()
    yield
    h5.stop_reader()


class TestChildRead:
    def test_reads_a_sample(self) -> None:
        """A real file is read in the child and its config and version come back."""
        source = h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5"))
        assert source.config["class_name"] and source.keras_version

    def test_hang_becomes_deadline_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A read that never returns is stopped at the deadline, and the child is gone."""
        monkeypatch.setattr(h5, "READ_DEADLINE_S", 0.5)
        monkeypatch.setattr(h5, "_read_attributes", lambda *_: time.sleep(60))
        started = time.monotonic()
        with pytest.raises(ModelReadError, match="did not finish reading the file in 0.5 s"):
            h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5"))
        assert time.monotonic() - started < 10
        monkeypatch.undo()
        assert h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5")).config, (
            "the read after a hang starts a new child"
        )

    def test_crash_becomes_crash_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """A child killed by a signal inside the library is reported as a crash."""
        monkeypatch.setattr(h5, "_read_attributes", lambda *_: os.abort())
        with pytest.raises(ModelReadError, match="crashed reading the file"):
            h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5"))
        monkeypatch.undo()
        assert h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5")).config, (
            "the read after a crash starts a new child"
        )

    def test_one_child_serves_many_reads(self) -> None:
        """Reads one after another go to one child, not a fork each."""
        for _ in range(3):
            h5.read_h5_config(str(SAMPLES / "inverted_dropout_tfkeras.h5"))
            h5.read_h5_config(str(SAMPLES / "inverted_dropout.h5"))
        first = h5._READER._pid
        h5.read_h5_config(str(SAMPLES / "inverted_dropout.h5"))
        assert first and h5._READER._pid == first

    def test_a_forked_process_gets_its_own_child(self) -> None:
        """A pool worker forked after the parent's first read does not share its pipe."""
        h5.read_h5_config(str(SAMPLES / "inverted_dropout.h5"))
        parent_child = h5._READER._pid
        read, write = os.pipe()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forked process
            os.close(read)
            try:
                h5.read_h5_config(str(SAMPLES / "inverted_dropout.h5"))
                ok = h5._READER._pid not in (0, parent_child)
            except BaseException:
                ok = False
            os.write(write, b"1" if ok else b"0")
            os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.close(read)
        os.waitpid(pid, 0)
        assert answer == b"1"
        assert h5.read_h5_config(str(SAMPLES / "inverted_dropout.h5")).config

    def test_crash_prints_nothing_with_the_fault_handler_on(self) -> None:
        """With Python's fault handler on, the crashing child dumps no stack onto the
        stderr it shares with the parent: the error stays one line."""
        script = (
            "import os, sys\n"
            "from graphcheck.readers import h5\n"
            "from graphcheck.errors import ModelReadError\n"
            "h5._read_attributes = lambda *_: os.abort()\n"
            "try:\n"
            f"    h5.read_h5_config({str(SAMPLES / 'inverted_dropout_tfkeras.h5')!r})\n"
            "except ModelReadError as exc:\n"
            "    print(exc)\n"
        )
        done = subprocess.run(
            [sys.executable, "-X", "faulthandler", "-c", script],
            capture_output=True, text=True, timeout=60, check=True,
        )
        assert "crashed reading the file" in done.stdout
        assert done.stderr == ""

    def test_problem_comes_back_as_one_line(self, tmp_path: Path) -> None:
        """A file that is not HDF5 gives the child's one-line problem, naming the file."""
        bad = tmp_path / "bad.h5"
        bad.write_bytes(b"not an hdf5 file")
        with pytest.raises(ModelReadError, match=r"bad\.h5: damaged HDF5 file") as info:
            h5.read_h5_config(str(bad))
        assert "\n" not in str(info.value)


def _slow_config(path: str, seconds: float) -> list[str | bytes | None]:
    """The real read, after a pause that stands in for a big file (module level: it pickles)."""
    time.sleep(seconds)
    return h5._config_fields(path)


class TestReaderLifecycle:
    """The one reader child per process: interrupted, killed, and forked around."""

    A = str(SAMPLES / "transfer_inception.h5")
    B = str(SAMPLES / "inverted_dropout.h5")

    def test_interrupted_read_leaves_no_answer_for_the_next(self) -> None:
        """Ctrl-C while the child reads A: the next read of B gets B, not A's late answer."""
        import functools
        import signal

        def interrupt(*_: object) -> None:
            raise KeyboardInterrupt

        previous = signal.signal(signal.SIGALRM, interrupt)
        try:
            signal.setitimer(signal.ITIMER_REAL, 0.3)
            with pytest.raises(KeyboardInterrupt):
                h5._READER.run(self.A, functools.partial(_slow_config, self.A, 1.0))
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        time.sleep(1.2)  # long enough for a surviving child to have answered A
        assert h5.read_h5_config(self.B).config["config"]["name"] == "inverted_dropout"

    def test_child_killed_while_idle_is_replaced(self) -> None:
        """A reader child that died between reads (a stray kill, the OOM killer) is no
        crash of the next file: that file is read by a new child."""
        import signal

        h5.read_h5_config(self.A)
        os.kill(h5._READER._pid, signal.SIGKILL)
        time.sleep(0.3)
        assert h5.read_h5_config(self.B).config["config"]["name"] == "inverted_dropout"

    def test_fork_during_a_read_in_another_thread(self) -> None:
        """A process forked while a thread of the parent is mid-read (its lock held)
        reads with a child of its own instead of waiting forever on the inherited lock."""
        import functools
        import multiprocessing
        import threading

        reader = threading.Thread(
            target=h5._READER.run, args=(self.A, functools.partial(_slow_config, self.A, 2.0))
        )
        reader.start()
        time.sleep(0.3)
        try:
            with multiprocessing.get_context("fork").Pool(1) as pool:
                config = pool.apply_async(h5.read_h5_config, (self.B,)).get(timeout=20).config
            assert config["config"]["name"] == "inverted_dropout"
        finally:
            reader.join()

    def test_stop_does_not_wait_for_forked_processes(self) -> None:
        """The parent's pipe is closed in a forked process, so stopping the reader does
        not wait until every forked process has exited."""
        import multiprocessing

        h5.read_h5_config(self.A)
        sleeper = multiprocessing.get_context("fork").Process(target=time.sleep, args=(5,))
        sleeper.start()
        try:
            started = time.monotonic()
            h5.stop_reader()
            assert time.monotonic() - started < 3
        finally:
            sleeper.terminate()
            sleeper.join()


def _crash_on(path: str, target: str) -> list[str | bytes | None]:
    """The real read, except that the child dies on ``target`` (module level: it pickles)."""
    if path == target:
        os.abort()
    return h5._config_fields(path)


def _crash_after(path: str, seconds: int) -> list[str | bytes | None]:
    """The child dies reading ``path``, after a pause (module level: it pickles)."""
    time.sleep(seconds)
    os.abort()


class TestReadAhead:
    """Reads asked ahead (a folder's next files) come back to the read that needs them."""

    A = str(SAMPLES / "transfer_inception.h5")
    B = str(SAMPLES / "inverted_dropout.h5")
    C = str(SAMPLES / "merged_frozen_tfkeras.h5")

    def test_each_read_gets_its_own_answer(self) -> None:
        """Three files asked ahead, read in order: each read gets its file's config, and
        no request is sent twice."""
        for path in (self.A, self.B, self.C):
            h5.read_h5_config_ahead(path)
        asked = h5._READER._asked
        names = [h5.read_h5_config(p).config["config"]["name"] for p in (self.A, self.B, self.C)]
        assert names == ["transfer_inception", "inverted_dropout", "merged_frozen"]
        assert h5._READER._asked == asked, "a read asked ahead was asked again"

    def test_a_read_asked_ahead_and_never_taken_is_dropped(self) -> None:
        """A file asked ahead and then skipped: the next read is not given its answer."""
        h5.read_h5_config_ahead(self.A)
        h5.read_h5_config_ahead(self.B)
        assert h5.read_h5_config(self.B).config["config"]["name"] == "inverted_dropout"
        assert h5._READER._ahead == {}
        assert h5.read_h5_config(self.C).config["config"]["name"] == "merged_frozen"

    @pytest.mark.parametrize("trouble", ["hang", "crash"])
    def test_a_file_asked_ahead_and_skipped_is_not_blamed_on_the_next(
        self, trouble: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A file asked ahead, then never read (the parent gave up on it earlier), hangs
        or crashes libhdf5: the next file, asked after it, is still read, not reported
        as hung or crashed."""
        import functools

        monkeypatch.setattr(h5, "READ_DEADLINE_S", 0.5)
        # The crash comes after a pause, so that the next request reaches the same child.
        bad = functools.partial(_slow_config if trouble == "hang" else _crash_after, self.A,
                                60 if trouble == "hang" else 1)
        h5._READER.ahead(bad)
        good = functools.partial(h5._config_fields, self.B)
        h5._READER.ahead(good)
        started = time.monotonic()
        assert h5._READER.run(self.B, good)[0]
        assert time.monotonic() - started < 10

    def test_a_crash_ahead_is_the_crashing_file_s_error(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """The child dies on the second of three files asked ahead: the first is read,
        the second is the crash, the third is read by a new child."""
        import functools

        works = {p: functools.partial(_crash_on, p, self.B) for p in (self.A, self.B, self.C)}
        for work in works.values():
            h5._READER.ahead(work)
        assert h5._READER.run(self.A, works[self.A])[0]
        with pytest.raises(ModelReadError, match="crashed reading the file"):
            h5._READER.run(self.B, works[self.B])
        assert h5._READER.run(self.C, works[self.C])[0]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_CHILD_SUBREAPER is Linux's")
def test_pool_workers_wait_for_their_reader_children() -> None:
    """`--jobs 2`: each pool worker ends and waits for its reader child, so none is left
    to end unwaited (its time then missing from the run's accounts)."""
    script = f"""
import ctypes, os, time
ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
import graphcheck
from graphcheck.readers.h5 import stop_reader
report = graphcheck.check({str(SAMPLES)!r}, jobs=2)
assert report.results
stop_reader()
time.sleep(0.5)  # an orphan would be handed to this process by now
left = []
while True:
    try:
        pid, _ = os.waitpid(-1, os.WNOHANG)
    except ChildProcessError:
        break
    if pid == 0:
        left.append("running")
        break
    left.append(pid)
print(left)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def _check_asking_ahead(model: str) -> str:
    """`graphcheck check MODEL -q` in a fresh process: its exit code, whether the rules
    had been imported at each read asked ahead, and the requests the child got."""
    script = f"""
import sys
from graphcheck.readers import h5
asked_ahead = []
real = h5._Reader.ahead
def ahead(self, work):
    asked_ahead.append("graphcheck.rules" in sys.modules)
    return real(self, work)
h5._Reader.ahead = ahead
from graphcheck.cli import main
try:
    main(["check", {model!r}, "-q"])
except SystemExit as done:
    print(done.code, asked_ahead, h5._READER._asked)
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, check=True)
    return done.stdout.split("\n")[-2] + "\n" + done.stderr


@pytest.mark.parametrize("name", ["merged_frozen_tfkeras.h5", "merged_frozen.keras"])
def test_check_reads_a_named_file_ahead_once(name: str) -> None:
    """`graphcheck check FILE` starts the file's HDF5 walk before it imports the rules
    (the walk runs while they are imported), and the read takes that answer: one
    request to the reader child, not two."""
    said = _check_asking_ahead(str(SAMPLES / name))
    assert said.split("\n")[0] == "0 [False] 1", said


def test_check_reads_a_preset_s_weights_ahead_once(tmp_path: Path) -> None:
    """`graphcheck check PRESET/` starts the walks of the preset's weights files before
    it imports the rules, and the read takes those answers: one request per file."""
    import h5py

    preset = tmp_path / "preset"
    preset.mkdir()
    (preset / "metadata.json").write_text(json.dumps(
        {"keras_version": "3.15.1", "keras_hub_version": "0.32.0"}))
    (preset / "config.json").write_text(json.dumps({
        "module": "keras_hub.src.models.bert.bert_backbone", "class_name": "BertBackbone",
        "config": {"name": "bert_backbone"}, "registered_name": "keras_hub>BertBackbone"}))
    for name in ("model.weights.h5", "task.weights.h5"):
        with h5py.File(preset / name, "w") as handle:
            handle.create_dataset("layers/dense/vars/0", data=[1.0, 2.0])
    said = _check_asking_ahead(str(preset))
    # Named without --rebuild, a preset is unreadable (exit 3); its load-safety rules
    # still read the weights' notes, from the same read (not a second one).
    assert said.split("\n")[0] == "3 [False, False] 2", said


def test_many_reads_ahead_never_hang(tmp_path: Path) -> None:
    """Two presets of 256 weights files each, named together: the reads asked ahead
    stop at MAX_UNANSWERED, so the child's answers never fill the pipe while the parent
    is still sending (both waited for ever, before the cap)."""
    import h5py

    presets = []
    for number in range(2):
        preset = tmp_path / f"preset_{number}"
        preset.mkdir()
        (preset / "metadata.json").write_text(json.dumps({"keras_hub_version": "0.32.0"}))
        (preset / "config.json").write_text(json.dumps({
            "class_name": "BertBackbone", "registered_name": "keras_hub>BertBackbone",
            "module": "keras_hub.src.models.bert.bert_backbone", "config": {"name": "b"}}))
        for index in range(256):
            with h5py.File(preset / f"shard_{index:03d}.weights.h5", "w") as handle:
                handle.create_dataset("v", data=[float(index)])
        presets.append(str(preset))
    done = subprocess.run(
        [sys.executable, "-m", "graphcheck", "check", *presets, "-q"],
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 3, done.stderr  # named graphless presets: unreadable
    assert done.stderr.count("stores no layer graph") == 2, done.stderr
    assert h5.MAX_UNANSWERED <= 64


def test_relative_paths_follow_the_parent_s_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The child is forked once; a relative path is still read where the parent is now,
    also when it was asked ahead from another directory."""
    import shutil

    for name, sample in (("a", "inverted_dropout.h5"), ("b", "merged_frozen_tfkeras.h5")):
        (tmp_path / name).mkdir()
        shutil.copyfile(SAMPLES / sample, tmp_path / name / "model.h5")
    monkeypatch.chdir(tmp_path / "a")
    assert h5.read_h5_config("model.h5").config["config"]["name"] == "inverted_dropout"
    h5.read_h5_config_ahead("model.h5")
    monkeypatch.chdir(tmp_path / "b")
    assert h5.read_h5_config("model.h5").config["config"]["name"] == "merged_frozen"
    monkeypatch.chdir(tmp_path / "a")
    assert h5.read_h5_config("model.h5").config["config"]["name"] == "inverted_dropout"
