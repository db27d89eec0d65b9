# Sourced by migrate.sh and run.sh. DB=sqlite (the default): each service's own setting or its SQLite
# file under data/. DB=postgres: one database per service on SUITE_POSTGRES_URL
# (default postgresql://postgres@127.0.0.1:5432), created when missing, and every URL exported.
case "${DB:-sqlite}" in
  sqlite) ;;
  postgres)
    exports="$(.venv/bin/python scripts/postgres_databases.py)"
    eval "$exports"
    ;;
  *)
    echo "DB must be sqlite or postgres, not '${DB}'" >&2
    exit 2
    ;;
esac
