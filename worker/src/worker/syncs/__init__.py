"""Syncs: starting their due runs and deleting the images a run found removed (`runs.py`); their
jobs in `tasks.py`."""
