"""What telemetry costs: small-query throughput with export on and off.

Two gateways serve the same throwaway PostgreSQL cluster. One exports traces
and metrics over OTLP/gRPC to a receiver in a process of its own (which keeps
the exports' bytes and decodes them with the `opentelemetry-proto`
definitions after the rounds, so export really happens and the receiver's
own work is not counted as dmesh's) and serves Prometheus text; the other
exports nothing. Client threads run `SELECT 1`
(GetFlightInfo + DoGet) against each in turn, in interleaved rounds, and the
best round of each is compared. Both gateways trace every call internally
(spans carry OpenTelemetry ids so the client's trace is continued), so the
difference is the cost of export.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc
import pyarrow.flight as flight
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

from common import Gateway

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "python"))
from pgcluster import Cluster  # noqa: E402


def receiver(conn) -> None:
    """An OTLP/gRPC receiver, run in a process of its own so it never holds
    the clients' interpreter lock. During the rounds it only keeps each
    export's bytes (the cheapest a real receiver can be); when told to stop
    it decodes them with the `opentelemetry-proto` definitions and answers
    with what it received."""
    traces, metrics = [], []
    lock = threading.Lock()

    def keep(store):
        def handle(request: bytes, context) -> bytes:
            with lock:
                store.append(request)
            return b""  # an empty Export*ServiceResponse
        return handle

    raw = {"request_deserializer": None, "response_serializer": None}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    server.add_generic_rpc_handlers((
        grpc.method_handlers_generic_handler("opentelemetry.proto.collector.trace.v1.TraceService", {
            "Export": grpc.unary_unary_rpc_method_handler(keep(traces), **raw)}),
        grpc.method_handlers_generic_handler("opentelemetry.proto.collector.metrics.v1.MetricsService", {
            "Export": grpc.unary_unary_rpc_method_handler(keep(metrics), **raw)}),
    ))
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    conn.send(port)
    conn.recv()  # stop
    server.stop(0)
    spans = 0
    for payload in traces:
        request = trace_service_pb2.ExportTraceServiceRequest.FromString(payload)
        spans += sum(len(s.spans) for r in request.resource_spans for s in r.scope_spans)
    for payload in metrics:
        metrics_service_pb2.ExportMetricsServiceRequest.FromString(payload)
    conn.send((spans, len(metrics)))


def throughput(addr: str, seconds: float, threads: int) -> float:
    """Queries per second from `threads` clients for `seconds`."""
    stop = time.perf_counter() + seconds
    counts = [0] * threads
    cmd = json.dumps({"connector": "pg", "sql": "SELECT 1"}).encode()

    def work(i: int) -> None:
        client = flight.connect(f"grpc://{addr}")
        while time.perf_counter() < stop:
            info = client.get_flight_info(flight.FlightDescriptor.for_command(cmd))
            client.do_get(info.endpoints[0].ticket).read_all()
            counts[i] += 1
        client.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=work, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return sum(counts) / (time.perf_counter() - started)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dmesh", required=True, help="the dmesh binary (a release build)")
    ap.add_argument("--seconds", type=float, default=5.0, help="length of one round")
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--json", help="also write the figures to this file")
    args, _ = ap.parse_known_args()

    ours, theirs = multiprocessing.Pipe()
    sink = multiprocessing.get_context("spawn").Process(target=receiver, args=(theirs,), daemon=True)
    sink.start()
    port = ours.recv()
    with tempfile.TemporaryDirectory() as tmp, Cluster() as pg:
        tmp = Path(tmp)
        env = dict(os.environ, BENCH_PG_PASSWORD=pg.dsn().split("password=")[1])
        for k in [k for k in env if k.startswith("OTEL_")]:
            del env[k]
        connectors = (
            "[connectors.pg]\ntype = \"postgres\"\nhost = \"127.0.0.1\"\n"
            f"port = {pg.port}\ndatabase = \"postgres\"\nuser = \"postgres\"\n"
            "password = \"${env:BENCH_PG_PASSWORD}\"\ntls_mode = \"disable\"\n"
        )
        on_env = dict(env, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}", OTEL_METRIC_EXPORT_INTERVAL="5000",
                      DMESH_METRICS_LISTEN="127.0.0.1:0")
        gateways = {
            "off": Gateway(args.dmesh, connectors, tmp / "off", tmp / "off.toml", env=env),
            "on": Gateway(args.dmesh, connectors, tmp / "on", tmp / "on.toml", env=on_env),
        }
        try:
            for gw in gateways.values():
                throughput(gw.addr, 1.0, args.threads)  # warm the pools
            best = {"off": 0.0, "on": 0.0}
            for r in range(args.rounds):
                for name, gw in (gateways.items() if r % 2 == 0 else reversed(list(gateways.items()))):
                    qps = throughput(gw.addr, args.seconds, args.threads)
                    best[name] = max(best[name], qps)
                    print(f"round {r + 1}: telemetry {name:3} {qps:8.0f} queries/s", flush=True)
            time.sleep(6)  # one more metrics export interval
        finally:
            for gw in gateways.values():
                gw.stop()
    ours.send("stop")
    spans, metric_exports = ours.recv()
    sink.join()
    cost = 1 - best["on"] / best["off"]
    print(f"\nsmall-query throughput, {args.threads} clients, best of {args.rounds} rounds of {args.seconds:.0f}s:")
    print(f"  telemetry off: {best['off']:8.0f} queries/s")
    print(f"  telemetry on:  {best['on']:8.0f} queries/s  ({spans} spans and {metric_exports} metric exports received)")
    print(f"  cost of telemetry: {cost * 100:.1f}%")
    if spans == 0:
        sys.exit("the receiver got no spans: export was not on")
    if args.json:
        Path(args.json).write_text(json.dumps({"qps": best, "cost": cost, "spans": spans}, indent=2))


if __name__ == "__main__":
    main()
