#!/usr/bin/env bash
# Stop the one-node SLURM started by .ci/slurm-up.sh (daemons only; config and munge key stay).
set -uo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "slurm-down: must run as root" >&2
    exit 2
fi

# stop_daemon NAME PIDFILE
source "$(dirname "$0")/slurm-lib.sh"

stop_daemon slurmd /run/slurmd.pid
stop_daemon slurmctld /run/slurmctld.pid
stop_daemon munged /run/munge/munged.pid
echo "slurm-down: stopped"
