"""quote_bank and risk_ledger as Dagster assets on the demo workspace: seed parity, idempotency, checks."""

from __future__ import annotations

import csv
import json

import dagster as dg
import pytest

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.evidence.defs import (
    quote_bank,
    quote_bank_unique_and_valid,
    risk_ledger,
    risk_ledger_unique_and_valid,
)
from tests.support.demo_workspace import prepare_demo_workspace

# --- the seed's evidence_mapper.py (segB §1.4), transcribed with the reconstructed Korean labels ---------
SEED_LABELS = {"phase": "위상차", "entropy": "엔트로피율", "creative": "창의 밴드", "risk": "위험 밴드"}


def seed_fmt_delta(v, name):
    if v is None:
        return None
    s = ("+" if v >= 0 else "") + f"{v:.3f}"
    return f"{SEED_LABELS.get(name, name)} {s}"


def seed_make_quote(ev):
    try:
        d_phase = None if ev["d_phase"] == "" else float(ev["d_phase"])
        d_entropy = None if ev["d_entropy"] == "" else float(ev["d_entropy"])
        d_crea = None if ev["d_creative"] == "" else float(ev["d_creative"])
        d_risk = None if ev["d_risk"] == "" else float(ev["d_risk"])
    except Exception:
        return None
    good = 0
    if (d_phase is not None) and (d_phase <= -0.01):
        good += 1
    if (d_risk is not None) and (d_risk <= -0.01):
        good += 1
    if (d_crea is not None) and (d_crea >= 0.01):
        good += 1
    conf = [0.4, 0.65, 0.8, 0.92][good]
    parts = [p for p in [seed_fmt_delta(d_crea, "creative"), seed_fmt_delta(d_risk, "risk"),
                         seed_fmt_delta(d_phase, "phase"), seed_fmt_delta(d_entropy, "entropy")] if p]
    sent = " · ".join(parts)
    if not sent:
        return None
    return {"rule": ev.get("rule", ""), "delta": {"phase": d_phase, "entropy": d_entropy, "creative": d_crea, "risk": d_risk},
            "confidence": round(conf, 2), "quote": sent}


def seed_make_risk(ev):
    try:
        d_phase = None if ev["d_phase"] == "" else float(ev["d_phase"])
        d_entropy = None if ev["d_entropy"] == "" else float(ev["d_entropy"])
    except Exception:
        return None
    if (d_phase is not None and d_phase >= 0.03) and (d_entropy is not None and d_entropy >= 0.03):
        return {"severity": "warn", "rule": ev.get("rule", ""), "signal": {"phase": d_phase, "entropy": d_entropy}}
    return None
# ----------------------------------------------------------------------------------------------------------


def jsonl(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return prepare_demo_workspace(tmp_path_factory.mktemp("demo"))


def materialize(root):
    result = dg.materialize(
        [quote_bank, risk_ledger],
        resources={"workspace": LumenWorkspace(root=str(root))},
        instance=dg.DagsterInstance.ephemeral(),
    )
    assert result.success
    return result


def test_quote_bank_equals_the_seed_rules_record_for_record_and_a_rerun_adds_nothing(demo):
    first = materialize(demo)
    with open(demo / "logs/rules_effects.csv", encoding="utf-8", newline="") as handle:
        complete = [row for row in csv.DictReader(handle) if row["status"] == "complete"]
    assert complete, "demo must have complete effects"
    expected_quotes = [q for q in map(seed_make_quote, complete) if q]
    expected_risks = [r for r in map(seed_make_risk, complete) if r]

    quotes = jsonl(demo / "controls/quotes_bank.jsonl")
    risks = jsonl(demo / "controls/risk_ledger.jsonl") if (demo / "controls/risk_ledger.jsonl").exists() else []
    assert [{k: q[k] for k in ("rule", "delta", "confidence", "quote")} for q in quotes] == expected_quotes
    assert [{k: r[k] for k in ("severity", "rule", "signal")} for r in risks] == expected_risks
    assert [q["event_id"] for q in quotes] == [row["event_id"] for row in complete]
    assert [q["ts"][:19] for q in quotes] == [row["rule_ts"][:19] for row in complete]  # the event's time

    meta = first.asset_materializations_for_node("quote_bank")[0].metadata
    assert meta["added"].value == len(expected_quotes)

    second = materialize(demo)
    assert jsonl(demo / "controls/quotes_bank.jsonl") == quotes
    assert second.asset_materializations_for_node("quote_bank")[0].metadata["added"].value == 0


def test_risk_ledger_records_a_risk_once_and_checks_pass(demo, tmp_path):
    root = prepare_demo_workspace(tmp_path / "ws", hours=1.0)
    effects = root / "logs/rules_effects.csv"
    rows = list(csv.DictReader(effects.open(encoding="utf-8")))
    rows[0].update(d_phase="0.05", d_entropy="0.04", status="complete")
    with effects.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    materialize(root)
    materialize(root)
    (risk,) = jsonl(root / "controls/risk_ledger.jsonl")
    assert risk["event_id"] == rows[0]["event_id"] and risk["severity"] == "warn"
    workspace = LumenWorkspace(root=str(root))
    assert quote_bank_unique_and_valid(workspace).passed
    assert risk_ledger_unique_and_valid(workspace).passed


def test_check_fails_on_a_duplicated_record(demo, tmp_path):
    materialize(demo)
    root = tmp_path / "dup"
    (root / "controls").mkdir(parents=True)
    lines = (demo / "controls/quotes_bank.jsonl").read_text(encoding="utf-8").splitlines()
    (root / "controls/quotes_bank.jsonl").write_text("\n".join(lines + lines[:1]) + "\n", encoding="utf-8")
    result = quote_bank_unique_and_valid(LumenWorkspace(root=str(root)))
    assert not result.passed
    assert result.severity == dg.AssetCheckSeverity.ERROR
    assert "appears 2 times" in result.metadata["first_problems"].value
