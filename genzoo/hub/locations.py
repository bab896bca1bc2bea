"""Where a registry lives: a local or shared folder (read and write) or an HTTP(S) URL (read only).

Both kinds fetch a file by its index path with a byte budget: a copy stops as soon as it has read
more than the index promised, a short one is reported as truncated, and the SHA-256 is computed
while copying. Only the standard library is used for HTTP (``urllib``); redirects to another
host or scheme are refused, so an index cannot send genzoo anywhere but the registry it came from.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from pathlib import Path
from typing import BinaryIO

from genzoo.hub.index import INDEX_FILENAME, MAX_INDEX_BYTES, RegistryError, RegistryIndex

CHUNK = 1 << 20
HTTP_TIMEOUT_S = 30.0  # per read
HTTP_DEADLINE_S = 120.0  # per transfer, plus HTTP_MIN_RATE for its size; also for the response headers
HTTP_MIN_RATE = 256 * 1024  # bytes per second
# The size comes from the index, which anyone may write: besides the size-based deadline, a transfer
# slower on average than HTTP_FLOOR_RATE after HTTP_GRACE_S is cut, whatever size it claims.
HTTP_GRACE_S = 60.0
HTTP_FLOOR_RATE = 16 * 1024
ENV_REGISTRY = "GENZOO_REGISTRY"


REGISTRY_PACKAGE = "genzoo_registry"


def default_registry() -> str:
    """``$GENZOO_REGISTRY``; else the ``registry/`` folder of a source checkout (next to the ``genzoo``
    package); else the installed package ``genzoo_registry``, which is that folder in a wheel."""
    configured = os.environ.get(ENV_REGISTRY, "").strip()
    if configured:
        return configured
    import importlib.util

    import genzoo

    checkout = Path(genzoo.__file__).resolve().parents[1] / "registry"
    if (checkout / INDEX_FILENAME).is_file():
        return str(checkout)
    spec = importlib.util.find_spec(REGISTRY_PACKAGE)
    if spec is not None and spec.submodule_search_locations:
        return str(Path(next(iter(spec.submodule_search_locations))).resolve())
    return str(checkout)


class Location(ABC):
    """A registry's root. Subclasses implement :meth:`open` and :meth:`describe`."""

    writable = False

    def __str__(self) -> str:
        return self.describe()

    @abstractmethod
    def describe(self) -> str:
        """Where the registry is, for messages."""

    @abstractmethod
    def open(self, relative: str) -> BinaryIO:
        """Open a file of the registry (``relative`` already checked by the index) for reading."""

    def key(self) -> str:
        """A short stable name for this registry, used to keep caches of registries apart."""
        return hashlib.sha256(self.describe().encode()).hexdigest()[:16]

    def read_index(self) -> RegistryIndex:
        """The parsed index; a folder without ``index.json`` is an empty registry."""
        try:
            handle = self.open(INDEX_FILENAME)
        except FileNotFoundError:
            return RegistryIndex(self.describe(), [])
        deadline = self.deadline(MAX_INDEX_BYTES)
        data = b""
        try:
            with handle:
                while len(data) <= MAX_INDEX_BYTES:
                    chunk = _read_some(handle, MAX_INDEX_BYTES + 1 - len(data))
                    if not chunk:
                        break
                    data += chunk
                    self._check_deadline(deadline, INDEX_FILENAME, len(data))
        except (http.client.HTTPException, OSError) as exc:
            raise RegistryError(f"reading {self}/{INDEX_FILENAME} failed ({exc})") from None
        if len(data) > MAX_INDEX_BYTES:
            raise RegistryError(f"{self}/{INDEX_FILENAME} is larger than {MAX_INDEX_BYTES >> 20} MiB; refusing it")
        return RegistryIndex.parse(data, self.describe())

    def copy_to(self, relative: str, target: Path, expected_size: int) -> str:
        """Copy ``relative`` to ``target`` reading at most ``expected_size`` bytes; return its SHA-256.

        Raises :class:`RegistryError` when the source is longer or shorter than ``expected_size``
        or the transfer breaks off.
        """
        digest = hashlib.sha256()
        received = 0
        try:
            with self.open(relative) as source, target.open("wb") as sink:
                deadline = self.deadline(expected_size)  # from the first byte: open() has its own deadline
                while True:
                    chunk = _read_some(source, min(CHUNK, expected_size - received + 1))
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > expected_size:
                        raise RegistryError(
                            f"{self}/{relative} is larger than the {expected_size} bytes its index entry "
                            "promises; refusing it"
                        )
                    digest.update(chunk)
                    sink.write(chunk)
                    if received < expected_size:  # a file that arrived whole is never cut
                        self._check_deadline(deadline, relative, received)
        except FileNotFoundError:
            raise RegistryError(f"{self}/{relative} is listed in the index but missing from the registry") from None
        except (http.client.HTTPException, OSError) as exc:
            reason = "the connection closed early" if isinstance(exc, http.client.IncompleteRead) else exc
            raise RegistryError(f"download of {self}/{relative} failed ({reason}); nothing was saved") from None
        if received < expected_size:
            raise RegistryError(
                f"{self}/{relative} is truncated: got {received} of {expected_size} bytes; nothing was saved"
            )
        return digest.hexdigest()


    def deadline(self, size: int) -> tuple[float, float] | None:
        """``(start, end)`` of a transfer of ``size`` bytes (``time.monotonic()``), or ``None``: no limit."""
        return None

    def _check_deadline(self, deadline: tuple[float, float] | None, relative: str, received: int) -> None:
        if deadline is None:
            return
        start, end = deadline
        now = time.monotonic()
        if now > end or (now - start > HTTP_GRACE_S and received / (now - start) < HTTP_FLOOR_RATE):
            raise RegistryError(
                f"download of {self}/{relative} did not finish in time (the server is too slow); nothing was saved"
            )


