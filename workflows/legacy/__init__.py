"""Workflows that only orders started before a patch still run (workflows/patches.py): they
stay until `oms patches` shows no running order on the old path, then go with the patch."""
