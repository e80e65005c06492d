"""Helpers for testing Hub loading offline: a hand-populated HF cache and a fresh offline interpreter."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

FAKE_COMMIT = "0" * 40


def populate_hf_cache(cache_dir: Path, repo_id: str, files: dict[str, Path]) -> Path:
    """Lay ``files`` out in ``cache_dir`` exactly as ``hf_hub_download`` would have cached them."""
    repo = cache_dir / f"models--{repo_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / FAKE_COMMIT
    snapshot.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text(FAKE_COMMIT)
    for name, src in files.items():
        shutil.copyfile(src, snapshot / name)
    return snapshot


def run_offline(script: str, hf_cache: Path, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``script`` in a fresh interpreter with HF_HUB_OFFLINE=1 and ``hf_cache`` as the HF cache."""
    env = {
        "PATH": "/usr/bin:/bin",
        "HF_HUB_OFFLINE": "1",
        "HF_HUB_CACHE": str(hf_cache),
        "HF_HOME": str(hf_cache.parent / "hf_home"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    }
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script)], env=env, capture_output=True, text=True, timeout=timeout,
    )
