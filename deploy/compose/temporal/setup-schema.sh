#!/bin/sh
# Creates Temporal's two PostgreSQL databases and brings their schemas to the latest version
# this admin-tools image embeds. Every step is safe on an existing volume: create-database
# ignores a database that exists, setup-schema -v 0.0 only adds the version tables, and
# update-schema applies only the versions not yet applied. The connection comes from the
# environment (SQL_PLUGIN, SQL_HOST, SQL_PORT, SQL_USER, SQL_PASSWORD), set in
# docker-compose.yml. Run by the compose service temporal-schema.
set -eu

for db in temporal:postgresql/v12/temporal temporal_visibility:postgresql/v12/visibility; do
	name=${db%%:*}
	schema=${db#*:}
	echo "temporal-schema: database $name, schema $schema"
	temporal-sql-tool --db "$name" create-database
	temporal-sql-tool --db "$name" setup-schema -v 0.0
	temporal-sql-tool --db "$name" update-schema --schema-name "$schema"
done
echo "temporal-schema: done"
