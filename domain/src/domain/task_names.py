"""The worker's job names and queues, defined once: the worker registers its tasks under them
and the API defers jobs by them (it imports this module, never the tasks). The periodic ones'
schedules are in periodic_schedules.py."""

START_IMPORT = "import.start"
QUEUE_IMPORTS_IN_TURN = "import.queue_imports_in_turn"
LIST_FOLDER_PAGE = "import.list_folder_page"
TRANSFER_BATCH = "import.transfer_batch"
QUEUE_REQUEUED_FILES = "import.queue_requeued_files"
RECOVER_STALLED_JOBS = "import.recover_stalled_jobs"
MAKE_DERIVATIVES = "image.make_derivatives"
QUEUE_REQUESTED_DERIVATIVES = "image.queue_requested_derivatives"
START_DUE_SYNC_RUNS = "sync.start_due_runs"
DELETE_REMOVED_IMAGES = "sync.delete_removed_images"
QUEUE_WEBHOOK_DELIVERIES = "webhook.queue_pending_deliveries"
DELIVER_WEBHOOK = "webhook.deliver"
FOLD_JOB_COUNTS = "ops.fold_job_counts"
BACKFILL_ALBUMS = "album.backfill"

LISTING_QUEUE = "listing"
TRANSFER_QUEUE = "transfers"
# Thumbnails and facts of stored images: a queue of its own, run by a Procrastinate worker of
# its own in each process, so that they never take a listing's or a transfer's job slot.
DERIVATIVES_QUEUE = "derivatives"
# Webhook deliveries: a queue and a Procrastinate worker of their own in each process, so that a
# backlog of transfers never delays the news that an import ended.
WEBHOOKS_QUEUE = "webhooks"
