"""Map the domain's errors onto HTTP statuses with a message a safety manager understands."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from riskmap.errors import RiskmapError


def _riskmap_error(request: Request, exc: RiskmapError) -> JSONResponse:
    body = {"detail": exc.message}
    if exc.details:
        body["problems"] = exc.details
    return JSONResponse(body, status_code=exc.http_status)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [
        {"location": ".".join(str(p) for p in err.get("loc", ())), "message": err.get("msg", "")}
        for err in exc.errors()
    ]
    return JSONResponse({"detail": "请求参数有误 / invalid request parameters", "problems": problems},
                        status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(RiskmapError, _riskmap_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
