"""MkDocs hooks (``hooks:`` in mkdocs.yml): the generated pages of the manual.

``cli.md`` is rendered from the argparse parser at every build (`cli_reference.render`),
in place of the committed copy, so the site's CLI reference cannot drift from the code.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).resolve().parent))

from cli_reference import render  # noqa: E402


def on_files(files: Files, config) -> Files:
    """Put the CLI reference, rendered now, in place of the committed ``cli.md``."""
    committed = files.get_file_from_path("cli.md")
    if committed is not None:
        files.remove(committed)
    files.append(File.generated(config, "cli.md", content=render()))
    return files