def _read_some(handle: BinaryIO, size: int) -> bytes:
    """At most ``size`` bytes, returning as soon as some arrive (so a slow server meets the deadline)."""
    read1 = getattr(handle, "read1", None)
    return read1(size) if read1 is not None else handle.read(size)


class FolderLocation(Location):
    """A registry in a folder on this machine or a shared file system."""

    writable = True

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root).expanduser().absolute()

    def describe(self) -> str:
        return str(self.root)

    def exists(self) -> bool:
        return self.root.is_dir()

    def local_path(self, relative: str) -> Path:
        """The file's path; a symbolic link that leads outside the registry is refused."""
        path = self.root / relative
        resolved, root = path.resolve(), self.root.resolve()
        if not resolved.is_relative_to(root):
            raise RegistryError(f"{self}/{relative} leads outside the registry (through a link); refusing it")
        return path

    def open(self, relative: str) -> BinaryIO:
        if not self.root.is_dir():
            raise RegistryError(
                f"registry folder {self.root} does not exist; pass --registry or set ${ENV_REGISTRY}"
            )
        path = self.local_path(relative)
        if path.is_dir():
            raise RegistryError(f"{self}/{relative} is a folder, not a file")
        return path.open("rb")


class _SameOriginRedirects(urllib.request.HTTPRedirectHandler):
    """Follow a redirect only within the registry's own scheme and host."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        old, new = urllib.parse.urlsplit(req.full_url), urllib.parse.urlsplit(newurl)
        if (old.scheme, old.netloc) != (new.scheme, new.netloc):
            raise RegistryError(f"{req.full_url} redirects to another host or scheme ({newurl}); refusing it")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _OpenSockets:
    """The sockets of the requests in flight, so a watchdog thread can shut them down."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.cut = False  # whether shut_down ran (the request was cut by its watchdog)

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)

    def forget(self) -> None:
        with self._lock:
            self._sockets.clear()

    def shut_down(self) -> None:
        with self._lock:
            self.cut = True
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def _watched(connection: type, sockets: _OpenSockets) -> type:
    """``connection`` whose raw TCP socket is registered as soon as it exists, so the watchdog also
    covers a TLS handshake or a proxy that drips."""

    class Watched(connection):  # type: ignore[misc, valid-type]
        def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
            super().__init__(*args, **kwargs)
            create = self._create_connection

            def registered(*a, **k):  # type: ignore[no-untyped-def]
                sock = create(*a, **k)
                sockets.add(sock)
                return sock

            self._create_connection = registered

    return Watched


