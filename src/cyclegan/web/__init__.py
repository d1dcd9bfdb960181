"""`cyclegan serve`: a web page (Gradio) to translate, stylise, compare and watch training runs.

Needs the optional extra: `pip install -e ".[web]"`. `options.py` holds the options, `serve.py` the
launch (neither imports torch or gradio), `app.py` the page, laid out from one module per tab
(`translate_tab`, `style_tab`, `compare_tab`, `runs_tab`) over `engine.py`, the server's shared state;
`runs.py` is what it reads of runs (no torch, no gradio), `uploads.py` the upload checks, `disk.py` the
bound on the disk uploads take and the sweep of what Gradio's clean-up leaves.
"""

from .serve import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
