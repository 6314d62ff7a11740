# What the shell tests of neuron-mpi, checkpoints and --stream share:
#   . tests/mpi/common.sh NAME BUILD_DIR
# sets N and M (the binaries), have_mpi, tools (this folder), a scratch
# folder to work in, and pass/fail/finish that count and report as NAME.
suite=$1
build=$(cd "${2:-build}" && pwd)
tools=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
N=$build/neuron
M=$build/neuron-mpi
have_mpi=0
command -v mpirun >/dev/null && [ -x "$M" ] && have_mpi=1
# Open MPI refuses root unless told; loopback only, no network probing;
# ranks that wait yield the core (more ranks than cores here)
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none
export OMPI_MCA_mpi_yield_when_idle=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp" || exit 1
fails=0 passes=0
pass() { passes=$((passes + 1)); }
fail() { echo "$suite tests: FAIL: $*"; fails=$((fails + 1)); }
finish() {
  echo "$suite tests: $passes passed, $fails failed"
  [ "$fails" = 0 ]
}
