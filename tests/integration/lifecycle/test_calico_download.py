"""The Calico manifest fetched from a URL, over real HTTP from a local server."""

import http.server
import threading

import pytest
from tests.unit.lifecycle.conftest import CALICO

from kindfleet.lifecycle.calicosource import CalicoManifests, ManifestError

EXCERPT = CALICO.read_text()


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = EXCERPT.encode() if self.path.endswith("/calico.yaml") else b""
            self.send_response(200 if body else 404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_url_is_downloaded_and_failures_say_how_to_do_without(http_server):
    assert CalicoManifests(f"{http_server}/{{version}}/calico.yaml").get("v3.33.1") == EXCERPT
    with pytest.raises(ManifestError) as caught:
        CalicoManifests(f"{http_server}/{{version}}/missing.yaml").get("v3.33.1")
    assert "cannot download" in caught.value.message
    assert "--calico-manifest FILE" in caught.value.hint
