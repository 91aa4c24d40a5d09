"""Link to the local Kubernetes control plane (the ``localkube`` package of the sandbox), used only when the
emulator is started with ``--kubeconfig``. ``localkube`` is imported lazily, on first use.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path


class LocalKube:
    def __init__(self, kubeconfig: str | Path):
        self.kubeconfig = str(Path(kubeconfig).resolve())
        self._nodes = None

    def content(self) -> str:
        return Path(self.kubeconfig).read_text(encoding="utf-8")

    def server(self) -> str | None:
        """The API server URL of the kubeconfig (``server: https://127.0.0.1:6443``)."""
        try:
            m = re.search(r"^\s*server:\s*['\"]?([^\s'\"]+)", self.content(), re.MULTILINE)
        except OSError:
            return None
        return m.group(1) if m else None

    def nodes(self):
        if self._nodes is None:
            self._nodes = importlib.import_module("localkube.nodes")
        return self._nodes

    def sync_pool(self, pool_name: str, flavor: str, count: int, labels: dict[str, str]) -> list[str]:
        """The pool's Kubernetes node names after the sync."""
        return self.nodes().sync_pool_nodes(self.kubeconfig, pool_name, flavor, count, labels=labels)

    def delete_pool(self, pool_name: str) -> None:
        self.nodes().delete_pool_nodes(self.kubeconfig, pool_name)
