"""Loyalty points: a customer's balance, what is still pending, and the newest entries."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, status

from api.deps import ShopPrincipal, StoreDep
from domain.rewards import CustomerRewards
from store import rewards

router = APIRouter(prefix="/customers", tags=["rewards"])


@router.get("/{customer_id}/rewards", response_model=CustomerRewards)
async def get_rewards(
    customer_id: str, principal: ShopPrincipal, store: StoreDep
) -> CustomerRewards:
    if principal.role == "customer" and customer_id != principal.customer_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"the rewards of {customer_id} belong to someone else"
        )
    return await rewards.customer_rewards(store, customer_id)
