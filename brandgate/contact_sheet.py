"""An HTML contact sheet: every image of a request with its verdict and what the checks said."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path

from jinja2 import Environment, select_autoescape

from brandgate.jobs.contract import RequestStatus

_TEMPLATE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>brandgate · {{ title }}</title>
<style>
 body { font-family: system-ui, sans-serif; margin: 2rem; background: #f6f6f4; color: #222; }
 h1 { font-size: 1.3rem; } .meta { color: #555; font-size: .9rem; }
 .grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(280px, 1fr)); gap: 1rem; }
 figure { margin: 0; background: #fff; border-radius: 8px; padding: .7rem; box-shadow: 0 1px 3px #0002; }
 img { width: 100%; border-radius: 4px; display: block; }
 .verdict { display: inline-block; padding: .1rem .5rem; border-radius: 1rem; color: #fff; font-weight: 600; }
 .pass, .approved { background: #2b8a3e; } .flag { background: #e67700; }
 .unverified { background: #5f3dc4; }
 .reject, .rejected { background: #c92a2a; }
 ul { padding-left: 1.1rem; margin: .4rem 0 0; font-size: .85rem; } li { margin-bottom: .2rem; }
 code { font-size: .8rem; } .failed { color: #c92a2a; }
</style></head><body>
<h1>{{ title }}</h1>
{% for job in jobs %}
<section>
<p class="meta">request <code>{{ job.status.request_id }}</code> · {{ job.status.describe() }}
 · cost ${{ "%.4f"|format(job.status.cost_usd) }}
 {% if job.status.failure_reason %}<span class="failed">· {{ job.status.failure_reason }}</span>{% endif %}</p>
<div class="grid">
{% for item in job.images %}
<figure>
 <a href="{{ item.href }}"><img src="{{ item.href }}" alt="image {{ item.view.index + 1 }}"></a>
 <figcaption>
  <span class="verdict {{ item.view.verdict }}">{{ item.view.verdict }}</span>
  image {{ item.view.index + 1 }} · seed {{ item.view.seed }} · ${{ "%.4f"|format(item.view.cost_usd) }}
  {% if item.manifest %}· <a href="{{ item.manifest }}">credentials</a>{% endif %}
  <br><code>{{ item.view.image_id }}</code>
  {% if item.view.failed_checks or item.view.unverified_checks %}<ul>
  {% for check in item.view.failed_checks %}
   <li><b>{{ check.id }}</b> {{ check.name }} ({{ check.status }}, {{ check.severity }}): {{ check.message }}</li>
  {% endfor %}
  {% for check in item.view.unverified_checks %}
   <li class="unchecked"><b>{{ check.id }}</b> {{ check.name }} (unverified): {{ check.message }}</li>
  {% endfor %}</ul>
  {% elif item.view.verdict == "pass" %}<ul><li>every check that applies passed</li></ul>
  {% elif item.view.verdict == "unverified" %}<ul><li>nothing was checked</li></ul>{% endif %}
 </figcaption>
</figure>
{% endfor %}
</div></section>
{% endfor %}
</body></html>
"""


def _href(target: str | None, base: Path) -> str | None:
    if not target:
        return None
    try:
        return html.escape(os.path.relpath(target, base))
    except ValueError:  # another drive on Windows
        return html.escape(Path(target).as_uri())


def write_contact_sheet(
    path: Path, statuses: Sequence[RequestStatus], files: dict[str, tuple[str, str | None]] | None = None,
    title: str = "contact sheet",
) -> Path:
    """Write the sheet; `files` maps image ID to (image, credentials) copies to link instead of the store."""
    base = path.parent
    files = files or {}
    jobs = []
    for status in statuses:
        items = []
        for view in status.images:
            image_file, manifest = files.get(view.image_id, (view.artifact_path, view.manifest_path))
            items.append({"view": view, "href": _href(image_file, base), "manifest": _href(manifest, base)})
        jobs.append({"status": status, "images": items})
    env = Environment(autoescape=select_autoescape(default=True))
    document = env.from_string(_TEMPLATE).render(title=title, jobs=jobs)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)  # the sheet shows verdicts and paths: private like the images it lists
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(document)
    return path
