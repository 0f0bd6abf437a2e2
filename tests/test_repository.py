"""The repository stands alone: nothing in it points at files outside it."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED = {".git", ".venv", "__pycache__", ".pytest_cache", ".hypothesis", "node_modules"}


def repository_files():
    for path in ROOT.rglob("*"):
        if path.is_file() and not SKIPPED.intersection(path.relative_to(ROOT).parts) and path.suffix in (
                ".py", ".md", ".yml", ".yaml", ".toml", ".txt", ".js", ".html", ".css", ".cfg", ".ini"):
            yield path


def test_no_file_points_outside_the_repository():
    outside = "../" + "shared/"  # spelled in two parts, so this file does not match itself
    offenders = [str(path.relative_to(ROOT)) for path in repository_files() if outside in path.read_text(errors="replace")]
    assert offenders == []
