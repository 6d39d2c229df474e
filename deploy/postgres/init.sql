-- Runs once, when the postgresql volume is first initialised. The entrypoint already created
-- the `temporal` role and database; the temporal-schema service creates `temporal_visibility`
-- and both schemas. The OMS gets its own role and database so its migrations never touch
-- Temporal's schema.
CREATE ROLE oms LOGIN PASSWORD 'oms';
CREATE DATABASE oms OWNER oms;
