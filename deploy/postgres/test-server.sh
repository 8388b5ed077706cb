#!/usr/bin/env bash
# Start a real PostgreSQL server for the test suite (Debian's package) and print its SQLAlchemy URL.
# Installs the package when it is missing and we are root (CI, fresh machines). Idempotent.
set -euo pipefail

DB=${TSW_TEST_PG_DB:-tsw_test}
USER_NAME=${TSW_TEST_PG_USER:-tsw}
PASSWORD=${TSW_TEST_PG_PASSWORD:-tsw}

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "PostgreSQL is not installed; install Debian's 'postgresql' package" >&2
    exit 1
  fi
  echo "installing PostgreSQL from Debian's packages" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq postgresql >&2
fi

version=$(ls /usr/lib/postgresql | sort -V | tail -n 1)
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main"' | grep -q .; then
  pg_createcluster "$version" main >&2
fi
port=$(pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $3}')
if ! pg_lsclusters -h | awk -v v="$version" '$1 == v && $2 == "main" {print $4}' | grep -q online; then
  pg_ctlcluster "$version" main start >&2
fi

for _ in $(seq 1 60); do
  if su postgres -c "psql -p $port -Atqc 'select 1'" >/dev/null 2>&1; then break; fi
  sleep 0.5
done

su postgres -c "psql -p $port -v ON_ERROR_STOP=1 -qAt" >&2 <<SQL
DO \$\$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$USER_NAME') THEN
    CREATE ROLE $USER_NAME LOGIN PASSWORD '$PASSWORD' CREATEDB;
  END IF;
END \$\$;
SQL
if ! su postgres -c "psql -p $port -Atqc \"select 1 from pg_database where datname = '$DB'\"" | grep -q 1; then
  su postgres -c "createdb -p $port -O $USER_NAME $DB" >&2
fi

echo "postgresql+asyncpg://$USER_NAME:$PASSWORD@127.0.0.1:$port/$DB"
