"""In-process object stores for the crackle_dask tests: an HTTP server that honours Range
requests (and logs them), and an S3 server (moto) with one bucket."""

import functools
import http.server
import os
import threading
from contextlib import contextmanager


class RangeHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files from a folder, honouring single byte ranges as object stores do.

    Every request is appended to ``self.server.requests`` as ``(path, bytes sent)``.
    """

    def log_message(self, *args):
        pass

    def send_head(self):
        spec = self.headers.get("Range")
        path = self.translate_path(self.path)
        if not spec or not os.path.isfile(path):
            sent = os.path.getsize(path) if os.path.isfile(path) and self.command == "GET" else 0
            self.server.requests.append((self.path, sent))
            return super().send_head()
        size = os.path.getsize(path)
        first, _, last = spec.removeprefix("bytes=").partition("-")
        start, stop = int(first), min(int(last) + 1 if last else size, size)
        with open(path, "rb") as handle:
            handle.seek(start)
            body = handle.read(stop - start)
        self.server.requests.append((self.path, len(body)))
        self.send_response(206)
        self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        self.wfile.write(body)
        return None


@contextmanager
def http_server(folder):
    """Serve ``folder`` over HTTP on a free port; yields the server (``.url``, ``.requests``)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(RangeHandler, directory=str(folder)))
    server.requests = []
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def s3_server(bucket: str = "volumes"):
    """An in-process S3 (moto) with ``bucket``; yields fsspec ``storage_options`` for s3fs."""
    from moto.server import ThreadedMotoServer

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        import boto3

        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
        yield {"endpoint_url": endpoint, "key": "testing", "secret": "testing",
               "client_kwargs": {"region_name": "us-east-1"}, "skip_instance_cache": True}
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
