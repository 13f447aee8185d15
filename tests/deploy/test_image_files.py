"""The files for a deployment on more than one machine (issue 16 §2): the user-code image's SBOM naming the
image by its digest and attested like every other artefact, the build script's context, and the Helm values'
agreement with what `lumen deploy` writes. Building the image itself needs a Docker daemon and takes minutes:
`deploy/build_image.sh` does it (README "Scale out" has the figures), not the unit tests."""

from __future__ import annotations

import base64
import importlib.util
import json
import re
import tomllib
from pathlib import Path

import dagster as dg
import yaml

from lumen_assets.attest.verifier import TrustLayout, verify_artifact
from lumen_assets.cli import main
from lumen_assets.deployment import LOCATION_TAG
from tests.attest.test_defs import _run, _workspace

ROOT = Path(__file__).resolve().parents[2]
IMAGE_ID = "sha256:" + "ab12" * 16


def _image_sbom_module():
    spec = importlib.util.spec_from_file_location("image_sbom", ROOT / "deploy" / "image_sbom.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _environment_sbom() -> dict:
    """The shape cyclonedx-py 7 writes for an environment (`--output-reproducible`), cut down."""
    return {
        "bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1,
        "metadata": {"component": {"type": "application", "bom-ref": "root-component", "name": "lumen",
                                   "version": "0.1.0"}},
        "components": [{"type": "library", "bom-ref": "dagster==1.13.27", "name": "dagster",
                        "version": "1.13.27", "purl": "pkg:pypi/dagster@1.13.27"}],
        "dependencies": [{"ref": "root-component", "dependsOn": ["dagster==1.13.27"]},
                         {"ref": "dagster==1.13.27"}],
    }


def test_the_image_sbom_names_the_image_by_its_id(tmp_path: Path, capsys) -> None:
    module = _image_sbom_module()
    source = tmp_path / "sbom.cdx.json"
    source.write_text(json.dumps(_environment_sbom()))
    out = tmp_path / "image.cdx.json"
    assert module.main([str(source), "--image", "registry.example:5000/lumen-user-code:0.1.0",
                        "--image-id", IMAGE_ID, "-o", str(out)]) == 0
    document = json.loads(out.read_text())
    image = document["metadata"]["component"]
    assert image["type"] == "container" and image["name"] == "registry.example:5000/lumen-user-code"
    assert image["version"] == "0.1.0" and image["hashes"] == [{"alg": "SHA-256", "content": "ab12" * 16}]
    assert [c["name"] for c in document["components"]] == ["lumen", "dagster"]
    assert document["dependencies"][0] == {"ref": f"image:{IMAGE_ID}", "dependsOn": ["root-component"]}
    assert json.loads(source.read_text()) == _environment_sbom()  # the image's own SBOM stays as it was
    # still CycloneDX 1.6, by the schema of the CycloneDX library cyclonedx-py itself uses (a test extra)
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(out.read_text()) is None

    # an image without a tag, and a registry port that is not a tag
    assert module.image_sbom(_environment_sbom(), "registry.example:5000/lumen", IMAGE_ID)["metadata"][
        "component"]["name"] == "registry.example:5000/lumen"

    # cyclonedx-py without --pyproject writes no metadata.component: the image becomes the root all the same
    bare = {k: v for k, v in _environment_sbom().items() if k != "metadata"}
    rooted = module.image_sbom(bare, "lumen-user-code:0.1.0", IMAGE_ID)
    assert rooted["metadata"]["component"]["type"] == "container" and rooted["components"] == bare["components"]

    assert module.main([str(source), "--image", "x:1", "--image-id", "sha256:ABC", "-o", str(out)]) == 2
    assert "is not sha256:<64 lowercase hex digits>" in capsys.readouterr().err
    assert module.main([str(out), "--image", "x:1", "--image-id", IMAGE_ID, "-o", str(tmp_path / "o2")]) == 2
    assert f"{out}: metadata.component is already a container" in capsys.readouterr().err
    (tmp_path / "spdx.json").write_text('{"spdxVersion": "SPDX-2.3"}')
    assert module.main([str(tmp_path / "spdx.json"), "--image", "x:1", "--image-id", IMAGE_ID,
                        "-o", str(tmp_path / "o3")]) == 2
    assert f"{tmp_path / 'spdx.json'}: not a CycloneDX document" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_the_image_digest_is_signed_and_logged_through_its_sbom(tmp_path: Path) -> None:
    """`lumen deploy sbom --from` the image's SBOM, the `attestations` run signs it: `lumen verify` then fails
    for an SBOM naming another image ID."""
    module = _image_sbom_module()
    ws = _workspace(tmp_path)
    source = tmp_path / "sbom.cdx.json"
    source.write_text(json.dumps(_environment_sbom()))
    image_sbom = tmp_path / "lumen-user-code-0.1.0.cdx.json"
    assert module.main([str(source), "--image", "lumen-user-code:0.1.0", "--image-id", IMAGE_ID,
                        "-o", str(image_sbom)]) == 0
    assert main(["deploy", "sbom", "--workspace", str(ws), "--from", str(image_sbom), "--version", "0.1.0"]) == 0
    assert _run(ws, dg.DagsterInstance.ephemeral()).success
    attested = ws / "sbom" / "lumen-0.1.0.cdx.json"
    envelope = json.loads((ws / "attest" / "sbom" / "lumen-0.1.0.cdx.json.dsse.json").read_text())
    statement = json.loads(base64.b64decode(envelope["payload"]))
    assert statement["subject"][0]["name"] == "sbom/lumen-0.1.0.cdx.json"
    trust = TrustLayout(log_origin="lumen.local/tlog")
    report = verify_artifact(attested, ws, trust)
    assert report.ok, report.failure
    assert json.loads(attested.read_text())["metadata"]["component"]["hashes"][0]["content"] == "ab12" * 16
    attested.write_text(attested.read_text().replace("ab12" * 16, "cd34" * 16))
    assert not verify_artifact(attested, ws, trust).ok


def test_the_build_context_holds_every_installed_package_folder() -> None:
    """deploy/build_image.sh copies the files the Dockerfile's `pip install` needs: every folder pyproject.toml
    installs a package from, the config it reads, and the files the Dockerfile copies."""
    script = (ROOT / "deploy" / "build_image.sh").read_text()
    copy_line = re.search(r'^cp -r (.*?)"\$ctx/"$', script, re.S | re.M)
    assert copy_line, "the cp -r line of the build context moved"
    copied = set(re.findall(r'"\$repo/([^"]+)"', copy_line.group(1)))
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    folders = {package.split(".")[0] for package in setuptools["packages"] if package.split(".")[0] != "lumen"}
    folders |= {path.split("/")[0] for path in setuptools["package-dir"].values()}
    assert folders <= copied, folders - copied
    assert {"pyproject.toml", "README.md", "config"} <= copied
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    for source in re.findall(r"^COPY (?!--from)(\S+) ", dockerfile, re.M):
        assert source in copied | {"wheels"}, source
    for path in copied:
        assert (ROOT / path).exists(), path


def test_the_helm_values_serve_the_locations_lumen_deploy_writes(tmp_path: Path) -> None:
    """No Helm chart can be rendered here (README "Scale out"): this checks what the values say against Lumen
    itself. Each user deployment's --python-file is the location file `lumen deploy workspace` writes for that
    location name under the shared volume; the run queue's limits are those `lumen deploy instance` writes."""
    values = yaml.safe_load((ROOT / "deploy" / "helm" / "values.yaml").read_text())
    deployments = values["dagster-user-deployments"]["deployments"]
    names, files = [], []
    for deployment in deployments:
        args = dict(zip(deployment["dagsterApiGrpcArgs"][::2], deployment["dagsterApiGrpcArgs"][1::2], strict=True))
        names.append(args["--location-name"])
        files.append(Path(args["--python-file"]))
        mounts = [m["mountPath"] for m in deployment["volumeMounts"]]
        assert any(Path(args["--python-file"]).is_relative_to(m) for m in mounts), deployment["name"]
        assert deployment["includeConfigInLaunchedRuns"]["enabled"] is True  # run pods get the volume and secrets
        assert deployment["image"] == deployments[0]["image"]  # one image serves every workspace
    assert len(set(names)) == len(names) and len({f.parent.parent for f in files}) == 1
    out = files[0].parent.parent  # /workspaces/_deploy
    workspaces = []
    for name in names:
        ws = tmp_path / "workspaces" / name
        ws.mkdir(parents=True)
        (ws / "lumen.yaml").write_text(f"location:\n  name: {name}\n  asset_prefix: {name}\n")
        workspaces.append(str(ws))
    local_out = tmp_path / "workspaces" / out.name
    assert main(["deploy", "workspace", *workspaces, "--out", str(local_out)]) == 0
    for name, file in zip(names, files, strict=True):
        assert file.name == f"{name}.py" and (local_out / file.relative_to(out)).is_file(), file

    assert main(["deploy", "instance", "--out", str(tmp_path / "home")]) == 0
    instance = yaml.safe_load((tmp_path / "home" / "dagster.yaml").read_text())
    queue = values["dagsterDaemon"]["runCoordinator"]
    assert queue["type"] == "QueuedRunCoordinator"
    limits = queue["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert limits == instance["run_coordinator"]["config"]["tag_concurrency_limits"]
    assert limits[0]["key"] == LOCATION_TAG
    assert values["postgresql"]["postgresqlScheme"] == instance["storage"]["postgres"]["postgres_db"]["scheme"]
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    # the tag is the version deploy/build_image.sh gives the image by default
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert deployments[0]["image"]["tag"] == version
