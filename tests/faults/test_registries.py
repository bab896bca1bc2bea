"""Tampered registries, stale locks, hostile metadata and slow servers: one line each, nothing cached."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.faults.campaign import assemble, deep, files_under, filled, refused, split, survived, with_metadata

runner = CliRunner()


@pytest.fixture
def registry(cli, run, tmp_path) -> Path:
    root = tmp_path / "registry"
    assert runner.invoke(cli, ["push", str(run), "--registry", str(root), "--name", "tiny"]).exit_code == 0
    return root


def _entry(root: Path) -> dict:
    return json.loads((root / "index.json").read_text())["entries"][0]


def _index(root: Path, entries=None, **top) -> None:
    data = {"format": "genzoo-registry/1", "entries": entries if entries is not None else [_entry(root)], **top}
    (root / "index.json").write_text(json.dumps(data))


INDEX_KINDS = {
    "nested 100,000 deep": (lambda root, e: (root / "index.json").write_text('{"format": ' + deep(100_000) + "}"), "nested"),
    "not JSON": (lambda root, e: (root / "index.json").write_text("{oops"), "not valid JSON"),
    "a list": (lambda root, e: (root / "index.json").write_text("[]"), "not a genzoo registry index"),
    "entries not a list": (lambda root, e: _index(root, entries={"a": 1}), "not a genzoo registry index"),
    "entry not an object": (lambda root, e: _index(root, entries=[[1]]), "is not an object"),
    "path with ..": (lambda root, e: _index(root, [{**e, "path": "../../etc/passwd"}]), "points outside the registry"),
    "absolute path": (lambda root, e: _index(root, [{**e, "path": "/etc/passwd"}]), "points outside the registry"),
    "sha256 not hex": (lambda root, e: _index(root, [{**e, "sha256": "z" * 64}]), "sha256 must be 64"),
    "negative size": (lambda root, e: _index(root, [{**e, "size": -1}]), "size must be a non-negative integer"),
    "size a string": (lambda root, e: _index(root, [{**e, "size": "9"}]), "size must be a non-negative integer"),
    "listed twice": (lambda root, e: _index(root, [e, e]), "listed twice"),
    "files not an object": (lambda root, e: _index(root, [{**e, "files": [1]}]), "files must be an object"),
    "metrics not numbers": (lambda root, e: _index(root, [{**e, "metrics": {"fid": "low"}}]), "metrics must map"),
    "name with an escape": (lambda root, e: _index(root, [{**e, "name": "tiny\x1b[2J"}]), "invalid name"),
    "unknown kind": (lambda root, e: _index(root, [{**e, "kind": "pickle"}]), "unknown kind"),
    "wrong sha256": (lambda root, e: _index(root, [{**e, "sha256": "0" * 64}]), "does not match its sha256"),
    "wrong size": (lambda root, e: _index(root, [{**e, "size": e["size"] - 1}]), "index"),
    "file truncated": (lambda root, e: os.truncate(root / e["path"], 100), "truncated"),
}


@pytest.mark.parametrize("kind", sorted(INDEX_KINDS))
@pytest.mark.parametrize("command", ["registry list", "sample NAME", "info NAME", "pull"])
def test_a_tampered_registry_is_one_line_and_nothing_is_cached(cli, registry, kind, command, tmp_path, monkeypatch):
    change, words = INDEX_KINDS[kind]
    change(registry, _entry(registry))
    monkeypatch.setenv("GENZOO_REGISTRY", str(registry))
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    args = {"registry list": ["registry", "list"], "sample NAME": ["sample", "tiny", "-o", "grid.png"],
            "info NAME": ["info", "tiny"], "pull": ["pull", "tiny", "--registry", f"file://{registry}"]}[command]
    listing_only = command == "registry list" and kind in ("wrong sha256", "wrong size", "file truncated")
    if listing_only:  # listing reads only the index, which is well formed here
        assert runner.invoke(cli, args).exit_code == 0
        return
    refused(runner.invoke(cli, args), contains=words)
    assert not (tmp_path / "grid.png").exists()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


def test_metadata_text_is_shown_without_control_characters(cli, run, tmp_path):
    good = run / "model.safetensors"
    header, data = split(good)
    hostile = tmp_path / "hostile.safetensors"
    hostile.write_bytes(with_metadata(header, data, plugin="evil\x1b]0;owned\x07\x1b[2J", model="m\x9b31m"))
    result = runner.invoke(cli, ["info", str(hostile)])
    assert result.exit_code == 0 and "\x1b" not in result.stdout and "\x9b" not in result.stdout
    assert "evil?]0;owned??[2J" in result.stdout
    refused(runner.invoke(cli, ["sample", str(hostile), "-o", str(tmp_path / "g.png")]), contains="plugin 'evil?]0;owned")


def test_a_hostile_distribution_name_never_reaches_a_pip_command(cli, run, tmp_path):
    header, data = split(run / "model.safetensors")
    hostile = tmp_path / "hostile.safetensors"
    hostile.write_bytes(with_metadata(header, data, plugin="gone", model="gone", plugin_distribution="x' ; touch PWNED ; echo '"))
    line = refused(runner.invoke(cli, ["sample", str(hostile), "-o", str(tmp_path / "g.png")]), contains="not installed")
    assert "pip install" not in line and "touch" not in line and "no valid package" in line
    fine = tmp_path / "fine.safetensors"
    fine.write_bytes(with_metadata(header, data, plugin="gone", model="gone", plugin_distribution="genzoo-gone",
                                   plugin_version="1.2"))
    assert "pip install 'genzoo-gone>=1.2'" in refused(runner.invoke(cli, ["sample", str(fine)]), contains="not installed")


PUSH_KINDS = {
    "escape in the plugin name": (lambda h, d: with_metadata(h, d, plugin="tiny\x1b[2J"), "control characters"),
    "shell in the distribution": (lambda h, d: with_metadata(h, d, plugin_distribution="x';touch PWNED;'"), "no valid package"),
    "NaN weights": (lambda h, d: filled(h, d, float("nan")), "NaN or infinity"),
    "weights of another shape": (lambda h, d: with_metadata(h, d, config=json.dumps({**json.loads(h["__metadata__"]["config"]),
                                                                                      "hidden": 32})), "size mismatch"),
    "plugin not installed": (lambda h, d: with_metadata(h, d, plugin="gone", model="gone"), "not installed"),
}


@pytest.mark.parametrize("kind", sorted(PUSH_KINDS))
def test_push_applies_the_checks_of_sample(cli, run, tmp_path, kind):
    header, data = split(run / "model.safetensors")
    build, words = PUSH_KINDS[kind]
    (run / "model.safetensors").write_bytes(build(header, data))
    root = tmp_path / "registry"
    refused(runner.invoke(cli, ["push", str(run), "--registry", str(root), "--name", "tiny"]), contains=words)
    assert not root.exists()


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_lock_left_by_a_killed_push_is_broken_and_its_staging_removed(cli, run, tmp_path):
    root = tmp_path / "registry"
    (root / "tiny").mkdir(parents=True)
    (root / "tiny" / ".v1.partial-deadbeef").mkdir()
    (root / "tiny" / ".v1.partial-deadbeef" / "model.safetensors").write_bytes(b"half")
    (root / ".index.lock").write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "time": time.time()}))
    stderr = survived(runner.invoke(cli, ["push", str(run), "--registry", str(root), "--name", "tiny"]),
                      contains="broke a stale lock")
    assert "is gone" in stderr
    assert sorted(p.name for p in root.iterdir()) == ["index.json", "tiny"]
    assert sorted(p.name for p in (root / "tiny").iterdir()) == ["v1"]


def test_an_old_lock_from_another_host_is_broken_and_a_live_one_is_not(cli, run, tmp_path):
    root = tmp_path / "registry"
    root.mkdir()
    lock = root / ".index.lock"
    lock.write_text(json.dumps({"pid": 1, "host": "elsewhere", "time": 0}))
    old = time.time() - 2 * 3600
    os.utime(lock, (old, old))
    survived(runner.invoke(cli, ["push", str(run), "--registry", str(root), "--name", "tiny"]), contains="minutes old")
    lock.write_text(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()}))
    refused(runner.invoke(cli, ["push", str(run), "--registry", str(root), "--name", "tiny"]), contains="is held by pid")
    assert lock.exists()


def test_two_pushes_that_judge_one_dead_lock_stale_never_both_hold_it(tmp_path, monkeypatch):
    """B judges the dead owner's lock stale, then stalls; A breaks it and takes the lock. B must
    not break A's live lock (it is judged again under the breaker lock) and is refused instead."""
    import genzoo.hub.publish as publish

    root = tmp_path / "registry"
    root.mkdir()
    (root / ".index.lock").write_text(json.dumps({"pid": _dead_pid(), "host": socket.gethostname(), "time": time.time()}))
    judge, a_inside, inside, outcomes = publish._stale_reason, threading.Event(), [], {}

    def stalling_judge(lock):
        reason = judge(lock)
        if threading.current_thread().name == "B" and not a_inside.is_set():
            a_inside.wait(5)
        return reason

    monkeypatch.setattr(publish, "_stale_reason", stalling_judge)

    def push(name: str) -> None:
        try:
            with publish.index_lock(root):
                inside.append(name)
                outcomes[name] = f"held with {sorted(inside)} inside"
                if name == "A":
                    a_inside.set()
                    time.sleep(0.5)
                inside.remove(name)
        except Exception as exc:  # noqa: BLE001 - the refusal is the outcome under test
            outcomes[name] = f"refused: {exc}"

    b = threading.Thread(target=push, args=("B",), name="B")
    b.start()
    time.sleep(0.2)
    a = threading.Thread(target=push, args=("A",), name="A")
    a.start()
    a.join(5)
    b.join(5)
    assert outcomes["A"] == "held with ['A'] inside"
    assert outcomes["B"].startswith("refused:") and "taken by another push" in outcomes["B"]
    assert not (root / ".index.lock").exists() and not (root / ".index.lock.break").exists()


