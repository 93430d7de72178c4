#!/usr/bin/env bash
# Installs everything and runs the whole test suite (unit and, as root, integration).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install.sh" || exit 1
cd "$ROOT"
"${NETLAB_VENV:-$ROOT/.venv}/bin/python" -m pytest -q -p no:cacheprovider tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
