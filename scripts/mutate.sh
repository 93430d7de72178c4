#!/usr/bin/env bash
# Mutation testing of netlab's pure modules against tests/unit (mutmut; see docs/testing.md).
#
#   scripts/mutate.sh                          every configured module ([tool.mutmut] in pyproject.toml)
#   scripts/mutate.sh netlab/dns/records.py netlab/cni     these modules only (files or packages)
#   scripts/mutate.sh --fresh ...              forget earlier results first
#   scripts/mutate.sh --unkilled [module...]   re-test only the mutants the last runs did not kill
#                                              (after adding tests: killed ones stay killed)
#   scripts/mutate.sh --report                 the summary of the last runs, nothing run
#
# It works on a copy of the tree (netlab/, tests/, examples/, pyproject.toml with uncommitted changes) in
# $NETLAB_MUTATE_DIR (default .mutate/), so other work in the tree goes on meanwhile, and runs
# $NETLAB_MUTATE_JOBS workers (default 1). Not part of scripts/test.sh or CI: it takes minutes.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
VENV=${NETLAB_VENV:-$ROOT/.venv}
WORK=${NETLAB_MUTATE_DIR:-$ROOT/.mutate}
JOBS=${NETLAB_MUTATE_JOBS:-1}

fresh=0 report=0 unkilled=0 modules=()
for a in "$@"; do
  case "$a" in
    --fresh) fresh=1 ;;
    --report) report=1 ;;
    --unkilled) unkilled=1 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) modules+=("$a") ;;
  esac
done

if [ "$report" -eq 0 ]; then
  # mutmut, at the version the `mutate` extra pins
  want=$("$VENV/bin/python" - "$ROOT/pyproject.toml" <<'PY'
import sys, tomllib
extra = tomllib.load(open(sys.argv[1], "rb"))["project"]["optional-dependencies"]["mutate"]
print(next(r for r in extra if r.startswith("mutmut")))
PY
)
  if ! "$VENV/bin/python" -c "import importlib.metadata as m, sys; sys.exit(m.version('mutmut') != '${want#*==}')" 2>/dev/null; then
    "$VENV/bin/python" -m pip install -q "$want"
  fi

  mkdir -p "$WORK"
  [ "$fresh" -eq 1 ] && rm -rf "$WORK/mutants"
  rsync -a --delete --exclude __pycache__ "$ROOT/netlab" "$ROOT/tests" "$ROOT/examples" "$WORK/"
  cp "$ROOT/pyproject.toml" "$WORK/"

  # module paths -> mutmut's mutant-name patterns (netlab/dns/records.py -> netlab.dns.records.*)
  patterns=()
  for m in "${modules[@]}"; do
    m=${m%/}; m=${m%.py}
    patterns+=("${m//\//.}.*")
  done
  cd "$WORK"
  if [ "$unkilled" -eq 1 ]; then
    mapfile -t patterns < <("$VENV/bin/python" "$ROOT/scripts/mutate_report.py" --unkilled "${modules[@]}")
    if [ "${#patterns[@]}" -eq 0 ]; then
      echo "mutate.sh: no mutant left unkilled (run without --unkilled first)" >&2
      exec "$VENV/bin/python" "$ROOT/scripts/mutate_report.py" "${modules[@]}"
    fi
  fi
  "$VENV/bin/mutmut" run --max-children "$JOBS" "${patterns[@]}" || true
fi
cd "$WORK"
exec "$VENV/bin/python" "$ROOT/scripts/mutate_report.py" "${modules[@]}"
