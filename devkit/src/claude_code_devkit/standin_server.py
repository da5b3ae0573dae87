"""Stand-in for the `claude` container while the real runtime is being written.

Test scaffolding for the pod runner itself: an HTTP server bound to $POD_IP:$PORT (as the pod
runner sets them) that serves the file named by $SERVE_FILE at `/` and `ok` at `/healthz`.
The pod's manifest names the file by its in-pod path (under a Secret volume's mountPath); the
runner rewrites that to the local copy, so a 200 with the file's bytes proves the whole chain.
"""

from __future__ import annotations

import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = b"ok"
        elif self.path == "/":
            body = Path(os.environ["SERVE_FILE"]).read_bytes()
        else:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        sys.stderr.write(f"standin: {format % args}\n")


def main() -> None:
    server = ThreadingHTTPServer((os.environ["POD_IP"], int(os.environ.get("PORT", "8080"))), Handler)

    def stop(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    sys.stderr.write(f"standin: serving {os.environ['SERVE_FILE']} on {server.server_address}\n")
    sys.stderr.flush()
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
