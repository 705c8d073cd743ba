#!/usr/bin/env bash
# Install and load v4l2loopback so segcam has a virtual camera that Chrome, Zoom and Teams list:
# one device, /dev/video10, named "segcam", with exclusive_caps=1, loaded again at every boot.
#
# Debian, Ubuntu (and their derivatives), Fedora and Arch. Prints every command first and
# asks before running any of them with sudo.
#
#   setup-virtual-camera.sh [--dry-run] [--yes]
#     --dry-run  print the plan and exit
#     --yes      do not ask (for scripted installs)
#
# SEGCAM_OS_RELEASE names another os-release file (the tests use it to plan for each distro).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
options_file="$here/v4l2loopback-segcam.conf"
load_file="$here/segcam-modules-load.conf"
os_release="${SEGCAM_OS_RELEASE:-/etc/os-release}"

dry_run=0
assume_yes=0
for arg in "$@"; do
  case "$arg" in
    --dry-run) dry_run=1 ;;
    --yes | -y) assume_yes=1 ;;
    -h | --help)
      sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
      exit 0
      ;;
    *)
      echo "unknown option: $arg (try --help)" >&2
      exit 2
      ;;
  esac
done

for file in "$options_file" "$load_file"; do
  if [[ ! -f "$file" ]]; then
    echo "missing $file: run this script from segcam's packaging/linux folder" >&2
    exit 1
  fi
done

# ID and ID_LIKE, e.g. "linuxmint ubuntu debian"
distro_words() {
  local id="" id_like=""
  if [[ -r "$os_release" ]]; then
    id="$(sed -n 's/^ID=//p' "$os_release" | tr -d '"')"
    id_like="$(sed -n 's/^ID_LIKE=//p' "$os_release" | tr -d '"')"
  fi
  echo "$id $id_like"
}

# The commands that install the module's package on this distribution, one per line.
install_steps() {
  local words
  words=" $(distro_words) "
  case "$words" in
    *" debian "* | *" ubuntu "*)
      echo "apt-get update"
      # DKMS builds the module for the running kernel, which needs that kernel's headers
      echo "apt-get install -y v4l2loopback-dkms v4l2loopback-utils linux-headers-$(uname -r)"
      ;;
    *" fedora "*)
      # v4l2loopback is packaged in RPM Fusion (free), not in Fedora itself
      if ! dnf repolist 2>/dev/null | grep -q rpmfusion-free; then
        echo "dnf install -y https://mirrors.rpmfusion.org/free/fedora/rpmfusion-free-release-\$(rpm -E %fedora).noarch.rpm"
      fi
      echo "dnf install -y akmod-v4l2loopback v4l2loopback"
      echo "akmods --force"
      ;;
    *" arch "*)
      echo "pacman -S --needed --noconfirm v4l2loopback-dkms linux-headers"
      ;;
    *)
      return 1
      ;;
  esac
}

module_available() {
  modinfo v4l2loopback >/dev/null 2>&1
}

module_loaded() {
  [[ -d /sys/module/v4l2loopback ]]
}

secure_boot_on() {
  command -v mokutil >/dev/null 2>&1 && mokutil --sb-state 2>/dev/null | grep -qi enabled
}

user="${SUDO_USER:-$(id -un)}"
plan=()
if module_available; then
  echo "v4l2loopback is installed already."
elif steps="$(install_steps)"; then
  while IFS= read -r step; do
    plan+=("$step")
  done <<<"$steps"
else
  echo "This script knows Debian, Ubuntu, Fedora and Arch; $(distro_words | xargs) is none of them." >&2
  echo "Install your distribution's v4l2loopback package, then copy $options_file" >&2
  echo "to /etc/modprobe.d/ and $load_file to /etc/modules-load.d/segcam.conf." >&2
  exit 1
fi
plan+=("install -m 644 '$options_file' /etc/modprobe.d/v4l2loopback-segcam.conf")
plan+=("install -m 644 '$load_file' /etc/modules-load.d/segcam.conf")
if module_loaded; then
  # options apply only when the module loads; this fails while an app uses the camera
  plan+=("modprobe -r v4l2loopback")
fi
plan+=("modprobe v4l2loopback")
if [[ "$user" != root ]] && ! id -nG "$user" | tr ' ' '\n' | grep -qx video; then
  plan+=("usermod -aG video '$user'")
fi

sudo_cmd=()
if ((EUID != 0)); then
  sudo_cmd=(sudo)
fi
echo "To give segcam a virtual camera (/dev/video10, \"segcam\", exclusive_caps=1) this will run:"
for step in "${plan[@]}"; do
  echo "  ${sudo_cmd[*]:+sudo }$step"
done
if secure_boot_on; then
  echo
  echo "Secure Boot is on: the kernel loads v4l2loopback only once its DKMS signing key is enrolled."
  echo "If modprobe says 'Key was rejected by service', run: sudo mokutil --import /var/lib/dkms/mok.pub"
  echo "then reboot and choose 'Enroll MOK' (or turn Secure Boot off in the firmware settings)."
fi

if ((dry_run)); then
  echo "(dry run: nothing was changed)"
  exit 0
fi
if ((!assume_yes)); then
  if [[ ! -t 0 ]]; then
    echo "Not asking without a terminal; run again with --yes to go ahead." >&2
    exit 1
  fi
  read -r -p "Go ahead? [y/N] " answer
  [[ "$answer" =~ ^[Yy] ]] || { echo "Nothing was changed."; exit 1; }
fi

for step in "${plan[@]}"; do
  echo "+ $step"
  "${sudo_cmd[@]}" bash -c "$step"
done

echo
echo "Done. Check with: segcam doctor"
if [[ " ${plan[*]} " == *"usermod"* ]]; then
  echo "Log out and back in once, so that your new video group membership applies."
fi
