"""The service operator's work over HTTP (/api/admin/…) and the regulators' access records (/api/audit/regulators).

An operator's account (riskmap.people.OPERATOR_ROLES, made with `riskmap user add --operator`) adds, imports and
moves enterprises, adds parks, regulators and regulators' accounts, and moves accounts (between enterprises, or
between regulators); every route needs "administer", which no enterprise's or regulator's role holds, so the
server answers 403 to them all and 401 to nobody. The work is the same store functions the command line calls
(riskmap.store.orgs, riskmap.store.accounts): every change is checked whole before anything is written.

The access records are read by an operator (all), a regulator's account (its own regulator's) and an
enterprise's administrator (those about its enterprise): riskmap.store.regulator_audit decides.
"""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Body, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from riskmap.api.permissions import require
from riskmap.api.requests import file_upload
from riskmap.api.routers.accounts import AccountOut
from riskmap.api.routers.orgs import EnterpriseOut, ParkOut, ProfileIn, ProfileOut, RegulatorOut
from riskmap.people import MIN_PASSWORD, Principal
from riskmap.store import accounts, orgs, regulator_audit
from riskmap.store import scope as data_scope

ADMINISTER = Depends(require("administer"))
MAX_CSV_BYTES = 5 * 1024 * 1024
MOMENT_ZH = "{}：ISO 8601 日期或时间，无时区时为北京时间"
MOMENT_EN = ": an ISO 8601 date or time, Beijing time when it names no zone"
_ERRORS = {401: {"description": "需要登录或令牌 / sign-in or a token is required"},
           403: {"description": "需要平台运维账户 / an operator's account is required"},
           404: {"description": "企业、园区、监管机构或账户不存在 / no such enterprise, park, regulator or account"},
           409: {"description": "名称、登录名或信用代码已被使用 / the name, login or credit code is taken"},
           422: {"description": "输入有误，未作任何修改 / invalid input, nothing changed"}}
_NAME = Field(..., min_length=1, max_length=200, description="企业名称 / the enterprise's name")


class EnterpriseIn(ProfileIn):
    """A new enterprise with its profile."""

    name: str = _NAME


class MoveIn(BaseModel):
    """Move an enterprise to another division and/or park (the rest of its profile stays)."""

    model_config = ConfigDict(extra="forbid")

    name: str = _NAME
    division_code: str | None = Field(None, min_length=6, max_length=6, pattern=r"^\d{6}$",
                                      description="新的行政区划代码（GB/T 2260）/ the new division")
    park: str | None = Field(None, min_length=1, max_length=200, description="新的园区 / the new park")
    no_park: bool = Field(False, description="移出园区 / out of its park")
    reason: str | None = Field(None, max_length=2000, description="原因（记入审计）/ why (kept in the audit trail)")


class ImportOut(BaseModel):
    """What an import did."""

    added: int
    updated: int


