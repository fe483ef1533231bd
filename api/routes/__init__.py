"""HTTP routes: thin handlers over ``api/services`` and the knowledge base."""

from api.routes.citations import CITATION_ROUTES
from api.routes.documents import DOCUMENT_ROUTES
from api.routes.jobs import JOB_ROUTES
from api.routes.openai_compat import OPENAI_ROUTES
from api.routes.ops import OPS_ROUTES
from api.routes.questions import QUESTION_ROUTES
from api.routes.reviews import REVIEW_ROUTES

__all__ = ["ROUTES"]

ROUTES = [*OPS_ROUTES, *DOCUMENT_ROUTES, *JOB_ROUTES, *QUESTION_ROUTES, *REVIEW_ROUTES,
          *OPENAI_ROUTES, *CITATION_ROUTES]  # fmt: skip
