# Sourced by migrate.sh and run.sh.
# Ports: SUITE_PORT_BASE (default 8000) places the gateway at base+0 and profile, segmentation,
# feedback and loyalty at base+1..4; a <SERVICE>_PORT already set wins. Every peer URL follows the
# ports (services.common.config.suite_port), so a second suite needs only SUITE_PORT_BASE.
# Databases: DB=sqlite (the default): each service's own setting or its SQLite file under data/
# (data/suite-<base>/ for a suite on another base). DB=postgres: one database per service on
# SUITE_POSTGRES_URL (default postgresql://postgres@127.0.0.1:5432), created when missing, named
# <service> (s<base>_<service> on another base, or SUITE_POSTGRES_DB_PREFIX<service>).
base="${SUITE_PORT_BASE:-8000}"
if ! [[ "$base" =~ ^[0-9]+$ ]] || (( base < 1024 || base > 65530 )); then
  echo "SUITE_PORT_BASE must be a port number from 1024 to 65530, not '${base}'" >&2
  exit 2
fi
offset=0
for name in GATEWAY PROFILE SEGMENTATION FEEDBACK LOYALTY; do
  var="${name}_PORT"
  export "$var=${!var:-$((base + offset))}"
  offset=$((offset + 1))
done
if [[ "$base" != "8000" ]]; then
  export SUITE_POSTGRES_DB_PREFIX="${SUITE_POSTGRES_DB_PREFIX-s${base}_}"
fi
case "${DB:-sqlite}" in
  sqlite)
    if [[ "$base" != "8000" ]]; then
      mkdir -p "data/suite-${base}"
      for name in profile segmentation feedback loyalty; do
        var="${name^^}_DATABASE_URL"
        export "$var=${!var:-sqlite:///data/suite-${base}/${name}.db}"
      done
    fi
    ;;
  postgres)
    exports="$(.venv/bin/python scripts/postgres_databases.py)"
    eval "$exports"
    ;;
  *)
    echo "DB must be sqlite or postgres, not '${DB}'" >&2
    exit 2
    ;;
esac
