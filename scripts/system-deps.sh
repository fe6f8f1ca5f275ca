#!/usr/bin/env bash
# Install the Debian packages DataLab Hub needs, only those missing.
# Usage: scripts/system-deps.sh run|test|bench
set -euo pipefail

run_pkgs=(python3 python3-venv python3-dev git docker.io debootstrap)
# slurm-wlm, munge, sudo: the single-node Slurm cluster of the tests (tests/services/slurm.py)
test_pkgs=(chromium fonts-dejavu-core slurm-wlm munge sudo)
# slurmrestd: Slurm's REST API, for the hub's `slurm.transport: rest` (tests/services/slurm.py);
# slurm-wlm-jwt-plugin: auth/jwt, which the test clusters' slurmctld loads (AuthAltTypes); no
# package above depends on it
test_pkgs+=(slurmrestd slurm-wlm-jwt-plugin)
# slurmdbd, mariadb-server: the cluster with accounting of the usage tests (tests/services/slurmdbd.py)
test_pkgs+=(slurmdbd mariadb-server)
# age: the keys of the encrypted backups the Ansible tests make and restore (tests/ops)
test_pkgs+=(age)
# postgresql: the hub database on PostgreSQL in the hub start-up benchmark (bench/hub_scale.py),
# which runs a cluster of its own with initdb and pg_ctl
bench_pkgs=(postgresql)
# Node.js may come from elsewhere than Debian (its npm bundled): only install Debian's
# when the commands are missing.
command -v node >/dev/null && command -v npm >/dev/null || run_pkgs+=(nodejs npm)

case "${1:-run}" in
  run) wanted=("${run_pkgs[@]}") ;;
  test) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}") ;;
  bench) wanted=("${run_pkgs[@]}" "${test_pkgs[@]}" "${bench_pkgs[@]}") ;;
  *) echo "usage: $0 run|test|bench" >&2; exit 2 ;;
esac

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}" >&2
  echo "Install them with: sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
echo "Installing Debian packages: ${missing[*]}"
apt-get -o DPkg::Lock::Timeout=600 update -q
DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -q --no-install-recommends "${missing[@]}"
