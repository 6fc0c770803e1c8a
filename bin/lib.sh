# Shared set-up for bin/run and bin/test: system packages and the virtual environment.
# Sourced, not run. Everything here is idempotent: it installs only what is missing.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3}"
APT_UPDATED=""

log() { printf '==> %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else log "root is needed to run: $*"; return 1
  fi
}

package_installed() {
  dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"
}

ensure_apt_packages() {
  local missing=() package
  for package in "$@"; do package_installed "$package" || missing+=("$package"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    log "please install these system packages: ${missing[*]}"; return 1
  fi
  log "installing system packages: ${missing[*]}"
  if [ -z "$APT_UPDATED" ]; then as_root apt-get update -q; APT_UPDATED=1; fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
}

ensure_venv() {
  if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
    ensure_apt_packages python3-venv
  fi
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating the virtual environment in $VENV"
    "$PYTHON" -m venv "$VENV"
  fi
  local stamp
  stamp="$VENV/.installed-$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ ! -f "$stamp" ]; then
    log "installing Python packages"
    "$VENV/bin/pip" install -q --upgrade pip
    "$VENV/bin/pip" install -q -e "$ROOT[test]"
    rm -f "$VENV"/.installed-*
    touch "$stamp"
  fi
}

ensure_spatialite() {
  ensure_apt_packages libsqlite3-mod-spatialite
}
