# Shared by .ci/slurm-up.sh and .ci/slurm-down.sh (sourced, not run).

# Stop the daemon recorded in its pid file (only if that pid really is the named daemon).
stop_daemon() {
    local name=$1 pidfile=$2 pid
    [[ -s $pidfile ]] || return 0
    pid=$(cat "$pidfile")
    [[ $(ps -o comm= -p "$pid" 2>/dev/null) == "$name" ]] || return 0
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 1 20); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.25
    done
    kill -9 "$pid" 2>/dev/null || true
}
