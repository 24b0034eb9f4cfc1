#!/usr/bin/env bash
# Portability run: strict nbval over every stored notebook (both editions) under conditions that
# change float results on one machine, so that stored outputs are known to hold on other CPUs.
# (The solved editions run the cells that differ from the student editions, as in `make test`
# (tools/nbval_editions.py); LVMLIB_NBVAL_SOLVED=full tools/portability.sh runs them in full.)
#
#   make portability                       # all conditions below
#   tools/portability.sh "OMP_NUM_THREADS=1"   # just the conditions given
#
# Conditions: torch's thread count (1 / 4: reductions split differently), ATen's CPU kernels
# (ATEN_CPU_CAPABILITY=default: no SIMD, other rounding in vectorized math and random normals;
# avx2 instead of this machine's best).  OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are never set here:
# where the machine sets them (older OpenBLAS builds misbehave on some CPUs), one extra condition
# unsets both together for that command only, to see another BLAS kernel's digits.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
# The suite pins torch to one thread where no count is set (conftest.py); here a condition without a
# thread count means each library's own default, and one with OMP_NUM_THREADS=N means N.
export LVMLIB_TEST_THREADS=${LVMLIB_TEST_THREADS:-default}
if [ $# -gt 0 ]; then
  CONDITIONS=("$@")
else
  CONDITIONS=("OMP_NUM_THREADS=1" "OMP_NUM_THREADS=4" "ATEN_CPU_CAPABILITY=default"
              "ATEN_CPU_CAPABILITY=avx2 OMP_NUM_THREADS=2")
  if [ -n "${OPENBLAS_CORETYPE:-}${OPENBLAS_L2_SIZE:-}" ]; then
    CONDITIONS+=("-u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE")
  fi
fi
status=0
summary=()
for cond in "${CONDITIONS[@]}"; do
  echo "== portability: env $cond"
  # shellcheck disable=SC2086
  if env $cond "$PY" -m pytest --nbval notebooks -q -p no:randomly; then
    summary+=("green  $cond")
  else
    summary+=("RED    $cond")
    status=1
  fi
done
echo "== portability summary"
printf '%s\n' "${summary[@]}"
exit $status
