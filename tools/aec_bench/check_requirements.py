"""Exit 0 when every ``name==version`` line of a requirements file is installed at that
version, 1 otherwise (so install-deps.sh runs pip only when something is missing)."""

import sys
from importlib.metadata import PackageNotFoundError, version


def main(path: str) -> int:
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if not line or "==" not in line:
            continue
        name, want = (p.strip() for p in line.split("==", 1))
        try:
            if version(name) != want:
                return 1
        except PackageNotFoundError:
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
