#!/bin/sh
# Runs once, when the postgres volume is first initialised: the login role the bot, workers and
# scheduler connect as. The migrate service (`brandgate db upgrade` as the owner, with
# BRANDGATE_DATABASE_APP_ROLE) grants it SELECT and INSERT on evidence and nothing more.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  --set=app_password="$POSTGRES_APP_PASSWORD" <<'SQL'
CREATE ROLE brandgate_app LOGIN PASSWORD :'app_password';
SQL
