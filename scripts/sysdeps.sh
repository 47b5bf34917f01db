#!/usr/bin/env bash
# The system packages GridCare needs, checked and installed in one place for `make run`, `make test`
# and `.ci/run`.  Usage: scripts/sysdeps.sh run|test
#   run  : Pango + a CJK font (WeasyPrint renders the PDF bill and invoice), gettext's msgfmt (the
#          English catalogue)
#   test : the same, plus Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium)
# As root the missing Debian packages are installed with apt-get; otherwise the script stops with the
# one command to run.
set -euo pipefail
target="${1:-run}"
missing=()

if ! ldconfig -p 2>/dev/null | grep -q 'libpangoft2-1.0'; then missing+=(libpango-1.0-0 libpangoft2-1.0-0); fi
if ! fc-list 2>/dev/null | grep -qi 'Noto Sans CJK'; then missing+=(fonts-noto-cjk); fi
if ! command -v msgfmt >/dev/null 2>&1; then missing+=(gettext); fi
if ! command -v fc-list >/dev/null 2>&1; then missing+=(fontconfig); fi
if [ "$target" = "test" ] && [ ! -x /usr/bin/chromium ]; then missing+=(chromium); fi

[ ${#missing[@]} -eq 0 ] && exit 0

cmd="apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" != "0" ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "GridCare needs system packages that are not installed. Run, then try again:" >&2
  echo "  sudo apt-get update && sudo $cmd" >&2
  exit 1
fi
echo "Installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends ${missing[*]} >/dev/null
