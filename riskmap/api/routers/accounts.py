"""/api/accounts: an enterprise administrator's work on accounts over HTTP (list, add, disable and enable, roles,
a new password). Every route needs "accounts" (riskmap.people: only the admin role has it), so an editor cannot
grant itself a role; nobody changes their own roles or disables themself. riskmap.store.accounts does the work.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from riskmap.api.deps import Tenant, get_tenant
from riskmap.api.permissions import require
from riskmap.people import MIN_PASSWORD, Principal
from riskmap.store import accounts

ACCOUNTS = Depends(require("accounts"))
_ERRORS = {401: {"description": "需要登录或令牌 / sign-in or a token is required"},
           403: {"description": "需要企业管理员 / an enterprise administrator is required"},
           404: {"description": "账户或企业不存在 / no such account or enterprise"},
           422: {"description": "输入有误 / invalid input"}}


class AccountOut(BaseModel):
    """An account as administrators see it: never a password hash."""

    id: int
    enterprise: str | None
    name: str
    login: str
    department: str | None = None
    post: str | None = None
    phone: str | None = None
    roles: list[str]
    disabled: bool
    can_sign_in: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None = None


class AccountIn(BaseModel):
    """A new account; the password is checked by the policy in riskmap.people and stored only hashed."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200, description="姓名 / name")
    login: str = Field(..., min_length=1, max_length=64, description="手机号或工号 / phone or staff number")
    password: str = Field(..., min_length=MIN_PASSWORD, max_length=1024, description="初始密码 / first password")
    roles: list[str] = Field(..., min_length=1, max_length=10, description="角色 / roles")
    department: str | None = Field(None, max_length=200)
    post: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=64)


class AccountPatch(BaseModel):
    """Disable or enable an account, or set its roles (nobody changes their own)."""

    model_config = ConfigDict(extra="forbid")

    disabled: bool | None = Field(None, description="停用 true / 启用 false")
    grant: list[str] = Field([], max_length=10, description="授予的角色 / roles to grant")
    revoke: list[str] = Field([], max_length=10, description="撤销的角色 / roles to revoke")


class PasswordIn(BaseModel):
    """A password an administrator sets (reset): the account's sessions end."""

    model_config = ConfigDict(extra="forbid")

    password: str = Field(..., min_length=MIN_PASSWORD, max_length=1024, description="新密码 / new password")


def make_router() -> APIRouter:
    """/api/accounts: the enterprise's people, for holders of the `accounts` permission only."""
    router = APIRouter(prefix="/api/accounts", tags=["accounts"], responses=_ERRORS)

    @router.get("", summary="企业的账户 / the enterprise's accounts", response_model=list[AccountOut])
    def list_accounts(tenant: Tenant = Depends(get_tenant), who: Principal = ACCOUNTS) -> list[dict]:
        return accounts.list_accounts(tenant.store, tenant.name)

    @router.post("", summary="新建账户 / add an account", response_model=AccountOut, status_code=201,
                 responses={409: {"description": "登录名已被使用 / the login is taken"}})
    async def add_account(request: Request, body: AccountIn = Body(...), tenant: Tenant = Depends(get_tenant),
                          who: Principal = ACCOUNTS) -> dict:
        return await run_in_threadpool(lambda: accounts.create_account(
            tenant.store, tenant.name, name=body.name, login=body.login, password=body.password, roles=body.roles,
            department=body.department, post=body.post, phone=body.phone, by=who.author))

    @router.patch("/{login}", summary="停用、启用账户，授予或撤销角色 / disable, enable, grant or revoke roles",
                  response_model=AccountOut)
    async def change_account(login: str, body: AccountPatch = Body(...), tenant: Tenant = Depends(get_tenant),
                             who: Principal = ACCOUNTS) -> dict:
        def work() -> dict:
            found = None
            if body.grant or body.revoke:
                found = accounts.set_roles(tenant.store, tenant.name, login, grant=body.grant, revoke=body.revoke,
                                           by=who.author)
            if body.disabled is not None:
                found = accounts.set_disabled(tenant.store, tenant.name, login, body.disabled, by=who.author)
            return found or accounts.get_account(tenant.store, tenant.name, login)

        return await run_in_threadpool(work)

    @router.post("/{login}/password", summary="重设密码（会话结束）/ set a new password (sessions end)",
                 response_model=AccountOut)
    async def reset_password(login: str, body: PasswordIn = Body(...), tenant: Tenant = Depends(get_tenant),
                             who: Principal = ACCOUNTS) -> dict:
        return await run_in_threadpool(accounts.reset_password, tenant.store, tenant.name, login, body.password,
                                       who.author)

    return router
