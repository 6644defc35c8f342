"""Every DAG's on-failure notifier: a task that failed for good (after its last retry) is recorded
in ``pipeline_alerts`` (v_pipeline_alerts for Power BI, the HTML and text reports) and, when the
``smtp_default`` connection and the ``retail_pulse_alert_emails`` variable are set (from
RP_SMTP_HOST and RP_ALERT_EMAILS), mailed through Airflow's SMTP provider.

The alert carries the DAG, task, run, try, logical date, the reason (the failed gate's line, or
the job's last output line) and the task's log URL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape

from airflow.sdk import BaseHook, BaseNotifier, Variable

SMTP_CONN = "smtp_default"
RECIPIENTS_VARIABLE = "retail_pulse_alert_emails"
INSERT = (
    "INSERT IGNORE INTO pipeline_alerts (raised_at, dag_id, task_id, run_id, try_number, logical_date, reason,"
    " log_url, mailed_to) VALUES (%(raised_at)s, %(dag_id)s, %(task_id)s, %(run_id)s, %(try_number)s,"
    " %(logical_date)s, %(reason)s, %(log_url)s, %(mailed_to)s)"
)


def naive_utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC).replace(tzinfo=None) if moment else None


def alert_of(context) -> dict:
    """The alert row of a failure callback's context (``mailed_to`` still unset)."""
    ti, error = context["ti"], context.get("exception")
    reason = " ".join(str(error).split()) if error else ""
    return {
        "raised_at": naive_utc(datetime.now(UTC)),
        "dag_id": ti.dag_id,
        "task_id": ti.task_id,
        "run_id": ti.run_id,
        "try_number": ti.try_number,
        "logical_date": naive_utc(context["dag_run"].logical_date),
        "reason": (reason or (type(error).__name__ if error else "failed without an exception"))[:2048],
        "log_url": ti.log_url,
        "mailed_to": None,
    }


def mail_of(alert: dict) -> tuple[str, str]:
    """(subject, HTML body) of an alert's mail."""
    subject = f"[Retail Pulse] {alert['dag_id']}.{alert['task_id']} failed ({alert['run_id']})"
    rows = "".join(
        f"<tr><th align='left'>{label}</th><td>{escape(str(alert[key]))}</td></tr>"
        for label, key in (
            ("DAG", "dag_id"),
            ("Task", "task_id"),
            ("Run", "run_id"),
            ("Try", "try_number"),
            ("Logical date", "logical_date"),
            ("Reason", "reason"),
        )
    )
    link = escape(alert["log_url"] or "")
    return subject, f"<table>{rows}</table><p>Log: <a href='{link}'>{link}</a></p>"


def recipients() -> list[str]:
    """The alert mail's recipients, or [] when mail is not configured (no SMTP connection or no list)."""
    listed = [a.strip() for a in (Variable.get(RECIPIENTS_VARIABLE, default=None) or "").split(",") if a.strip()]
    if not listed:
        return []
    try:
        BaseHook.get_connection(SMTP_CONN)
    except Exception:  # the SDK raises its own not-found error
        return []
    return listed


class AlertNotifier(BaseNotifier):
    """Records the failure in ``pipeline_alerts`` and mails it when SMTP is configured."""

    def notify(self, context) -> None:
        # imported when a task fails, not when the scheduler parses the DAG files
        from airflow.providers.mysql.hooks.mysql import MySqlHook
        from airflow.providers.smtp.notifications.smtp import SmtpNotifier

        alert = alert_of(context)
        to = recipients()
        if to:
            subject, body = mail_of(alert)
            try:
                SmtpNotifier(to=to, subject=subject, html_content=body, smtp_conn_id=SMTP_CONN).notify(context)
                alert["mailed_to"] = ", ".join(to)[:512]
                self.log.info("alert mailed to %s", alert["mailed_to"])
            except Exception as exc:  # the alert is still recorded below
                self.log.error("alert mail to %s failed: %s", ", ".join(to), exc)
        else:
            self.log.info(
                "no alert mail: set the %s connection and the %s variable (RP_SMTP_HOST, RP_ALERT_EMAILS) to get one",
                SMTP_CONN,
                RECIPIENTS_VARIABLE,
            )
        MySqlHook(mysql_conn_id="mysql_default").run(INSERT, autocommit=True, parameters=alert)
        self.log.info("alert recorded in pipeline_alerts: %s.%s %s", alert["dag_id"], alert["task_id"], alert["reason"])


ON_FAILURE = AlertNotifier()
