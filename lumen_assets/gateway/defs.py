"""The `gateway_state` asset and its signature-hash integrity check."""


import dagster as dg

from lumen.resources.workspace import LumenWorkspace
from lumen_assets.check_words import described
from lumen_assets.gateway.state import GatewayError, read_gateway_state


@dg.asset(
    group_name="ingest",
    kinds={"yaml"},
    owners=["team:lumen"],
    description="The gateway activation lifecycle (initializing -> binding -> resonating -> locked) and its "
    "signature; read only, never rewritten.",
    check_specs=[
        dg.AssetCheckSpec("gateway_signature_hash", asset="gateway_state", blocking=True,
                          description="sha256(signature.phrase) equals the recorded resonance_hash_sha256."),
    ],
)
def gateway_state(workspace: LumenWorkspace):
    path = workspace.layout.gateway_yaml
    if not path.exists():
        yield dg.MaterializeResult(metadata={"present": False, "path": dg.MetadataValue.path(workspace.rel(path))})
        yield dg.AssetCheckResult(
            check_name="gateway_signature_hash", passed=False, severity=dg.AssetCheckSeverity.WARN,
            description=described(False, "", f"{workspace.config.paths.gateway_yaml} not found: there is no "
                                  "gateway signature to verify",
                                  "if this workspace has a gateway, put its activation YAML there (or set "
                                  "paths.gateway_yaml); otherwise ignore this warning"),
            metadata={"reason": f"{workspace.rel(path)} not found: the gateway is not configured"},
        )
        return
    try:
        state = read_gateway_state(path)
    except GatewayError as exc:
        raise dg.Failure(description=workspace.scrub(str(exc))) from None
    yield dg.MaterializeResult(
        metadata={
            "present": True,
            "gateway_id": state.gateway_id,
            "status": state.status,
            "next_status": state.next_status() or "(locked)",
            "signer": state.signer,
            "recorded_hash": state.recorded_hash,
            "path": dg.MetadataValue.path(workspace.rel(path)),
        }
    )
    signer_expected = workspace.config.gateway.expected_signer
    wrong = []
    if not state.hash_matches:
        wrong.append(f"sha256 of signature.phrase is {state.computed_hash[:16]}…, the file records "
                     f"{str(state.recorded_hash)[:16]}…")
    if state.signer != signer_expected:
        wrong.append(f"signed by {state.signer!r}, expected {signer_expected!r} (gateway.expected_signer)")
    yield dg.AssetCheckResult(
        check_name="gateway_signature_hash",
        passed=not wrong,
        severity=dg.AssetCheckSeverity.ERROR,
        description=described(
            not wrong, f"signature hash matches and the signer is {signer_expected}",
            f"{workspace.config.paths.gateway_yaml}: " + "; ".join(wrong),
            "the activation file was changed or signed by someone else: compare it with its signed original and "
            "restore it (Lumen never rewrites it); downstream assets are blocked until it passes",
        ),
        metadata={
            "recorded_hash": state.recorded_hash,
            "computed_hash": state.computed_hash,
            "signer": state.signer,
            "expected_signer": signer_expected,
        },
    )
