#!/usr/bin/env bash
# Build the standalone executable from this checkout and smoke-test it.
#
# Called by .ci/run inside its activated virtual environment (pip install -e '.[test,build]'),
# after it has installed Xvfb and xdotool. Prints how long each step took.
#   1. pyinstaller build.spec         -> dist/bcdesktop/ (onedir)
#   2. pytest tests/test_frozen.py    with BCDESKTOP_REQUIRE_FROZEN=1: nothing may skip
#   3. bench/bench_bundle.py --check  size (fails over its budget, SIZE_BUDGET_MB) and start
#                                     time (printed, not enforced)
#   4. .ci/build_deb.sh               the bundle as a .deb (build/deb/), installed, started from
#                                     its menu entry under Xvfb, removed (when dpkg-deb exists)
set -euo pipefail
cd "$(dirname "$0")/.."

now() { date +%s.%N; }
since() { python -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.1f} s')" "$1" "$(now)"; }

t0=$(now)
echo "--- pyinstaller $(pyinstaller --version) building dist/bcdesktop"
pyinstaller --noconfirm --log-level WARN build.spec
echo "--- build took $(since "$t0")"

t1=$(now)
BCDESKTOP_REQUIRE_FROZEN=1 python -m pytest -p no:cacheprovider tests/test_frozen.py
echo "--- frozen smoke tests took $(since "$t1")"

t2=$(now)
python bench/bench_bundle.py --runs 5 --check  # fails over the size budget; the start time is printed only
echo "--- bundle benchmark took $(since "$t2")"

t3=$(now)
if command -v dpkg-deb >/dev/null; then
  bash .ci/build_deb.sh
  echo "--- .deb build, install, start and removal took $(since "$t3")"
else
  echo "--- no dpkg-deb on this system: the .deb was not built"
fi
echo "--- build, tests and benchmark took $(since "$t0") in all"
