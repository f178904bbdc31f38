#!/usr/bin/env bash
# The real WordPress that Gatejumper's tests run against (Debian's wordpress package).
#
#   scripts/wordpress.sh check     say what is missing, change nothing (exit 1 if anything is)
#   scripts/wordpress.sh install   install and start what is missing (idempotent; needs root)
#   scripts/wordpress.sh serve     run a throwaway WordPress with the seed thread loaded
#
# Test instances themselves (a database, a config and a `php -S` each) are made by
# tests/wp.py; this script only provides the shared pieces: packages, a running
# MariaDB, a database account for the tests, and the Debian host config
# /etc/wordpress/config-gatejumper.php that lets every instance bring its own settings.
#
# Environment: GATEJUMPER_WP_DB_HOST (127.0.0.1), GATEJUMPER_WP_DB_PORT (3306),
# GATEJUMPER_WP_DB_USER (gatejumper), GATEJUMPER_WP_DB_PASSWORD (gatejumper).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$HERE")"
WP_ROOT="${GATEJUMPER_WP_ROOT:-/usr/share/wordpress}"
SHIM_SOURCE="$HERE/wordpress/config-gatejumper.php"
SHIM_TARGET="/etc/wordpress/config-gatejumper.php"
DB_HOST="${GATEJUMPER_WP_DB_HOST:-127.0.0.1}"
DB_PORT="${GATEJUMPER_WP_DB_PORT:-3306}"
DB_USER="${GATEJUMPER_WP_DB_USER:-gatejumper}"
DB_PASSWORD="${GATEJUMPER_WP_DB_PASSWORD:-gatejumper}"
PACKAGES=(wordpress php-cli php-mysql mariadb-server mariadb-client)
MARIADB_LOG="/var/log/mysql/gatejumper-mariadbd.log"

