"""The ceiling the hub's HTTP figures are measured against: uvicorn with the hub's own loop
and parser (uvloop, httptools) and one Starlette endpoint, nothing else.

    python benchmarks/bare_server.py BODY_FILE PORT_FILE

GET (any path) answers the bytes of BODY_FILE; POST reads the body, parses it as a
`WorkloadSpec` exactly as the hub does (strict JSON validation) and answers BODY_FILE
with 201. Started and stopped by `httpload.BareServer`.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path

import uvicorn
import uvloop
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kindfleet.platform.wire import WorkloadSpec


def main() -> None:
    body = Path(sys.argv[1]).read_bytes()
    port_file = Path(sys.argv[2])

    async def get(_: Request) -> Response:
        return Response(body, media_type="application/json")

    async def post(request: Request) -> Response:
        WorkloadSpec.model_validate_json(await request.body(), strict=True)
        return Response(body, status_code=201, media_type="application/json")

    app = Starlette(
        routes=[
            Route("/{path:path}", get, methods=["GET"]),
            Route("/{path:path}", post, methods=["POST"]),
        ]
    )
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    config = uvicorn.Config(
        app,
        lifespan="off",
        log_config=None,
        access_log=False,
        loop="uvloop",
        http="httptools",
        ws="none",
        server_header=False,
        backlog=2048,
    )
    server = uvicorn.Server(config)
    partial = port_file.with_suffix(".part")  # renamed: the reader never sees it half written
    partial.write_text(str(sock.getsockname()[1]))
    partial.rename(port_file)
    uvloop.run(server.serve(sockets=[sock]))


if __name__ == "__main__":
    main()
