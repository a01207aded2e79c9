"""`aiguillage serve`: the web page of the DT's office (Starlette, Jinja2 templates, uvicorn).

The page calls the library as the command line does (`Workspace.route_many`, `render.decision_dict`,
`batch.run_batch`, the reports); this package only reads requests and renders answers.
"""

from .app import Limits, Service, create_app, server_settings

__all__ = ["create_app", "server_settings", "Service", "Limits"]
