"""The webhooks' jobs: send one delivery, and queue the deliveries the database recorded."""

from procrastinate import JobContext

from domain import periodic_schedules as schedules
from domain import task_names as names
from worker import jobs
from worker.failure_ladder import Ladder, run_job
from worker.periodic import periodic_task
from worker.retry import TransientFailureRetry, WebhookAttemptFailed, WebhookDeliveryRetry
from worker.services import services_of
from worker.webhooks import delivery

retry = TransientFailureRetry()


@jobs.app.task(
    name=names.DELIVER_WEBHOOK,
    queue=names.WEBHOOKS_QUEUE,
    pass_context=True,
    retry=WebhookDeliveryRetry(),
)
async def deliver_webhook(context: JobContext, delivery_id: str) -> None:
    # The delivery decides when its next attempt is due and when to give up (its own age);
    # what reaches here besides that is the database around the attempt, or a bug.
    services = services_of(context)
    ladder = Ladder(
        about=f"delivery_id={delivery_id}",
        bug_event="webhook.bug",
        record_bug=lambda report: delivery.fail_delivery(services, delivery_id, report),
        retry_event="webhook.retry",
        recorded=(WebhookAttemptFailed,),
    )
    await run_job(context, delivery.deliver(services, delivery_id), ladder)


# Deliveries the database recorded when imports ended (by any path, operators' SQL included)
# get their jobs within 5 s.
queue_webhook_deliveries = periodic_task(
    schedules.QUEUE_WEBHOOK_DELIVERIES, delivery.queue_pending_deliveries,
    retry=retry, queue=names.WEBHOOKS_QUEUE,
)  # fmt: skip
