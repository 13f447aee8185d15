"""The `gateway_state` asset and its signature-hash integrity check."""


import dagster as dg

from lumen.resources.workspace import LumenWorkspace
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
        yield dg.MaterializeResult(metadata={"present": False, "path": dg.MetadataValue.path(str(path))})
        yield dg.AssetCheckResult(
            check_name="gateway_signature_hash", passed=False, severity=dg.AssetCheckSeverity.WARN,
            metadata={"reason": f"{path} not found: the gateway is not configured"},
        )
        return
    try:
        state = read_gateway_state(path)
    except GatewayError as exc:
        raise dg.Failure(description=str(exc)) from None
    yield dg.MaterializeResult(
        metadata={
            "present": True,
            "gateway_id": state.gateway_id,
            "status": state.status,
            "next_status": state.next_status() or "(locked)",
            "signer": state.signer,
            "recorded_hash": state.recorded_hash,
            "path": dg.MetadataValue.path(str(path)),
        }
    )
    signer_expected = workspace.config.gateway.expected_signer
    yield dg.AssetCheckResult(
        check_name="gateway_signature_hash",
        passed=state.hash_matches and state.signer == signer_expected,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "recorded_hash": state.recorded_hash,
            "computed_hash": state.computed_hash,
            "signer": state.signer,
            "expected_signer": signer_expected,
        },
    )
