"""Write the rendered tree of the gitops_repository role into a directory: {path: text} as JSON on stdin.

One process for the whole tree (a copy task per file takes about a second each). The paths are the role's own
(k8s/..., argocd/<environment>/..., README.<environment>.md), checked again here: relative, without "..".
"""

import json
import os
import sys


def main():
    root = os.path.realpath(sys.argv[1])
    files = json.load(sys.stdin)
    for rel, text in sorted(files.items()):
        if text is None:  # a file the commit deletes
            continue
        path = os.path.realpath(os.path.join(root, rel))
        if os.path.isabs(rel) or ".." in rel.split("/") or not path.startswith(root + os.sep):
            sys.exit("refused path outside the tree: %s" % rel)
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
    print(len(files))


if __name__ == "__main__":
    main()
