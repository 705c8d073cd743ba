#!/usr/bin/env bash
# Put segcam in the desktop's application menu: the .desktop entry, the icon and the
# AppStream metainfo, for this user (~/.local) or, with PREFIX=/usr/local and sudo, for all.
# The menu entry runs `segcam`, so segcam must be on PATH (pipx or the packaged app's folder).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${PREFIX:-$HOME/.local}"
share="$prefix/share"

install -D -m 644 "$here/segcam.desktop" "$share/applications/segcam.desktop"
install -D -m 644 "$here/io.github.segcam.segcam.svg" "$share/icons/hicolor/scalable/apps/io.github.segcam.segcam.svg"
install -D -m 644 "$here/io.github.segcam.segcam.metainfo.xml" "$share/metainfo/io.github.segcam.segcam.metainfo.xml"

# menus and icon themes cache their contents; refresh them when the tools are there
if command -v update-desktop-database >/dev/null 2>&1; then
  update-desktop-database -q "$share/applications" || true
fi
if command -v gtk-update-icon-cache >/dev/null 2>&1; then
  gtk-update-icon-cache -q -t "$share/icons/hicolor" || true
fi
echo "Installed segcam's menu entry under $share."
