"""Issue 11 §1: the posteriors converge on workspaces Lumen has never seen, and their family-wise intervals
cover the injected effects at the nominal rate. The workspaces come from tests/support/messy_workspace.py;
seeds are enumerated (range(FAMILY_SIZE)), never picked."""

from __future__ import annotations

import json
import math
from zoneinfo import ZoneInfo

import dagster as dg
import pytest

from lumen.resources.workspace import LumenWorkspace
from tests.support.messy_workspace import ARCHETYPES, messy_shape, write_messy_workspace

FAMILY_SIZE = 30
ALPHA = 0.10  # family-wise: all of a workspace's intervals cover with probability >= 1 - ALPHA
RANGE_START = "dagster/asset_partition_range_start"
RANGE_END = "dagster/asset_partition_range_end"


def binomial_upper(n: int, p: float, tail: float) -> int:
    """Smallest m with P(Bin(n, p) >= m) <= tail: more misses than m - 1 is evidence of under-coverage."""
    cumulative = 0.0
    for m in range(n + 1):
        cumulative += math.comb(n, m) * p**m * (1 - p) ** (n - m)
        if 1 - cumulative <= tail:
            return m + 1
    return n + 1


def test_generator_is_deterministic_and_messy(tmp_path):
    first = write_messy_workspace(tmp_path / "a", 3)
    again = write_messy_workspace(tmp_path / "b", 3)
    assert first.truth == again.truth
    assert (tmp_path / "a/logs/metrics.csv").read_bytes() == (tmp_path / "b/logs/metrics.csv").read_bytes()
    assert first.shape.complete_events == {"rule_a": 1, "rule_b": 4, "rule_c": 300}
    assert first.bad_metrics_lines >= 1 and first.blank_lines >= 1
    text = (tmp_path / "a/logs/metrics.csv").read_text()
    assert "Z," in text and "+0900," in text and "+09:00," in text  # mixed timestamp spellings


def test_the_family_holds_every_hard_corner():
    shapes = [messy_shape(seed) for seed in range(FAMILY_SIZE)]
    counts = [n for s in shapes for n in s.complete_events.values()]
    assert min(counts) == 1 and max(counts) == 300
    assert {len(s.complete_events) for s in shapes} >= {1, 3, 10}
    assert any(set(s.null_rules) == set(s.complete_events) for s in shapes)  # every effect ~0
    assert any(s.outlier_rate > 0 for s in shapes) and any(s.pending for s in shapes)
    assert any(s.insufficient for s in shapes)
    assert len(ARCHETYPES) < FAMILY_SIZE


def _data_days(root) -> list[str]:
    """The reporting days (Asia/Seoul) the workspace's rule events fall on: rule_effects is partitioned by day."""
    from lumen_assets.ingest.rules import read_rule_events

    history = read_rule_events(root / "controls/rules_history.jsonl")
    tz = ZoneInfo("Asia/Seoul")
    return sorted({event.ts.astimezone(tz).date().isoformat() for event in history.events})


def _materialise_workspace(root) -> dg.ExecuteInProcessResult:
    """The real asset path, as `lumen run` drives it: ingest, effects over all events in one run, posteriors."""
    from lumen_assets.effects.defs import rule_effects
    from lumen_assets.ingest.defs import metrics, rule_events
    from lumen_assets.posteriors.defs import (
        effect_posteriors,
        effect_posteriors_conjugate,
        posterior_conjugate_agreement,
    )

    resources = {"workspace": LumenWorkspace(root=str(root))}
    instance = dg.DagsterInstance.ephemeral()
    assert dg.materialize([rule_events, metrics], resources=resources, instance=instance).success
    days = _data_days(root)
    assert dg.materialize([rule_effects], resources=resources, instance=instance,
                          tags={RANGE_START: days[0], RANGE_END: days[-1]}).success
    return dg.materialize([effect_posteriors_conjugate, effect_posteriors, posterior_conjugate_agreement],
                          resources=resources, instance=instance)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # ~10 min on a quiet 2-core machine; the margin is for a loaded one
def test_pymc_converges_and_covers_on_a_family_of_messy_workspaces(tmp_path_factory):
    """Zero convergence failures on FAMILY_SIZE workspaces; family-wise (Bonferroni) intervals miss the
    injected effects in no more workspaces than Binomial(FAMILY_SIZE, ALPHA) allows at the 0.1% level."""
    failures, misses, summary = [], [], []
    for seed in range(FAMILY_SIZE):
        root = tmp_path_factory.mktemp(f"messy{seed}")
        workspace = write_messy_workspace(root, seed)
        cells = workspace.cells
        rules = sorted(workspace.shape.complete_events)
        (root / "lumen.yaml").write_text(
            f"rules:\n  known: [{', '.join(rules)}]\nposteriors:\n  hdi_prob: {1 - ALPHA / len(cells):.6f}\n",
            encoding="utf-8",
        )
        result = _materialise_workspace(root)
        assert result.success, f"seed {seed}: the run failed"
        checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
        convergence = checks["posterior_convergence"]
        metadata = result.asset_materializations_for_node("effect_posteriors")[0].metadata
        attempts = metadata["attempts"].value
        summary.append((seed, len(cells), metadata["geometry"].value, len(attempts), metadata["sampling_seconds"].value))
        if not convergence.passed:
            failures.append((seed, convergence.description, attempts))
            continue
        if "posterior_conjugate_agreement" in checks:
            assert checks["posterior_conjugate_agreement"].passed, (seed, checks["posterior_conjugate_agreement"].description)
        record = json.loads((root / "logs/bayes_posterior.jsonl").read_text().splitlines()[-1])
        assert record["converged"] is True
        missed = []
        for rule, signal in cells:
            cell = record["rules"].get(rule, {}).get(signal)
            assert cell is not None, f"seed {seed}: no posterior for {rule}/{signal} ({workspace.shape})"
            truth = workspace.truth[rule][signal]
            if not cell["hdi"][0] <= truth <= cell["hdi"][1]:
                missed.append((rule, signal, truth, cell["hdi"]))
        if missed:
            misses.append((seed, missed))
    print("\nseed, cells, geometry, attempts, seconds:", *summary, sep="\n")
    assert not failures, f"convergence failures: {failures}"
    bound = binomial_upper(FAMILY_SIZE, ALPHA, 0.001)
    assert len(misses) < bound, f"{len(misses)} of {FAMILY_SIZE} workspaces missed an injected effect: {misses}"
