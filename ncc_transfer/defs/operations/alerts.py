"""Run-failure alerting: a sensor that emails and/or posts a webhook when a run fails."""

import dagster as dg

from ncc_transfer.alerts import build_alert, send_alert
from ncc_transfer.defs.resources import AlertsResource, MailResource


def failed_schools_of_run(instance: dg.DagsterInstance, run_id: str) -> tuple[list[str], str | None]:
    """The failed school keys and the failure description recorded on the run's failed step."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_FAILURE).records
    for record in records:
        data = record.event_log_entry.dagster_event.step_failure_data
        metadata = (data.user_failure_data.metadata if data and data.user_failure_data else {}) or {}
        schools = metadata.get("failed_schools")
        description = data.user_failure_data.description if data and data.user_failure_data else None
        if schools is not None:
            return list(schools.value), description
        if data and data.error:
            return [], data.error.message.splitlines()[0][:300]
    return [], None


@dg.run_failure_sensor(name="nightly_failure_alert", default_status=dg.DefaultSensorStatus.RUNNING,
                       description="Emails (NCC_ALERT_EMAIL_TO) and/or posts (NCC_ALERT_WEBHOOK_URL) when a run fails.")
def nightly_failure_alert(context: dg.RunFailureSensorContext, alerts: AlertsResource, mail: MailResource):
    run = context.dagster_run
    schools, description = failed_schools_of_run(context.instance, run.run_id)
    alert = build_alert(run.run_id, run.job_name, description or context.failure_event.message, schools,
                        ui=alerts.dagster_ui())
    channels = send_alert(alert, webhook=alerts.webhook(), recipients=alerts.recipients(), smtp=mail.smtp())
    context.log.info(f"alert for run {run.run_id}: sent by {', '.join(channels) or 'no channel configured'}")
