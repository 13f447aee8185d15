"""Base for every config section: typed, frozen, unknown keys rejected."""

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """A config section; `extra="forbid"` makes a misspelt key an error instead of a silent default."""

    model_config = ConfigDict(extra="forbid", frozen=True)
