# shellcheck shell=bash
# An sshd of a test's own on loopback addresses, shared by the SSH targets (fleet_ssh,
# ansible_runner). Source it from a runme.sh (its aliases say needs/target/setup_loopback_sshd):
#
#   . ../setup_loopback_sshd/sshd.sh
#   loopback_sshd_start WORK PORT_FROM PORT_COUNT ADDRESS...   # sets SSHD_PORT, SSHD_CLIENT_KEY
#   ...
#   loopback_sshd_stop WORK                                    # in the test's EXIT trap
#
# WORK is the test's own directory (host and client keys, config, pid file and log go there).
# The port is drawn from PORT_FROM..PORT_FROM+PORT_COUNT-1, up to five times when one is taken;
# $LOOPBACK_SSHD_PORT fixes it. Root logs in with the client key only.
#
# The sessions get SHLVL=1 (SetEnv): bash, the login shell of root, reads ~/.bashrc for a
# command sshd starts only when it is a top-level shell (SHLVL below 2 after its own
# increment), so every SSH command skips the rc files. On these machines root's ~/.bashrc
# runs `pyenv init` (measured 0.13 s per command, doubling the fleet test's rerun); the
# modules need nothing from it (the inventories name their Python).

loopback_sshd_start() {
    local work=$1 from=$2 count=$3 _attempt _try address
    shift 3
    ssh-keygen -q -t ed25519 -N '' -f "$work/host_key"
    ssh-keygen -q -t ed25519 -N '' -f "$work/client_key"
    cp "$work/client_key.pub" "$work/authorized_keys"
    mkdir -p /run/sshd
    SSHD_CLIENT_KEY="$work/client_key"
    for _attempt in 1 2 3 4 5; do
        SSHD_PORT="${LOOPBACK_SSHD_PORT:-$((from + RANDOM % count))}"
        {
            echo "Port $SSHD_PORT"
            for address in "$@"; do
                echo "ListenAddress $address"
            done
            cat <<CONF
HostKey $work/host_key
AuthorizedKeysFile $work/authorized_keys
PidFile $work/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
StrictModes no
UsePAM no
MaxStartups 30:30:60
# no rc files for the sessions' shell (see the header)
SetEnv SHLVL=1
# ansible copies modules over sftp; without it every transfer first fails sftp and scp
Subsystem sftp internal-sftp
CONF
        } >"$work/sshd_config"
        rm -f "$work/sshd.pid"
        : >"$work/sshd.log"
        if /usr/sbin/sshd -f "$work/sshd_config" -E "$work/sshd.log"; then
            for _try in $(seq 50); do
                [[ -s "$work/sshd.pid" ]] && break
                sleep 0.1
            done
            if [[ -s "$work/sshd.pid" ]] && ! grep -q 'Bind to port' "$work/sshd.log"; then
                export SSHD_PORT SSHD_CLIENT_KEY
                return 0
            fi
            loopback_sshd_stop "$work"
        fi
        [[ -n "${LOOPBACK_SSHD_PORT:-}" ]] && break
    done
    cat "$work/sshd.log" >&2
    echo "setup_loopback_sshd: the sshd did not start (last port $SSHD_PORT)" >&2
    return 1
}

loopback_sshd_stop() {
    local work=$1 pid _try
    [[ -s "$work/sshd.pid" ]] || return 0
    pid="$(cat "$work/sshd.pid")"
    kill "$pid" 2>/dev/null || true
    for _try in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    rm -f "$work/sshd.pid"
}
