"""`brandgate scheduler`: the long-running process that starts the nightly suite on its cron."""

from __future__ import annotations

import click

from brandgate import scheduler
from brandgate.cli.output import emit_json, say
from brandgate.db.engine import process_engine
from brandgate.db.schema import ensure_current
from brandgate.settings import get_settings


@click.command("scheduler")
@click.option("--show", is_flag=True, help="Print the stored nightly job and its next run, then exit.")
@click.option("--json", "as_json", is_flag=True, help="With --show: one JSON document.")
def scheduler_command(show: bool, as_json: bool) -> None:
    """Run the nightly regression suite on BRANDGATE_NIGHTLY_CRON (default 02:00 UTC) until stopped."""
    settings = get_settings()
    if not show:
        scheduler.serve(settings)
        return

    engine = process_engine(settings)
    ensure_current(engine)
    sched = scheduler.build_scheduler(settings, engine)
    job = sched.get_job(scheduler.NIGHTLY_JOB_ID)
    document = {
        "job": scheduler.NIGHTLY_JOB_ID,
        "cron": settings.nightly_cron,
        "next_run_time": job.next_run_time.isoformat() if job and job.next_run_time else None,
        "misfire_grace_s": settings.scheduler_misfire_grace_s,
    }
    scheduler.stop_scheduler(sched, wait=False)
    if as_json:
        emit_json(document)
    else:
        say(f"{document['job']}: cron '{document['cron']}' (UTC), next run {document['next_run_time']}")


def register(cli: click.Group) -> None:
    cli.add_command(scheduler_command)
