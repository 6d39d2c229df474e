"""The catalog: what can be ordered, at what price, and how much is in stock where."""

from fastapi import APIRouter

from api.deps import CurrentPrincipal, StoreDep
from api.models import CatalogPublic
from store.catalog import list_catalog

router = APIRouter(prefix="/catalog", tags=["catalog"])


@router.get("", response_model=CatalogPublic)
async def get_catalog(_: CurrentPrincipal, store: StoreDep) -> CatalogPublic:
    items = await list_catalog(store)
    return CatalogPublic.model_validate({"data": items, "count": len(items)})
