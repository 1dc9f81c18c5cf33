"""Output folders that never destroy what the program did not write.

Every folder written by ``toolcall build`` / ``toolcall tokenize`` holds a manifest, ``.toolcall-output.json``, listing
the files that run wrote. The rules, shared by both commands:

* the output may not be, contain, or lie inside any input path (symlinks resolved), with or without ``overwrite``;
* a missing or empty folder is written; an earlier output of ours (it has a manifest) is replaced;
* any other existing folder (or a file) is refused, unless ``overwrite`` is given for a folder;
* the new output is written into a hidden sibling folder and swapped in only when complete: a failed run leaves the
  earlier output as it was and no temporary folder behind;
* replacing removes only the files the earlier manifest lists. Files someone else put in the folder are carried
  into the new one; one at a path the new output writes is refused, unless ``overwrite`` is given (then it is
  replaced).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

MANIFEST_NAME = ".toolcall-output.json"
WRITER = "toolcall-templates"

logger = logging.getLogger(__name__)

HELP = (f"--out may be a new or empty folder, or an earlier output of toolcall (it holds {MANIFEST_NAME}), which is "
        "replaced atomically: only the files that output wrote are removed, files others added are kept. Any other "
        "existing folder is refused unless --overwrite (its files are kept, those at paths the output writes are "
        "replaced). A folder that is, contains or lies inside an input is always refused.")
"""The rules above, for the ``--help`` of the commands that write an output folder."""


class OutputRefused(ValueError):
    """The output path may not be written (it is an input, or holds files this program did not write)."""


@contextmanager
def staged_output(out: str | os.PathLike, *, command: str, inputs: Iterable[str | os.PathLike] = (),
                  overwrite: bool = False) -> Iterator[Path]:
    """A fresh temporary folder beside ``out`` to write the output into; swapped into place when the block ends
    without an error, removed when it raises. ``OutputRefused`` when ``out`` may not be written."""
    target = check_output(out, inputs, overwrite=overwrite)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.tmp-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        yield staging
        _write_manifest(staging, command)
        check_output(target, inputs, overwrite=overwrite)  # the folder may have changed during a long run
        publish(staging, target, overwrite=overwrite)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *, overwrite: bool = False) -> Path:
    """The resolved output path, or ``OutputRefused`` with the reason (see the module docstring)."""
    target = Path(out).expanduser().resolve()
    for path in inputs:
        if not Path(path).expanduser().exists():
            continue  # not a local path (a Hub id): nothing here to protect
        source = Path(path).expanduser().resolve()
        if target == source or source.is_relative_to(target) or target.is_relative_to(source):
            relation = ("is" if target == source else "contains" if source.is_relative_to(target) else "lies inside")
            raise OutputRefused(f"output {str(target)!r} {relation} the input {str(source)!r}; choose another --out")
    if not target.exists():
        return target
    if not target.is_dir():
        raise OutputRefused(f"output {str(target)!r} is an existing file, not a folder; choose another --out")
    if overwrite or is_our_output(target) or not any(target.iterdir()):
        return target
    raise OutputRefused(f"output folder {str(target)!r} exists and was not written by toolcall (no {MANIFEST_NAME}); "
                        "choose another --out, or pass --overwrite to write into it (its other files are kept)")


def is_our_output(folder: Path) -> bool:
    """Whether ``folder`` holds a manifest written by this program."""
    return manifest_files(folder) is not None


def manifest_files(folder: Path) -> set[str] | None:
    """The files (relative POSIX paths) an earlier run wrote into ``folder``, or None without a valid manifest."""
    try:
        manifest = json.loads((folder / MANIFEST_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    files = manifest.get("files") if isinstance(manifest, dict) and manifest.get("written_by") == WRITER else None
    if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
        return None
    return set(files) | {MANIFEST_NAME}


def publish(staging: Path, target: Path, *, overwrite: bool) -> list[str]:
    """Move the finished ``staging`` folder to ``target``; returns the files of others that were kept in it."""
    if not target.exists():
        staging.rename(target)
        return []
    entries = _entries(target)
    if not entries:  # an empty folder: fill it in place (it may be the working directory)
        for child in staging.iterdir():
            child.rename(target / child.name)
        staging.rmdir()
        return []
    ours = manifest_files(target) or {MANIFEST_NAME}
    kept, clashes = _foreign_entries(target, entries, ours, set(_entries(staging)))
    if clashes and not overwrite:
        raise OutputRefused(f"{str(target)!r} holds files toolcall did not write at paths the new output writes: "
                            f"{', '.join(clashes[:5])}; move them, or pass --overwrite to replace them")
    _move_entries(target, staging, kept)
    old = target.parent / f".{target.name}.old-{os.getpid()}"
    try:
        target.rename(old)
        try:
            staging.rename(target)
        except BaseException:
            old.rename(target)
            raise
    except BaseException:
        _move_entries(staging, target, kept)
        raise
    late, late_clashes = _foreign_entries(old, _entries(old), ours | set(clashes), set(_entries(target)))
    _move_entries(old, target, late)  # anything written into the old folder meanwhile is kept too
    if late_clashes:
        logger.warning("the earlier output was kept at %s: files were written into it during the run at paths the "
                       "new output holds (%s)", old, ", ".join(late_clashes[:5]))
    else:
        shutil.rmtree(old, ignore_errors=True)
    kept += late
    if kept:
        logger.warning("kept %d file(s) in %s that toolcall did not write: %s%s", len(kept), target,
                       ", ".join(kept[:5]), ", ..." if len(kept) > 5 else "")
    return kept


def _foreign_entries(folder: Path, entries: list[str], ours: set[str], new: set[str]) -> tuple[list[str], list[str]]:
    """``(entries to carry over, entries at paths the new output needs)`` among the entries not in ``ours``."""
    new_folders = {parent.as_posix() for entry in new for parent in Path(entry).parents if parent != Path(".")}
    kept, clashes = [], []
    for entry in entries:
        if entry in ours:
            continue
        path = folder / entry
        if entry in new_folders and path.is_dir() and not path.is_symlink():
            continue  # an empty folder the new output has too
        inside_new_file = any(parent.as_posix() in new for parent in Path(entry).parents)
        (clashes if entry in new or entry in new_folders or inside_new_file else kept).append(entry)
    return kept, clashes


def _entries(folder: Path) -> list[str]:
    """Relative POSIX paths of the files, links and empty folders below ``folder`` (links are not followed)."""
    out = []
    for root, dirs, files in os.walk(folder):
        base = Path(root)
        for name in files + [d for d in dirs if (base / d).is_symlink()]:
            out.append((base / name).relative_to(folder).as_posix())
        if not dirs and not files and base != folder:
            out.append(base.relative_to(folder).as_posix())
    return sorted(out)


def _move_entries(source: Path, destination: Path, entries: list[str]) -> None:
    """Rename each entry from ``source`` to the same relative path under ``destination``, all or none."""
    moved: list[str] = []
    try:
        for entry in entries:
            (destination / entry).parent.mkdir(parents=True, exist_ok=True)
            (source / entry).rename(destination / entry)
            moved.append(entry)
    except BaseException:
        for entry in reversed(moved):
            (destination / entry).rename(source / entry)
        raise


def _write_manifest(folder: Path, command: str) -> None:
    files = [entry for entry in _entries(folder) if entry != MANIFEST_NAME]
    manifest = {"written_by": WRITER, "command": command, "files": files}
    (folder / MANIFEST_NAME).write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
