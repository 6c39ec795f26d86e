"""An OTLP/HTTP trace receiver for the tests: decodes what the services export with the
OpenTelemetry project's own protobuf definitions (PyPI opentelemetry-proto), an
implementation independent of the Rust exporter's.

    receiver.py OUT     listens on 127.0.0.1 (a free port, printed as the first stdout
                        line: "listening <port>") and appends one JSON object per span
                        received on POST /v1/traces to OUT.

Each line: service (the resource's service.name), name, kind, trace_id, span_id,
parent_span_id (hex; "" for a root), attributes (string values). Anything else than a
valid ExportTraceServiceRequest gets 400, as a collector would answer.
"""

import gzip
import http.server
import json
import sys
import threading

from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

OUT = sys.argv[1]
LOCK = threading.Lock()


def value(v):
    kind = v.WhichOneof("value")
    return str(getattr(v, kind)) if kind else ""


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
            return self.answer(400, b"")
        req = ExportTraceServiceRequest()
        try:
            req.ParseFromString(body)
        except DecodeError:
            return self.answer(400, b"")
        lines = []
        for rs in req.resource_spans:
            attrs = {a.key: value(a.value) for a in rs.resource.attributes}
            for ss in rs.scope_spans:
                for s in ss.spans:
                    lines.append(json.dumps({
                        "service": attrs.get("service.name", ""),
                        "name": s.name,
                        "kind": s.kind,
                        "trace_id": s.trace_id.hex(),
                        "span_id": s.span_id.hex(),
                        "parent_span_id": s.parent_span_id.hex(),
                        "attributes": {a.key: value(a.value) for a in s.attributes},
                    }))
        with LOCK, open(OUT, "a") as f:
            f.write("".join(line + "\n" for line in lines))
        self.answer(200, ExportTraceServiceResponse().SerializeToString())

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
