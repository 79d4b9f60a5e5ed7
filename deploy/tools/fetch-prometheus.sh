#!/usr/bin/env bash
# Puts promtool and the prometheus server from Debian's `prometheus` package
# into .cache/tools/prometheus/usr/bin without installing the package (so no
# service starts): apt-get download + dpkg -x. Idempotent: does nothing when
# the binaries are there. Prints the bin directory on success.
#   deploy/tools/fetch-prometheus.sh [CACHE_DIR]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
CACHE="${1:-$ROOT/.cache/tools}"
DEST="$CACHE/prometheus"
BIN="$DEST/usr/bin"
VERSION_PREFIX="2.42."   # Debian bookworm's; the rules and tests use nothing newer

if [ -x "$BIN/promtool" ] && [ -x "$BIN/prometheus" ]; then
  echo "$BIN"
  exit 0
fi
command -v apt-get >/dev/null || { echo "apt-get not found" >&2; exit 2; }
mkdir -p "$CACHE/debs"
cd "$CACHE/debs"
if ! ls prometheus_*.deb >/dev/null 2>&1; then
  if ! apt-get download prometheus >/dev/null 2>&1; then
    # The package lists may be missing on a fresh machine.
    apt-get update >/dev/null 2>&1 || true
    apt-get download prometheus >/dev/null 2>&1 || { echo "apt-get download prometheus failed" >&2; exit 3; }
  fi
fi
DEB="$(ls prometheus_*.deb | head -n1)"
case "$(dpkg-deb -f "$DEB" Version)" in
  "$VERSION_PREFIX"*) ;;
  *) echo "warning: $DEB is not prometheus $VERSION_PREFIX*" >&2 ;;
esac
rm -rf "$DEST.tmp"
dpkg -x "$DEB" "$DEST.tmp"
rm -rf "$DEST"
mv "$DEST.tmp" "$DEST"
"$BIN/promtool" --version >/dev/null
echo "$BIN"
