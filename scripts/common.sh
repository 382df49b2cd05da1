# Shared by the entry scripts: install what is missing, configure, build.
# Sourced, not run. Honours MM_BUILD_DIR (default: build) and MM_JOBS.

MM_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MM_BUILD_DIR="${MM_BUILD_DIR:-$MM_ROOT/build}"
MM_LLVM_DIR=/usr/lib/llvm-22

# Debian packages the build and the tests need (LLVM/MLIR 22 from Debian's
# security suite; lld-22 links AMD GPU code in later stages; PyTorch runs
# python/memmamba, the second implementation of the spec, in the tests).
MM_PACKAGES=(cmake ninja-build g++ ccache python3 libgtest-dev
             llvm-22-dev llvm-22-tools libmlir-22-dev mlir-22-tools lld-22
             clang-22 libclang-rt-22-dev libomp-22-dev
             python3-torch python3-numpy)

mm_install_missing() {
  local missing=()
  for pkg in "${MM_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" \
      || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "== installing: ${missing[*]}"
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || {
      echo "error: missing packages (${missing[*]}) and not root" >&2
      return 1
    }
    sudo=sudo
  fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}"
}

mm_build() {
  if [ ! -f "$MM_BUILD_DIR/build.ninja" ]; then
    echo "== configuring $MM_BUILD_DIR"
    cmake -G Ninja -S "$MM_ROOT" -B "$MM_BUILD_DIR" \
      -DCMAKE_BUILD_TYPE=Release \
      -DMLIR_DIR="$MM_LLVM_DIR/lib/cmake/mlir" \
      -DLLVM_EXTERNAL_LIT="$MM_LLVM_DIR/bin/lit"
  fi
  echo "== building"
  cmake --build "$MM_BUILD_DIR" -- ${MM_JOBS:+-j "$MM_JOBS"}
}
