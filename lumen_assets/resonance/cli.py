"""`lumen exporter`: serve the Prometheus gauges of a workspace (seed segA C12: port 9108)."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path


def cmd_exporter(args: argparse.Namespace) -> int:
    from lumen_assets.config import ConfigError, load_config, resolve_config_path
    from lumen_assets.resonance.exporter import ExporterSources, serve

    workspace = Path(args.workspace).expanduser().resolve()
    if not workspace.is_dir():
        print(f"lumen exporter: workspace {workspace} is not a folder")
        return 2
    try:
        config = load_config(resolve_config_path(workspace, args.config))
    except ConfigError as exc:
        print(f"lumen exporter: {exc}")
        return 2
    port = args.port or config.resonance.exporter_port
    try:
        server, _ = serve(ExporterSources.for_workspace(workspace, config), port, args.addr)
    except OSError as exc:
        print(f"lumen exporter: cannot listen on {args.addr}:{port}: {exc.strerror} (try --port 9118)")
        return 1
    print(f"[exporter] serving {workspace} on {args.addr}:{port} -> /metrics, /rhythm_metrics", flush=True)
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    exporter = subparsers.add_parser("exporter", help="serve Prometheus gauges (signals, rule deltas, resonance, SLIs)")
    exporter.add_argument(
        "--workspace", default=os.environ.get("LUMEN_WORKSPACE", "."), help="the workspace folder (default: $LUMEN_WORKSPACE or .)"
    )
    exporter.add_argument("--config", help="config file (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")
    exporter.add_argument("--port", type=int, help="port (default: resonance.exporter_port, 9108)")
    exporter.add_argument("--addr", default="0.0.0.0", help="address to bind (default 0.0.0.0, as the seed)")
    exporter.set_defaults(func=cmd_exporter)
