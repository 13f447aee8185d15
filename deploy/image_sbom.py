"""The user-code image's SBOM, naming the image by its digest (deploy/build_image.sh step 4).

cyclonedx-py describes the image's Python environment with Lumen as `metadata.component`. This writes the same
CycloneDX document with the image itself as `metadata.component` (type `container`, its image ID as the
SHA-256 hash), Lumen moved into `components`, and a dependency image -> Lumen. Once `lumen deploy sbom --from`
has put it into a workspace, the `attestations` asset signs it and the transparency log includes it, so the
signature covers the image digest, the way `cosign attest --type cyclonedx` binds an SBOM to an image (here
without a registry, Fulcio or Rekor: the workspace's own signer and log).

The image ID is the sha256 of the image's config blob: `docker image inspect --format '{{.Id}}' IMAGE` prints
the same value on any machine that pulled the image (a registry's manifest digest, what cosign signs, is
known only after a push and is not this value).

    python deploy/image_sbom.py SBOM --image NAME:TAG --image-id sha256:HEX -o OUT
Standard library only: it runs with any Python 3.11+.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")


class ImageSbomError(ValueError):
    pass


def image_sbom(document: Any, image: str, image_id: str, source: str = "the SBOM") -> dict[str, Any]:
    """A copy of `document` (a CycloneDX JSON SBOM) whose metadata.component is the image `image`."""
    if not IMAGE_ID.fullmatch(image_id):
        raise ImageSbomError(f"--image-id {image_id!r} is not sha256:<64 lowercase hex digits>")
    if not isinstance(document, dict) or document.get("bomFormat") != "CycloneDX":
        raise ImageSbomError(f"{source}: not a CycloneDX document (bomFormat is not 'CycloneDX')")
    metadata = document.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ImageSbomError(f"{source}: metadata is not an object")
    app = metadata.get("component")  # Lumen, when cyclonedx-py had --pyproject
    if isinstance(app, dict) and app.get("type") == "container":
        raise ImageSbomError(f"{source}: metadata.component is already a container ({app.get('name')})")
    name, _, tag = image.rpartition(":") if ":" in image.rsplit("/", 1)[-1] else (image, "", "")
    ref = f"image:{image_id}"
    container: dict[str, Any] = {
        "type": "container",
        "bom-ref": ref,
        "name": name,
        "hashes": [{"alg": "SHA-256", "content": image_id.removeprefix("sha256:")}],
        "properties": [
            {"name": "lumen:image-id", "value": image_id},
            {"name": "lumen:image-id-kind", "value": "docker image ID: sha256 of the image config"},
        ],
    }
    if tag:
        container["version"] = tag
    out = json.loads(json.dumps(document))  # a deep copy; the input stays as it was
    out.setdefault("metadata", {})["component"] = container
    if isinstance(app, dict):
        out["components"] = [app, *out.get("components", [])]
        if app.get("bom-ref"):
            out["dependencies"] = [{"ref": ref, "dependsOn": [app["bom-ref"]]}, *out.get("dependencies", [])]
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sbom", help="the SBOM cyclonedx-py made in the image (/opt/lumen/sbom.cdx.json)")
    parser.add_argument("--image", required=True, help="the image's name, e.g. registry.example/lumen-user-code:0.1.0")
    parser.add_argument("--image-id", required=True, help="docker image inspect --format '{{.Id}}' IMAGE")
    parser.add_argument("-o", "--output", required=True, help="where to write the image's SBOM")
    args = parser.parse_args(argv)
    source = Path(args.sbom)
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
        result = image_sbom(document, args.image, args.image_id, str(source))
    except (OSError, ValueError) as exc:  # ImageSbomError and json's JSONDecodeError are ValueErrors
        print(f"image_sbom: {source}: {exc}" if not str(exc).startswith(str(source)) else f"image_sbom: {exc}",
              file=sys.stderr)
        return 2
    target = Path(args.output)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(json.dumps(result, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    tmp.replace(target)  # atomic: a reader sees the old file or the whole new one
    return 0


if __name__ == "__main__":
    sys.exit(main())
