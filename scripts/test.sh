#!/usr/bin/env bash
# Installs everything and runs the whole test suite (unit and, as root, integration).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
"$ROOT/scripts/install.sh" || exit 1
cd "$ROOT"
PY="${NETLAB_VENV:-$ROOT/.venv}/bin/python"
# the code's own checks first ([tool.ruff] and [tool.mypy] in pyproject.toml)
lint=0
"$PY" -m ruff check --quiet netlab || lint=1
"$PY" -m mypy --no-error-summary || lint=1
[ "$lint" -eq 0 ] || echo "test.sh: ruff or mypy found problems in netlab/ (above)" >&2
"$PY" -m pytest -q -p no:cacheprovider tests "$@"
rc=$?
if [ "$rc" -eq 5 ]; then
  echo "test.sh: pytest collected no tests: that is a failure" >&2
  exit 1
fi
[ "$rc" -eq 0 ] && [ "$lint" -ne 0 ] && rc=1
exit "$rc"
