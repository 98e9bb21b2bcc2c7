"""The docs site as a reader meets it: the site `make docs` builds, rendered from the notebooks into a temporary
directory, then opened in headless Chromium, screenshots beside it."""

import importlib.util, os
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location('check_project', ROOT / 'tools' / 'check_project.py')
check_project = importlib.util.module_from_spec(spec)
spec.loader.exec_module(check_project)
BROWSER = check_project.find_browser()


@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site rendered from the notebooks as they are now (never a _docs/ left by an earlier build)."
    out = tmp_path_factory.mktemp('site')
    check_project.build_site(out)
    return out


def test_every_notebook_renders_to_a_page(site):
    pages = sorted(p.name for p in site.glob('*.html'))
    nbs = sorted(f"{p.stem}.html" for p in (ROOT / 'nbs').rglob('*.ipynb')
                 if not any(q.startswith(('.', '_')) for q in p.relative_to(ROOT / 'nbs').parts))
    assert pages == nbs and 'index.html' in pages and '01_quick_start.html' in pages, (pages, nbs)


@pytest.mark.skipif(BROWSER is None and not os.environ.get('CI'),
                    reason='no Chromium here (Debian: apt-get install chromium); .ci/run installs it')
def test_site_opens_in_a_browser_with_tables_plots_and_no_errors(site):
    check_project.browse(site, site / 'screenshots')
    for page in check_project.PAGE_NEEDS:
        assert (site / 'screenshots' / page.replace('.html', '.png')).stat().st_size > 10_000
