#!/usr/bin/env bash
# Stop the one-node SLURM started by .ci/slurm-up.sh (daemons only; config and munge key stay).
set -uo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "slurm-down: must run as root" >&2
    exit 2
fi

stop() {
    local name=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    # Only the daemon the pid file names, and only if that pid still is it.
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$name" ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
}

stop slurmd /run/slurmd.pid
stop slurmctld /run/slurmctld.pid
stop munged /run/munge/munged.pid
echo "slurm-down: stopped"
