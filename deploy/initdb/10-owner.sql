-- Run once by the postgis image when the database volume is new (docker-entrypoint-initdb.d), as the
-- administrator: the role that owns riskmap's tables and runs the migrations. The service's own role (neither
-- superuser nor owner, so row-level security binds it) is made by `riskmap db grant` (compose.yaml, setup).
CREATE ROLE riskmap_owner LOGIN PASSWORD 'riskmap-owner';
ALTER DATABASE riskmap OWNER TO riskmap_owner;
\connect riskmap
CREATE EXTENSION IF NOT EXISTS postgis;
