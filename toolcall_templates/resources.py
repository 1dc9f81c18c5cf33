"""Locate files shipped with the package (``jinja/``, ``dataset_scripts/``, ``hub_card.md``).

In a wheel they are force-included inside the package; in a source checkout or editable install they sit at the
repository root, next to the package.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_path(name: str) -> Path:
    """Path of a shipped resource, looked up inside the package first, then at the repository root."""
    for base in (_PACKAGE_DIR, _PACKAGE_DIR.parent):
        candidate = base / name
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"resource {name!r} is not shipped with toolcall_templates (looked in {_PACKAGE_DIR})")
