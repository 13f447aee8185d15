"""`lumen ceremony`: rehearse a root-custody ceremony in a terminal UI, or from an answers file (seed segD §6).

Exit codes: 0 the rehearsal passed (log, certificate and custody record written), 1 it did not pass (log
written), 2 a bad argument, config or answers file (the message names file and key).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def _usage(message: str) -> int:
    print(f"lumen ceremony: {message}")
    return EXIT_USAGE


def cmd_ceremony(args: argparse.Namespace) -> int:
    from lumen_assets.ceremony.engine import AnswersError, read_answers, score_rehearsal, write_rehearsal_log
    from lumen_assets.ceremony.settings import CeremonyConfigError, load_ceremony, resolve_ceremony_path
    from lumen_assets.config import ConfigError, load_config, resolve_config_path
    from lumen_assets.layout import WorkspaceLayout

    workspace: Path = args.workspace
    if not workspace.is_dir():
        return _usage(f"workspace {workspace} is not a folder")
    try:
        config = load_config(resolve_config_path(workspace, args.config))
        ceremony = load_ceremony(resolve_ceremony_path(workspace, args.ceremony))
        if args.list:
            for scenario in ceremony.scenarios:
                anomalies = ", ".join(a.id for a in scenario.anomalies) or "no anomalies"
                print(f"{scenario.id} — {scenario.title} ({len(scenario.steps)} steps; {anomalies})")
            return EXIT_OK
        if args.scenario:
            ceremony.scenario(args.scenario)
        started = dt.datetime.now(dt.UTC)
        if args.answers:
            responses = read_answers(Path(args.answers), ceremony)
            mode = "scripted"
        else:
            from lumen_assets.ceremony.tui import CeremonyApp

            responses = CeremonyApp(ceremony, args.scenario, args.trainee).run()
            if responses is None:
                print("[ceremony] quit before the end: nothing scored, nothing written")
                return EXIT_FAIL
            mode = "interactive"
    except (ConfigError, CeremonyConfigError, AnswersError) as exc:
        return _usage(str(exc))
    if args.trainee and mode == "scripted":
        responses.trainee = args.trainee
    responses.witnesses = list(dict.fromkeys([*responses.witnesses, *(args.witness or [])]))
    finished = dt.datetime.now(dt.UTC)
    result = score_rehearsal(ceremony, responses)
    layout = WorkspaceLayout.of(workspace, config)
    log_path = write_rehearsal_log(layout.ceremony_artifacts, ceremony, responses, result, started, finished, mode)
    for anomaly in result.anomalies:
        state = "handled" if anomaly.handled else f"missing {anomaly.missing} wrong {anomaly.wrong}"
        print(f"[ceremony] anomaly {anomaly.anomaly}: chose {anomaly.chosen or 'nothing'} -> "
              f"{anomaly.points:g}/{anomaly.max_points:g} ({state})")
    for question in result.questions:
        print(f"[ceremony] quiz {question.question}: {question.points:g}/{question.max_points:g}")
    print(f"[ceremony] {result.trainee} · {result.scenario}: {result.points:g}/{result.max_points:g} "
          f"({result.score:.0%}) -> {'PASSED' if result.passed else 'NOT PASSED'}")
    for reason in result.reasons:
        print(f"[ceremony]   {reason}")
    print(f"[ceremony] rehearsal log: {log_path}")
    if not result.passed:
        return EXIT_FAIL
    return _certify(args, workspace, config, result, log_path, finished)


def _certify(args: argparse.Namespace, workspace: Path, config, result, log_path: Path, finished: dt.datetime) -> int:
    """Certificate PDF (QR of the root fingerprint) and a `rehearsal` custody record (resonance custody age)."""
    from lumen_assets.attest.custody import CustodyError, write_record
    from lumen_assets.attest.keys import TRUST_ROOT, TrustError, fingerprint, load_cert
    from lumen_assets.ceremony.certificate import render_certificate

    root_path = Path(args.root_cert) if args.root_cert else workspace / config.attest.trust_dir / TRUST_ROOT
    try:
        root_fp = fingerprint(load_cert(root_path))
    except TrustError as exc:
        print(f"[ceremony] no certificate: the root fingerprint is needed ({exc}); pass --root-cert PEM")
        return EXIT_USAGE
    log_sha = hashlib.sha256(log_path.read_bytes()).hexdigest()
    stamp = finished.strftime("%Y%m%dT%H%M%SZ")
    pdf = log_path.parent / f"certificate_{result.scenario}_{stamp}.pdf"
    render_certificate(pdf, result, root_fp, log_sha, finished, config.reports.font_path)
    pdf_sha = hashlib.sha256(pdf.read_bytes()).hexdigest()
    witnesses = list(dict.fromkeys([result.trainee, *(args.witness or [])]))
    try:
        record, _ = write_record(
            workspace / config.attest.custody.records_dir, "rehearsal", witnesses,
            notes=f"ceremony rehearsal {result.scenario} passed ({result.score:.0%}); log {log_path.name} "
                  f"sha256 {log_sha}; certificate {pdf.name} sha256 {pdf_sha}",
            root_fingerprint=root_fp, now=finished,
        )
    except CustodyError as exc:
        print(f"[ceremony] certificate written but no custody record: {exc}")
        return EXIT_FAIL
    print(f"[ceremony] certificate: {pdf} (sha256 {pdf_sha})")
    print(f"[ceremony] custody record: {record} (counts for the resonance custody age)")
    print("[ceremony] the next `attestations` run signs the certificate and enters it into the transparency log "
          "(e.g. lumen run --workspace W --select 'attestations+')")
    return EXIT_OK


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("ceremony", help="rehearse a root-custody ceremony (TUI or --answers FILE)")
    parser.add_argument("--workspace", type=lambda s: Path(s).expanduser().resolve(), default=Path.cwd(),
                        help="the workspace folder (default: the current folder)")
    parser.add_argument("--config", help="lumen config (default: WORKSPACE/lumen.yaml, else config/lumen.yaml)")
    parser.add_argument("--ceremony", help="ceremony config (default: WORKSPACE/ceremony.yaml, else config/ceremony.yaml)")
    parser.add_argument("--scenario", help="scenario id (the TUI asks when omitted)")
    parser.add_argument("--trainee", help="the trainee's name (the TUI asks when omitted)")
    parser.add_argument("--answers", help="answers file (YAML/JSON): a scripted rehearsal, no terminal UI")
    parser.add_argument("--witness", action="append", help="a witness present (repeatable)")
    parser.add_argument("--root-cert", help="root certificate PEM (default: WORKSPACE/<attest.trust_dir>/root.pem)")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    parser.set_defaults(func=cmd_ceremony)
