#!/bin/sh
# Installs Open MPI (mpirun and libmpi.so.40) for distributed training and its tests; does nothing when both are
# present. As root it installs Debian's openmpi-bin; otherwise it fails with one line saying what to run.
set -eu
PATH="$PATH:/usr/sbin:/sbin"

have_openmpi() {
    command -v mpirun >/dev/null 2>&1 && ldconfig -p 2>/dev/null | grep -q 'libmpi\.so\.40 '
}

if have_openmpi; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: Open MPI (mpirun, libmpi.so.40) is not installed and this is not root: run 'sudo apt-get install -y --no-install-recommends openmpi-bin' or environment/install-openmpi.sh as root" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# A fresh image has no package lists yet.
if ! apt-cache show openmpi-bin >/dev/null 2>&1; then
    apt-get update -q >/dev/null
fi
apt-get install -y -q --no-install-recommends openmpi-bin >/dev/null
if ! have_openmpi; then
    echo "error: apt-get installed openmpi-bin but mpirun or libmpi.so.40 is still missing" >&2
    exit 1
fi
