import pytest


@pytest.fixture(autouse=True)
def _job_files(settings, tmp_path_factory):
    """Uploads and exports of jobs go under a temporary var/, never the worktree's."""
    settings.VAR_DIR = tmp_path_factory.mktemp("var")
    return settings.VAR_DIR