say() { printf 'wordpress.sh: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

db_login_works() {
    command -v php >/dev/null 2>&1 || return 1
    # shellcheck disable=SC2016  # PHP code, not shell
    GJ_HOST="$DB_HOST" GJ_PORT="$DB_PORT" GJ_USER="$DB_USER" GJ_PASSWORD="$DB_PASSWORD" php -r '
        mysqli_report(MYSQLI_REPORT_OFF);
        $db = @mysqli_connect(getenv("GJ_HOST"), getenv("GJ_USER"), getenv("GJ_PASSWORD"), "", (int) getenv("GJ_PORT"));
        exit($db ? 0 : 1);' 2>/dev/null
}

mariadb_answers() {
    mariadb-admin --connect-timeout=2 ping >/dev/null 2>&1 \
        || mariadb-admin --connect-timeout=2 -h "$DB_HOST" -P "$DB_PORT" -uroot ping >/dev/null 2>&1 \
        || db_login_works
}

missing() {
    local gaps=()
    [ -f "$WP_ROOT/wp-settings.php" ] || gaps+=("WordPress ($WP_ROOT, Debian package wordpress)")
    command -v php >/dev/null 2>&1 || gaps+=("php (package php-cli)")
    if command -v php >/dev/null 2>&1 && ! php -r 'exit(extension_loaded("mysqli") ? 0 : 1);'; then
        gaps+=("PHP mysqli extension (package php-mysql)")
    fi
    [ -x /usr/sbin/mariadbd ] || gaps+=("MariaDB server (package mariadb-server)")
    command -v mariadb >/dev/null 2>&1 || gaps+=("MariaDB client (package mariadb-client)")
    if ! db_login_works; then
        gaps+=("a MariaDB login $DB_USER@$DB_HOST:$DB_PORT that works")
    fi
    if ! cmp -s "$SHIM_SOURCE" "$SHIM_TARGET"; then
        gaps+=("the Debian host config $SHIM_TARGET")
    fi
    printf '%s\n' "${gaps[@]+"${gaps[@]}"}"
}

cmd_check() {
    local gaps
    gaps="$(missing)"
    if [ -n "$gaps" ]; then
        say "missing:"
        while IFS= read -r gap; do printf '  - %s\n' "$gap" >&2; done <<<"$gaps"
        say "run: scripts/wordpress.sh install"
        return 1
    fi
    say "ready: WordPress $(sed -n "s/^\$wp_version = '\(.*\)';/\1/p" "$WP_ROOT/wp-includes/version.php"), $(php -r 'echo "PHP ", PHP_VERSION;'), MariaDB at $DB_HOST:$DB_PORT"
}

install_packages() {
    local needed=()
    local package
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' || needed+=("$package")
    done
    [ "${#needed[@]}" -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "apt-get not found; install these by hand: ${needed[*]}"
    say "installing ${needed[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! as_root apt-get install -y -q --no-install-recommends "${needed[@]}" >/dev/null; then
        say "apt-get install failed; updating the package lists and trying again"
        as_root apt-get update -q >/dev/null || die "apt-get update failed (no network to the Debian mirrors?)"
        as_root apt-get install -y -q --no-install-recommends "${needed[@]}" >/dev/null \
            || die "apt-get could not install: ${needed[*]}"
    fi
}

start_mariadb() {
    if mariadb_answers; then
        return 0
    fi
    say "starting MariaDB"
    as_root install -d -o mysql -g mysql -m 0755 /run/mysqld
    as_root install -d -o mysql -g adm -m 2750 /var/log/mysql
    if [ ! -d /var/lib/mysql/mysql ]; then
        as_root mariadb-install-db --user=mysql --datadir=/var/lib/mysql >/dev/null \
            || die "mariadb-install-db could not create /var/lib/mysql"
    fi
    as_root start-stop-daemon --start --oknodo --background --output "$MARIADB_LOG" \
        --exec /usr/sbin/mariadbd -- --user=mysql
    local waited=0
    until mariadb_answers; do
        if [ "$waited" -ge 60 ]; then
            tail -n 20 "$MARIADB_LOG" >&2 2>/dev/null || true
            die "MariaDB did not answer within 30 s (log: $MARIADB_LOG)"
        fi
        sleep 0.5
        waited=$((waited + 1))
    done
}

root_sql() {
    if as_root mariadb --connect-timeout=5 -uroot -e 'SELECT 1' >/dev/null 2>&1; then
        as_root mariadb --connect-timeout=5 -uroot "$@"
    elif mariadb --connect-timeout=5 -h "$DB_HOST" -P "$DB_PORT" -uroot -e 'SELECT 1' >/dev/null 2>&1; then
        mariadb --connect-timeout=5 -h "$DB_HOST" -P "$DB_PORT" -uroot "$@"
    else
        die "cannot log in to MariaDB as root (socket or $DB_HOST:$DB_PORT) to create $DB_USER"
    fi
}

create_db_user() {
    db_login_works && return 0
    say "creating the MariaDB account $DB_USER for test databases (gjwp_*)"
    local sql="" host
    for host in localhost 127.0.0.1 ::1; do
        sql+="CREATE USER IF NOT EXISTS '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';"
        sql+="ALTER USER '$DB_USER'@'$host' IDENTIFIED BY '$DB_PASSWORD';"
        sql+="GRANT ALL PRIVILEGES ON \`gjwp\\_%\`.* TO '$DB_USER'@'$host';"
    done
    root_sql -e "$sql"
    db_login_works || die "the MariaDB account $DB_USER still cannot log in at $DB_HOST:$DB_PORT"
}

install_shim() {
    cmp -s "$SHIM_SOURCE" "$SHIM_TARGET" && return 0
    say "installing $SHIM_TARGET"
    as_root install -D -m 0644 "$SHIM_SOURCE" "$SHIM_TARGET"
}

cmd_install() {
    install_packages
    start_mariadb
    create_db_user
    install_shim
    cmd_check
}

cmd_serve() {
    local python="$REPO/.venv/bin/python"
    [ -x "$python" ] || python="python3"
    cd "$REPO"
    exec "$python" -m tests.wp serve "$@"
}

case "${1:-}" in
    check) cmd_check ;;
    install) cmd_install ;;
    serve) shift; cmd_serve "$@" ;;
    *) say "usage: $0 check | install | serve [--port PORT] [--plain]"; exit 2 ;;
esac
