"""gatehouse_fastapi: protect FastAPI routes with gatehouse.

    from fastapi import Depends, FastAPI
    from gatehouse_fastapi import Gatehouse, Principal

    gh = Gatehouse("http://localhost:3000", strategy="jwt")   # or Gatehouse.from_env()
    app = FastAPI()
    gh.install(app)

    @app.get("/me")
    async def me(user: Principal = Depends(gh.current_user)):
        return {"id": user.id, "email": user.email}

See docs/integrations.md of the gatehouse repository.
"""

from ._errors import Invalid, Unavailable
from .core import Gatehouse, GatehouseError, Principal

__all__ = ["Gatehouse", "GatehouseError", "Principal", "Invalid", "Unavailable"]
__version__ = "0.1.0"
