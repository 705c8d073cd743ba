#!/bin/sh
# Make a virtual environment and install segcam into it, with the torch build that suits this
# machine. Without an NVIDIA driver, torch and torchvision come first from PyTorch's CPU index:
# the default torch build on Linux carries about 3 GB of CUDA libraries a CPU cannot use.
#
#   packaging/install.sh [--dry-run] [--cpu | --cuda] [--venv DIR] [PIP_ARGS...]
#
# The venv goes to DIR (default .venv in the current folder). PIP_ARGS say what to install
# into it (default: the checkout this script is in); for development, from the checkout:
#   packaging/install.sh -q -e ".[dev]"
# --cpu and --cuda overrule the guess; --dry-run prints the commands instead of running them.
# PYTHON picks the interpreter the venv is made with (default python3).
set -eu

CPU_INDEX="https://download.pytorch.org/whl/cpu"
checkout=$(cd "$(dirname "$0")/.." && pwd)

say() { printf 'install.sh: %s\n' "$*" >&2; }

usage() { sed -n '2,12s/^# \{0,1\}//p' "$0"; }

venv=.venv
dry_run=0
build=auto
while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) dry_run=1 ;;
        --cpu) build=cpu ;;
        --cuda) build=default ;;
        --venv) [ $# -ge 2 ] || { say "--venv needs a folder"; exit 2; }; venv=$2; shift ;;
        --venv=*) venv=${1#--venv=} ;;
        -h | --help) usage; exit 0 ;;
        --) shift; break ;;
        *) break ;;
    esac
    shift
done
[ $# -gt 0 ] || set -- "$checkout"

# A command as a person would type it: arguments with shell characters in single quotes.
show() {
    line=
    for arg in "$@"; do
        case $arg in
            '' | *[!A-Za-z0-9_./:=@%+,-]*) arg="'$arg'" ;;
        esac
        line="$line${line:+ }$arg"
    done
    printf '%s\n' "$line"
}

run() {
    if [ "$dry_run" = 1 ]; then show "$@"; else "$@"; fi
}

# The test points SEGCAM_PROC and SEGCAM_NVIDIA_SMI at fakes; a real install never sets them.
has_nvidia_driver() {
    [ -e "${SEGCAM_PROC:-/proc}/driver/nvidia" ] || command -v "${SEGCAM_NVIDIA_SMI:-nvidia-smi}" >/dev/null 2>&1
}

if [ "$build" = auto ]; then
    if [ "$(uname -s)" = Darwin ]; then
        build=default  # PyPI's macOS wheels are the CPU and Apple-GPU build already
    elif has_nvidia_driver; then
        build=default
        say "an NVIDIA driver is present: the default torch build, with CUDA"
    else
        build=cpu
        say "no NVIDIA driver (no nvidia-smi, no /proc/driver/nvidia): the CPU-only torch from $CPU_INDEX"
    fi
fi

cpu_index_reachable() {
    "$venv/bin/python" - "$CPU_INDEX/torch/" <<'EOF'
import sys
import urllib.request

try:
    urllib.request.urlopen(sys.argv[1], timeout=15).close()
except Exception:
    sys.exit(1)
EOF
}

run "${PYTHON:-python3}" -m venv "$venv"
if [ "$build" = cpu ]; then
    if [ "$dry_run" = 1 ]; then
        show "$venv/bin/pip" install --index-url "$CPU_INDEX" torch torchvision
        say "(when that index cannot be reached, the next command installs the default torch instead)"
    elif ! cpu_index_reachable; then
        say "PyTorch's CPU index ($CPU_INDEX) cannot be reached, so torch comes from your default index (the CUDA build on Linux)."
    elif ! "$venv/bin/pip" install --index-url "$CPU_INDEX" torch torchvision; then
        say "the CPU-only torch did not install from $CPU_INDEX, so torch comes from your default index (the CUDA build on Linux)."
    fi
fi
run "$venv/bin/pip" install "$@"
if [ "$dry_run" = 0 ]; then
    say "done: start segcam with $venv/bin/segcam, check this machine with $venv/bin/segcam doctor"
fi
