#!/usr/bin/env bash
# Start a one-node SLURM cluster (munge + slurmctld + slurmd) on localhost with a fake GPU gres,
# so the SLURM profile can be tested for real. Idempotent: does nothing when the node already answers.
# Must run as root (it writes /etc/slurm and starts daemons). Recipe: ../shared/notes/environment.md.
set -euo pipefail

if [[ $(id -u) -ne 0 ]]; then
    echo "slurm-up: must run as root" >&2
    exit 2
fi

node_ready() {
    # The node must be up and schedulable, not merely the controller answering.
    timeout 5 scontrol ping >/dev/null 2>&1 || return 1
    local state
    state=$(timeout 5 sinfo -h -N -n localhost -o '%T' 2>/dev/null | head -n1)
    [[ $state == idle* || $state == mixed* || $state == allocated* ]]
}

# A daemon counts as running only in a live state: a killed daemon can leave a zombie with its name.
running() {
    pgrep -r R,S,D -x "$1" >/dev/null
}

# stop_daemon NAME PIDFILE
source "$(dirname "$0")/slurm-lib.sh"

munge_works() {
    timeout 5 munge -n 2>/dev/null | timeout 5 unmunge >/dev/null 2>&1
}

if command -v scontrol >/dev/null 2>&1 && [[ -f /etc/slurm/slurm.conf ]] && node_ready; then
    echo "slurm-up: already running"
    exit 0
fi

missing=()
for binary in munged slurmctld slurmd sbatch; do
    command -v "$binary" >/dev/null 2>&1 || missing+=("$binary")
done
if ((${#missing[@]})); then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq slurm-wlm munge >/dev/null
fi

# munge: the key must exist and belong to munge; the socket dir must exist before munged starts.
if [[ ! -s /etc/munge/munge.key ]]; then
    install -d -o munge -g munge -m0700 /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m0755 /run/munge
install -d -o munge -g munge -m0700 /var/lib/munge /var/log/munge
if ! munge_works; then
    stop_daemon munged /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 1 20); do munge_works && break; sleep 0.25; done
fi

cpus=$(nproc)
# RealMemory above what slurmd measures drains the node, so stay 10% under the total.
total_mb=$(free -m | awk '/^Mem:/ {print $2}')
real_memory=$((total_mb * 9 / 10))

install -d -m0755 /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
# The jobstep plugin strips SLURM_CONF, so the config must live at the default path.
cat >/etc/slurm/slurm.conf <<EOF
# Written by cinesub .ci/slurm-up.sh: a one-node test cluster.
ClusterName=cinesub
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# squeue-based status checks need finished jobs to stay visible for a while.
MinJobAge=300
ReturnToService=2
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
GresTypes=gpu
NodeName=localhost NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${real_memory} Gres=gpu:1 State=UNKNOWN
PartitionName=main Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
# A fake GPU: the plugin turns gpu=1 into --gpus=1, which fails on a node without a gpu gres.
cat >/etc/slurm/gres.conf <<EOF
NodeName=localhost Name=gpu File=/dev/null
EOF

if ! timeout 5 scontrol ping >/dev/null 2>&1; then
    # A controller that does not answer (or died and left a pid file) is restarted.
    stop_daemon slurmctld /run/slurmctld.pid
    slurmctld
    # slurmd registers with the controller when it starts: a slurmd older than the controller is restarted.
    stop_daemon slurmd /run/slurmd.pid
fi
if ! running slurmd; then
    slurmd -N localhost
fi

deadline=$((SECONDS + 60))
while ((SECONDS < deadline)); do
    if node_ready; then
        echo "slurm-up: node localhost ready (CPUs=${cpus} RealMemory=${real_memory} gpu:1)"
        exit 0
    fi
    # A node left DOWN/DRAIN by an earlier run is brought back explicitly.
    timeout 5 scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
    sleep 1
done
echo "slurm-up: node did not become ready; sinfo says:" >&2
timeout 5 sinfo -N -l >&2 || true
tail -n 20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
