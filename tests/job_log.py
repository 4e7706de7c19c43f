"""A log of every job ever queued, for tests that count them: the worker deletes a job as soon
as it succeeds, so procrastinate_jobs only holds the jobs still to run (and those that failed).
The log is a table and a trigger in the test module's own database, never in the schema."""

from typing import Any

INSTALL = """
CREATE TABLE IF NOT EXISTS test_job_log (
    job_id bigint, queue_name text, task_name text, priority integer, lock text, args jsonb
);
CREATE OR REPLACE FUNCTION test_log_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO test_job_log
    VALUES (NEW.id, NEW.queue_name, NEW.task_name, NEW.priority, NEW.lock, NEW.args);
    RETURN NEW;
END;
$$;
CREATE OR REPLACE TRIGGER test_log_job AFTER INSERT ON procrastinate_jobs
    FOR EACH ROW EXECUTE FUNCTION test_log_job();
"""


def install_job_log(db: Any) -> None:
    db.execute(INSTALL)


def transfer_jobs(db: Any, import_id: str) -> dict[str, int]:
    """file id → how many transfer batches were ever queued with it in this import, as the
    worker and requeue_failed_files queue them (default priority, no lock)."""
    rows = db.execute(
        "SELECT file_id, count(*) FROM test_job_log, jsonb_array_elements_text(args->'file_ids')"
        " AS file_id WHERE task_name = 'import.transfer_batch' AND queue_name = 'transfers'"
        " AND priority = 0 AND lock IS NULL AND args->>'import_id' = %s GROUP BY 1",
        (import_id,),
    ).fetchall()
    return dict(rows)


def transfer_batches(db: Any, import_id: str) -> list[dict[str, Any]]:
    """The arguments of every transfer batch ever queued for the import, in order."""
    rows = db.execute(
        "SELECT args FROM test_job_log WHERE task_name = 'import.transfer_batch'"
        " AND args->>'import_id' = %s ORDER BY job_id",
        (import_id,),
    ).fetchall()
    return [args for (args,) in rows]
