# Sourced by scripts/setup.sh, fuzz.sh and sanitize.sh: log, as_root, and
# apt_install PACKAGE..., which installs from apt whichever of the packages
# are missing (with --no-install-recommends: whatever a package only
# recommends must be listed itself; scripts/check-build-deps.py checks the
# build's list) and is a no-op when all are there.

log() { printf '== %s\n' "$*"; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_install() {
  local missing=() pkg status
  for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    [ "$status" = "install ok installed" ] || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing from apt: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive \
      apt-get install -y -qq --no-install-recommends "${missing[@]}"
  fi
}
