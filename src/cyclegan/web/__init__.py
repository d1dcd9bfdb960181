"""`cyclegan serve`: a web page (Gradio) to translate, stylise, compare and watch training runs.

Needs the optional extra: `pip install 'cyclegan[web]'`. `serve.py` holds the options and the launch,
`app.py` the page, `runs.py` what it reads of runs (no torch, no gradio), `uploads.py` the upload checks.
"""

from .serve import ServeOptions, serve

__all__ = ["ServeOptions", "serve"]
