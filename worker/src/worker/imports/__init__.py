"""Imports: starting one and listing its folders (`listing.py`), queueing its files in batches
(`transfers.py`), and a batch's run, which streams each file into the store (`batch_run.py`);
their jobs in `tasks.py`."""
