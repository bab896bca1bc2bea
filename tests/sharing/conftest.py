"""Fixtures for sharing tests: a tiny finished run, a registry served over HTTP on 127.0.0.1, a cache."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from genzoo.plugins import PluginHost
from genzoo.registry import Registry, get_registry, set_registry
from tests.conftest import FakeEntryPoint


def tiny_host() -> PluginHost:
    return PluginHost([FakeEntryPoint("tiny", "tests.fakes.tiny_plugin", dist="genzoo-tiny", version="0.0.1")],
                      strict=True, disabled=())


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory) -> Path:
    """A finished 3-step tiny-gan run (model.safetensors, config.json, samples/); copy before changing it."""
    import torch

    from genzoo.runconfig import RunConfig, TrainConfig
    from genzoo.trainer import train

    previous = set_registry(Registry(tiny_host()))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = RunConfig(model="tiny-gan", dataset="tiny-blobs",
                           train=TrainConfig(steps=3, batch_size=8, device="cpu", sample_every=2, log_every=1),
                           model_config={"hidden": 8})
        result = train(config, tmp_path_factory.mktemp("runs") / "tiny")
    finally:
        torch.set_num_threads(threads)
        set_registry(previous)
    return result.run_dir


@pytest.fixture
def run_dir(trained_run, tmp_path) -> Path:
    """A private copy of the trained run."""
    return Path(shutil.copytree(trained_run, tmp_path / "run"))


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    """``$GENZOO_CACHE_DIR`` pointed at an empty temporary folder (the hub cache is ``cache/hub``)."""
    root = tmp_path / "cache"
    monkeypatch.setenv("GENZOO_CACHE_DIR", str(root))
    return root


def cached_files(cache: Path) -> list[Path]:
    return [p for p in cache.rglob("*") if p.is_file()] if cache.exists() else []


@dataclass
class Server:
    """A static file server over ``root`` on 127.0.0.1, recording the paths it was asked for."""

    root: Path
    url: str = ""
    requests: list[str] = field(default_factory=list)
    # path -> bytes to send before closing the connection, while promising the full length
    cut_short: dict[str, int] = field(default_factory=dict)
    # path -> URL to redirect to
    redirects: dict[str, str] = field(default_factory=dict)


def _handler(server: Server):
    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            path = self.path.split("?")[0].lstrip("/")
            server.requests.append(path)
            if path in server.redirects:
                self.send_response(302)
                self.send_header("Location", server.redirects[path])
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            if path in server.cut_short:
                data = (server.root / path).read_bytes()
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: server.cut_short[path]])
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    return functools.partial(Handler, directory=str(server.root))


@pytest.fixture
def http_registry(tmp_path) -> Iterator[Server]:
    """Serve ``tmp_path/served`` over HTTP on 127.0.0.1 for the test; shut down afterwards."""
    root = tmp_path / "served"
    root.mkdir()
    server = Server(root)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler(server))
    httpd.daemon_threads = True
    server.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture
def tiny_cli():
    """The genzoo CLI over the tiny test plugin."""
    from genzoo.cli import build_app

    previous = get_registry.__globals__["_REGISTRY"]
    yield build_app(tiny_host())
    set_registry(previous)
