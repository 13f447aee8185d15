"""The `lumen` command. Core commands live here; each area may add its own through `<area>/cli.py`.

An area module `lumen_assets/<area>/cli.py` exposes `register(subparsers)`, adding argparse sub-commands
whose `func(args) -> int` returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from lumen_assets.areas import AREAS


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="lumen", description=__doc__.splitlines()[0])
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    from lumen_assets import runner

    runner.register(subparsers)
    from lumen_assets import deployment

    deployment.register(subparsers)
    for area in AREAS:
        try:
            module = importlib.import_module(f"lumen_assets.{area}.cli")
        except ModuleNotFoundError as exc:
            if exc.name != f"lumen_assets.{area}.cli":
                raise
            continue
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
