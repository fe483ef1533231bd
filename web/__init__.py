"""The Dossier web app: sign in with an API key, upload, read, review, ask.

Mounted at ``/`` by ``api.app.create_app`` (``dossier serve``); see
:mod:`web.app` for the layout.
"""

from web.app import create_web_router

__all__ = ["create_web_router"]
