"""Streamlit's command line, with the default model loading while the server starts.

`explain dashboard` runs `python dashboard/serve.py run dashboard/app.py ...` instead of `streamlit run`:
Streamlit serves the page from this process, so a model loaded here into `cached.loaded_model`'s
resource cache (torch and transformers imported, weights read) is the one the first visitor's page
uses; without this the first visitor waits for all of it. A failure here is only logged: the page
then loads the model itself and shows the error where the user sees it.
"""

from __future__ import annotations

import logging
import sys
import threading
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # as Streamlit does for app.py: `import cached`
log = logging.getLogger("review-explainer.dashboard")


def preload() -> None:
    """Load the default model into the dashboard's resource cache (run in a background thread)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # no page is listening yet ("missing ScriptRunContext")
            import cached
            from allowed_models import DEFAULT_KEY

            cached.loaded_model(DEFAULT_KEY)
    except Exception:  # the page reports it on first use, where the user sees it
        log.warning("could not preload the default model", exc_info=True)


if __name__ == "__main__":
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").setLevel(logging.ERROR)
    threading.Thread(target=preload, name="preload-default-model", daemon=True).start()
    from streamlit.web.cli import main

    sys.exit(main())
