"""The html5lib tree-construction corpus: where it is, and its `#data` inputs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(os.environ.get("ETALAGE_HTML5LIB_CORPUS") or REPO_ROOT.parent / "shared" / "corpora" / "html5lib-tree-construction")
DAT_FILES = sorted(CORPUS.rglob("*.dat")) if CORPUS.is_dir() else []
# One test per .dat file; a single skipped test says why when the corpus is absent.
PARAMS = dict(argnames="path", argvalues=DAT_FILES or [None], ids=[str(p.relative_to(CORPUS)) for p in DAT_FILES] or ["corpus-missing"])


def cases(path: Path) -> list[bytes]:
    """The `#data` inputs of a .dat file, as bytes exactly as written (lines up to `#errors`)."""
    found: list[bytes] = []
    current: list[bytes] | None = None
    for line in path.read_bytes().split(b"\n"):
        if current is not None:
            if line == b"#errors":
                found.append(b"\n".join(current))
                current = None
            else:
                current.append(line)
        elif line == b"#data":
            current = []
    return found


def corpus_file(path: Path | None) -> Path:
    if path is None:
        pytest.skip(f"html5lib tree-construction corpus not found at {CORPUS} (set ETALAGE_HTML5LIB_CORPUS)")
    return path
