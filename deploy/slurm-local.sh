#!/usr/bin/env bash
# A real single-node Slurm on this machine, for the `-m slurm` tests and for trying
# `mcpdask scan --jobqueue slurm` without a cluster.
#
#   bash deploy/slurm-local.sh          # install (first time), configure, start; waits for "idle"
#   bash deploy/slurm-local.sh stop     # stop slurmd, slurmctld and munged
#
# Debian's slurm-wlm and munge from apt; one node "localhost" with every core of this machine and
# its memory less 1 GiB; select/cons_tres (jobs share the node by cores and memory),
# proctrack/linuxproc and task/none (no cgroups, works in containers without systemd).
# There is no slurmdbd, so `sacct` has no data: finished jobs are recorded one line each in the
# job-completion file $SLURM_JOBCOMP (jobcomp/filetxt), and stay visible to `scontrol show job`
# for MinJobAge seconds; `squeue` lists the queued and running ones.
#
# Must run as root. Idempotent: rerunning rewrites the same config and restarts nothing that is
# already up with it. Everything it writes is under /etc/slurm, /var/spool/slurm*, /var/log/slurm
# and /run/munge.
set -euo pipefail

SLURM_CONF=/etc/slurm/slurm.conf
SLURM_LOG=/var/log/slurm
SLURM_JOBCOMP=$SLURM_LOG/jobcomp.txt
SPOOL_CTLD=/var/spool/slurmctld
SPOOL_D=/var/spool/slurmd

log() { echo "slurm-local: $*" >&2; }
die() { log "error: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (it installs packages and starts daemons)"

pid_alive() { local p; p=$(cat "$1" 2>/dev/null) && [ -n "$p" ] && kill -0 "$p" 2>/dev/null; }

stop_daemon() {  # stop_daemon PIDFILE: SIGTERM, wait up to 5 s for it to exit
    local p
    p=$(cat "$1" 2>/dev/null) || return 0
    if [ -n "$p" ] && kill "$p" 2>/dev/null; then
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    fi
    rm -f "$1"
}

stop_all() {
    stop_daemon /run/slurmd.pid
    stop_daemon /run/slurmctld.pid
    stop_daemon /run/munge/munged.pid
}

if [ "${1:-}" = stop ]; then
    stop_all
    log "stopped"
    exit 0
fi

# 1. packages -------------------------------------------------------------------------------
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null \
        || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
    log "installing slurm-wlm and munge with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
fi

# 2. munge ----------------------------------------------------------------------------------
if [ ! -s /etc/munge/munge.key ]; then
    log "creating /etc/munge/munge.key"
    mkdir -p /etc/munge
    if command -v mungekey >/dev/null; then
        mungekey --create --keyfile=/etc/munge/munge.key --force
    else
        dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
    fi
fi
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /etc/munge/munge.key /run/munge /var/log/munge /var/lib/munge
chmod 0400 /etc/munge/munge.key
chmod 0700 /etc/munge /var/log/munge /var/lib/munge
chmod 0755 /run/munge
if ! pid_alive /run/munge/munged.pid; then
    log "starting munged"
    rm -f /run/munge/munged.pid /run/munge/munge.socket.2*
    runuser -u munge -- /usr/sbin/munged
    for _ in $(seq 50); do [ -S /run/munge/munge.socket.2 ] && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null || die "munge does not work (see /var/log/munge/munged.log)"

# 3. slurm.conf -----------------------------------------------------------------------------
cpus=$(nproc)
mem_mb=$(awk '/^MemTotal:/ {print int($2 / 1024)}' /proc/meminfo)
real_mb=$(( mem_mb > 2048 ? mem_mb - 1024 : mem_mb ))
mkdir -p /etc/slurm "$SLURM_LOG" "$SPOOL_CTLD" "$SPOOL_D"
new_conf=$(mktemp)
cat >"$new_conf" <<EOF
# Written by deploy/slurm-local.sh: a single-node Slurm for tests (no cgroups, no slurmdbd).
ClusterName=mcpdask-local
SlurmctldHost=localhost
SlurmctldPort=6817
SlurmdPort=6818
AuthType=auth/munge
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$SPOOL_CTLD
SlurmdSpoolDir=$SPOOL_D
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=$SLURM_LOG/slurmctld.log
SlurmdLogFile=$SLURM_LOG/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# jobs that ask for no memory get 1 GiB per CPU, not the whole node
DefMemPerCPU=1024
ReturnToService=2
# seconds a finished job stays in 'scontrol show job'
MinJobAge=600
KillWait=5
# no slurmdbd: job history goes to a text file, one line per finished job
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$SLURM_JOBCOMP
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$real_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
restart=0
if ! cmp -s "$new_conf" "$SLURM_CONF"; then
    log "writing $SLURM_CONF (localhost: $cpus CPUs, $real_mb MB)"
    cp "$new_conf" "$SLURM_CONF"
    restart=1
fi
rm -f "$new_conf"
chmod 0644 "$SLURM_CONF"
touch "$SLURM_JOBCOMP"

# 4. daemons --------------------------------------------------------------------------------
if [ "$restart" = 1 ]; then
    stop_daemon /run/slurmd.pid
    stop_daemon /run/slurmctld.pid
fi
if ! pid_alive /run/slurmctld.pid; then
    log "starting slurmctld"
    /usr/sbin/slurmctld -f "$SLURM_CONF" || die "slurmctld did not start (see $SLURM_LOG/slurmctld.log)"
fi
if ! pid_alive /run/slurmd.pid; then
    log "starting slurmd"
    /usr/sbin/slurmd -f "$SLURM_CONF" -N localhost || die "slurmd did not start (see $SLURM_LOG/slurmd.log)"
fi

# 5. wait for the node ----------------------------------------------------------------------
state=""
for _ in $(seq 120); do
    # %t: compact state, with a '*' while slurmd has not registered ("idle*")
    state=$(sinfo -h -n localhost -o %t 2>/dev/null | head -n1 || true)
    case "$state" in
        idle|mix|alloc) break ;;
        down*|drain*) scontrol update NodeName=localhost State=RESUME >/dev/null 2>&1 || true ;;
    esac
    sleep 0.5
done
case "$state" in
    idle|mix|alloc) ;;
    *) tail -n 20 "$SLURM_LOG/slurmctld.log" "$SLURM_LOG/slurmd.log" >&2 || true
       die "node localhost is '${state:-unknown}', not idle after 60 s" ;;
esac
log "ready: $(sinfo -h -o '%P %D %T %c CPUs %m MB' | head -n1); job history in $SLURM_JOBCOMP"
