#!/bin/sh
# Run once by the postgres image on an empty data directory (docker-entrypoint-initdb.d): one database
# per service (docs/architecture.md). Later databases are added by `make run DB=postgres` or by hand.
set -eu
for db in profile segmentation feedback loyalty; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -c "CREATE DATABASE $db"
done
