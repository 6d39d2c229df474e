-- Runs once, when the postgresql volume is first initialised. The entrypoint already created
-- the `temporal` role and database; Temporal's auto-setup creates `temporal_visibility`.
-- The OMS gets its own role and database so its migrations never touch Temporal's schema.
CREATE ROLE oms LOGIN PASSWORD 'oms';
CREATE DATABASE oms OWNER oms;