class DripServer:
    """Answers every request with a promised length and then one byte per ``interval`` seconds."""

    def __init__(self, interval: float, headers: bool = False) -> None:
        self.headers = headers  # drip the response headers instead of the body
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.interval = interval
        self.stop = threading.Event()
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/zoo"
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.drip, args=(conn,), daemon=True).start()

    def drip(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: " if self.headers else
                         b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
            while not self.stop.is_set():
                try:
                    conn.sendall(b"a" if self.headers else b" ")
                except OSError:
                    return
                time.sleep(self.interval)


def test_a_server_dripping_bytes_meets_a_total_deadline(cli, tmp_path, monkeypatch):
    import genzoo.hub.locations as locations

    server = DripServer(0.2)
    monkeypatch.setattr(locations, "HTTP_DEADLINE_S", 1.0)
    monkeypatch.setattr(locations, "HTTP_MIN_RATE", 1e12)
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))
    try:
        refused(runner.invoke(cli, ["pull", "tiny", "--registry", server.url]), contains="did not finish in time")
    finally:
        server.stop.set()
        server.sock.close()
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


@pytest.mark.parametrize(
    "headers, patches, expected",
    [
        (True, {"HTTP_DEADLINE_S": 1.0}, "did not answer in time"),
        # a huge promised size makes the size-based deadline far away: the floor rate still cuts it
        (False, {"HTTP_DEADLINE_S": 1e9, "HTTP_GRACE_S": 1.0, "HTTP_FLOOR_RATE": 1e6}, "did not finish in time"),
    ],
    ids=["dripped-headers", "floor-rate"],
)
def test_a_slow_server_is_cut_whatever_it_promises(cli, tmp_path, monkeypatch, headers, patches, expected):
    import genzoo.hub.locations as locations

    server = DripServer(0.2, headers=headers)
    for name, value in patches.items():
        monkeypatch.setattr(locations, name, value)
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(tmp_path / "cache"))
    started = time.monotonic()
    try:
        refused(runner.invoke(cli, ["pull", "tiny", "--registry", server.url]), contains=expected)
    finally:
        server.stop.set()
        server.sock.close()
    assert time.monotonic() - started < 20
    assert not [p for p in (tmp_path / "cache").rglob("*") if p.is_file()]


