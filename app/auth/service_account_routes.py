"""Routes: service accounts (机器客户端) — create, list, revoke, usage — for the administrator."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from app.auth import service_accounts
from app.auth.deps import Allow, Grant
from app.auth.policy import Action
from app.auth.usage import UsageCounter
from app.db import Conn
from app.deps import catalog_of, today
from app.edge.params import RowId

router = APIRouter(prefix="/api/service-accounts", tags=["service-accounts"])
Manager = Annotated[Grant, Depends(Allow(Action.SERVICE_ACCOUNTS_MANAGE))]


class ScopeLayer(BaseModel):
    """A catalog layer a service account may be scoped to, by its names."""

    code: str
    name_zh: str
    name_en: str
    restricted: bool = Field(description="受限图层：不在“全部非受限图层”之内，须逐一授予")


class CreatedServiceAccount(BaseModel):
    """A created service account with its API key (shown only in this answer)."""

    account: service_accounts.ServiceAccount
    api_key: str = Field(description="API 密钥（HTTP Basic 密码），仅显示一次")


@router.get("", response_model=list[service_accounts.ListedServiceAccount], summary="服务账户列表")
def list_service_accounts(
    request: Request, conn: Conn, grant: Manager
) -> list[service_accounts.ListedServiceAccount]:
    """Every service account, active or not, with its last use and requests (this process's counts first)."""
    counter: UsageCounter = request.app.state.usage
    counter.flush(conn)
    return service_accounts.list_accounts(conn)


@router.get("/layers", response_model=list[ScopeLayer], summary="可授予服务账户的图层")
def scope_layers(request: Request, grant: Manager) -> list[ScopeLayer]:
    """The catalog's layers by name, for choosing a service account's scope (no data of them)."""
    return [
        ScopeLayer(code=e.code, name_zh=e.name_zh, name_en=e.name_en, restricted=e.restricted)
        for e in catalog_of(request).layers.values()
    ]


@router.post("", response_model=CreatedServiceAccount, status_code=201, summary="创建服务账户")
def create_service_account(
    body: service_accounts.ServiceAccountCreate, request: Request, conn: Conn, grant: Manager
) -> CreatedServiceAccount:
    """Create a machine client scoped to layers and actions, with an expiry; its key is shown once."""
    account, key = service_accounts.create_account(conn, grant.actor, body, catalog_of(request), today())
    return CreatedServiceAccount(account=account, api_key=key)


@router.get("/{account_id}", response_model=service_accounts.ServiceAccount, summary="服务账户详情")
def get_service_account(account_id: RowId, conn: Conn, grant: Manager) -> service_accounts.ServiceAccount:
    """One service account."""
    return service_accounts.get_account(conn, account_id)


@router.post(
    "/{account_id}/revoke", response_model=service_accounts.ServiceAccount, summary="吊销服务账户密钥"
)
def revoke_service_account(account_id: RowId, conn: Conn, grant: Manager) -> service_accounts.ServiceAccount:
    """Revoke the key at once: the account's next request is refused."""
    return service_accounts.revoke_account(conn, grant.actor, account_id)


@router.get("/{account_id}/usage", response_model=service_accounts.Usage, summary="服务账户用量")
def service_account_usage(
    account_id: RowId,
    request: Request,
    conn: Conn,
    grant: Manager,
    days: Annotated[int, Query(ge=1, le=366, description="最近天数")] = 30,
) -> service_accounts.Usage:
    """Requests, bytes and layers read per day (this process's counts are written first)."""
    account = service_accounts.get_account(conn, account_id)  # a 404 before the counts are written
    counter: UsageCounter = request.app.state.usage
    counter.flush(conn)
    return service_accounts.usage(conn, account, days)