class ParkIn(BaseModel):
    """A new chemical park."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    division_code: str = Field(..., min_length=6, max_length=6, pattern=r"^\d{6}$")


class RegulatorIn(BaseModel):
    """A new regulator: of a division (level province, city or county, the division's own) or of a park."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(..., min_length=1, max_length=200)
    level: str = Field(..., max_length=16, description="province | city | county | park")
    division_code: str | None = Field(None, min_length=6, max_length=6, pattern=r"^\d{6}$")
    park: str | None = Field(None, min_length=1, max_length=200)


class AdminAccountOut(AccountOut):
    """An account as the operator sees it: with its regulator and kind."""

    regulator: str | None = None
    kind: str = Field(..., description="enterprise | regulator | operator | service")


class RegulatorAccountIn(BaseModel):
    """A new account of a regulator; the password is stored only hashed."""

    model_config = ConfigDict(extra="forbid")

    regulator: str = Field(..., min_length=1, max_length=200, description="监管机构 / the regulator")
    name: str = Field(..., min_length=1, max_length=200, description="姓名 / name")
    login: str = Field(..., min_length=1, max_length=64, description="手机号或工号 / phone or staff number")
    password: str = Field(..., min_length=MIN_PASSWORD, max_length=1024, description="初始密码 / first password")
    roles: list[str] = Field(["regulator_viewer"], min_length=1, max_length=2,
                             description="regulator_viewer | regulator_supervisor")
    department: str | None = Field(None, max_length=200)
    post: str | None = Field(None, max_length=200)
    phone: str | None = Field(None, max_length=64)


class RegulatorMoveIn(BaseModel):
    """Move a regulator's account to another regulator (its sessions end)."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(..., min_length=1, max_length=64)
    regulator: str = Field(..., min_length=1, max_length=200, description="现属监管机构 / its regulator now")
    to_regulator: str = Field(..., min_length=1, max_length=200, description="新监管机构 / the one it moves to")


class AccountMoveIn(BaseModel):
    """Move an enterprise's account to another enterprise (its sessions end; its tokens follow it)."""

    model_config = ConfigDict(extra="forbid")

    login: str = Field(..., min_length=1, max_length=64)
    from_enterprise: str = Field(..., min_length=1, max_length=200, description="原企业 / its enterprise now")
    to_enterprise: str = Field(..., min_length=1, max_length=200, description="新企业 / the one it moves to")
    reason: str | None = Field(None, max_length=2000)


class AuditOut(BaseModel):
    """One request of a regulator's account into enterprise data, or a supervision write."""

    id: int
    at: datetime
    login: str
    account: str
    regulator: str
    enterprise: str | None = Field(None, description="所读企业（空：同时读多个，如总览）/ the enterprise read (null: "
                                                     "several at once, as the overview)")
    enterprises: int = Field(..., description="所读企业数 / how many enterprises the request read")
    method: str
    route: str
    path: str
    status: int = Field(..., description="应答状态码 / the answer's status")
    write: bool
    via: str


def make_router() -> APIRouter:
    """/api/admin/… (the operator's) and /api/audit/regulators."""
    router = APIRouter(tags=["operator"], responses=_ERRORS)
    _enterprise_routes(router)
    _regulator_routes(router)
    _audit_route(router)
    return router


def _enterprise_routes(router: APIRouter) -> None:
    @router.get("/api/admin/enterprises", summary="全部企业及其档案（平台运维）/ every enterprise with its profile "
                "(operator)", response_model=list[EnterpriseOut])
    def list_enterprises(request: Request, who: Principal = ADMINISTER) -> list[dict]:
        with data_scope.service():          # the organisations, not their data: profiles across enterprises
            return orgs.list_enterprises(request.app.state.store())

    @router.post("/api/admin/enterprises", summary="新建企业及其档案（平台运维）/ add an enterprise with its profile "
                 "(operator)", response_model=ProfileOut, status_code=201)
    async def add_enterprise(request: Request, body: EnterpriseIn = Body(...), who: Principal = ADMINISTER) -> dict:
        fields = body.model_dump(exclude={"name"})

        def work():
            with data_scope.service():
                return orgs.set_profile(request.app.state.store(), body.name, create=True, by=who.author, **fields)

        return await run_in_threadpool(work)

    @router.post("/api/admin/enterprises/move", summary="企业迁到另一行政区划或园区（平台运维）/ move an enterprise to "
                 "another division or park (operator)", response_model=ProfileOut)
    async def move_enterprise(request: Request, body: MoveIn = Body(...), who: Principal = ADMINISTER) -> dict:
        from riskmap.errors import InputError

        if body.division_code is None and body.park is None and not body.no_park:
            raise InputError("请给出 division_code、park 或 no_park / give division_code, park or no_park")
        if body.park is not None and body.no_park:
            raise InputError("park 与 no_park 不能同时给出 / park and no_park exclude each other")

        def work():
            with data_scope.service():
                return orgs.move_enterprise(request.app.state.store(), body.name, division_code=body.division_code,
                                            park=body.park, no_park=body.no_park, by=who.author, reason=body.reason)

        return await run_in_threadpool(work)

    form = {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["file"],
        "properties": {"file": {"type": "string", "format": "binary",
                                "description": "CSV（UTF-8 或 GBK）：name, credit_code, hazchem_code, division, park, "
                                               "lon, lat, industry, address"}}}}}}

    @router.post("/api/admin/enterprises/import", summary="从 CSV 导入企业，全部通过才写入（平台运维）/ import "
                 "enterprises from a CSV, all lines or none (operator)", response_model=ImportOut,
                 description=f"与 `riskmap org import` 读同样的 CSV（UTF-8 含或不含 BOM，或 GBK），上限 "
                             f"{MAX_CSV_BYTES // 1048576} MB；任何一行有误则返回 422 并列出行号，不写入任何企业。/ The "
                             "CSV `riskmap org import` reads; one bad line: 422 naming every bad line, nothing "
                             "written.",
                 responses={413: {"description": "文件过大 / too large"},
                            415: {"description": "需要 multipart/form-data / multipart required"}},
                 openapi_extra={"requestBody": form})
    async def import_enterprises(request: Request, who: Principal = ADMINISTER) -> dict:
        from riskmap.orgs.csvfile import read_enterprise_bytes

        raw = await file_upload(request, MAX_CSV_BYTES, ("CSV 文件", "the CSV file"))

        def work():
            records, problems = read_enterprise_bytes(raw)
            with data_scope.service():
                return orgs.import_enterprises(request.app.state.store(), records, by=who.author, problems=problems)

        return await run_in_threadpool(work)


