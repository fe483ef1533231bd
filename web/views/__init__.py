"""The web app's pages, one module per screen; thin handlers over the same
services the HTTP API uses (``request.app.state.services``)."""
