"""Base for every config section: typed, frozen, unknown keys rejected, booleans strict, and the
`WorkspacePath` type every workspace path in the config uses."""

from __future__ import annotations

import types
import typing
from pathlib import PurePosixPath, PureWindowsPath
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, Strict


def _is_bool_annotation(annotation: Any) -> bool:
    if annotation is bool:
        return True
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return any(arg is bool for arg in typing.get_args(annotation))
    return False


class Section(BaseModel):
    """A config section; `extra="forbid"` makes a misspelt key an error instead of a silent default.

    Booleans are strict: YAML's `true` / `false` only. Pydantic would otherwise read the strings "yes",
    "off", "false" and the numbers 0 / 1 as booleans, so a quoted `"false"` could silently mean false and
    a typo like `"flase"` fail far away; here they fail at load naming the key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        strict = [name for name, field in cls.model_fields.items()
                  if _is_bool_annotation(field.annotation) and not any(isinstance(m, Strict) for m in field.metadata)]
        if strict:
            for name in strict:
                cls.model_fields[name].metadata.append(Strict())
            cls.model_rebuild(force=True)


def inside_workspace(value: str) -> str:
    """A workspace-relative path (or glob) that stays inside the workspace: not absolute, no `~`, no drive,
    and no `..` that climbs above the workspace root. Lumen joins it to the workspace root."""
    if not value or not value.strip():
        raise ValueError("must be a path relative to the workspace, got an empty string")
    if value.startswith(("/", "\\", "~")) or PureWindowsPath(value).drive or PurePosixPath(value).is_absolute():
        raise ValueError("must be a path relative to the workspace (absolute paths are not allowed)")
    depth = 0
    for part in PurePosixPath(value.replace("\\", "/")).parts:
        if part == "..":
            depth -= 1
            if depth < 0:
                raise ValueError("must stay inside the workspace, but climbs out of it with '..'")
        elif part != ".":
            depth += 1
    return value


WorkspacePath = Annotated[str, AfterValidator(inside_workspace)]
"""A str config value naming a file, folder or glob inside the workspace (relative to its root)."""


def inside_workspace_or_absolute(value: str) -> str:
    """A path that may name something outside the workspace on purpose (a backup folder, a CA bundle):
    absolute, or relative and inside the workspace; a relative path never climbs out with `..`."""
    if value and (value.startswith("/") or PureWindowsPath(value).drive):
        return value
    return inside_workspace(value)


ExternalPath = Annotated[str, AfterValidator(inside_workspace_or_absolute)]
"""A str config value that is either inside the workspace or an absolute path elsewhere (never `..`)."""


class SmtpServerSettings(Section):
    """An SMTP relay, the same keys wherever Lumen sends mail (`reports.distribution.smtp`, `alerts.smtp`).

    The login is named by environment variable (`*_env`, read through lumen.resources.secrets), never
    given as a value; `ca_file` verifies a relay whose certificate comes from a private CA."""

    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    starttls: bool = True
    username_env: str | None = "LUMEN_SMTP_USER"
    password_env: str | None = "LUMEN_SMTP_PASSWORD"
    sender: str = "lumen@system.local"
    ca_file: ExternalPath | None = Field(None, description="PEM bundle to verify the server's certificate (private CA)")
    timeout_s: float = Field(20.0, gt=0)
