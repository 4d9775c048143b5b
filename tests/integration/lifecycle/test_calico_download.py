"""The Calico manifest fetched from a URL, over real HTTP from a local server: the pinned
release's bytes pass their checksum, anything else under that version is refused."""

import gzip
import http.server
import threading

import pytest
from tests.unit.lifecycle.conftest import CALICO, WHOLE_CALICO

from kindfleet import pins
from kindfleet.lifecycle.calicosource import CalicoManifests, ManifestError

EXCERPT = CALICO.read_text()
WHOLE = gzip.decompress(WHOLE_CALICO.read_bytes())


@pytest.fixture
def http_server():
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b""
            if self.path.endswith("/calico.yaml"):
                body = (
                    WHOLE if self.path.startswith(f"/{pins.CALICO_VERSION}/") else EXCERPT.encode()
                )
            if self.path.endswith("/tampered.yaml"):
                body = WHOLE.replace(b'value: "Always"', b'value: "Sometimes"', 1)
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
    assert CalicoManifests(f"{http_server}/{{version}}/calico.yaml").get("v3.30.0") == EXCERPT
    with pytest.raises(ManifestError) as caught:
        CalicoManifests(f"{http_server}/{{version}}/missing.yaml").get("v3.30.0")
    assert "cannot download" in caught.value.message
    assert "--calico-manifest FILE" in caught.value.hint


def test_the_pinned_version_must_have_its_checksum(http_server):
    version = pins.CALICO_VERSION
    got = CalicoManifests(f"{http_server}/{{version}}/calico.yaml").get(version)
    assert got.encode() == WHOLE
    with pytest.raises(ManifestError) as caught:
        CalicoManifests(f"{http_server}/{{version}}/tampered.yaml").get(version)
    assert f"the Calico {version} manifest from {http_server}/{version}/tampered.yaml" in (
        caught.value.message
    )
    assert f"expected {pins.CALICO_MANIFEST_SHA256[version]}" in caught.value.message
    assert "--calico-manifest FILE" in caught.value.hint
