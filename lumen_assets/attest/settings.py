"""Config section `attest` of config/lumen.yaml: what gets attested, where trust material and keys live."""

from __future__ import annotations

from pydantic import Field

from lumen_assets.section import Section, WorkspacePath


class AttestedArtifact(Section):
    """A glob of workspace files and the asset that produces them (the attestation's lineage)."""

    glob: WorkspacePath
    asset: str
    exclude: list[WorkspacePath] = Field(default_factory=list)


def _default_artifacts() -> list[AttestedArtifact]:
    return [
        AttestedArtifact(glob="controls/reports/report_*.md", asset="daily_report"),
        AttestedArtifact(glob="controls/reports/report_*.pdf", asset="daily_report"),
        AttestedArtifact(glob="archive/*/*", asset="archive_bundle", exclude=["archive/*/*.tmp", "archive/.*/*"]),
        AttestedArtifact(glob="logs/bayes_posterior.jsonl", asset="effect_posteriors"),
        AttestedArtifact(glob="logs/bayes_posterior_conjugate.jsonl", asset="effect_posteriors_conjugate"),
        AttestedArtifact(glob="custody/sim/artifacts/certificate_*.pdf", asset="ceremony"),  # `lumen ceremony`
        AttestedArtifact(glob="sbom/*.cdx.json", asset="sbom"),  # the user-code image's SBOM (`lumen deploy sbom`)
    ]


class CustodySettings(Section):
    """Root custody (seed segD §4-§5): where the ceremony record lives and when it is overdue."""

    records_dir: WorkspacePath = "attest/custody/records"
    prints_dir: WorkspacePath = "attest/custody/prints"
    max_age_days: int = Field(180, ge=1, description="custody age at which the resonance safety score reaches 0")


class SigstoreSettings(Section):
    """Who a Sigstore verifier should demand (issue 14): the signer certificate's SAN URI and OIDC issuer.

    Auditors read both from attest/trust/sigstore.json; change them only with a new signer (they are in
    the certificate)."""

    identity: str = Field("https://lumen.local/signer", min_length=1, description="SAN URI of signer certificates")
    issuer: str = Field("https://lumen.local/root", min_length=1,
                        description="value of the OIDC-issuer extension 1.3.6.1.4.1.57264.1.1")


class AttestSettings(Section):
    """Attestations and the trust chain (seed segD §2-§3, §7)."""

    attest_dir: WorkspacePath = "attest"
    trust_dir: WorkspacePath = "attest/trust"
    keystore_dir: WorkspacePath = Field(".lumen/keys", description="signer and log keys (encrypted), inside the workspace")
    passphrase_env: str = "LUMEN_SIGNER_PASS"
    root_passphrase_env: str = "LUMEN_ROOT_PASS"
    root_years: int = Field(10, ge=1, le=30)
    signer_days: int = Field(180, ge=1, le=825)
    overlap_days: int = Field(14, ge=0)
    crl_next_update_days: int = Field(30, ge=1)
    artifacts: list[AttestedArtifact] = Field(default_factory=_default_artifacts)
    custody: CustodySettings = CustodySettings()
    sigstore: SigstoreSettings = SigstoreSettings()