class _WatchedHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, sockets: _OpenSockets) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPConnection, sockets)

    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self._connection, req)


class _WatchedHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, sockets: _OpenSockets) -> None:
        super().__init__()
        self._connection = _watched(http.client.HTTPSConnection, sockets)

    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self._connection, req, context=self._context)


class HttpLocation(Location):
    """A read-only registry served over HTTP(S): the same folder behind a static web server."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url.rstrip("/") + "/"
        parts = urllib.parse.urlsplit(self.base)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"registry URL {base_url!r} is not an http(s):// URL")
        if parts.query or parts.fragment:
            raise RegistryError(f"registry URL {base_url!r} must not have a query or fragment")

    def describe(self) -> str:
        return self.base.rstrip("/")

    def deadline(self, size: int) -> tuple[float, float] | None:
        start = time.monotonic()
        return start, start + HTTP_DEADLINE_S + size / HTTP_MIN_RATE

    def url(self, relative: str) -> str:
        url = urllib.parse.urljoin(self.base, relative)
        base, target = urllib.parse.urlsplit(self.base), urllib.parse.urlsplit(url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not target.path.startswith(base.path):
            raise RegistryError(f"{relative!r} resolves outside the registry {self}; refusing it")
        return url

    def open(self, relative: str) -> BinaryIO:
        url = self.url(relative)
        request = urllib.request.Request(url, headers={"User-Agent": "genzoo", "Accept-Encoding": "identity"})
        # The per-read timeout does not bound a server that drips its headers a byte at a time:
        # a watchdog shuts the connection down if the response has not started by the deadline.
        # Each request has its own opener and socket list, so one request's watchdog never cuts another's.
        sockets = _OpenSockets()
        opener = urllib.request.build_opener(_SameOriginRedirects, _WatchedHTTPHandler(sockets),
                                             _WatchedHTTPSHandler(sockets))
        watchdog = threading.Timer(HTTP_DEADLINE_S, sockets.shut_down)
        watchdog.daemon = True
        watchdog.start()
        late = RegistryError(f"{url} did not answer in time (the server is too slow); nothing was saved")
        try:
            response = opener.open(request, timeout=HTTP_TIMEOUT_S)
        except (http.client.HTTPException, OSError) as exc:
            if sockets.cut and not isinstance(exc, urllib.error.HTTPError):
                raise late from None
            return self._refuse(url, relative, exc)
        finally:
            watchdog.cancel()
            sockets.forget()
        if sockets.cut:  # shut down mid-headers, http.client may still parse a response
            response.close()
            raise late
        return response

    def _refuse(self, url: str, relative: str, exc: BaseException) -> BinaryIO:
        """The one-line error for a failed request (a 404 of a file is ``FileNotFoundError``)."""
        if isinstance(exc, urllib.error.HTTPError):
            exc.close()
            if exc.code != 404:
                raise RegistryError(f"{url}: HTTP {exc.code} {exc.reason}") from None
            if relative == INDEX_FILENAME:
                raise RegistryError(f"{url} does not exist (HTTP 404); is {self} a genzoo registry?") from None
            raise FileNotFoundError(url) from None
        if isinstance(exc, urllib.error.URLError):
            raise RegistryError(f"cannot reach registry {self}: {exc.reason} (offline?)") from None
        raise RegistryError(f"cannot reach registry {self}: {exc}") from None


def open_location(location: str | Path | None = None) -> Location:
    """A registry location from a folder path, a ``file://`` URL or an ``http(s)://`` base URL."""
    text = str(location) if location is not None else default_registry()
    scheme = urllib.parse.urlsplit(text).scheme.lower()
    if scheme in ("http", "https"):
        return HttpLocation(text)
    if scheme == "file":
        return FolderLocation(urllib.request.url2pathname(urllib.parse.urlsplit(text).path))
    if "://" in text:
        raise RegistryError(f"registry {text!r}: use a folder path, file://, http:// or https://")
    return FolderLocation(text)