def _regulator_routes(router: APIRouter) -> None:
    @router.post("/api/admin/parks", summary="新建化工园区（平台运维）/ add a chemical park (operator)",
                 response_model=ParkOut, status_code=201)
    async def add_park(request: Request, body: ParkIn = Body(...), who: Principal = ADMINISTER) -> dict:
        return await run_in_threadpool(orgs.add_park, request.app.state.store(), body.name, body.division_code)

    @router.get("/api/admin/regulators", summary="监管机构（平台运维）/ the regulators (operator)",
                response_model=list[RegulatorOut])
    def list_regulators(request: Request, who: Principal = ADMINISTER) -> list[dict]:
        return orgs.list_regulators(request.app.state.store())

    @router.post("/api/admin/regulators", summary="新建监管机构（行政区划或园区，平台运维）/ add a regulator of a "
                 "division or a park (operator)", response_model=RegulatorOut, status_code=201)
    async def add_regulator(request: Request, body: RegulatorIn = Body(...), who: Principal = ADMINISTER) -> dict:
        return await run_in_threadpool(lambda: orgs.add_regulator(
            request.app.state.store(), body.name, level=body.level, division_code=body.division_code,
            park=body.park))

    @router.post("/api/admin/regulator-accounts", summary="新建监管账户（平台运维）/ add an account of a regulator "
                 "(operator)", response_model=AdminAccountOut, status_code=201)
    async def add_regulator_account(request: Request, body: RegulatorAccountIn = Body(...),
                                    who: Principal = ADMINISTER) -> dict:
        def work():
            with data_scope.service():
                return orgs.add_regulator_account(
                    request.app.state.store(), body.regulator, name=body.name, login=body.login,
                    password=body.password, roles=body.roles, by=who.author, department=body.department,
                    post=body.post, phone=body.phone)

        return await run_in_threadpool(work)

    @router.post("/api/admin/regulator-accounts/move", summary="监管账户转到另一监管机构（其登录会话立即结束，平台运维"
                 "）/ move a regulator's account to another regulator (its sessions end; operator)",
                 response_model=AdminAccountOut)
    async def move_regulator_account(request: Request, body: RegulatorMoveIn = Body(...),
                                     who: Principal = ADMINISTER) -> dict:
        def work():
            with data_scope.service():
                return orgs.move_regulator_account(request.app.state.store(), body.regulator, body.login,
                                                   body.to_regulator, by=who.author)

        return await run_in_threadpool(work)

    @router.post("/api/admin/accounts/move", summary="企业账户转到另一企业（其登录会话立即结束，平台运维）/ move an "
                 "enterprise's account to another enterprise (its sessions end; operator)",
                 response_model=AdminAccountOut)
    async def move_account(request: Request, body: AccountMoveIn = Body(...), who: Principal = ADMINISTER) -> dict:
        def work():
            with data_scope.service():
                return accounts.move_account(request.app.state.store(), body.from_enterprise, body.login,
                                             body.to_enterprise, by=who.author, reason=body.reason)

        return await run_in_threadpool(work)


def _audit_route(router: APIRouter) -> None:
    @router.get("/api/audit/regulators", summary="监管账户的访问记录：平台运维看全部，监管机构看本机构，企业管理员看"
                "本企业被谁查看 / the regulators' access records: all for an operator, its own for a regulator, "
                "those about its enterprise for an enterprise's administrator", response_model=list[AuditOut])
    def audit(request: Request, who: Principal = Depends(require("audit")),
              account: str | None = Query(None, min_length=1, max_length=64, description="监管账户登录名 / login"),
              regulator: str | None = Query(None, min_length=1, max_length=200, description="监管机构 / regulator"),
              enterprise: str | None = Query(None, min_length=1, max_length=200, description="企业 / enterprise"),
              since: str | None = Query(None, alias="from", max_length=40, description=MOMENT_ZH.format("起（含）")
                                        + " / from (inclusive)" + MOMENT_EN, json_schema_extra={"format": "date-time"}),
              until: str | None = Query(None, alias="to", max_length=40, description=MOMENT_ZH.format("止（不含）")
                                        + " / to (exclusive)" + MOMENT_EN, json_schema_extra={"format": "date-time"}),
              limit: int = Query(100, ge=1, le=regulator_audit.MAX_LIMIT)) -> list[dict]:
        filters = {"account": account, "regulator": regulator, "enterprise": enterprise, "since": since,
                   "until": until, "limit": limit}
        store = request.app.state.store()
        if who.enterprise is not None:      # an enterprise's administrator: its own rows (PostGIS: enforced too)
            with data_scope.service():
                own = store.enterprise(who.enterprise, create=False)
            data_scope.narrow({int(own.id)})
            return regulator_audit.entries_for(store, who, **filters)
        with data_scope.service():          # the records of several enterprises (and of none: the overview)
            return regulator_audit.entries_for(store, who, **filters)
