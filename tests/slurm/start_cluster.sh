#!/usr/bin/env bash
# Starts a one-node Slurm cluster on loopback for the sweep tests: munged, slurmctld and slurmd
# as root, with a generated slurm.conf and munge key in a folder of their own (not the
# system's /etc/slurm or /etc/munge), and waits until `sinfo` shows the node idle.
#   tests/slurm/start_cluster.sh DIR     # then: export SLURM_CONF=DIR/slurm.conf
#   tests/slurm/stop_cluster.sh DIR
# Needs Debian's slurm-wlm and munge (packaging/install-deps.sh) and root. Exit 77 (ctest's
# skip code) when they are missing or this is not root; 1 when the cluster does not come up,
# with the daemons' logs on standard error.
set -euo pipefail

dir=${1:?usage: start_cluster.sh DIR}
for tool in munged slurmctld slurmd sinfo sbatch; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ ! -x "/usr/sbin/$tool" ]; then
    echo "start_cluster: $tool not found (install slurm-wlm and munge)" >&2
    exit 77
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "start_cluster: the daemons run as root here; run as root (CI does)" >&2
  exit 77
fi
export PATH="/usr/sbin:$PATH"

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
"$(dirname "$0")/stop_cluster.sh" "$dir" >/dev/null 2>&1 || true
mkdir -p "$dir/munge" "$dir/state" "$dir/spool" "$dir/log"
chmod 700 "$dir/munge"

# Ports of our own, so that a system slurmctld on 6817/6818 (or another test cluster) is left
# alone: the first pair from 16817 where nothing listens on loopback.
listening() { (: < "/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ctld_port=${DISTILL_SLURMCTLD_PORT:-}
if [ -z "$ctld_port" ]; then
  for ctld_port in $(seq 16817 2 16897); do
    listening "$ctld_port" || listening $((ctld_port + 1)) || break
  done
fi
slurmd_port=$((ctld_port + 1))
# Memory the node offers: half of what the machine has (more than it has drains the node).
mem_mb=$(awk '/MemTotal/ { printf "%d", $2 / 2048 }' /proc/meminfo)
cpus=${DISTILL_SLURM_CPUS:-2}

cat > "$dir/slurm.conf" <<CONF
ClusterName=distill-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1024
SchedulerType=sched/backfill
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
MpiDefault=none
ReturnToService=2
MinJobAge=600
MaxArraySize=1001
SchedulerParameters=defer_batch
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=10
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

if [ ! -s "$dir/munge/munge.key" ]; then
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 400 "$dir/munge/munge.key"
fi
munged --force --socket="$dir/munge/munge.socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed"

export SLURM_CONF="$dir/slurm.conf"
slurmctld -f "$SLURM_CONF" -i
slurmd -f "$SLURM_CONF" -N localhost

# Up to 30 s for the node to register and become idle.
for _ in $(seq 1 60); do
  state=$(sinfo -h -N -o '%T' 2>/dev/null | head -1 || true)
  if [ "$state" = idle ]; then
    echo "start_cluster: node localhost idle; export SLURM_CONF=$SLURM_CONF"
    exit 0
  fi
  sleep 0.5
done
echo "start_cluster: the node did not become idle (sinfo: '${state:-}')" >&2
for log in "$dir"/log/*.log; do echo "--- $log" >&2; tail -n 30 "$log" >&2; done
exit 1