@pytest.mark.skipif(sys.platform == "win32", reason="partial downloads are locked with fcntl.flock (POSIX)")
def test_a_pull_removes_partial_downloads_of_pulls_that_died_and_keeps_live_ones(cli, registry, tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(cache))
    survived(runner.invoke(cli, ["pull", "tiny", "--registry", str(registry)]))
    (name_folder,) = [p.parent for p in cache.rglob("v1") if p.is_dir()]
    abandoned, live = name_folder / ".partial-v1-dead0000", name_folder / ".partial-v1-live0000"
    for folder in (abandoned, live):
        folder.mkdir()
        (folder / "model.safetensors").write_bytes(b"half")
        old = time.time() - 3600
        os.utime(folder, (old, old))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import fcntl, os, sys, time; fd = os.open(sys.argv[1], os.O_RDONLY); "
         "fcntl.flock(fd, fcntl.LOCK_EX); print('held', flush=True); time.sleep(60)", str(live)],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        import shutil

        shutil.rmtree(name_folder / "v1")  # so the next pull downloads again
        stderr = survived(runner.invoke(cli, ["pull", "tiny", "--registry", str(registry)]),
                          contains="removed 1 partial download")
    finally:
        holder.kill()
        holder.wait()
    assert "pull that died" in stderr
    assert not abandoned.exists() and live.exists() and (name_folder / "v1").is_dir()


def test_a_slow_answer_then_a_whole_small_file_is_not_cut_by_the_floor_rate(tmp_path, monkeypatch):
    """The floor on the average rate counts from the first byte and never cuts a file that arrived whole."""
    import genzoo.hub.locations as locations

    body = b"x" * 1000
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.recv(65536)
            time.sleep(1.2)  # slow to answer, inside the header deadline
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body) + body)

    threading.Thread(target=serve, daemon=True).start()
    monkeypatch.setattr(locations, "HTTP_GRACE_S", 1.0)  # stands for 60 s
    try:
        location = locations.HttpLocation(f"http://127.0.0.1:{server.getsockname()[1]}/")
        import hashlib

        assert location.copy_to("card.md", tmp_path / "f", len(body)) == hashlib.sha256(body).hexdigest()
    finally:
        server.close()
