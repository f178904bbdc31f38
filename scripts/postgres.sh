#!/usr/bin/env bash
# Make sure PostgreSQL answers on 127.0.0.1:5432 and lets user "postgres" in without a password
# (trust), as the tests expect. Idempotent: does nothing when that already works.
#
# On a fresh Debian machine or CI runner (as root) it installs the "postgresql" package, starts
# the cluster without systemd and, only if logging in fails, adds one trust line to pg_hba.conf.
set -euo pipefail

HOST=127.0.0.1
PORT=${GATEJUMPER_POSTGRES_PORT:-5432} # another port only to try this script on a spare cluster
WAIT_SECONDS=30
HBA_LINE="host    all    postgres    127.0.0.1/32    trust    # added by gatejumper scripts/postgres.sh"

say() { printf 'postgres.sh: %s\n' "$*"; }
die() {
    printf 'postgres.sh: error: %s\n' "$*" >&2
    exit 1
}

is_ready() { command -v pg_isready >/dev/null 2>&1 && pg_isready -q -h "$HOST" -p "$PORT"; }

can_login() {
    command -v psql >/dev/null 2>&1 &&
        psql -w -h "$HOST" -p "$PORT" -U postgres -d postgres -tAc 'SELECT 1' >/dev/null 2>&1
}

have_local_cluster() { [ -d /etc/postgresql ] && [ -n "$(ls -A /etc/postgresql 2>/dev/null)" ]; }

need_root() {
    [ "$(id -u)" -eq 0 ] || die "$1: run this script as root (or with sudo)"
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 ||
        die "PostgreSQL is not installed and there is no apt-get; install PostgreSQL yourself"
    say "installing PostgreSQL with apt-get"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q || die "apt-get update failed"
    apt-get install -y -q postgresql || die "apt-get install postgresql failed"
    have_local_cluster || die "the postgresql package installed no cluster under /etc/postgresql"
}

# The cluster to use, as "<version> <name>": the one on our port, else the first one.
pick_cluster() {
    local found=""
    if command -v pg_lsclusters >/dev/null 2>&1; then
        found=$(pg_lsclusters -h 2>/dev/null | awk -v port="$PORT" '$3 == port { print $1, $2; exit }')
    fi
    if [ -z "$found" ]; then
        # Version directories are plain numbers ("15"), so ls is safe here.
        # shellcheck disable=SC2012
        found="$(ls /etc/postgresql | head -1) main"
    fi
    printf '%s\n' "$found"
}

start_cluster() {
    local version=$1 name=$2
    if pg_ctlcluster "$version" "$name" status >/dev/null 2>&1; then
        say "cluster $version/$name is running; waiting for it to accept connections"
        return
    fi
    say "starting cluster $version/$name"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" start ||
        die "could not start cluster $version/$name; see /var/log/postgresql/postgresql-$version-$name.log"
}

wait_ready() {
    local version=$1 name=$2 waited=0
    until is_ready; do
        if [ "$waited" -ge "$WAIT_SECONDS" ]; then
            local log="/var/log/postgresql/postgresql-$version-$name.log"
            [ -f "$log" ] && tail -n 20 "$log" >&2
            die "PostgreSQL did not accept connections on $HOST:$PORT within ${WAIT_SECONDS}s" \
                "(is cluster $version/$name configured for port $PORT?)"
        fi
        sleep 1
        waited=$((waited + 1))
    done
}

# First match wins in pg_hba.conf, so our line goes before every other rule.
allow_trust() {
    local version=$1 name=$2
    local hba="/etc/postgresql/$version/$name/pg_hba.conf"
    [ -f "$hba" ] || die "no $hba; cannot allow user postgres from $HOST"
    if grep -qF "$HBA_LINE" "$hba"; then
        die "user postgres still cannot log in from $HOST although $hba trusts it; check the server log"
    fi
    say "allowing user postgres from $HOST without a password in $hba"
    cp -p "$hba" "$hba.before-gatejumper"
    { printf '%s\n' "$HBA_LINE"; cat "$hba.before-gatejumper"; } >"$hba"
    pg_ctlcluster --skip-systemctl-redirect "$version" "$name" reload ||
        die "could not reload cluster $version/$name after editing $hba"
}

main() {
    if is_ready; then
        if can_login; then
            say "PostgreSQL is already running on $HOST:$PORT and user postgres can log in"
            exit 0
        fi
        have_local_cluster ||
            die "PostgreSQL on $HOST:$PORT refuses user postgres without a password," \
                "and it is not a local Debian cluster this script can configure"
        say "PostgreSQL is running on $HOST:$PORT but user postgres cannot log in"
        need_root "to change pg_hba.conf"
    else
        need_root "PostgreSQL is not running on $HOST:$PORT; to install or start it"
        if ! have_local_cluster || ! command -v pg_ctlcluster >/dev/null 2>&1; then
            install_postgres
        fi
    fi

    local version name
    read -r version name < <(pick_cluster)
    if [ -z "$version" ] || [ -z "$name" ]; then
        die "found no PostgreSQL cluster under /etc/postgresql"
    fi

    start_cluster "$version" "$name"
    wait_ready "$version" "$name"
    if ! can_login; then
        allow_trust "$version" "$name"
        sleep 1
        wait_ready "$version" "$name"
        can_login || die "user postgres cannot log in from $HOST even after editing pg_hba.conf"
    fi
    say "PostgreSQL $version/$name is ready on $HOST:$PORT (user postgres, no password)"
}

main "$@"
