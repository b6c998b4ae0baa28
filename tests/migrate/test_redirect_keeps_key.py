"""An allowed host that answers 307 to another host or port must not get the API key resent there:
the shutdown warning's GET /v1/models does not follow redirects (the SDK's requests do not either)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from harness.migrate.retiring import warn_if_retiring
from harness.providers.base import ModelSpec

pytestmark = pytest.mark.timeout(60)


def _serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_the_warning_does_not_resend_the_key_on_a_redirect(status: int, monkeypatch: pytest.MonkeyPatch) -> None:
    captured: list[str | None] = []

    class Capture(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            captured.append(self.headers.get("Authorization"))
            body = b'{"data": [{"id": "gpt-4o-mini", "shutdown_date": "2000-01-01"}]}'
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a) -> None:
            pass

    target, target_url = _serve(Capture)

    class Redirect(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.send_header("Location", f"{target_url}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *a) -> None:
            pass

    allowed, allowed_url = _serve(Redirect)
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-redirect")
        monkeypatch.setenv("HARNESS_KEY_HOSTS", f"127.0.0.1:{allowed.server_address[1]}")
        line = warn_if_retiring(ModelSpec.parse(f"openai:gpt-4o-mini?base_url={allowed_url}/v1"))
        assert line is None  # the listing was not read: the warning stays silent, as for any failed fetch
    finally:
        allowed.shutdown()
        target.shutdown()
    assert all("sk-secret-redirect" not in (h or "") for h in captured), captured
